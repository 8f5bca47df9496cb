"""The portal's own Prometheus metrics, defined once here (the bottom layer) and moved by the apps' code.

In production the web's and the workers' processes of a host share PROMETHEUS_MULTIPROC_DIR, and /metrics
(portal/metrics.py) reads them all: a Celery job's duration, observed in a worker, shows on the web's scrape.
What is read at scrape time (queue depth, the newest audit checkpoint's age) is computed in portal/metrics.py.
"""
import time

from celery.signals import task_postrun, task_prerun
from prometheus_client import Counter, Gauge, Histogram

SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)

TASK_SECONDS = Histogram(
    "portal_celery_task_duration_seconds", "Time a Celery task ran, by task and outcome (Celery's state)",
    ["task", "outcome"], buckets=SECONDS_BUCKETS)
JOBS_FAILED = Counter("portal_jobs_failed_total", "Durable jobs that ended failed (the user sees the reason)", ["task"])
SEARCH_SECONDS = Histogram(
    "portal_search_latency_seconds", "A search from its creation (the upload) to its stored results",
    buckets=SECONDS_BUCKETS)
INDEX_BUILD_SECONDS = Gauge(
    "portal_face_index_build_seconds", "Time the last build of an agency's in-memory face index took",
    ["agency_id"], multiprocess_mode="livemostrecent")
INDEX_FACES = Gauge(
    "portal_face_index_faces", "Faces in an agency's in-memory face index (in the worker that holds it)",
    ["agency_id"], multiprocess_mode="livemostrecent")
WEBHOOK_FAILURES = Counter(
    "portal_webhook_failures_total", "Incoming webhooks refused or failed, by source and reason",
    ["source", "reason"])

_started: dict[str, float] = {}


@task_prerun.connect
def _task_started(task_id=None, **kwargs) -> None:
    _started[task_id] = time.monotonic()


@task_postrun.connect
def _task_finished(task_id=None, task=None, state=None, **kwargs) -> None:
    started = _started.pop(task_id, None)
    if started is not None and task is not None:
        TASK_SECONDS.labels(task=task.name, outcome=(state or "unknown").lower()).observe(time.monotonic() - started)


def observe_index_build(agency_id: int, seconds: float, faces: int) -> None:
    INDEX_BUILD_SECONDS.labels(agency_id=str(agency_id)).set(seconds)
    INDEX_FACES.labels(agency_id=str(agency_id)).set(faces)
