import os
import subprocess
import time
from pathlib import Path

from celery import Celery
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.steps["worker"].add(DjangoStructLogInitStep)  # tasks log with the request id of the request that sent them


@app.task(name="portal.ping", ignore_result=False, acks_late=False)
def ping() -> str:
    """Answered by a live worker; /healthz waits for it."""
    return "pong"


def wait_for_worker(process: subprocess.Popen, log_path: Path, timeout: float, queue: str | None = None) -> None:
    """Returns once the worker started as `process` answers a ping (sent to `queue`, one it consumes, when it
    does not consume the default queue); raises, naming its log, if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The worker exited; see {log_path}")
        try:
            if ping.apply_async(expires=5, queue=queue).get(timeout=3) == "pong":
                return
        except Exception:
            continue
    raise RuntimeError(f"The worker did not answer; see {log_path}")
