"""Worker jobs of the privacy features: finding the face in an erasure request, and the daily purge."""
from celery import shared_task
from django.conf import settings
from django.utils.translation import gettext as _

from privacy.models import ErasureRequest
from privacy.retention import purge_due_searches
from search.images import ImageRejected
from search.recognition import detect_faces
from search.tasks import JOB_OPTIONS, claim, max_attempts, read_file, retry_or_fail


@shared_task(**JOB_OPTIONS)
def detect_erasure_faces(self, erasure_id: int) -> None:
    erasure = claim(ErasureRequest, erasure_id, status=ErasureRequest.Status.DETECTING)
    if erasure is None:
        return
    if erasure.attempts > max_attempts():
        record_erasure_detection(erasure.pk, [], _("The worker stopped repeatedly while reading this photo."))
        return
    try:
        detection = detect_faces(read_file(erasure.photo), settings.DETECTION_MAX_SIDE)
    except ImageRejected as rejected:
        record_erasure_detection(erasure.pk, [], str(rejected))
        return
    except Exception as exc:
        retry_or_fail(self, erasure, exc, lambda reason: record_erasure_detection(erasure.pk, [], reason))
        return
    record_erasure_detection(erasure.pk, detection.faces)


@shared_task(name="privacy.purge_due_data", acks_late=True, reject_on_worker_lost=True)
def purge_due_data() -> None:
    purge_due_searches()


def record_erasure_detection(erasure_id: int, faces: list, error: str = "") -> None:
    """Stores what the worker found; the request then waits for an operator."""
    detected = [{"box": list(face.box), "encoding": face.encoding.tolist()} for face in faces]
    if not faces and not error:
        error = _("No face was found in the photo.")
    ErasureRequest.objects.filter(pk=erasure_id, status=ErasureRequest.Status.DETECTING).update(
        status=ErasureRequest.Status.READY, detected_faces=detected, error=error[:500]
    )
