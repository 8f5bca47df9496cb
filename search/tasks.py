"""Recognition jobs. Tasks take ids, reload their rows, tolerate rows that are gone or closed,
and record status and error on the row the user sees. A crash is retried a bounded number of
times; after that the job shows a failure instead of staying "running"."""
import hashlib
import logging

from celery import shared_task
from celery.signals import worker_process_init
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.log import record_event
from core.files import delete_files_after_commit, files_removed_on_failure
from search import faceindex
from search.enrollment import (
    create_gallery_image,
    duplicate_in_gallery,
    get_or_create_subject,
    record_detection,
)
from search.images import CheckedImage, ImageRejected
from search.models import (
    Candidate,
    EnrollmentBatch,
    EnrollmentItem,
    GalleryImage,
    Search,
    SearchFace,
)
from search.recognition import detect_faces, load_models
from search.scope import search_scope
from search.screening import any_blocked, face_screen
from search.validation import Provenance
from search.vector import nearest_faces

logger = logging.getLogger(__name__)
JOB_OPTIONS = {"bind": True, "acks_late": True, "reject_on_worker_lost": True}


@worker_process_init.connect
def load_models_in_worker_process(**kwargs) -> None:
    load_models()


def max_attempts() -> int:
    return settings.TASK_MAX_RETRIES + 1


def claim(model: type[models.Model], pk: int, **still_open):
    """Counts one attempt on a row that is still open; None if it is gone or finished."""
    if not model.objects.filter(pk=pk, **still_open).update(attempts=F("attempts") + 1):
        return None
    return model.objects.get(pk=pk)


def retry_or_fail(task, row, exc: Exception, fail) -> None:
    if row.attempts >= max_attempts():
        logger.exception("Giving up on %s %s", row.__class__.__name__, row.pk)
        fail(_("Failed after %(count)s attempts: %(reason)s") % {"count": row.attempts, "reason": _reason(exc)})
        return
    raise task.retry(exc=exc, countdown=min(60, 2 ** (row.attempts - 1)))


def _reason(exc: Exception) -> str:
    return f"{exc.__class__.__name__}: {exc}"[:300]


def read_file(field) -> bytes:
    with field.open("rb") as handle:
        return handle.read()


# Enrollment of a single upload


@shared_task(**JOB_OPTIONS)
def enroll_image(self, image_id: int) -> None:
    image = claim(GalleryImage, image_id, status=GalleryImage.Status.PENDING)
    if image is None:
        return
    if image.attempts > max_attempts():
        fail_image(image.pk, _("The worker stopped repeatedly while reading this image."))
        return
    try:
        detection = detect_faces(read_file(image.file), settings.DETECTION_MAX_SIDE)
    except ImageRejected as rejected:
        fail_image(image.pk, str(rejected))
        return
    except Exception as exc:
        retry_or_fail(self, image, exc, lambda reason: fail_image(image.pk, reason))
        return
    with transaction.atomic():
        locked = GalleryImage.objects.select_for_update(of=("self",)).select_related("subject", "agency").filter(
            pk=image.pk, status=GalleryImage.Status.PENDING
        ).first()
        if locked is not None:
            record_detection(locked, detection.faces, actor=locked.uploaded_by)


def fail_image(image_id: int, reason: str) -> None:
    GalleryImage.objects.filter(pk=image_id, status=GalleryImage.Status.PENDING).update(
        status=GalleryImage.Status.FAILED, error=reason[:500]
    )


# Bulk enrollment: one task per manifest row, the batch counts them


@shared_task(**JOB_OPTIONS)
def enroll_batch_item(self, item_id: int) -> None:
    item = claim(EnrollmentItem, item_id, outcome=EnrollmentItem.Outcome.QUEUED)
    if item is None:
        return
    if item.attempts > max_attempts():
        finish_item(item, EnrollmentItem.Outcome.FAILED, _("The worker stopped repeatedly on this file."))
        return
    try:
        enroll_item(item)
    except Exception as exc:
        retry_or_fail(self, item, exc, lambda reason: finish_item(item, EnrollmentItem.Outcome.FAILED, reason))


def enroll_item(item: EnrollmentItem) -> None:
    batch = EnrollmentBatch.objects.select_related("gallery__agency", "created_by").get(pk=item.batch_id)
    data = default_storage.open(item.staged_file).read()
    sha256 = hashlib.sha256(data).hexdigest()
    if duplicate_in_gallery(batch.gallery, sha256) is not None:
        finish_item(item, EnrollmentItem.Outcome.DUPLICATE, _("Already in the gallery: not encoded again."))
        return
    try:
        detection = detect_faces(data, settings.DETECTION_MAX_SIDE)
    except ImageRejected as rejected:
        finish_item(item, EnrollmentItem.Outcome.UNREADABLE, str(rejected))
        return
    if any_blocked(detection.faces):
        finish_item(item, EnrollmentItem.Outcome.FAILED, str(face_screen().refusal_message))
        return
    checked = CheckedImage(data=data, format=detection.format, width=detection.width, height=detection.height,
                           sha256=sha256)
    try:
        with files_removed_on_failure() as written, transaction.atomic():
            EnrollmentBatch.objects.select_for_update().get(pk=batch.pk)
            if duplicate_in_gallery(batch.gallery, sha256) is not None:
                raise IntegrityError("duplicate")
            subject = get_or_create_subject(gallery=batch.gallery, reference=item.subject_reference,
                                                    actor=batch.created_by)
            image = create_gallery_image(subject=subject, checked=checked,
                                                 provenance=Provenance.from_manifest(item.manifest),
                                                 actor=batch.created_by)
            written.append(image.file.name)
            record_detection(image, detection.faces, actor=batch.created_by)
            outcome = OUTCOME_OF_STATUS[image.status]
            finish_item(item, outcome, image.error, image=image)
    except IntegrityError:
        finish_item(item, EnrollmentItem.Outcome.DUPLICATE, _("Already in the gallery: not encoded again."))


