"""Retention: the daily purge of probes and results, its audit trail, and gallery photo reviews."""
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from audit.log import record_event, verify_chain
from audit.models import AuditEvent
from privacy.models import ImageReview, RetentionPolicy, SearchPurge
from privacy.retention import purge_due_searches
from privacy.tasks import purge_due_data
from search.models import Candidate, Search, SearchFace
from tests.conftest import client_for, face_bytes, wait_for
from tests.privacy_helpers import add_image, file_exists, make_subject

NOW = datetime(2026, 6, 1, 3, 15, tzinfo=UTC)


def make_search(agency, user, days_old: int, case: str) -> Search:
    """A finished search with a probe file and one candidate, created `days_old` days before NOW."""
    with time_machine.travel(NOW - timedelta(days=days_old), tick=False):
        search = Search(agency=agency, created_by=user, purpose="criminal_investigation", case_number=case,
                        threshold=0.6, max_candidates=10, probe_sha256=f"{days_old:064d}", probe_width=100,
                        probe_height=100, status=Search.Status.DONE, finished_at=timezone.now())
        search.probe.save(f"{case}.jpg", ContentFile(face_bytes("obama2.jpg")), save=False)
        search.save()
        face = SearchFace.objects.create(search=search, index=1, top=0, right=10, bottom=10, left=0)
        Candidate.objects.create(search_face=face, rank=1, distance=0.3, subject_reference="S-1",
                                 gallery_name="Bookings", source="x", legal_basis="booking_record")
        record_event("search.created", agency=agency, actor=user, target=search.code,
                     details={"probe_sha256": search.probe_sha256})
    return search


@pytest.fixture
def searches(people):
    RetentionPolicy.objects.create(agency=people.other_agency, probe_retention_days=30, gallery_review_days=365)
    return {
        "a_old": make_search(people.agency, people.investigator, 91, "A-OLD"),
        "a_new": make_search(people.agency, people.investigator, 89, "A-NEW"),
        "b_old": make_search(people.other_agency, people.outsider, 31, "B-OLD"),
        "b_new": make_search(people.other_agency, people.outsider, 29, "B-NEW"),
    }


@pytest.mark.django_db
class TestPurge:
    def test_deletes_exactly_what_is_due_and_is_idempotent(self, people, searches,
                                                          django_capture_on_commit_callbacks):
        probes = {key: search.probe.name for key, search in searches.items()}
        with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
            purged = purge_due_searches()
        assert purged == {str(people.agency.code): 1, str(people.other_agency.code): 1}
        for key, search in searches.items():
            search.refresh_from_db()
            due = key.endswith("old")
            assert SearchPurge.objects.filter(search=search).exists() == due, key
            assert file_exists(probes[key]) != due, key
            assert bool(search.probe) != due and SearchFace.objects.filter(search=search).exists() != due, key
        events = AuditEvent.objects.filter(event="retention.purged")
        assert {(event.chain, event.details["searches"], event.details["candidates_removed"]) for event in events} == {
            (str(people.agency.code), 1, 1), (str(people.other_agency.code), 1, 1)}

        with time_machine.travel(NOW + timedelta(hours=1), tick=False), django_capture_on_commit_callbacks(
            execute=True
        ):
            assert purge_due_searches() == {}
        assert AuditEvent.objects.filter(event="retention.purged").count() == 2
        assert SearchPurge.objects.count() == 2

    def test_the_audit_trail_survives_and_the_page_says_why_the_probe_is_gone(self, people, searches, client):
        with time_machine.travel(NOW, tick=False):
            purge_due_searches()
        old = searches["a_old"]
        assert AuditEvent.objects.filter(event="search.created", target=str(old.code)).exists()
        assert verify_chain(str(people.agency.code)).ok and verify_chain(str(people.other_agency.code)).ok
        auditor = client_for(client, people.auditor)
        page = auditor.get(reverse("search:search_detail", args=[old.code]))
        assert page.status_code == 200
        html = page.content.decode()
        assert "Probe deleted under the retention policy" in html
        panel = auditor.get(reverse("oversight:search_panel", args=[old.code])).content.decode()
        assert "search.created" in panel and "retention.purged" in panel
        assert auditor.get(reverse("search:search_probe", args=[old.code])).status_code == 404
        polled = auditor.get(reverse("search:search_detail", args=[old.code]), HTTP_HX_REQUEST="true")
        assert "Probe deleted under the retention policy" in polled.content.decode()
        api = auditor.get(reverse("api_search_detail", args=[old.code]))
        assert api.status_code == 200 and api.json()["faces"] == []

    def test_an_unfinished_search_past_retention_is_cancelled_not_left_running(self, people):
        search = make_search(people.agency, people.investigator, 200, "STUCK")
        Search.objects.filter(pk=search.pk).update(status=Search.Status.RUNNING)
        with time_machine.travel(NOW, tick=False):
            purge_due_searches()
        search.refresh_from_db()
        assert search.status == "cancelled" and "retention policy" in search.error

    def test_the_platform_maximum_caps_an_agencys_setting(self, people, settings):
        RetentionPolicy.objects.create(agency=people.agency, probe_retention_days=3650, gallery_review_days=9999)
        policy = RetentionPolicy.for_agency(people.agency)
        assert policy.probe_retention_days == settings.PROBE_RETENTION_MAX_DAYS
        assert policy.gallery_review_days == settings.GALLERY_REVIEW_MAX_DAYS

    def test_the_daily_beat_schedule_runs_the_purge(self):
        entry = settings.CELERY_BEAT_SCHEDULE["privacy-retention-purge"]
        assert entry["task"] == purge_due_data.name
        schedule = entry["schedule"]
        assert (schedule.hour, schedule.minute, len(schedule.day_of_week), len(schedule.day_of_month)) == (
            {3}, {15}, 7, 31)  # once a day


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_the_purge(people, worker):
    search = make_search(people.agency, people.investigator, 400, "ANCIENT")
    probe = search.probe.name
    purge_due_data.delay()
    wait_for(lambda: SearchPurge.objects.filter(search=search).exists())
    assert wait_for(lambda: not file_exists(probe))


