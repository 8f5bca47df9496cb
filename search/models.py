import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField

from accounts.models import Agency
from core.models import AgencyFromParent, JobRow
from core.tenancy import Access, CrossAgency, Crossing

ENCODING_DIMENSIONS = 128
# Demo agencies may read only the rows of the platform agency that owns the built-in demo gallery.
DEMO_CONTENT_ONLY = Crossing(Access.READ, only_rows="agency_id = (SELECT search_demo_content_agency_id())")

# Similarity is what people read; the distance is what the index uses. Distance 0.6 shows as 50%.
SIMILARITY_SCALE = 1.2


def distance_to_similarity(distance: float) -> float:
    return max(0.0, 1.0 - distance / SIMILARITY_SCALE)


def similarity_to_distance(similarity: float) -> float:
    return round((1.0 - similarity) * SIMILARITY_SCALE, 4)


class LegalBasis(models.TextChoices):
    BOOKING_RECORD = "booking_record", _("Booking record")
    CONSENTED_ENROLLMENT = "consented_enrollment", _("Consented enrollment")
    COURT_ORDER = "court_order", _("Court order")
    OTHER = "other", _("Other")


class Purpose(models.TextChoices):
    CRIMINAL_INVESTIGATION = "criminal_investigation", _("Criminal investigation")
    MISSING_PERSON = "missing_person", _("Missing person")
    FRAUD_INVESTIGATION = "fraud_investigation", _("Fraud investigation")
    IDENTITY_VERIFICATION = "identity_verification", _("Identity verification")
    OTHER = "other", _("Other")


# Unique constraints that a request racing another can hit (core.refusals.refused_on_conflict).
GALLERY_NAME_UNIQUE = "gallery_name_unique_in_agency"
SUBJECT_REFERENCE_UNIQUE = "subject_reference_unique_in_gallery"
IMAGE_SHA256_UNIQUE = "image_sha256_unique_in_gallery"


class Gallery(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="galleries")
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(default=timezone.now)

    cross_agency = {CrossAgency.DEMO_GALLERY: DEMO_CONTENT_ONLY}

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name=GALLERY_NAME_UNIQUE),
            models.UniqueConstraint(fields=["id", "agency"], name="gallery_id_agency"),
        ]

    def __str__(self) -> str:
        return self.name


class Subject(AgencyFromParent):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    gallery = models.ForeignKey(Gallery, on_delete=models.CASCADE, related_name="subjects")
    reference = models.CharField(_("reference"), max_length=100, help_text=_("Your own id, e.g. a booking number"))
    display_name = models.CharField(_("display name"), max_length=200, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created = models.DateTimeField(default=timezone.now)

    agency_parent = "gallery"
    cross_agency = {CrossAgency.DEMO_GALLERY: DEMO_CONTENT_ONLY}

    class Meta:
        ordering = ["reference"]
        constraints = [
            models.UniqueConstraint(fields=["gallery", "reference"], name=SUBJECT_REFERENCE_UNIQUE),
            models.UniqueConstraint(fields=["id", "agency"], name="subject_id_agency"),
        ]

    def __str__(self) -> str:
        return self.reference


class GalleryImage(JobRow):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ENROLLED = "enrolled", _("Enrolled")
        FAILED = "failed", _("Failed")
        NEEDS_REVIEW = "needs_review", _("Needs review")

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    gallery = models.ForeignKey(Gallery, on_delete=models.CASCADE, related_name="images")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to="gallery/%Y/%m/")
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    source = models.CharField(_("source"), max_length=500)
    legal_basis = models.CharField(_("legal basis"), max_length=30, choices=LegalBasis.choices)
    legal_basis_other = models.CharField(_("legal basis (other)"), max_length=300, blank=True)
    captured_at = models.DateField(_("captured on"), null=True, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=500, blank=True)
    # Boxes and encodings of every face found when there are several; the user picks one.
    review_faces = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(default=timezone.now)

    cross_agency = {
        CrossAgency.DEMO_GALLERY: DEMO_CONTENT_ONLY,
        CrossAgency.ERASURE: Crossing(Access.WRITE),
        CrossAgency.JOBS: Crossing(Access.READ),
    }

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(fields=["gallery", "sha256"], name=IMAGE_SHA256_UNIQUE),
            models.UniqueConstraint(fields=["id", "agency"], name="galleryimage_id_agency"),
        ]


