"""Queues by kind of work, and searches by agency shard (core/queues.py): each task lands on its pool's queue,
and with two search shards an agency's searches always run on its shard's worker, which alone builds that
agency's in-memory face index."""
import re
import uuid

import pytest
from django.conf import settings
from django.db import transaction

from accounts.models import Agency, ConductAcceptance, Role
from billing.models import Licence, Plan
from core import queues
from core.tenancy import tenant_transaction
from portal.celery import app as celery_app
from portal.worker import queues_of
from search import actions
from search.enrollment import create_gallery_image, get_or_create_subject, record_detection
from search.images import check_image
from search.models import Gallery, GalleryImage, Search
from search.recognition import detect_faces
from search.validation import Provenance, SearchParameters
from tests.conftest import WorkerProcess, face_bytes, make_member, wait_for, worker_database_url

pytestmark = pytest.mark.django_db(transaction=True)

SHARDS = 2
SEARCHES_PER_AGENCY = 3


@pytest.fixture
def sharded(monkeypatch):
    """A queue prefix of this test's own (no other test worker consumes it) and two search shards."""
    prefix = f"portal-shards-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(settings, "CELERY_TASK_DEFAULT_QUEUE", prefix)
    monkeypatch.setitem(celery_app.conf, "task_default_queue", prefix)
    monkeypatch.setattr(settings, "SEARCH_SHARDS", SHARDS)
    yield prefix
    with celery_app.connection_for_write() as connection:
        for name in queues.all_queues():
            connection.default_channel.queue_purge(name)


def routed_queue(name: str, *args) -> str:
    return celery_app.amqp.router.route({}, name, args, {})["queue"].name


def test_the_shard_of_an_agency_is_stable_and_spreads_agencies(sharded):
    assert [queues.shard_of(agency_id) for agency_id in range(1, 9)] == [queues.shard_of(i) for i in range(1, 9)]
    assert {queues.shard_of(agency_id) for agency_id in range(1, 200)} == {0, 1}
    assert queues.pools() == {
        "enrollment": [f"{sharded}.enrollment"], "search": [f"{sharded}.search.0", f"{sharded}.search.1"],
        "maintenance": [sharded, f"{sharded}.maintenance"],
    }
    assert queues_of("search-1") == [f"{sharded}.search.1"] and queues_of("all") == queues.all_queues()
    with pytest.raises(SystemExit):
        queues_of("search-2")


def test_each_task_goes_to_its_pools_queue_and_a_search_to_its_agencys_shard(sharded, people):
    for name in ("search.tasks.enroll_image", "search.tasks.enroll_batch_item", "privacy.tasks.detect_erasure_faces"):
        assert routed_queue(name, 1) == f"{sharded}.enrollment"
    for name in ("core.redrive_jobs", "privacy.purge_due_data", "oversight.record_audit_checkpoints",
                 "billing.report_usage"):
        assert routed_queue(name) == f"{sharded}.maintenance"
    assert routed_queue("portal.ping") == sharded
    search = Search.objects.create(agency=people.agency, created_by=people.investigator, purpose="x",
                                   case_number="ROUTE-1", threshold=0.6, max_candidates=5, probe_width=1,
                                   probe_height=1)
    expected = f"{sharded}.search.{queues.shard_of(people.agency.pk)}"
    assert routed_queue("search.tasks.run_search", search.pk) == expected
    # A queue the sender names wins (the re-drive names it, knowing the agency already).
    assert celery_app.amqp.router.route({"queue": "elsewhere"}, "search.tasks.run_search", (search.pk,), {})[
        "queue"].name == "elsewhere"


