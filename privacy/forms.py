import time

from django import forms
from django.conf import settings
from django.core import signing
from django.utils.translation import gettext_lazy as _

from search.forms import ImageField

FORM_SIGNING_SALT = "privacy.erasure-form"
FORM_MAX_AGE_SECONDS = 2 * 3600


class ErasureRequestForm(forms.Form):
    """The public opt-out form. Automation is kept out by a rate limit (in the view), a field people
    never see (`website`) and a signed start time: a form sent back within seconds is not a person."""

    photo = ImageField(label=_("A photo of your face"),
                       help_text=_("Only you in the picture, face clearly visible. JPEG, PNG or WebP."))
    full_name = forms.CharField(label=_("Full name"), max_length=200)
    email = forms.EmailField(label=_("E-mail address"), help_text=_("We send the outcome here."))
    phone = forms.CharField(label=_("Phone (optional)"), max_length=50, required=False)
    statement = forms.CharField(label=_("Your statement"), max_length=5000, widget=forms.Textarea(attrs={"rows": 5}),
                                help_text=_("Tell us that you ask for your face to be removed, and anything that helps."))
    website = forms.CharField(label=_("Leave this field empty"), required=False,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}))
    started = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["started"].initial = signing.Signer(salt=FORM_SIGNING_SALT).sign(f"{time.time():.3f}")

    @property
    def filled_by_a_robot(self) -> bool:
        return bool(self.data.get("website"))

    def clean_started(self) -> float:
        try:
            started = float(signing.Signer(salt=FORM_SIGNING_SALT).unsign(self.cleaned_data["started"]))
        except (signing.BadSignature, ValueError):
            raise forms.ValidationError(_("The form was altered: reload the page and try again.")) from None
        age = time.time() - started
        if age > FORM_MAX_AGE_SECONDS:
            raise forms.ValidationError(_("This form has expired: reload the page and try again."))
        if age < settings.ERASURE_FORM_MIN_SECONDS:
            raise forms.ValidationError(_("That was very quick: check your request and send it again."))
        return started


class ErasureApproveForm(forms.Form):
    faces = forms.TypedMultipleChoiceField(label=_("The requester's face"), coerce=int,
                                           widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, face_count: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["faces"].choices = [(index, _("Face %(number)s") % {"number": index + 1})
                                        for index in range(face_count)]
        if face_count == 1:
            self.fields["faces"].initial = [0]


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Give a reason."))
        return reason


class RetentionForm(forms.Form):
    probe_retention_days = forms.IntegerField(
        label=_("Keep probe photos and search results for (days)"), min_value=1,
        max_value=settings.PROBE_RETENTION_MAX_DAYS,
        help_text=_("At most %(days)s days, the platform's maximum.") % {"days": settings.PROBE_RETENTION_MAX_DAYS},
    )
    gallery_review_days = forms.IntegerField(
        label=_("Review each gallery photo at least every (days)"), min_value=30,
        max_value=settings.GALLERY_REVIEW_MAX_DAYS,
        help_text=_("At most %(days)s days (three years, as BIPA requires).") % {
            "days": settings.GALLERY_REVIEW_MAX_DAYS},
    )