class Face(models.Model):
    """One searchable face. Gallery and agency are copied here so the search filters in the index query."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    image = models.ForeignKey(GalleryImage, on_delete=models.CASCADE, related_name="faces")
    gallery = models.ForeignKey(Gallery, on_delete=models.CASCADE, related_name="+")
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    top = models.IntegerField()
    right = models.IntegerField()
    bottom = models.IntegerField()
    left = models.IntegerField()
    encoding = VectorField(dimensions=ENCODING_DIMENSIONS)

    cross_agency = {
        CrossAgency.DEMO_GALLERY: DEMO_CONTENT_ONLY,
        CrossAgency.ERASURE: Crossing(Access.WRITE),
        CrossAgency.FACE_INDEX: Crossing(Access.READ),
    }

    class Meta:
        # No vector index in PostgreSQL: search.faceindex holds the nearest-neighbour index (bench/README.md says why).
        indexes = [models.Index(fields=["gallery"], name="face_gallery_idx")]

    @property
    def box(self) -> list[int]:
        return [self.top, self.right, self.bottom, self.left]


class EnrollmentBatch(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    gallery = models.ForeignKey(Gallery, on_delete=models.CASCADE, related_name="batches")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=500, blank=True)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["id", "agency"], name="enrollmentbatch_id_agency")]

    @property
    def percent(self) -> int:
        return round(100 * self.processed / self.total) if self.total else 100


class EnrollmentItem(AgencyFromParent, JobRow):
    class Outcome(models.TextChoices):
        QUEUED = "queued", _("Queued")
        ENROLLED = "enrolled", _("Enrolled")
        NO_FACE = "no_face", _("No face found")
        SEVERAL_FACES = "several_faces", _("Several faces: pick one")
        UNREADABLE = "unreadable", _("Unreadable or not an image")
        DUPLICATE = "duplicate", _("Duplicate of an image already in the gallery")
        BAD_ROW = "bad_row", _("Bad manifest row")
        FAILED = "failed", _("Failed")

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    batch = models.ForeignKey(EnrollmentBatch, on_delete=models.CASCADE, related_name="items")
    row_number = models.PositiveIntegerField()
    filename = models.CharField(max_length=300)
    subject_reference = models.CharField(max_length=100, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.QUEUED)
    message = models.CharField(max_length=500, blank=True)
    image = models.ForeignKey(GalleryImage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # Staged upload and manifest values, consumed by the worker.
    staged_file = models.CharField(max_length=300, blank=True)
    manifest = models.JSONField(default=dict)

    agency_parent = "batch"
    cross_agency = {CrossAgency.JOBS: Crossing(Access.READ), CrossAgency.ERASURE: Crossing(Access.WRITE)}

    class Meta:
        ordering = ["row_number"]
        constraints = [models.UniqueConstraint(fields=["batch", "row_number"], name="item_row_unique_in_batch")]


class Search(JobRow):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="searches")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    purpose = models.CharField(_("purpose"), max_length=30, choices=Purpose.choices)
    case_number = models.CharField(_("case number"), max_length=100)
    galleries = models.ManyToManyField(Gallery, related_name="+", through="SearchGallery")
    threshold = models.FloatField(_("match threshold (distance)"))
    max_candidates = models.PositiveSmallIntegerField(_("maximum candidates per face"))
    probe = models.FileField(upload_to="probes/%Y/%m/", blank=True)
    probe_sha256 = models.CharField(max_length=64)
    probe_width = models.PositiveIntegerField()
    probe_height = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    cross_agency = {CrossAgency.JOBS: Crossing(Access.READ)}

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["agency", "-created"], name="search_agency_created_idx")]
        constraints = [models.UniqueConstraint(fields=["id", "agency"], name="search_id_agency")]

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED, self.Status.CANCELLED}


class SearchGallery(AgencyFromParent):
    """A gallery a search covers. For a demo, the built-in demo gallery, which belongs to another agency."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    search = models.ForeignKey(Search, on_delete=models.CASCADE)
    gallery = models.ForeignKey(Gallery, on_delete=models.CASCADE, related_name="+")

    agency_parent = "search"

    class Meta:
        db_table = "search_search_galleries"
        constraints = [models.UniqueConstraint(fields=["search", "gallery"], name="search_gallery_once")]


