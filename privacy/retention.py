"""Retention: probes and search results are deleted once an agency's retention period is over, and
gallery photos that nobody has reviewed for too long are listed for the agency's admins."""
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, Max, OuterRef, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Agency, User
from audit.log import record_event
from billing.usage import release_search_usage
from core.files import delete_files_after_commit
from core.tenancy import tenant_transaction
from privacy.models import ImageReview, RetentionPolicy, SearchPurge
from search.models import Candidate, GalleryImage, Search, SearchFace

PURGE_BATCH_SIZE = 500


def purge_due_searches(now: datetime | None = None) -> dict[str, int]:
    """Deletes the probes and results of every search older than its agency's retention period.
    Idempotent: a purged search is marked and never counted again. Returns searches purged per agency code.
    The purge goes through the agencies one by one, each in its own tenant transactions: it never needs to
    see two agencies at once."""
    now = now or timezone.now()
    purged = {}
    for agency in Agency.objects.order_by("pk"):
        with tenant_transaction(agency.pk):
            cutoff = now - timedelta(days=RetentionPolicy.for_agency(agency).probe_retention_days)
        count = purge_agency_searches(agency, cutoff, now)
        if count:
            purged[str(agency.code)] = count
    return purged


def purge_agency_searches(agency: Agency, cutoff: datetime, now: datetime) -> int:
    total = 0
    while True:
        with tenant_transaction(agency.pk):
            due = list(
                Search.objects.select_for_update(skip_locked=True)
                .filter(agency=agency, created__lt=cutoff)
                .filter(~Exists(SearchPurge.objects.filter(search=OuterRef("pk"))))
                .order_by("pk")[:PURGE_BATCH_SIZE]
            )
            if not due:
                return total
            _purge_batch(agency, due, cutoff, now)
            total += len(due)


def _purge_batch(agency: Agency, due: list[Search], cutoff: datetime, now: datetime) -> None:
    ids = [search.pk for search in due]
    candidates = dict.fromkeys(ids, 0)
    for search_id in Candidate.objects.filter(search_face__search_id__in=ids).values_list(
        "search_face__search_id", flat=True
    ):
        candidates[search_id] += 1
    SearchFace.objects.filter(search_id__in=ids).delete()
    unrun = Search.objects.filter(pk__in=ids, status__in=[Search.Status.PENDING, Search.Status.RUNNING])
    release_search_usage(*unrun.values_list("code", flat=True))  # a search that never ran is not billed
    unrun.update(status=Search.Status.CANCELLED, error=_("Probe deleted under the retention policy."), finished_at=now)
    Search.objects.filter(pk__in=ids).update(probe="")
    SearchPurge.objects.bulk_create(
        [SearchPurge(agency=agency, search=search, purged_at=now, probe_sha256=search.probe_sha256,
                     candidates_removed=candidates[search.pk]) for search in due]
    )
    record_event("retention.purged", agency=agency, details={
        "searches": len(due), "candidates_removed": sum(candidates.values()), "cutoff": cutoff.isoformat(),
        "search_codes": [str(search.code) for search in due],
    })
    delete_files_after_commit([search.probe.name for search in due if search.probe])


def images_due_for_review(agency: Agency, now: datetime | None = None) -> QuerySet:
    """Gallery photos not reviewed (or uploaded) within the agency's review period, oldest first."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=RetentionPolicy.for_agency(agency).gallery_review_days)
    return (
        GalleryImage.objects.filter(agency=agency)
        .annotate(last_reviewed=Coalesce(Max("reviews__reviewed_at"), "created"))
        .filter(last_reviewed__lt=cutoff)
        .select_related("subject", "gallery")
        .order_by("last_reviewed", "pk")
    )


def do_mark_reviewed(*, image: GalleryImage, actor: User, request=None) -> ImageReview:
    with transaction.atomic():
        review = ImageReview.objects.create(image=image, reviewed_by=actor)
        record_event("image.reviewed", agency=image.agency, actor=actor, request=request, target=image.code,
                     details={"sha256": image.sha256})
    return review


def do_update_retention(*, agency: Agency, probe_retention_days: int, gallery_review_days: int, actor: User,
                        request=None) -> RetentionPolicy:
    with transaction.atomic():
        policy, _created = RetentionPolicy.objects.select_for_update().update_or_create(
            agency=agency,
            defaults={"probe_retention_days": probe_retention_days, "gallery_review_days": gallery_review_days,
                      "updated": timezone.now(), "updated_by": actor},
        )
        record_event("retention.updated", agency=agency, actor=actor, request=request, target=agency.code,
                     details={"probe_retention_days": probe_retention_days,
                              "gallery_review_days": gallery_review_days})
    return policy
