from django import forms
from django.conf import settings
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from accounts.forms import NewAgencyFields
from accounts.models import Agency, User
from billing.demo import MAX_EXTENSION_DAYS
from billing.models import Plan


class PlanForm(forms.Form):
    plan = forms.ModelChoiceField(label=_("Plan"), queryset=Plan.objects.filter(offered=True), to_field_name="code",
                                  widget=forms.RadioSelect, empty_label=None)


class DemoExtendForm(forms.Form):
    days = forms.IntegerField(label=_("Days to add"), min_value=1, max_value=MAX_EXTENSION_DAYS, initial=7)


class DemoForm(NewAgencyFields):
    name = forms.CharField(label=_("Demo agency name"), max_length=200)
    prospect = forms.CharField(label=_("Prospect"), max_length=200, help_text=_("Organisation the demo is for"))
    kind_after_conversion = forms.ChoiceField(
        label=_("Kind of agency once converted"),
        choices=[choice for choice in Agency.Kind.choices if choice[0] != Agency.Kind.DEMO],
    )
    days = forms.IntegerField(label=_("Days until it expires"), min_value=1, max_value=90,
                              initial=settings.DEMO_DEFAULT_DAYS)
    search_cap = forms.IntegerField(label=_("Search cap"), min_value=1, max_value=1000,
                                    initial=settings.DEMO_DEFAULT_SEARCH_CAP)
    emails = forms.CharField(label=_("Demo users' e-mail addresses"), widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_("One per line; each gets an invitation."))

    def clean_emails(self) -> list[str]:
        emails = list(dict.fromkeys(
            line.strip().lower() for line in self.cleaned_data["emails"].replace(",", "\n").splitlines() if line.strip()
        ))
        if not emails:
            raise forms.ValidationError(_("Give at least one e-mail address."))
        if len(emails) > settings.DEMO_MAX_USERS:
            raise forms.ValidationError(_("A demo has at most %(count)s users.") % {"count": settings.DEMO_MAX_USERS})
        for email in emails:
            try:
                validate_email(email)
            except forms.ValidationError:
                raise forms.ValidationError(_("%(email)s is not a valid e-mail address.") % {"email": email}) from None
        taken = list(User.objects.filter(email__in=emails).values_list("email", flat=True))
        if taken:
            raise forms.ValidationError(_("These addresses already have an account: %(emails)s")
                                        % {"emails": ", ".join(sorted(taken))})
        return emails
