"""Durable jobs: every piece of work a user waits on ends, visibly, as done or failed with a reason.

A job is a row the user watches (a core.models.JobRow: an uploaded image, a bulk row, a search, an erasure
request) and a Celery task that takes its id. One wrapper runs all of them:

- The task finds the row's agency (the JOBS path) and claims the row in that agency: the claim counts an
  attempt and takes a lease, and only succeeds on a row still open whose lease is free or has lapsed, so a
  duplicate message does nothing and a finished row is never redone.
- While the body runs, a thread renews the lease. The body works in the row's agency (`job.transaction()`).
- A Refused from the body (a corrupt image, say) is the input's fault and the same every time: the job fails
  once with that reason. Any other error, at any step (the claim and recording a failure included), is
  retried with backoff, and after TASK_MAX_RETRIES retries the job fails with the reason. Nothing a task
  raises is acknowledged silently.
- What no retry reaches (a worker killed with its messages, a broker that lost them, a message never sent
  because the broker was down at commit) is re-driven: `redrive_jobs`, run by beat every few seconds, sends
  again every open job whose lease has lapsed, or that nobody claimed since it was last sent while its queue
  is empty. Claims are conditional and bodies idempotent, so sending twice is safe.
- Each message goes to the queue of its kind of work, a search to its agency's shard (core.queues):
  `route_task` is Celery's router, so a first send, a retry and a re-drive all land on the same queue.
"""
import logging
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from celery import current_app, shared_task
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core import metrics, queues
from core.refusals import Refused
from core.tenancy import CrossAgency, cross_agency, tenant_transaction

logger = logging.getLogger(__name__)
REDRIVE_BATCH = 500


@dataclass
class JobKind:
    """One kind of job: its task's name, its row's model, which rows are still to do, and how to fail one."""

    name: str
    model: type[models.Model]
    still_open: dict
    fail: Callable[["Job", str], None]
    task: object = field(default=None, repr=False)

    @property
    def has_agency(self) -> bool:
        return any(model_field.name == "agency" for model_field in self.model._meta.concrete_fields)


JOB_KINDS: dict[str, JobKind] = {}


@dataclass
class Job:
    """What a task's body works with: the claimed row and transactions in its agency."""

    kind: JobKind
    row: models.Model
    agency_id: int | None

    def transaction(self):
        return tenant_transaction(self.agency_id)

    def fail(self, reason: str) -> None:
        with self.transaction():
            self.kind.fail(self, reason[:500])
        metrics.JOBS_FAILED.labels(task=self.kind.name).inc()

    def release(self) -> None:
        """Gives the lease back, so that a retry may claim the row at once."""
        with self.transaction():
            self.kind.model.objects.filter(pk=self.row.pk, attempts=self.row.attempts).update(lease_expires_at=None)

    @contextmanager
    def lease_renewed(self):
        stop = threading.Event()
        renewer = threading.Thread(target=self._renew_until, args=(stop,), daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()

    def _renew_until(self, stop: threading.Event) -> None:
        try:
            while not stop.wait(settings.JOB_LEASE_SECONDS / 3):
                with self.transaction():
                    self.kind.model.objects.filter(pk=self.row.pk, attempts=self.row.attempts).update(
                        lease_expires_at=lease_end())
        except Exception:  # the lease then lapses and the re-drive runs the job again, which is safe
            logger.warning("Renewing the lease of %s %s failed", self.kind.name, self.row.pk, exc_info=True)
        finally:
            connection.close()


def lease_end():
    return timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)


def max_attempts() -> int:
    return settings.TASK_MAX_RETRIES + 1


def backoff_seconds(attempt: int) -> int:
    return min(60, 2 ** max(0, attempt - 1))


def agency_of_job(kind: JobKind, pk: int) -> tuple[bool, int | None]:
    """(exists, agency id) of a job row, read before the worker knows which agency it works for."""
    if not kind.has_agency:
        return kind.model.objects.filter(pk=pk).exists(), None
    with cross_agency(CrossAgency.JOBS):
        agency_ids = list(kind.model.objects.filter(pk=pk).values_list("agency_id", flat=True))
    return bool(agency_ids), agency_ids[0] if agency_ids else None


def claim(kind: JobKind, pk: int) -> Job | None:
    """The job, with one more attempt counted and a fresh lease; None if it is gone, finished or held."""
    exists, agency_id = agency_of_job(kind, pk)
    if not exists:
        return None
    with tenant_transaction(agency_id):
        free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=timezone.now())
        claimed = kind.model.objects.filter(free, pk=pk, **kind.still_open).update(
            attempts=F("attempts") + 1, lease_expires_at=lease_end())
        if not claimed:
            return None
        job = Job(kind, kind.model.objects.get(pk=pk), agency_id)
    structlog.contextvars.bind_contextvars(agency_id=agency_id)
    logger.info("Job %s %s claimed (agency %s, attempt %s)", kind.name, pk, agency_id, job.row.attempts)
    return job


