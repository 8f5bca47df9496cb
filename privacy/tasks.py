"""Worker jobs of the privacy features: finding the face in an erasure request, and the daily purge."""
from celery import shared_task
from django.conf import settings
from django.utils.translation import gettext as _

from core.jobs import Job, job_task
from privacy.models import ErasureRequest
from privacy.retention import purge_due_searches
from search.recognition import detect_faces
from search.tasks import read_file


def fail_detection(job: Job, reason: str) -> None:
    record_erasure_detection(job.row.pk, [], reason)


@job_task("privacy.tasks.detect_erasure_faces", model=ErasureRequest,
          still_open={"status": ErasureRequest.Status.DETECTING}, fail=fail_detection)
def detect_erasure_faces(job: Job) -> None:
    detection = detect_faces(read_file(job.row.photo), settings.DETECTION_MAX_SIDE)
    with job.transaction():
        record_erasure_detection(job.row.pk, detection.faces)


@shared_task(name="privacy.purge_due_data", acks_late=True, reject_on_worker_lost=True)
def purge_due_data() -> None:
    purge_due_searches()


def record_erasure_detection(erasure_id: int, faces: list, error: str = "") -> None:
    """Stores what the worker found; the request then waits for an operator."""
    detected = [{"box": list(face.box), "encoding": face.encoding.tolist()} for face in faces]
    if not faces and not error:
        error = _("No face was found in the photo.")
    ErasureRequest.objects.filter(pk=erasure_id, status=ErasureRequest.Status.DETECTING).update(
        status=ErasureRequest.Status.READY, detected_faces=detected, error=error[:500], lease_expires_at=None
    )
