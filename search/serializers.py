from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.refusals import Refused, api_body
from search.images import ImageRejected, check_image, read_upload
from search.models import (
    Candidate,
    Gallery,
    GalleryImage,
    LegalBasis,
    Purpose,
    Search,
    SearchFace,
)
from search.validation import (
    GALLERY_NAME_TAKEN,
    LEGAL_BASIS_OTHER_MAX_LENGTH,
    SOURCE_MAX_LENGTH,
    SUBJECT_REFERENCE_MAX_LENGTH,
    clean_provenance,
    clean_search_parameters,
    clean_subject_reference,
    provenance_problems,
)

LEAD_NOTICE = _("Investigative lead only, not an identification. Two separate human confirmations are required.")


class CheckedImageField(serializers.FileField):
    """A photo judged by its content; validates to a CheckedImage."""

    def to_internal_value(self, data):
        uploaded = super().to_internal_value(data)
        try:
            return check_image(read_upload(uploaded))
        except ImageRejected as rejected:
            raise serializers.ValidationError(str(rejected)) from None


class TextField(serializers.CharField):
    """Text and only text: REST framework's CharField takes a JSON number for a string ("name": 5 as "5"), which
    the schema (type: string) does not offer."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class GallerySerializer(serializers.ModelSerializer):
    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.CharField: TextField, models.TextField: TextField}

    class Meta:
        model = Gallery
        fields = ["code", "name", "description"]
        read_only_fields = ["code"]

    def validate_name(self, name: str) -> str:
        name = name.strip()
        if Gallery.objects.filter(agency=self.context["agency"], name=name).exists():
            raise serializers.ValidationError(GALLERY_NAME_TAKEN)
        return name


def refusal_as_error(refused: Refused) -> serializers.ValidationError:
    """A refusal of the shared validation (search.validation) as the serializer's error on the field at fault."""
    return serializers.ValidationError(api_body(refused))


class ImageUploadSerializer(serializers.Serializer):
    image = CheckedImageField()
    subject_reference = serializers.CharField(max_length=SUBJECT_REFERENCE_MAX_LENGTH)
    source = serializers.CharField(max_length=SOURCE_MAX_LENGTH)
    legal_basis = serializers.ChoiceField(choices=LegalBasis.choices)
    legal_basis_other = serializers.CharField(max_length=LEGAL_BASIS_OTHER_MAX_LENGTH, required=False, default="")
    captured_at = serializers.DateField(required=False, allow_null=True, default=None)

    def validate(self, attrs):
        values = {name: attrs[name] for name in ("source", "legal_basis", "legal_basis_other", "captured_at")}
        problems = provenance_problems(**values)
        try:
            attrs["subject_reference"] = clean_subject_reference(attrs["subject_reference"])
        except Refused as refused:
            problems.append(refused)
        if problems:
            raise serializers.ValidationError({problem.field: [str(problem)] for problem in reversed(problems)})
        attrs["provenance"] = clean_provenance(**values)
        return attrs


class JobSerializer(serializers.Serializer):
    code = serializers.UUIDField()
    status = serializers.CharField()


class FaceBoxSerializer(serializers.Serializer):
    box = serializers.ListField(child=serializers.IntegerField(), help_text="[top, right, bottom, left]")


class ImageSerializer(serializers.ModelSerializer):
    subject_reference = serializers.CharField(source="subject.reference")
    faces = FaceBoxSerializer(many=True)

    class Meta:
        model = GalleryImage
        fields = ["code", "status", "error", "subject_reference", "faces"]


class SearchCreateSerializer(serializers.Serializer):
    probe = CheckedImageField()
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    case_number = serializers.CharField(max_length=100)
    galleries = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)
    min_similarity = serializers.IntegerField(required=False, default=None,
                                              help_text="Minimum similarity in percent (1-99); default 50.")
    max_candidates = serializers.IntegerField(required=False, default=None, help_text="1-50; default 10.")

    def validate(self, attrs):
        try:
            attrs["parameters"] = clean_search_parameters(min_similarity=attrs["min_similarity"],
                                                          max_candidates=attrs["max_candidates"])
        except Refused as refused:
            raise refusal_as_error(refused) from None
        return attrs

    def validate_galleries(self, codes):
        galleries = list(Gallery.objects.filter(agency=self.context["agency"], code__in=codes))
        if len(galleries) != len(set(codes)):
            raise serializers.ValidationError(_("Unknown gallery code."))
        return galleries


class CandidateSerializer(serializers.ModelSerializer):
    gallery = serializers.CharField(source="gallery_name")
    image = serializers.SerializerMethodField()
    similarity = serializers.FloatField()

    class Meta:
        model = Candidate
        fields = ["code", "subject_reference", "gallery", "image", "similarity", "distance", "source",
                  "legal_basis", "captured_at"]

    def get_image(self, candidate) -> str | None:
        return str(candidate.image.code) if candidate.image_id else None


class SearchFaceSerializer(serializers.ModelSerializer):
    box = serializers.ListField(child=serializers.IntegerField())
    candidates = CandidateSerializer(many=True)

    class Meta:
        model = SearchFace
        fields = ["index", "box", "candidates"]


class SearchSerializer(serializers.ModelSerializer):
    faces = SearchFaceSerializer(many=True)
    notice = serializers.SerializerMethodField()

    class Meta:
        model = Search
        fields = ["code", "status", "error", "purpose", "case_number", "threshold", "max_candidates", "created",
                  "notice", "faces"]

    def get_notice(self, search) -> str:
        return str(LEAD_NOTICE)


class SearchSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Search
        fields = ["code", "status", "purpose", "case_number", "created"]
