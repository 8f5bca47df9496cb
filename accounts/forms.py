import re

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from accounts.models import Agency, Role
from privacy.lockout import lockout_message


class EmailLoginForm(AuthenticationForm):
    username = forms.EmailField(label=_("E-mail"), widget=forms.EmailInput(attrs={"autofocus": True}))

    def clean(self):
        locked = lockout_message(self.cleaned_data.get("username") or "", self.request)
        if locked:
            raise forms.ValidationError(locked, code="locked_out")
        return super().clean()


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


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
            from accounts.models import User

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
