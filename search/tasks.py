"""Recognition jobs: enrolling an upload, enrolling a bulk row, running a search. Each is a durable job
(core.jobs): it claims its row, works in that row's agency, tolerates a row deleted or cancelled at any
step, and ends done or failed with a reason on the row the user sees."""
import hashlib

from celery.signals import worker_process_init
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy

from audit.log import record_event
from billing.usage import record_search_usage, release_search_usage
from core import metrics
from core.files import delete_files_after_commit, files_removed_on_failure
from core.jobs import Job, job_task
from core.tenancy import CrossAgency, cross_agency
from search import faceindex
from search.enrollment import create_gallery_image, duplicate_in_gallery, get_or_create_subject, record_detection
from search.images import CheckedImage, ImageRejected
from search.models import Candidate, EnrollmentBatch, EnrollmentItem, GalleryImage, Search, SearchFace
from search.recognition import Detection, detect_faces, load_models
from search.scope import search_scope
from search.screening import any_blocked, face_screen
from search.validation import Provenance
from search.vector import nearest_faces

OPEN_SEARCH = [Search.Status.PENDING, Search.Status.RUNNING]
DUPLICATE_MESSAGE = gettext_lazy("Already in the gallery: not encoded again.")


@worker_process_init.connect
def load_models_in_worker_process(**kwargs) -> None:
    load_models()


def read_file(field) -> bytes:
    with field.open("rb") as handle:
        return handle.read()


# Enrollment of a single upload


def fail_image(job: Job, reason: str) -> None:
    GalleryImage.objects.filter(pk=job.row.pk, status=GalleryImage.Status.PENDING).update(
        status=GalleryImage.Status.FAILED, error=reason, lease_expires_at=None)


@job_task("search.tasks.enroll_image", model=GalleryImage, still_open={"status": GalleryImage.Status.PENDING},
          fail=fail_image)
def enroll_image(job: Job) -> None:
    detection = detect_faces(read_file(job.row.file), settings.DETECTION_MAX_SIDE)
    with job.transaction():
        image = GalleryImage.objects.select_for_update(of=("self",)).select_related("subject", "agency").filter(
            pk=job.row.pk, status=GalleryImage.Status.PENDING).first()
        if image is not None:  # else deleted meanwhile: nothing to record
            record_detection(image, detection.faces, actor=image.uploaded_by)


# Bulk enrollment: one job per manifest row; the batch counts them


OUTCOME_OF_STATUS = {
    GalleryImage.Status.ENROLLED: EnrollmentItem.Outcome.ENROLLED,
    GalleryImage.Status.FAILED: EnrollmentItem.Outcome.NO_FACE,
    GalleryImage.Status.NEEDS_REVIEW: EnrollmentItem.Outcome.SEVERAL_FACES,
}


def finish_item(item: EnrollmentItem, outcome: str, message: str, image: GalleryImage | None = None) -> None:
    """Closes a row once (the caller holds the transaction) and counts it on its batch, which is done when
    every row is. The counter moves by F(): rows of one batch never wait for each other's whole write."""
    closed = EnrollmentItem.objects.filter(pk=item.pk, outcome=EnrollmentItem.Outcome.QUEUED).update(
        outcome=outcome, message=str(message)[:500], image=image, staged_file="", lease_expires_at=None)
    if not closed:
        return
    EnrollmentBatch.objects.filter(pk=item.batch_id).update(processed=F("processed") + 1)
    EnrollmentBatch.objects.filter(pk=item.batch_id, status=EnrollmentBatch.Status.RUNNING,
                                   processed__gte=F("total")).update(status=EnrollmentBatch.Status.DONE,
                                                                     finished_at=timezone.now())
    delete_files_after_commit([item.staged_file])


def fail_item(job: Job, reason: str) -> None:
    finish_item(job.row, EnrollmentItem.Outcome.FAILED, reason)


@job_task("search.tasks.enroll_batch_item", model=EnrollmentItem,
          still_open={"outcome": EnrollmentItem.Outcome.QUEUED}, fail=fail_item)
def enroll_batch_item(job: Job) -> None:
    item = job.row
    with job.transaction():
        batch = EnrollmentBatch.objects.select_related("gallery", "created_by").filter(pk=item.batch_id).first()
    if batch is None:  # its gallery was deleted meanwhile, rows and staged files with it
        return
    data = default_storage.open(item.staged_file).read()
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        detection = detect_faces(data, settings.DETECTION_MAX_SIDE)
    except ImageRejected as rejected:
        with job.transaction():
            finish_item(item, EnrollmentItem.Outcome.UNREADABLE, str(rejected))
        return
    if any_blocked(detection.faces):
        with job.transaction():
            finish_item(item, EnrollmentItem.Outcome.FAILED, str(face_screen().refusal_message))
        return
    checked = CheckedImage(data=data, format=detection.format, width=detection.width, height=detection.height,
                           sha256=sha256)
    try:
        enroll_row(job, batch, checked, detection)
    except IntegrityError:  # the same photo was enrolled meanwhile, by another row or another upload
        with job.transaction():
            finish_item(item, EnrollmentItem.Outcome.DUPLICATE, DUPLICATE_MESSAGE)


