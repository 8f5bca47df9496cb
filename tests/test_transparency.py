"""Issue 11, part 5: the transparency report counts a seeded audit history, as HTML and CSV, in English and
French, and on a public address only when the agency publishes it."""
import csv
import io
import re
from datetime import date

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from audit.log import record_event
from audit.models import AuditEvent
from oversight.transparency import transparency_report
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

EXPECTED = {"searches": 5, "with_candidates": 2, "without_candidates": 1, "verified_leads": 1,
            "rejected_candidates": 1, "flagged_searches": 3, "accounts_suspended": 1, "erasures_applied": 1,
            "searches_purged": 4, "purpose-criminal_investigation": 3, "purpose-missing_person": 1,
            "purpose-fraud_investigation": 1, "purpose-identity_verification": 0, "purpose-other": 0}


@pytest.fixture
def history(people):
    agency = people.agency
    agency.working_hours_start, agency.working_hours_end = 0, 24  # no search is out of hours, whenever this runs
    agency.save()

    def event(name, actor=None, target="", outcome="ok", **details):
        record_event(name, agency=agency, actor=actor, target=target, outcome=outcome, details=details)

    with time_machine.travel(date(2020, 1, 15)):  # before the period: counted nowhere
        event("search.created", people.investigator, "old", purpose="other", probe_sha256="old", case_number="O")
        event("user.suspended", people.admin, "someone")
    for index in range(3):  # one probe searched three times: flagged
        event("search.created", people.investigator, f"s{index}", purpose="criminal_investigation",
              probe_sha256="p1", case_number="A-1")
    event("search.created", people.admin, "s3", purpose="missing_person", probe_sha256="p2", case_number="A-2")
    event("search.created", people.admin, "s4", purpose="fraud_investigation", probe_sha256="p3", case_number="A-3")
    event("search.completed", None, "s0", candidates=["c1", "c2"])
    event("search.completed", None, "s1", candidates=[])
    event("search.completed", None, "s2", outcome="failed", error="crashed")
    event("search.completed", None, "s3", candidates=["c3"])
    event("candidate.confirmed", people.admin, "c1")
    event("candidate.confirmed", people.investigator, "c1")  # two people: a verified lead
    event("candidate.confirmed", people.admin, "c2")  # one only: not yet
    event("candidate.rejected", people.admin, "c3")
    event("candidate.rejected", people.investigator, "c3")  # one candidate, rejected twice
    event("user.suspended", people.admin, "u1")
    event("erasure.applied", people.admin, "e1", faces_removed=2)
    event("retention.purged", None, "", searches=4, search_codes=["x"] * 4)
    return agency


def test_the_counts_match_the_seeded_history(history):
    report = transparency_report(history, date.today(), date.today())
    counts = {key: count for key, _label, count in report.totals}
    counts.update({f"purpose-{purpose}": count for purpose, _label, count in report.by_purpose})
    assert counts == EXPECTED


def page_counts(html: str) -> dict:
    return {key: int(count) for key, count in
            re.findall(r'data-metric="([\w-]+)"><td>[^<]*</td><td class="text-end">(\d+)</td>', html)}


def test_admins_and_auditors_see_the_page_and_download_the_csv_which_is_audited(people, history):
    auditor = client_for(Client(), people.auditor)
    today = date.today().isoformat()
    page = auditor.get(reverse("oversight:transparency"), {"start": today, "end": today})
    assert page.status_code == 200 and page_counts(page.content.decode()) == EXPECTED
    response = auditor.get(reverse("oversight:transparency_csv"), {"start": today, "end": today})
    assert response["Content-Type"].startswith("text/csv")
    rows = {row["metric"]: int(row["count"]) for row in csv.DictReader(io.StringIO(response.content.decode()))}
    assert rows["verified_leads"] == 1 and rows["searches_purpose_criminal_investigation"] == 3 and len(rows) == 14
    exported = AuditEvent.objects.get(event="transparency.exported")
    assert exported.actor_code == people.auditor.code and exported.details == {"start": today, "end": today}
    assert client_for(Client(), people.admin).get(reverse("oversight:transparency")).status_code == 200
    assert client_for(Client(), people.investigator).get(reverse("oversight:transparency")).status_code == 403
    assert auditor.post(reverse("oversight:transparency")).status_code == 405
    assert auditor.get(reverse("oversight:transparency"), {"start": "yesterday"}).status_code == 400
    assert auditor.get(reverse("oversight:transparency"), {"start": today, "end": "2000-01-01"}).status_code == 400


def test_the_public_address_is_off_by_default_and_shows_counts_once_published(people, history):
    url = reverse("oversight:transparency_public", args=[history.code])
    assert Client().get(url).status_code == 404
    history.transparency_public = True
    history.save()
    page = Client().get(url)
    assert page.status_code == 200 and page_counts(page.content.decode())["searches"] == 5
    assert "Download (CSV)" not in page.content.decode()
    assert Client().post(url).status_code == 405


def test_the_admin_publishes_it_in_the_oversight_settings(people):
    admin = client_for(Client(), people.admin)
    form = {"timezone": "UTC", "working_hours_start": 7, "working_hours_end": 20, "case_number_pattern": "",
            "code_of_conduct": people.agency.code_of_conduct, "transparency_public": "on"}
    assert admin.post(reverse("oversight:oversight_settings"), form).status_code == 302
    people.agency.refresh_from_db()
    assert people.agency.transparency_public


def test_the_report_is_in_french(people, history):
    auditor = client_for(Client(), people.auditor)
    page = auditor.get(reverse("oversight:transparency"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Rapport de transparence" in page and "Pistes vérifiées (confirmées par deux personnes)" in page
