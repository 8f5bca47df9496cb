from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

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

LEAD_NOTICE = _("Investigative lead only, not an identification. Two separate human confirmations are required.")


class CheckedImageField(serializers.FileField):
    """A photo judged by its content; validates to a CheckedImage."""

    def to_internal_value(self, data):
        uploaded = super().to_internal_value(data)
        try:
            return check_image(read_upload(uploaded))
        except ImageRejected as rejected:
            raise serializers.ValidationError(str(rejected)) from None


class GallerySerializer(serializers.ModelSerializer):
    class Meta:
        model = Gallery
        fields = ["code", "name", "description"]
        read_only_fields = ["code"]

    def validate_name(self, name: str) -> str:
        name = name.strip()
        if Gallery.objects.filter(agency=self.context["agency"], name=name).exists():
            raise serializers.ValidationError(_("Your agency already has a gallery with this name."))
        return name


class ImageUploadSerializer(serializers.Serializer):
    image = CheckedImageField()
    subject_reference = serializers.CharField(max_length=100)
    source = serializers.CharField(max_length=500)
    legal_basis = serializers.ChoiceField(choices=LegalBasis.choices)
    legal_basis_other = serializers.CharField(max_length=300, required=False, default="")
    captured_at = serializers.DateField(required=False, allow_null=True, default=None)

    def validate(self, attrs):
        if attrs["legal_basis"] == LegalBasis.OTHER and not attrs["legal_basis_other"].strip():
            raise serializers.ValidationError({"legal_basis_other": _("Describe the legal basis.")})
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
    threshold = serializers.FloatField(required=False, min_value=0.05, max_value=1.2)
    max_candidates = serializers.IntegerField(required=False, min_value=1, max_value=50)

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
