"""Durable jobs under faults, on the real worker, Redis and PostgreSQL: a worker killed mid-job, Redis killed
(and back empty), PostgreSQL restarted with jobs queued. Whatever dies, every job ends done or failed with a
reason within two minutes of a worker being available again; nothing is duplicated; a search is billed once,
and only if it ran; the audit chain verifies."""
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.test import Client

from audit.log import verify_chain
from audit.models import AuditEvent
from billing.models import UsageRecord
from core import queues
from core.jobs import queue_length, redrive_jobs
from portal import localservices
from portal.celery import app as celery_app
from portal.celery import wait_for_worker
from search import actions
from search.bulk import StagedRow
from search.images import check_image
from search.models import EnrollmentBatch, EnrollmentItem, Face, Gallery, GalleryImage, Search
from search.validation import Provenance, SearchParameters
from tests.conftest import BASE_DIR, client_for, face_bytes, wait_for, worker_database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]

BOUND_SECONDS = 120
FAULT_QUEUE = f"portal-faults-{uuid.uuid4().hex[:8]}"
# Short leases and a fast re-drive, so the suite needs seconds where production needs a minute.
FAULT_ENV = {"JOB_LEASE_SECONDS": "6", "JOB_REDRIVE_AFTER_SECONDS": "3", "JOB_REDRIVE_EVERY_SECONDS": "1",
             "PORTAL_BEAT_ONLY": "redrive-jobs", "PORTAL_QUEUE": FAULT_QUEUE, "DB_CONN_MAX_AGE": "0"}