def agency_on_shard(shard: int, plan: Plan, taken: list[Agency]) -> Agency:
    """A licensed agency with an investigator whose searches go to `shard`."""
    for attempt in range(64):
        agency = Agency.objects.create(name=f"Shard {shard} agency {attempt}", kind=Agency.Kind.LAW_ENFORCEMENT,
                                       country="FR")
        if queues.shard_of(agency.pk) == shard and agency not in taken:
            Licence.objects.create(agency=agency, plan=plan, status=Licence.Status.ACTIVE)
            user = make_member(f"investigator{agency.pk}@shard.test", agency, Role.INVESTIGATOR)
            ConductAcceptance.objects.create(user=user, agency=agency, version=1)
            return agency
    raise AssertionError(f"no agency on shard {shard}")


def enroll_in_process(agency: Agency, photos: list[str]) -> Gallery:
    """Enrolled here, without an enrollment worker (these tests are about the search workers)."""
    actor = agency.memberships.order_by("pk").first().user
    gallery = Gallery.objects.create(agency=agency, name="Bookings")
    for number, photo in enumerate(photos):
        checked = check_image(face_bytes(photo))
        detection = detect_faces(checked.data, settings.DETECTION_MAX_SIDE)
        with tenant_transaction(agency.pk), transaction.atomic():
            subject = get_or_create_subject(gallery=gallery, reference=f"S-{number}", actor=actor)
            image = create_gallery_image(subject=subject, checked=checked,
                                         provenance=Provenance(source="Bookings", legal_basis="booking_record"),
                                         actor=actor)
            record_detection(image, detection.faces, actor=actor)
    assert GalleryImage.objects.filter(subject__gallery=gallery, status="enrolled").count() == len(photos)
    return gallery


def claimed_searches(worker: WorkerProcess) -> set[int]:
    return {int(pk) for pk in re.findall(r"Job search\.tasks\.run_search (\d+) claimed", worker.log_path.read_text())}


def test_two_shard_workers_each_run_and_index_only_their_agencies(sharded, people, capsys):
    plan = Plan.objects.get()
    agencies = []
    for shard in range(SHARDS):
        agencies.append(agency_on_shard(shard, plan, agencies))
    galleries = [enroll_in_process(agency, ["obama.jpg", "biden.jpg"]) for agency in agencies]
    # Every agency gets an in-memory index (one face is enough here), so that building one is visible.
    workers = [WorkerProcess(worker_database_url(), [queues.search_queue(shard)], name=f"shard{shard}",
                             extra_env={"PORTAL_QUEUE": sharded, "SEARCH_SHARDS": str(SHARDS),
                                        "FACE_INDEX_MIN_FACES": "1"})
               for shard in range(SHARDS)]
    for worker in workers:
        worker.log_path.write_text("")
        worker.start()
    try:
        searches = {agency.pk: [] for agency in agencies}
        for round_ in range(SEARCHES_PER_AGENCY):
            for agency, gallery in zip(agencies, galleries):
                search = actions.do_create_search(
                    agency=agency, actor=agency.memberships.get().user, probe=check_image(face_bytes("obama2.jpg")),
                    purpose="criminal_investigation", case_number=f"SHARD-{round_}", galleries=[gallery],
                    parameters=SearchParameters(min_similarity=50, max_candidates=5))
                searches[agency.pk].append(search.pk)
        every = [pk for pks in searches.values() for pk in pks]
        wait_for(lambda: Search.objects.filter(pk__in=every, status="done").count() == len(every), timeout=180)
    finally:
        for worker in workers:
            worker.stop()
    for shard, (agency, worker) in enumerate(zip(agencies, workers)):
        other = workers[1 - shard]
        assert set(searches[agency.pk]) <= claimed_searches(worker)
        assert not set(searches[agency.pk]) & claimed_searches(other)
        assert f"Face index of agency {agency.pk}:" in worker.log_path.read_text()
        assert f"Face index of agency {agency.pk}:" not in other.log_path.read_text()
    with capsys.disabled():
        print(f"\nshard routing: {len(every)} searches of {SHARDS} agencies, each agency's on its shard "
              f"{[queues.shard_of(agency.pk) for agency in agencies]}; each worker built only its agency's index")
