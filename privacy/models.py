"""Erasure requests and the suppression list, retention and photo reviews."""
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField

from accounts.models import Agency
from core.models import AgencyFromParent, JobRow
from core.tenancy import Access, CrossAgency, Crossing
from search.models import ENCODING_DIMENSIONS, GalleryImage, Search


class ErasureRequest(JobRow):
    """A person's request to have their face removed from every agency's galleries, for good.

    The photo and the detected encodings are held only until an operator decides; contact details
    stay so the decision can be proven and answered."""

    class Status(models.TextChoices):
        DETECTING = "detecting", _("Finding the face")
        READY = "ready", _("Awaiting review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    full_name = models.CharField(_("full name"), max_length=200)
    email = models.EmailField(_("e-mail address"))
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    statement = models.TextField(_("statement"), max_length=5000)
    photo = models.FileField(upload_to="erasure/%Y/%m/", blank=True)
    photo_sha256 = models.CharField(max_length=64)
    photo_width = models.PositiveIntegerField(default=0)
    photo_height = models.PositiveIntegerField(default=0)
    # [{"box": [top, right, bottom, left], "encoding": [...]}], emptied once the request is decided.
    detected_faces = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DETECTING)
    error = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    rejection_reason = models.TextField(blank=True)
    faces_removed = models.PositiveIntegerField(default=0)
    images_removed = models.PositiveIntegerField(default=0)
    agencies_affected = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["status", "created"], name="erasure_status_created_idx")]

    @property
    def is_decided(self) -> bool:
        return self.status in {self.Status.APPROVED, self.Status.REJECTED}


class SuppressedEncoding(models.Model):
    """The platform-wide suppression list: an encoding and the request that put it there, never a photo."""

    request = models.ForeignKey(ErasureRequest, on_delete=models.PROTECT, related_name="suppressions")
    encoding = VectorField(dimensions=ENCODING_DIMENSIONS)
    created = models.DateTimeField(default=timezone.now)


class RetentionPolicy(models.Model):
    """An agency's retention settings; an agency without a row uses the platform defaults."""

    agency = models.OneToOneField(Agency, on_delete=models.CASCADE, related_name="retention_policy")
    probe_retention_days = models.PositiveIntegerField(_("keep probe photos and search results for (days)"))
    gallery_review_days = models.PositiveIntegerField(_("review gallery photos at least every (days)"))
    updated = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    @classmethod
    def for_agency(cls, agency: Agency) -> "RetentionPolicy":
        policy = cls.objects.filter(agency=agency).first()
        if policy is None:
            policy = cls(agency=agency, probe_retention_days=settings.PROBE_RETENTION_DEFAULT_DAYS,
                         gallery_review_days=settings.GALLERY_REVIEW_DEFAULT_DAYS)
        policy.probe_retention_days = min(policy.probe_retention_days, settings.PROBE_RETENTION_MAX_DAYS)
        policy.gallery_review_days = min(policy.gallery_review_days, settings.GALLERY_REVIEW_MAX_DAYS)
        return policy


class SearchPurge(AgencyFromParent):
    """Marks a search whose probe and results were deleted under the retention policy."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    search = models.OneToOneField(Search, on_delete=models.CASCADE, related_name="retention_purge")
    purged_at = models.DateTimeField(default=timezone.now)
    probe_sha256 = models.CharField(max_length=64)
    candidates_removed = models.PositiveIntegerField(default=0)

    agency_parent = "search"


class ImageReview(AgencyFromParent):
    """An admin confirmed that the agency still needs this gallery photo (append-only)."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    image = models.ForeignKey(GalleryImage, on_delete=models.CASCADE, related_name="reviews")
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    reviewed_at = models.DateTimeField(default=timezone.now)

    agency_parent = "image"
    cross_agency = {CrossAgency.ERASURE: Crossing(Access.WRITE)}  # reviews go with an erased photo

    class Meta:
        indexes = [models.Index(fields=["image", "-reviewed_at"], name="image_review_latest_idx")]
