from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.refusals import Refused
from search.images import ImageRejected, check_image, read_upload
from search.models import CandidateDecision, Gallery, LegalBasis, Purpose, Subject
from search.validation import (
    DEFAULT_MIN_SIMILARITY,
    GALLERY_NAME_TAKEN,
    LEGAL_BASIS_OTHER_MAX_LENGTH,
    MAX_CANDIDATES,
    MAX_SIMILARITY,
    MIN_SIMILARITY,
    SOURCE_MAX_LENGTH,
    clean_provenance,
    clean_search_parameters,
    provenance_problems,
)


class ImageField(forms.FileField):
    """A photo judged by its content; cleans to a CheckedImage."""

    def clean(self, data, initial=None):
        uploaded = super().clean(data, initial)
        if uploaded is None:
            return None
        try:
            return check_image(read_upload(uploaded))
        except ImageRejected as rejected:
            raise forms.ValidationError(str(rejected), code="bad_image") from None


class GalleryForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        self.agency = agency

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if Gallery.objects.filter(agency=self.agency, name=name).exists():
            raise forms.ValidationError(GALLERY_NAME_TAKEN)
        return name


class SubjectForm(forms.Form):
    reference = forms.CharField(label=_("Reference"), max_length=100,
                                help_text=_("Your own id for this person, e.g. a booking number"))
    display_name = forms.CharField(label=_("Display name"), max_length=200, required=False)
    notes = forms.CharField(label=_("Notes"), widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, gallery, **kwargs):
        super().__init__(*args, **kwargs)
        self.gallery = gallery

    def clean_reference(self):
        reference = self.cleaned_data["reference"].strip()
        if Subject.objects.filter(gallery=self.gallery, reference=reference).exists():
            raise forms.ValidationError(_("This gallery already has a subject with this reference."))
        return reference


def add_refusal(form: forms.Form, refused: Refused) -> None:
    """A refusal of the shared validation (search.validation) as the form's error on the field at fault."""
    form.add_error(refused.field if refused.field in form.fields else None, str(refused))


class ProvenanceFields(forms.Form):
    source = forms.CharField(label=_("Source"), max_length=SOURCE_MAX_LENGTH,
                             help_text=_("Where your agency got this photo, e.g. 'Booking system, 2024-03-02'"))
    legal_basis = forms.ChoiceField(label=_("Legal basis"), choices=LegalBasis.choices)
    legal_basis_other = forms.CharField(label=_("Legal basis, if other"), max_length=LEGAL_BASIS_OTHER_MAX_LENGTH,
                                        required=False)
    captured_at = forms.DateField(label=_("Captured on"), required=False,
                                  widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        values = {"source": cleaned.get("source", ""), "legal_basis": cleaned.get("legal_basis", ""),
                  "legal_basis_other": cleaned.get("legal_basis_other", ""), "captured_at": cleaned.get("captured_at")}
        problems = [problem for problem in provenance_problems(**values) if problem.field not in self.errors]
        for problem in problems:
            add_refusal(self, problem)
        if not self.errors:
            self.provenance = clean_provenance(**values)
        return cleaned


class ImageUploadForm(ProvenanceFields):
    image = ImageField(label=_("Photo"))
    field_order = ["image", "source", "legal_basis", "legal_basis_other", "captured_at"]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class BulkUploadForm(forms.Form):
    files = MultipleFileField(label=_("Photos, or zip files of photos"))
    manifest = forms.FileField(
        label=_("Manifest (CSV)"),
        help_text=_("Columns: filename, subject_reference, source, legal_basis, captured_at"),
    )


class SearchForm(forms.Form):
    probe = ImageField(label=_("Probe photo"))
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Purpose.choices)
    case_number = forms.CharField(label=_("Case number"), max_length=100)
    galleries = forms.ModelMultipleChoiceField(
        label=_("Galleries to search"), queryset=Gallery.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple, help_text=_("Leave empty to search all of your agency's galleries."),
    )
    min_similarity = forms.IntegerField(
        label=_("Minimum similarity (%)"), initial=DEFAULT_MIN_SIMILARITY,
        widget=forms.NumberInput(attrs={"min": MIN_SIMILARITY, "max": MAX_SIMILARITY}),
        help_text=_("50% is the standard threshold. Higher shows fewer, closer candidates."),
    )
    max_candidates = forms.IntegerField(label=_("Candidates per face"), initial=settings.DEFAULT_MAX_CANDIDATES,
                                        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_CANDIDATES}))

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["galleries"].queryset = Gallery.objects.filter(agency=agency)

    def clean_case_number(self):
        case_number = self.cleaned_data["case_number"].strip()
        if not case_number:
            raise forms.ValidationError(_("A case number is required."))
        return case_number

    def clean(self):
        cleaned = super().clean()
        if "min_similarity" in cleaned and "max_candidates" in cleaned:
            try:
                self.parameters = clean_search_parameters(min_similarity=cleaned["min_similarity"],
                                                          max_candidates=cleaned["max_candidates"])
            except Refused as refused:
                add_refusal(self, refused)
        return cleaned


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=CandidateDecision.Decision.choices)
    comment = forms.CharField(max_length=2000, required=False)


class GalleryDeleteForm(forms.Form):
    confirm_name = forms.CharField(label=_("Type the gallery's name to confirm"), max_length=200)

    def __init__(self, *args, gallery, **kwargs):
        super().__init__(*args, **kwargs)
        self.gallery = gallery

    def clean_confirm_name(self) -> str:
        if self.cleaned_data["confirm_name"].strip() != self.gallery.name:
            raise forms.ValidationError(_("The name does not match."))
        return self.cleaned_data["confirm_name"]
