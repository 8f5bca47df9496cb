import re

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from accounts.lockout import lockout_message, record_failure
from accounts.models import Agency, Role, User
from accounts.onboarding import ONBOARDING_KINDS


class EmailLoginForm(AuthenticationForm):
    username = forms.EmailField(label=_("E-mail"), widget=forms.EmailInput(attrs={"autofocus": True}))

    def clean(self):
        locked = lockout_message(self.cleaned_data.get("username") or "", self.request)
        if locked:
            raise forms.ValidationError(locked, code="locked_out")
        return super().clean()


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"))
    # The everyday role is the default: the most privileged one (agency admin) is chosen on purpose, never by default.
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.INVESTIGATOR)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class AcceptInvitationForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=200)
    password1 = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label=_("Password again"), widget=forms.PasswordInput, strip=False)

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            raise forms.ValidationError(_("The two passwords differ."))
        if first:
            password_validation.validate_password(
                first, User(email=self.email, full_name=cleaned.get("full_name", ""))
            )
        return cleaned


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("What the token is for"))


COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")


class NewAgencyFields(forms.Form):
    """Name and country of an agency being created, by an operator or by sales for a demo."""

    name = forms.CharField(label=_("Name"), max_length=200)
    country = forms.CharField(label=_("Country"), min_length=2, max_length=2,
                              help_text=_("ISO 3166-1 alpha-2 code, e.g. FR"))

    def clean_country(self) -> str:
        country = self.cleaned_data["country"].strip().upper()
        if not COUNTRY_CODE.match(country):
            raise forms.ValidationError(_("Use a two-letter country code."))
        return country

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if Agency.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError(_("An agency with this name already exists."))
        return name


class AgencyForm(NewAgencyFields):
    kind = forms.ChoiceField(label=_("Kind"), choices=[(kind.value, kind.label) for kind in ONBOARDING_KINDS])
    approval_reason = forms.CharField(
        label=_("Approval reason"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required for a private company: why it may use face search."),
    )
    admin_email = forms.EmailField(label=_("First administrator's e-mail (optional)"), required=False)

    def clean_admin_email(self) -> str:
        email = self.cleaned_data["admin_email"].strip().lower()
        if email and User.objects.filter(email=email).exists():
            raise forms.ValidationError(_("A user with this e-mail address already exists."))
        return email


class TenantPolicyForm(forms.Form):
    countries = forms.CharField(label=_("Allowed countries"), max_length=2000,
                                help_text=_("ISO 3166-1 alpha-2 codes separated by commas, e.g. FR, GB, US"))
    kinds = forms.MultipleChoiceField(label=_("Kinds of agency that may be onboarded"), required=False,
                                      choices=[(kind.value, kind.label) for kind in ONBOARDING_KINDS],
                                      widget=forms.CheckboxSelectMultiple)

    def clean_countries(self) -> list[str]:
        codes = [code.strip().upper() for code in self.cleaned_data["countries"].split(",") if code.strip()]
        wrong = [code for code in codes if not COUNTRY_CODE.match(code)]
        if wrong:
            raise forms.ValidationError(_("Not two-letter country codes: %(codes)s") % {"codes": ", ".join(wrong)})
        return codes


class OtpCodeForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=32,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True,
                                                         "inputmode": "text"}))


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(label=_("Your password"), strip=False, widget=forms.PasswordInput)

    def __init__(self, *args, user, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.request = user, request
        self.locked_out = False

    def clean_password(self) -> str:
        """Guesses count towards the login's lockout: a session left open is not a free password oracle."""
        password = self.cleaned_data["password"]
        locked = lockout_message(self.user.email, self.request)
        if locked:
            self.locked_out = True
            raise forms.ValidationError(locked, code="locked_out")
        if not self.user.check_password(password):
            self.locked_out = record_failure(self.user.email, self.request)
            raise forms.ValidationError(_("The password is not right."))
        return password