class FaultWorker:
    """A worker with its own beat (which re-drives stranded jobs), in a process group we may kill -9."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.process: subprocess.Popen | None = None
        self.log_path = BASE_DIR / "var" / "test-fault-worker.log"

    def start(self, *, wait: bool = True) -> float:
        """Starts the worker; returns when it answers (unless told not to wait), as a time.monotonic() value."""
        env = dict(os.environ, DATABASE_URL=worker_database_url(), **FAULT_ENV)
        command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-B", "-Q", ",".join(queues.all_queues()),
                   "--concurrency", "2", "-l", "info", "--without-mingle", "--without-gossip",
                   "-s", str(self.tmp_path / f"beat-{uuid.uuid4().hex[:6]}"), "-n", f"fault-{uuid.uuid4().hex[:6]}@%h"]
        self.process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=self.log_path.open("ab"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            wait_for_worker(self.process, self.log_path, timeout=90)
        return time.monotonic()

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def fault_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "CELERY_TASK_DEFAULT_QUEUE", FAULT_QUEUE)
    monkeypatch.setitem(celery_app.conf, "task_default_queue", FAULT_QUEUE)
    worker = FaultWorker(tmp_path)
    yield worker
    worker.stop()


def submit_jobs(people) -> dict:
    """Two uploads, a bulk batch of three rows and two searches, as people would start them."""
    gallery = Gallery.objects.create(agency=people.agency, name="Bookings")
    subject = actions.do_create_subject(gallery=gallery, reference="OB-1", actor=people.admin)
    provenance = Provenance(source="Booking system", legal_basis="booking_record")
    images = [actions.do_upload_image(subject=subject, checked=check_image(face_bytes(name)), provenance=provenance,
                                      actor=people.admin) for name in ("obama.jpg", "biden.jpg")]
    rows = [StagedRow(row_number=number, filename=name, subject_reference=f"B-{number}", data=face_bytes(name),
                      manifest=provenance.as_manifest())
            for number, name in enumerate(("obama2.jpg", "lin-manuel-miranda.png", "two_people.jpg"), start=2)]
    batch = actions.do_start_bulk_enrollment(gallery=gallery, staged=rows, actor=people.admin)
    searches = [actions.do_create_search(agency=people.agency, actor=people.investigator,
                                         probe=check_image(face_bytes(name)), purpose="criminal_investigation",
                                         case_number=f"F-{name}", galleries=[gallery],
                                         parameters=SearchParameters(min_similarity=50, max_candidates=5))
                for name in ("obama3.jpg", "obama_small.jpg")]
    return {"images": [image.pk for image in images], "batch": batch.pk, "searches": [s.pk for s in searches]}


def open_jobs(jobs: dict) -> int:
    return (GalleryImage.objects.filter(pk__in=jobs["images"], status="pending").count()
            + EnrollmentItem.objects.filter(batch_id=jobs["batch"], outcome="queued").count()
            + Search.objects.filter(pk__in=jobs["searches"], status__in=["pending", "running"]).count())


def running_kinds(jobs: dict) -> set[str]:
    """The kinds of job a worker holds right now (claimed, not finished)."""
    leased = {"lease_expires_at__isnull": False}
    running = {
        "enrollment": GalleryImage.objects.filter(pk__in=jobs["images"], status="pending", **leased).exists(),
        "bulk": EnrollmentItem.objects.filter(batch_id=jobs["batch"], outcome="queued", **leased).exists(),
        "search": Search.objects.filter(pk__in=jobs["searches"], status="running", **leased).exists(),
    }
    return {kind for kind, held in running.items() if held}


def wait_until_every_job_ends(jobs: dict, since: float) -> float:
    """Seconds from `since` until no job is open; fails past the bound."""
    wait_for(lambda: open_jobs(jobs) == 0, timeout=BOUND_SECONDS, interval=0.5)
    elapsed = time.monotonic() - since
    assert elapsed <= BOUND_SECONDS
    return elapsed


def outcomes(jobs: dict) -> str:
    """What the closing notes report: how many jobs were submitted and how each ended."""
    images = GalleryImage.objects.filter(pk__in=jobs["images"])
    items = EnrollmentItem.objects.filter(batch_id=jobs["batch"])
    searches = Search.objects.filter(pk__in=jobs["searches"])
    done = (images.filter(status="enrolled").count() + items.filter(outcome="enrolled").count()
            + searches.filter(status="done").count())
    with_a_reason = (images.filter(status="failed").exclude(error="").count()
                     + items.exclude(outcome__in=["queued", "enrolled"]).exclude(message="").count()
                     + searches.filter(status="failed").exclude(error="").count())
    submitted = images.count() + items.count() + searches.count()
    # Doubles would have failed assert_nothing_lost_or_doubled (one face per image, one completion per search).
    return (f"{submitted} submitted, {done} done, {with_a_reason} ended with a reason shown, "
            f"{open_jobs(jobs)} stuck, 0 duplicated")


def assert_nothing_lost_or_doubled(people, jobs: dict) -> None:
    for image in GalleryImage.objects.filter(pk__in=jobs["images"]):
        assert image.status in {"enrolled", "failed"} and (image.status == "enrolled" or image.error), image.error
        assert Face.objects.filter(image=image).count() == (1 if image.status == "enrolled" else 0)
    batch = EnrollmentBatch.objects.get(pk=jobs["batch"])
    assert batch.status == "done" and batch.processed == batch.total == 3
    for item in batch.items.all():
        assert item.outcome != "queued" and (item.image is None or
                                             Face.objects.filter(image=item.image).count() <= 1)
    for search in Search.objects.filter(pk__in=jobs["searches"]):
        assert search.status in {"done", "failed"} and (search.status == "done" or search.error)
        assert AuditEvent.objects.filter(event="search.completed", target=str(search.code)).count() == 1
        assert UsageRecord.objects.filter(search_code=search.code).count() == (1 if search.status == "done" else 0)
    assert verify_chain(str(people.agency.code)).ok


@pytest.mark.parametrize("kind", ["enrollment", "bulk", "search"])
def test_a_worker_killed_mid_job_strands_nothing(people, fault_worker, kind):
    """A worker is killed (with its pool) the moment it holds a job of this kind; another one finishes."""
    jobs = submit_jobs(people)
    fault_worker.start(wait=False)
    wait_for(lambda: kind in running_kinds(jobs), timeout=90, interval=0.02)
    fault_worker.kill()
    killed = time.monotonic()
    available = fault_worker.start()
    elapsed = wait_until_every_job_ends(jobs, since=available)
    assert_nothing_lost_or_doubled(people, jobs)
    print(f"worker killed mid-{kind}: {outcomes(jobs)}; every job final {elapsed:.1f} s after a worker was available again "
          f"({time.monotonic() - killed:.1f} s after the kill)")


def test_redis_killed_and_back_empty_loses_no_job_and_health_answers_fast(people, fault_worker, client):
    fault_worker.start()
    jobs = submit_jobs(people)
    localservices.stop_redis()  # with most of the messages still queued
    shutil.rmtree(localservices.REDIS_DIR / "appendonlydir", ignore_errors=True)  # whatever was queued is gone
    try:
        started = time.monotonic()
        health = client.get("/healthz")
        assert time.monotonic() - started < 2.5 and health.status_code == 503 and health.json()["redis"] != "ok"
        # A search started during the outage is recorded, answered, and sent once the broker is back.
        api = client_for(Client(), people.investigator)
        response = api.post("/api/v1/searches/", {"probe": _upload("obama2.jpg"), "purpose": "criminal_investigation",
                                                   "case_number": "F-outage", "min_similarity": 50})
        assert response.status_code == 202, response.content
        jobs["searches"].append(Search.objects.get(code=response.json()["code"]).pk)
        time.sleep(3)
    finally:
        localservices.ensure_redis()
    back = time.monotonic()
    elapsed = wait_until_every_job_ends(jobs, since=back)
    assert_nothing_lost_or_doubled(people, jobs)
    print(f"redis down and back empty: {outcomes(jobs)}; every job final {elapsed:.1f} s after Redis returned")


def test_postgresql_restarted_with_jobs_queued_loses_no_job(people, fault_worker, client):
    """The jobs wait in the queue; the worker comes up while PostgreSQL is down and takes them all."""
    jobs = submit_jobs(people)
    connections.close_all()
    localservices.stop_postgres()
    try:
        fault_worker.start()
        api = Client().get("/api/v1/searches/")
        assert api.status_code == 503 and api["Retry-After"] and "unavailable" in api.json()["detail"]
        page = Client().get("/accounts/login/")
        assert page.status_code == 503 and b"unavailable" in page.content
        time.sleep(8)
    finally:
        localservices.start_postgres()
    back = time.monotonic()
    connections.close_all()
    elapsed = wait_until_every_job_ends(jobs, since=back)
    assert_nothing_lost_or_doubled(people, jobs)
    print(f"postgresql restarted: {outcomes(jobs)}; every job final {elapsed:.1f} s after it returned")


def test_a_job_whose_message_never_left_is_sent_by_the_redrive_once(people, monkeypatch):
    """The rows are committed but the broker never got their messages: the re-drive sends each job once,
    and sends nothing more while they wait in the queue."""
    queue = f"portal-redrive-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(settings, "CELERY_TASK_DEFAULT_QUEUE", queue)
    monkeypatch.setitem(celery_app.conf, "task_default_queue", queue)
    monkeypatch.setattr(settings, "JOB_REDRIVE_AFTER_SECONDS", 0)
    with monkeypatch.context() as broker_down:
        broker_down.setattr("search.actions.dispatch_on_commit", lambda task, pk: None)
        jobs = submit_jobs(people)
    def queued() -> int:
        return sum(queue_length(name) for name in queues.all_queues())

    try:
        assert open_jobs(jobs) == 7 and queued() == 0
        assert redrive_jobs() == 7 and queued() == 7
        assert queue_length(queues.work_queue(queues.ENROLLMENT)) == 5
        assert queue_length(queues.search_queue(queues.shard_of(people.agency.pk))) == 2
        assert redrive_jobs() == 0 and queued() == 7
    finally:
        with celery_app.connection_for_write() as connection:
            for name in queues.all_queues():
                connection.default_channel.queue_purge(name)


def _upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, face_bytes(name))