@pytest.mark.django_db
class TestReviews:
    @pytest.fixture
    def images(self, people):
        subject = make_subject(people.agency, "REV")
        with time_machine.travel(NOW - timedelta(days=4 * 365), tick=False):
            overdue = add_image(subject, None)
            reviewed = add_image(subject, None)
        with time_machine.travel(NOW - timedelta(days=30), tick=False):
            ImageReview.objects.create(image=reviewed, reviewed_by=people.admin)
            fresh = add_image(subject, None)
        return overdue, reviewed, fresh

    def test_due_photos_are_listed_for_admins_and_a_review_clears_them(self, people, images, client):
        overdue, reviewed, fresh = images
        admin = client_for(client, people.admin)
        with time_machine.travel(NOW, tick=False):
            page = admin.get(reverse("privacy:review_due"))
            assert [image.pk for image in page.context["page"]] == [overdue.pk]
            assert admin.post(reverse("privacy:image_reviewed", args=[overdue.code])).status_code == 302
            assert list(admin.get(reverse("privacy:review_due")).context["page"]) == []
        assert AuditEvent.objects.filter(event="image.reviewed", target=str(overdue.code)).exists()

    def test_roles_outsiders_and_methods(self, people, images, client):
        overdue = images[0]
        investigator = client_for(client, people.investigator)
        assert investigator.get(reverse("privacy:review_due")).status_code == 403
        assert investigator.post(reverse("privacy:image_reviewed", args=[overdue.code])).status_code == 403
        client.logout()
        outsider = client_for(client, people.outsider)
        assert outsider.post(reverse("privacy:image_reviewed", args=[overdue.code])).status_code == 404
        assert outsider.get(reverse("privacy:image_reviewed", args=[overdue.code])).status_code == 405
        assert outsider.post(reverse("privacy:review_due")).status_code == 405
        assert not ImageReview.objects.filter(image=overdue).exists()


@pytest.mark.django_db
class TestRetentionSettings:
    def test_admin_sets_the_periods_within_the_platform_maximum(self, people, client):
        admin = client_for(client, people.admin)
        page = admin.get(reverse("privacy:retention_settings"))
        assert page.status_code == 200 and page.context["form"].initial["probe_retention_days"] == 90
        too_long = admin.post(reverse("privacy:retention_settings"),
                              {"probe_retention_days": settings.PROBE_RETENTION_MAX_DAYS + 1,
                               "gallery_review_days": 365})
        assert too_long.status_code == 400 and not RetentionPolicy.objects.exists()
        assert admin.post(reverse("privacy:retention_settings"),
                          {"probe_retention_days": "many", "gallery_review_days": 365}).status_code == 400
        saved = admin.post(reverse("privacy:retention_settings"),
                           {"probe_retention_days": 30, "gallery_review_days": 365})
        assert saved.status_code == 302
        policy = RetentionPolicy.objects.get(agency=people.agency)
        assert (policy.probe_retention_days, policy.gallery_review_days) == (30, 365)
        assert AuditEvent.objects.filter(event="retention.updated", chain=str(people.agency.code)).exists()

    def test_other_roles_and_methods(self, people, client):
        for user in (people.investigator, people.auditor):
            assert client_for(client, user).get(reverse("privacy:retention_settings")).status_code == 403
            client.logout()
        outsider = client_for(client, people.outsider)
        outsider.post(reverse("privacy:retention_settings"), {"probe_retention_days": 10, "gallery_review_days": 60})
        assert RetentionPolicy.objects.get().agency == people.other_agency  # only ever their own agency
        assert outsider.put(reverse("privacy:retention_settings")).status_code == 405