def enroll_row(job: Job, batch: EnrollmentBatch, checked: CheckedImage, detection: Detection) -> None:
    item = job.row
    with files_removed_on_failure() as written, job.transaction():
        if duplicate_in_gallery(batch.gallery, checked.sha256) is not None:
            finish_item(item, EnrollmentItem.Outcome.DUPLICATE, DUPLICATE_MESSAGE)
            return
        subject = get_or_create_subject(gallery=batch.gallery, reference=item.subject_reference,
                                        actor=batch.created_by)
        image = create_gallery_image(subject=subject, checked=checked,
                                     provenance=Provenance.from_manifest(item.manifest), actor=batch.created_by)
        written.append(image.file.name)
        record_detection(image, detection.faces, actor=batch.created_by)
        finish_item(item, OUTCOME_OF_STATUS[image.status], image.error, image=image)


# Search


def fail_search(job: Job, reason: str) -> None:
    """The search failed: it is not billed (usage is recorded only for a search that ran)."""
    failed = Search.objects.filter(pk=job.row.pk, status__in=OPEN_SEARCH).update(
        status=Search.Status.FAILED, error=reason, finished_at=timezone.now(), lease_expires_at=None)
    if failed:
        search = Search.objects.select_related("agency").get(pk=job.row.pk)
        release_search_usage(search.code)
        record_event("search.completed", agency=search.agency, target=search.code, outcome="failed",
                     details={"error": reason[:300]})


@job_task("search.tasks.run_search", model=Search, still_open={"status__in": OPEN_SEARCH}, fail=fail_search)
def run_search(job: Job) -> None:
    with job.transaction():
        Search.objects.filter(pk=job.row.pk, status=Search.Status.PENDING).update(
            status=Search.Status.RUNNING, started_at=timezone.now())
        owner_id, _gallery_ids = search_scope(job.row)
    detection = detect_faces(read_file(job.row.probe), settings.DETECTION_MAX_SIDE)
    faceindex.refresh(owner_id)  # outside a transaction: it may wait for enrollments to commit
    store_results(job, detection)


def store_results(job: Job, detection: Detection) -> None:
    with job.transaction():
        search = Search.objects.select_for_update(of=("self",)).select_related("agency").filter(
            pk=job.row.pk, status=Search.Status.RUNNING).first()
        if search is None:  # cancelled (the user was suspended, say) or deleted: deliver nothing
            return
        SearchFace.objects.filter(search=search).delete()  # a retried job starts clean
        candidate_codes = find_candidates(search, detection)
        search.status, search.error, search.finished_at = Search.Status.DONE, "", timezone.now()
        search.lease_expires_at = None
        search.save(update_fields=["status", "error", "finished_at", "lease_expires_at"])
        record_search_usage(agency_id=search.agency_id, search_code=search.code, created=search.created)
        record_event("search.completed", agency=search.agency, target=search.code,
                     details={"faces": len(detection.faces), "candidates": candidate_codes})
    metrics.SEARCH_SECONDS.observe((search.finished_at - search.created).total_seconds())


def find_candidates(search: Search, detection: Detection) -> list[str]:
    """A demo searches the built-in demo gallery, the one other agency's rows it may read (and only read)."""
    owner_id, gallery_ids = search_scope(search)
    reading = cross_agency(CrossAgency.DEMO_GALLERY) if search.agency.is_demo else transaction.atomic()
    codes = []
    with reading:
        for index, detected in enumerate(detection.faces, start=1):
            top, right, bottom, left = detected.box
            search_face = SearchFace.objects.create(search=search, index=index, top=top, right=right,
                                                    bottom=bottom, left=left)
            matches = nearest_faces(agency_id=owner_id, gallery_ids=gallery_ids, encoding=detected.encoding,
                                    threshold=search.threshold, limit=search.max_candidates)
            candidates = Candidate.objects.bulk_create(
                [candidate_from_match(search_face, rank, face) for rank, face in enumerate(matches, start=1)])
            codes += [str(candidate.code) for candidate in candidates]
    return codes


def candidate_from_match(search_face: SearchFace, rank: int, face) -> Candidate:
    image = face.image
    return Candidate(
        agency_id=search_face.agency_id, search_face=search_face, rank=rank, face=face, image=image,
        image_sha256=image.sha256, distance=face.distance, subject_reference=image.subject.reference, gallery_name=face.gallery.name,
        source=image.source, legal_basis=image.legal_basis, captured_at=image.captured_at,
    )