def run(kind: JobKind, body: Callable[[Job], None], pk: int) -> None:
    job = claim(kind, pk)
    if job is None:
        return
    if job.row.attempts > max_attempts():
        job.fail(_("The worker stopped repeatedly on this job."))
        return
    with job.lease_renewed():
        try:
            body(job)
        except Refused as refused:
            job.fail(str(refused))
        except Exception as exc:
            if job.row.attempts >= max_attempts():
                logger.exception("Giving up on %s %s", kind.name, pk)
                job.fail(_("Failed after %(count)s attempts: %(reason)s")
                         % {"count": job.row.attempts, "reason": f"{exc.__class__.__name__}: {exc}"[:300]})
                return
            job.release()
            raise


def job_task(name: str, *, model: type[models.Model], still_open: dict, fail: Callable[[Job, str], None]):
    """Makes `body(job)` the durable job `name` on rows of `model` (see the module's docstring)."""

    def decorate(body: Callable[[Job], None]):
        kind = JobKind(name=name, model=model, still_open=still_open, fail=fail)

        @shared_task(name=name, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
        def task(self, pk: int) -> None:
            try:
                run(kind, body, pk)
            except Exception as exc:  # the database or the broker, at any step: try again later
                logger.warning("Job %s %s will be retried: %s", name, pk, exc)
                raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries + 1)) from exc

        kind.task = task
        JOB_KINDS[name] = kind
        return task

    return decorate


def dispatch_on_commit(task, pk: int) -> None:
    """Sends the job's task once the transaction that made its row has committed. If the broker is down the
    commit still stands (the job is recorded, not lost) and the re-drive sends it when the broker is back."""
    transaction.on_commit(lambda: task.delay(pk), robust=True)


# Routing


def route_task(name, args, kwargs, options, task=None, **kw) -> dict | None:
    """Celery's router (CELERY_TASK_ROUTES): the queue of the task's work; for a search, its agency's shard,
    read from the job row. A queue named by the sender wins."""
    if options.get("queue"):
        return None
    agency_id = None
    kind = JOB_KINDS.get(name)
    if queues.WORK_OF_TASK.get(name) == queues.SEARCH and kind is not None and args:
        agency_id = agency_of_job(kind, args[0])[1]
    return {"queue": queues.queue_of_task(name, agency_id)}


# Re-drive


def queue_length(queue: str) -> int:
    with current_app.connection_for_read() as conn:
        try:
            return conn.default_channel.queue_declare(queue=queue, passive=True).message_count
        except conn.channel_errors:  # a queue that does not exist holds nothing
            return 0


def stranded(kind: JobKind, *, empty_queues: set[str]) -> list[tuple[int, int | None]]:
    """Jobs whose lease lapsed, and jobs nobody claimed since they were last sent while their queue is empty."""
    now = timezone.now()
    lapsed = Q(lease_expires_at__lt=now)
    sent_long_ago = Q(dispatched_at__isnull=True) | Q(
        dispatched_at__lt=now - timedelta(seconds=settings.JOB_REDRIVE_AFTER_SECONDS))
    unclaimed = Q(lease_expires_at__isnull=True) & sent_long_ago
    jobs = rows_of(kind, lapsed)
    if empty_queues:
        jobs += [(pk, agency_id) for pk, agency_id in rows_of(kind, unclaimed)
                 if queues.queue_of_task(kind.name, agency_id) in empty_queues]
    return jobs[:REDRIVE_BATCH]


def rows_of(kind: JobKind, condition: Q) -> list[tuple[int, int | None]]:
    rows = kind.model.objects.filter(condition, **kind.still_open).order_by("pk")
    if not kind.has_agency:
        return [(pk, None) for pk in rows.values_list("pk", flat=True)[:REDRIVE_BATCH]]
    with cross_agency(CrossAgency.JOBS):
        return list(rows.values_list("pk", "agency_id")[:REDRIVE_BATCH])


def redrive(kind: JobKind, *, empty_queues: set[str]) -> int:
    jobs = stranded(kind, empty_queues=empty_queues)
    for pk, agency_id in jobs:
        kind.task.apply_async((pk,), queue=queues.queue_of_task(kind.name, agency_id))
        with tenant_transaction(agency_id):
            kind.model.objects.filter(pk=pk).update(dispatched_at=timezone.now())
    if jobs:
        logger.info("Re-drove %s stranded %s jobs", len(jobs), kind.name)
    return len(jobs)


@shared_task(name="core.redrive_jobs", ignore_result=True)
def redrive_jobs() -> int:
    # Judged once, before sending anything: what this run sends must not hide what it should send next.
    empty_queues = {queue for queue in queues.all_queues() if queue_length(queue) == 0}
    return sum(redrive(kind, empty_queues=empty_queues) for kind in JOB_KINDS.values())