def with_face_found(searches: models.QuerySet) -> models.QuerySet:
    """Each search marked with whether its probe showed a face, so a list says "No face found", not "Done"."""
    return searches.annotate(face_found=models.Exists(SearchFace.objects.filter(search=models.OuterRef("pk"))))


class SearchFace(AgencyFromParent):
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    search = models.ForeignKey(Search, on_delete=models.CASCADE, related_name="faces")
    index = models.PositiveSmallIntegerField()
    top = models.IntegerField()
    right = models.IntegerField()
    bottom = models.IntegerField()
    left = models.IntegerField()

    agency_parent = "search"

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["search", "index"], name="search_face_index_unique"),
            models.UniqueConstraint(fields=["id", "agency"], name="searchface_id_agency"),
        ]

    @property
    def box(self) -> list[int]:
        return [self.top, self.right, self.bottom, self.left]


class Candidate(AgencyFromParent):
    """A ranked lead for one probe face. What was shown is kept even if the gallery face is later deleted."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    search_face = models.ForeignKey(SearchFace, on_delete=models.CASCADE, related_name="candidates")
    rank = models.PositiveSmallIntegerField()
    face = models.ForeignKey(Face, on_delete=models.SET_NULL, null=True, related_name="+")
    image = models.ForeignKey(GalleryImage, on_delete=models.SET_NULL, null=True, related_name="+")
    image_sha256 = models.CharField(max_length=64, blank=True)  # one photo in several galleries is one lead
    distance = models.FloatField()
    subject_reference = models.CharField(max_length=100)
    gallery_name = models.CharField(max_length=200)
    source = models.CharField(max_length=500)
    legal_basis = models.CharField(max_length=30, choices=LegalBasis.choices)
    captured_at = models.DateField(null=True, blank=True)

    agency_parent = "search_face"
    # An erased photo leaves the candidates that showed it, in any agency (a demo's among them), without it.
    cross_agency = {CrossAgency.ERASURE: Crossing(Access.WRITE)}

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.UniqueConstraint(fields=["search_face", "rank"], name="candidate_rank_unique"),
            models.UniqueConstraint(fields=["id", "agency"], name="candidate_id_agency"),
        ]

    def save(self, *args, **kwargs) -> None:
        if self.image_id and not self.image_sha256:
            self.image_sha256 = self.image.sha256
        super().save(*args, **kwargs)

    @property
    def similarity(self) -> float:
        """A 0–1 score for people; the distance stays the ground truth."""
        return distance_to_similarity(self.distance)


class CandidateDecision(AgencyFromParent):
    """One person's independent review of a candidate. Two different confirmations make a verified lead."""

    class Decision(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed")
        REJECTED = "rejected", _("Rejected")

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="decisions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)

    agency_parent = "candidate"

    class Meta:
        ordering = ["created"]
        constraints = [models.UniqueConstraint(fields=["candidate", "user"], name="one_decision_per_reviewer")]


class DemoGallery(models.Model):
    """Marks the built-in gallery that demo agencies search (owned by a member-less platform agency)."""

    gallery = models.OneToOneField(Gallery, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(default=timezone.now)
