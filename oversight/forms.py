import re
import zoneinfo
from datetime import date

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class OversightSettingsForm(forms.Form):
    timezone = forms.CharField(label=gettext_lazy("Time zone"), max_length=64)
    working_hours_start = forms.IntegerField(label=gettext_lazy("Working hours start"), min_value=0, max_value=23)
    working_hours_end = forms.IntegerField(label=gettext_lazy("Working hours end"), min_value=1, max_value=24)
    case_number_pattern = forms.CharField(label=gettext_lazy("Case number pattern (regular expression)"),
                                          max_length=200, required=False)
    code_of_conduct = forms.CharField(label=gettext_lazy("Code of conduct"), widget=forms.Textarea(attrs={"rows": 8}))
    transparency_public = forms.BooleanField(
        label=gettext_lazy("Publish the transparency report at a public address"), required=False,
        help_text=gettext_lazy("Counts only: searches by purpose, outcomes, reviews, suspensions, erasures, purges."))

    def clean_timezone(self) -> str:
        value = self.cleaned_data["timezone"].strip()
        if value not in zoneinfo.available_timezones():
            raise forms.ValidationError(_("Unknown time zone, e.g. Europe/Paris."))
        return value

    def clean_case_number_pattern(self) -> str:
        value = self.cleaned_data["case_number_pattern"].strip()
        try:
            re.compile(value)
        except re.error as error:
            raise forms.ValidationError(_("Not a valid regular expression: %(error)s") % {"error": error}) from None
        return value

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("working_hours_start"), cleaned.get("working_hours_end")
        if start is not None and end is not None and start >= end:
            self.add_error("working_hours_end", _("The end must come after the start."))
        return cleaned


MAX_PERIOD_DAYS = 3660


class PeriodForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and (end < start or (end - start).days > MAX_PERIOD_DAYS):
            self.add_error("end", _("The end must come after the start, within ten years."))
        return cleaned

    def period(self) -> tuple[date, date]:
        """The period asked for; by default this month so far."""
        today = date.today()
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        end = data.get("end") or today
        start = data.get("start") or min(end, today).replace(day=1)
        return start, end
