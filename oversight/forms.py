import re
import zoneinfo

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