OUTCOME_OF_STATUS = {
    GalleryImage.Status.ENROLLED: EnrollmentItem.Outcome.ENROLLED,
    GalleryImage.Status.FAILED: EnrollmentItem.Outcome.NO_FACE,
    GalleryImage.Status.NEEDS_REVIEW: EnrollmentItem.Outcome.SEVERAL_FACES,
}


def finish_item(item: EnrollmentItem, outcome: str, message: str, image: GalleryImage | None = None) -> None:
    with transaction.atomic():
        batch = EnrollmentBatch.objects.select_for_update().get(pk=item.batch_id)
        closed = EnrollmentItem.objects.filter(pk=item.pk, outcome=EnrollmentItem.Outcome.QUEUED).update(
            outcome=outcome, message=message[:500], image=image, staged_file=""
        )
        if not closed:
            return
        batch.processed += 1
        if batch.processed >= batch.total:
            batch.status, batch.finished_at = EnrollmentBatch.Status.DONE, timezone.now()
        batch.save(update_fields=["processed", "status", "finished_at"])
        delete_files_after_commit([item.staged_file])


# Search


@shared_task(**JOB_OPTIONS)
def run_search(self, search_id: int) -> None:
    search = claim(Search, search_id, status__in=[Search.Status.PENDING, Search.Status.RUNNING])
    if search is None:
        return
    Search.objects.filter(pk=search.pk, status=Search.Status.PENDING).update(
        status=Search.Status.RUNNING, started_at=timezone.now()
    )
    if search.attempts > max_attempts():
        fail_search(search.pk, _("The worker stopped repeatedly on this search."))
        return
    try:
        detection = detect_faces(read_file(search.probe), settings.DETECTION_MAX_SIDE)
        faceindex.refresh(search_scope(search)[0])  # outside the transaction: it may wait for enrollments to commit
        store_results(search.pk, detection)
    except ImageRejected as rejected:
        fail_search(search.pk, str(rejected))
    except Exception as exc:
        retry_or_fail(self, search, exc, lambda reason: fail_search(search.pk, reason))


def store_results(search_id: int, detection) -> None:
    with transaction.atomic():
        search = Search.objects.select_for_update(of=("self",)).select_related("agency").filter(
            pk=search_id, status=Search.Status.RUNNING
        ).first()
        if search is None:  # cancelled (e.g. the user was suspended) or already finished: deliver nothing
            return
        SearchFace.objects.filter(search=search).delete()  # a retried job starts clean
        owner_id, gallery_ids = search_scope(search)
        candidate_codes = []
        for index, detected in enumerate(detection.faces, start=1):
            top, right, bottom, left = detected.box
            search_face = SearchFace.objects.create(search=search, index=index, top=top, right=right,
                                                    bottom=bottom, left=left)
            matches = nearest_faces(agency_id=owner_id, gallery_ids=gallery_ids, encoding=detected.encoding,
                                    threshold=search.threshold, limit=search.max_candidates)
            candidates = Candidate.objects.bulk_create(
                [candidate_from_match(search_face, rank, face) for rank, face in enumerate(matches, start=1)]
            )
            candidate_codes += [str(candidate.code) for candidate in candidates]
        search.status, search.error, search.finished_at = Search.Status.DONE, "", timezone.now()
        search.save(update_fields=["status", "error", "finished_at"])
        record_event("search.completed", agency=search.agency, target=search.code,
                     details={"faces": len(detection.faces), "candidates": candidate_codes})


def candidate_from_match(search_face: SearchFace, rank: int, face) -> Candidate:
    image = face.image
    return Candidate(
        search_face=search_face, rank=rank, face=face, image=image, distance=face.distance,
        subject_reference=image.subject.reference, gallery_name=face.gallery.name, source=image.source,
        legal_basis=image.legal_basis, captured_at=image.captured_at,
    )


def fail_search(search_id: int, reason: str) -> None:
    with transaction.atomic():
        updated = Search.objects.filter(
            pk=search_id, status__in=[Search.Status.PENDING, Search.Status.RUNNING]
        ).update(status=Search.Status.FAILED, error=reason[:500], finished_at=timezone.now())
        if updated:
            search = Search.objects.select_related("agency").get(pk=search_id)
            record_event("search.completed", agency=search.agency, target=search.code, outcome="failed",
                         details={"error": reason[:300]})
