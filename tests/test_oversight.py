"""Issue 4: the tamper-evident audit log, the dashboard, revocation, conduct and two-person review."""
import csv
import io
import threading
from unittest import mock

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections
from django.test import Client
from django.urls import reverse

from accounts.models import ConductAcceptance
from audit.heads import sign_head
from audit.log import record_event, verify_chain
from audit.models import AuditCheckpoint, AuditEvent
from oversight.actions import do_record_checkpoints
from search import actions
from search.images import check_image
from search.models import Candidate, CandidateDecision, Search, SearchFace
from search.validation import SearchParameters
from tests.conftest import client_for, face_bytes, tamper, wait_for

PROBE = check_image(face_bytes("obama_small.jpg"))


def create_search(people, user=None, case_number="C-1", purpose="criminal_investigation", probe=PROBE) -> Search:
    return actions.do_create_search(agency=people.agency, actor=user or people.investigator, probe=probe,
                                    purpose=purpose, case_number=case_number, galleries=[],
                                    parameters=SearchParameters(min_similarity=50, max_candidates=5))


def chain_of(people) -> str:
    return str(people.agency.code)


# The chain


@pytest.mark.django_db(transaction=True)
def test_every_search_has_exactly_one_created_event_even_from_concurrent_threads(people, worker):
    def submit(index: int) -> None:
        try:
            create_search(people, case_number=f"T-{index}")
        finally:
            connections.close_all()

    for index in range(5):
        create_search(people, case_number=f"S-{index}")
    threads = [threading.Thread(target=submit, args=(index,)) for index in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = set(Search.objects.values_list("code", flat=True))
    assert len(codes) == 17
    created = list(AuditEvent.objects.filter(event="search.created").values_list("target", flat=True))
    assert sorted(created) == sorted(str(code) for code in codes)
    wait_for(lambda: not Search.objects.filter(status__in=["pending", "running"]).exists(), timeout=120)
    report = verify_chain(chain_of(people))
    assert report.ok, report.message
    seqs = list(AuditEvent.objects.filter(chain=chain_of(people)).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def stored_probe_files() -> set[str]:
    from pathlib import Path

    from django.conf import settings

    return {str(path) for path in Path(settings.PRIVATE_MEDIA_ROOT, "probes").rglob("*") if path.is_file()}


@pytest.mark.django_db(transaction=True)
def test_if_the_audit_insert_fails_the_search_is_not_created(people):
    before = stored_probe_files()
    with mock.patch("search.actions.record_event", side_effect=DatabaseError("audit table unavailable")):
        with pytest.raises(DatabaseError):
            create_search(people)
    assert not Search.objects.exists()
    assert stored_probe_files() == before  # the probe written before the failure was removed


@pytest.fixture
def ten_events(people):
    for index in range(10):
        record_event("test.event", agency=people.agency, actor=people.admin, details={"n": index})
    sign_head(chain_of(people))  # verify_audit checks the signed Merkle tree head too
    assert verify_chain(chain_of(people)).ok
    return chain_of(people)


def verify_fails_at(chain: str, capsys) -> str:
    with pytest.raises(CommandError):
        call_command("verify_audit", "--agency", chain)
    return capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_an_edited_row_is_detected_and_named(ten_events, capsys):
    tamper("UPDATE audit_auditevent SET details = '{\"n\": 99}' WHERE chain = %s AND seq = 4", ten_events)
    assert "TAMPERED at sequence 4" in verify_fails_at(ten_events, capsys)


@pytest.mark.django_db(transaction=True)
def test_a_deleted_middle_row_is_detected_and_named(ten_events, capsys):
    tamper("DELETE FROM audit_auditevent WHERE chain = %s AND seq = 6", ten_events)
    assert "TAMPERED at sequence 6" in verify_fails_at(ten_events, capsys)


@pytest.mark.django_db(transaction=True)
def test_a_swapped_pair_is_detected_and_named(ten_events, capsys):
    tamper("UPDATE audit_auditevent SET seq = -seq WHERE chain = %s AND seq IN (7, 8);"
           "UPDATE audit_auditevent SET seq = CASE seq WHEN -7 THEN 8 ELSE 7 END WHERE chain = %s AND seq IN (-7, -8)",
           ten_events, ten_events)
    assert "TAMPERED at sequence 7" in verify_fails_at(ten_events, capsys)


@pytest.mark.django_db(transaction=True)
def test_a_truncated_tail_below_a_checkpoint_is_detected(ten_events, capsys):
    do_record_checkpoints()
    checkpoint = AuditCheckpoint.objects.get(chain=ten_events)
    tamper("DELETE FROM audit_auditevent WHERE chain = %s AND seq > 7", ten_events)
    # A careful tamperer also rewinds the head; the checkpoint, held outside the database, still catches it.
    tamper("UPDATE audit_auditchainhead SET seq = 7, hash = (SELECT hash FROM audit_auditevent "
           "WHERE chain = %s AND seq = 7) WHERE chain = %s", ten_events, ten_events)
    output = verify_fails_at(ten_events, capsys)
    assert "TAMPERED at sequence 8" in output and f"checkpoint {checkpoint.seq}" in output


@pytest.mark.django_db(transaction=True)
def test_an_intact_log_verifies_and_the_result_is_recorded(ten_events, capsys):
    call_command("verify_audit", "--agency", ten_events)
    assert "ok, 10 events verified" in capsys.readouterr().out
    assert AuditEvent.objects.filter(chain=ten_events, event="audit.verified", outcome="ok").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_application_role_cannot_update_delete_or_truncate_the_log(ten_events):
    for statement in ("UPDATE audit_auditevent SET outcome = 'x'", "DELETE FROM audit_auditevent",
                      "TRUNCATE audit_auditevent", "DELETE FROM audit_auditcheckpoint"):
        if "checkpoint" in statement:
            do_record_checkpoints()
        with pytest.raises(DatabaseError, match="permission denied"):
            with connection.cursor() as cursor:
                cursor.execute(statement)
    assert AuditEvent.objects.filter(chain=ten_events).count() == 10
    assert verify_chain(ten_events).ok


@pytest.mark.django_db
def test_checkpoints_are_mailed_to_the_agency_admins(people, ten_events):
    assert do_record_checkpoints() >= 1
    assert do_record_checkpoints() == AuditCheckpoint.objects.count()  # unchanged heads add nothing new
    message = next(m for m in mail.outbox if str(people.agency.code) in m.body)
    head = AuditEvent.objects.filter(chain=ten_events).order_by("-seq").first()
    assert message.to == ["admin@alpha.test"] and head.hash in message.body


# The dashboard and exports


@pytest.mark.django_db
def test_dashboard_filters_paginates_and_flags(client, people):
    people.agency.case_number_pattern = r"[A-Z]{2}-\d+"
    people.agency.save()
    for index in range(30):
        create_search(people, case_number=f"AB-{index}")
    create_search(people, user=people.admin, case_number="whatever", purpose="other")
    for _ in range(3):
        create_search(people, case_number="AB-99", probe=check_image(face_bytes("biden.jpg")))
    auditor = client_for(client, people.auditor)
    page = auditor.get(reverse("oversight:audit_dashboard")).content.decode()
    assert "Page 1 of 2" in page and "<svg" in page
    assert "does not match" in page and "Same probe searched repeatedly" in page
    filtered = auditor.get(reverse("oversight:audit_dashboard"), {"user": people.admin.pk, "purpose": "other"}).content.decode()
    search_log = filtered.split('id="search-log"')[1]  # the flags above it link to the searches they flag
    assert "whatever" in search_log and "AB-1<" not in search_log
    assert AuditEvent.objects.filter(event="audit.viewed").count() == 2


@pytest.mark.django_db
def test_csv_export_neutralises_formula_cells_and_is_audited(client, people):
    for number in ("=HYPERLINK(\"http://evil\")", "+1+1", "-2", "@SUM(A1)", "OK-1"):
        create_search(people, case_number=number)
    response = client_for(client, people.admin).get(reverse("oversight:audit_export"))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    numbers = sorted(row[4] for row in rows[1:])
    assert numbers == sorted(["'=HYPERLINK(\"http://evil\")", "'+1+1", "'-2", "'@SUM(A1)", "OK-1"])
    assert response["Content-Type"].startswith("text/csv")
    assert AuditEvent.objects.filter(event="audit.exported").get().details["rows"] == 5


@pytest.mark.django_db
def test_audit_access_rules(client, people):
    search = create_search(people, case_number="SECRET-A")
    assert client_for(client, people.auditor).get(reverse("oversight:audit_dashboard")).status_code == 200
    assert client_for(client, people.investigator).get(reverse("oversight:audit_dashboard")).status_code == 403
    assert client_for(client, people.investigator).get(reverse("oversight:audit_export")).status_code == 403
    assert client_for(client, people.investigator).get(reverse("oversight:audit_events")).status_code == 403
    member = reverse("accounts:suspend", args=[people.investigator.membership.code])
    assert client_for(client, people.auditor).post(member).status_code == 403
    outsider = client_for(client, people.outsider)
    assert "SECRET-A" not in outsider.get(reverse("oversight:audit_export")).content.decode()
    assert "SECRET-A" not in outsider.get(reverse("oversight:audit_dashboard")).content.decode()
    assert outsider.get(reverse("search:search_detail", args=[search.code])).status_code == 404
    assert outsider.get(reverse("search:search_export", args=[search.code])).status_code == 404
    assert client_for(client, people.auditor).post(reverse("oversight:audit_dashboard")).status_code == 405
    assert client_for(client, people.auditor).get(reverse("oversight:audit_verify")).status_code == 405


@pytest.mark.django_db
def test_search_page_shows_who_viewed_and_exported_it(client, people):
    search = create_search(people)
    client_for(client, people.investigator).get(reverse("search:search_export", args=[search.code]))
    admin = client_for(client, people.admin)
    page = admin.get(reverse("search:search_detail", args=[search.code])).content.decode()
    panel_url = reverse("oversight:search_panel", args=[search.code])
    assert panel_url in page  # the page loads the oversight panel for auditors
    panel = admin.get(panel_url, HTTP_HX_REQUEST="true").content.decode()
    assert "Who viewed or exported this search" in panel
    assert "investigator@alpha.test" in panel and "search.exported" in panel
    assert panel_url not in client_for(Client(), people.investigator).get(
        reverse("search:search_detail", args=[search.code])).content.decode()
    assert client_for(Client(), people.investigator).get(panel_url).status_code == 403
    assert client_for(Client(), people.outsider).get(panel_url).status_code == 404
    assert admin.post(panel_url).status_code == 405


@pytest.mark.django_db
def test_verify_now_button_and_bad_settings(client, people):
    admin = client_for(client, people.admin)
    response = admin.post(reverse("oversight:audit_verify"), follow=True)
    assert "verified" in response.content.decode()
    response = admin.post(reverse("oversight:oversight_settings"), {
        "timezone": "Mars/Olympus", "working_hours_start": 9, "working_hours_end": 8, "case_number_pattern": "([",
        "code_of_conduct": "Be good."})
    page = response.content.decode()
    assert response.status_code == 400
    assert "Unknown time zone" in page and "not a valid regular expression" in page.lower() and "after the start" in page
    assert client_for(client, people.auditor).get(reverse("oversight:oversight_settings")).status_code == 403


# Code of conduct


@pytest.mark.django_db
def test_a_new_code_of_conduct_must_be_accepted_before_the_next_search(client, people):
    admin = client_for(client, people.admin)
    admin.post(reverse("oversight:oversight_settings"), {
        "timezone": "Europe/Paris", "working_hours_start": 8, "working_hours_end": 19, "case_number_pattern": "",
        "code_of_conduct": "Version two: search only for open cases."})
    people.agency.refresh_from_db()
    assert people.agency.code_of_conduct_version == 2
    investigator = client_for(client, people.investigator)
    response = investigator.get(reverse("search:search_new"))
    assert response.status_code == 302 and reverse("accounts:conduct") in response["Location"]
    from accounts.actions import do_create_api_token

    _token, key = do_create_api_token(user=people.investigator, name="t")
    api = Client(HTTP_AUTHORIZATION=f"Token {key}").post("/api/v1/searches/", {"purpose": "other"})
    assert api.status_code == 403 and "code of conduct" in api.json()["detail"]
    investigator.post(reverse("accounts:conduct"), {"accept": "yes", "next": reverse("search:search_new")})
    assert ConductAcceptance.objects.filter(user=people.investigator, version=2).exists()
    assert investigator.get(reverse("search:search_new")).status_code == 200
    assert AuditEvent.objects.filter(event="conduct.accepted").count() == 1


# Revocation


@pytest.mark.django_db
def test_an_admin_revokes_a_single_api_token(client, people):
    from accounts.actions import do_create_api_token

    token, key = do_create_api_token(user=people.investigator, name="script")
    other, other_key = do_create_api_token(user=people.investigator, name="other")
    url = reverse("accounts:revoke_member_token", args=[token.code])
    assert client_for(client, people.outsider).post(url).status_code == 404
    assert client_for(client, people.auditor).post(url).status_code == 403
    assert client_for(client, people.admin).post(url).status_code == 302
    assert Client(HTTP_AUTHORIZATION=f"Token {key}").get("/api/v1/galleries/").status_code == 401
    assert Client(HTTP_AUTHORIZATION=f"Token {other_key}").get("/api/v1/galleries/").status_code == 200


@pytest.mark.django_db
def test_suspension_cuts_off_session_token_and_queued_search(client, people):
    from accounts.actions import do_create_api_token

    _token, key = do_create_api_token(user=people.investigator, name="t")
    session = client_for(Client(), people.investigator)
    queued = create_search(people)
    client_for(client, people.admin).post(reverse("accounts:suspend", args=[people.investigator.membership.code]))
    assert session.get("/").status_code == 302
    assert Client(HTTP_AUTHORIZATION=f"Token {key}").get("/api/v1/galleries/").status_code == 401
    queued.refresh_from_db()
    assert queued.status == "cancelled"
    assert AuditEvent.objects.get(event="user.suspended").details == {"tokens_revoked": 1, "searches_cancelled": 1}


# Two-person verification


@pytest.fixture
def candidate(people):
    search = create_search(people)
    Search.objects.filter(pk=search.pk).update(status="done")
    face = SearchFace.objects.create(search=search, index=1, top=0, right=1, bottom=1, left=0)
    return Candidate.objects.create(search_face=face, rank=1, distance=0.4, subject_reference="X",
                                    gallery_name="G", source="s", legal_basis="court_order")


def decide(client, user, candidate, decision="confirmed"):
    return client_for(client, user).post(reverse("search:candidate_decide", args=[candidate.code]),
                                         {"decision": decision, "comment": f"by {user.email}"})


def state_seen_by(client, user, candidate) -> str:
    page = client_for(client, user).get(reverse("search:search_detail", args=[candidate.search_face.search.code]))
    return page.content.decode().split('data-state="', 1)[1].split('"', 1)[0]


@pytest.mark.django_db
def test_one_confirmation_is_not_a_verified_lead_and_the_second_reviewer_is_blind(client, people, candidate):
    decide(client, people.investigator, candidate)
    assert state_seen_by(client, people.investigator, candidate) == "awaiting_second_review"
    page = client_for(client, people.admin).get(reverse("search:search_detail", args=[candidate.search_face.search.code]))
    assert "by investigator@alpha.test" not in page.content.decode()  # the first decision stays hidden
    assert "Confirm" in page.content.decode()


@pytest.mark.django_db
def test_the_same_user_cannot_confirm_twice(client, people, candidate):
    decide(client, people.investigator, candidate)
    response = decide(client, people.investigator, candidate)
    assert response.status_code == 302
    assert CandidateDecision.objects.filter(candidate=candidate).count() == 1
    assert state_seen_by(client, people.investigator, candidate) == "awaiting_second_review"


@pytest.mark.django_db
def test_two_different_users_make_a_verified_lead_and_every_decision_is_audited(client, people, candidate):
    decide(client, people.investigator, candidate)
    decide(client, people.admin, candidate)
    assert state_seen_by(client, people.auditor, candidate) == "verified_lead"
    assert AuditEvent.objects.filter(event="candidate.confirmed", target=str(candidate.code)).count() == 2


@pytest.mark.django_db
def test_disagreement_is_shown_as_such(client, people, candidate):
    decide(client, people.investigator, candidate, "confirmed")
    decide(client, people.admin, candidate, "rejected")
    assert state_seen_by(client, people.investigator, candidate) == "disagreement"
    assert AuditEvent.objects.filter(event="candidate.rejected").count() == 1


@pytest.mark.django_db
def test_review_access_rules(client, people, candidate):
    assert decide(client, people.auditor, candidate).status_code == 403
    assert decide(client, people.outsider, candidate).status_code == 404
    url = reverse("search:candidate_decide", args=[candidate.code])
    assert client_for(client, people.investigator).get(url).status_code == 405
    client_for(client, people.investigator).post(url, {"decision": "identified"})
    assert not CandidateDecision.objects.exists()


@pytest.mark.django_db
def test_volume_and_working_hours_flags(people):
    from datetime import datetime, timedelta
    from datetime import timezone as tz

    import time_machine

    from oversight.flags import abuse_flags

    start = datetime(2026, 11, 2, 10, 0, tzinfo=tz.utc)
    for day in range(10):  # a steady two searches a day during working hours
        for hour in (10, 14):
            with time_machine.travel(start + timedelta(days=day, hours=hour - 10), tick=False):
                create_search(people, case_number=f"D{day}-{hour}")
    busy_day = start + timedelta(days=10)
    for minute in range(9):  # then nine in one day, one of them at 23:30 UTC
        with time_machine.travel(busy_day + timedelta(minutes=minute), tick=False):
            create_search(people, case_number=f"BUSY-{minute}")
    with time_machine.travel(busy_day + timedelta(hours=13, minutes=30), tick=False):
        late = create_search(people, case_number="LATE")
        flags = abuse_flags(people.agency)
    kinds = {flag.kind: flag for flag in flags}
    assert "2026-11-12" in kinds["volume"].detail and "investigator@alpha.test: 10 searches" in kinds["volume"].detail
    assert set(kinds["hours"].search_codes) == {str(late.code)}
    assert not any("2026-11-05" in flag.detail for flag in flags if flag.kind == "volume")


@pytest.mark.django_db
def test_csv_export_quotes_text_and_neutralises_formulas_behind_any_separator(client, people):
    """Spreadsheets that split on ';' (French and German Excel) or on tabs would see a formula in the middle of a
    cell: whatever separator a spreadsheet picks, no piece of the file starts with a formula character."""
    hostile = ["AB;=1+2;=cmd|' /C calc'!A0", "CD,+SUM(A1)", "EF\t@A1", "GH; -2+3"]
    for number in hostile:
        create_search(people, case_number=number)
    body = client_for(client, people.admin).get(reverse("oversight:audit_export")).content.decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert sorted(row[4] for row in rows[1:]) == sorted(
        ["AB;'=1+2;'=cmd|' /C calc'!A0", "CD,'+SUM(A1)", "EF\t'@A1", "GH; '-2+3"])
    for line in body.splitlines()[1:]:
        assert line.startswith('"') and f'"{people.investigator.email}"' in line  # text quoted
        assert line.endswith(f',0,0,"{line.rsplit(",", 1)[1].strip(chr(34))}"')  # counts are numbers
    for separator in (";", ",", "\t"):
        for piece in body.replace("\r\n", separator).split(separator):
            assert not piece.strip().lstrip('"').strip().startswith(("=", "+", "-", "@")), (separator, piece)
