"""Issue 11, part 1: every response that carries a face, a probe, a candidate list or an export leaves an audit
event, and the URL map cannot grow a route that escapes this test.

Every named route is classified: either face-bearing, with the reads that exercise it and the event each must
leave, or not face-bearing, with the reason. An unclassified route fails. Routes declared not face-bearing are
requested too, and fail if their response carries an image, a PDF, a download or a candidate of the seeded search.
"""
from dataclasses import dataclass
from datetime import timedelta
from unittest import mock

import pytest
from django.http import FileResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path, reverse
from django.utils import timezone

from accounts.actions import do_create_api_token
from audit.log import record_event
from audit.models import AuditEvent
from portal.urls import urlpatterns as portal_urlpatterns
from privacy.models import ErasureRequest
from search.access import get_search_for_user
from tests.conftest import client_for
from tests.privacy_helpers import make_operator
from tests.test_tenancy import agency_data

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Read:
    """One way to read a face-bearing route: the object its code names, the event it must leave (targeting
    `target`'s code), who asks (an agency member, an API token, a platform operator) and whether through htmx."""

    obj: str | None
    event: str
    target: str | None = None
    who: str = "member"
    htmx: bool = False


FACE_BEARING = {
    "search:search_detail": [Read("search", "search.viewed", "search"),
                             Read("search", "search.viewed", "search", htmx=True)],
    "search:search_probe": [Read("search", "search.probe_viewed", "search")],
    "search:probe_face_crop": [Read("search", "search.crop_viewed", "search")],
    "search:candidate_crop": [Read("candidate", "search.crop_viewed", "search")],
    "search:search_export": [Read("search", "search.exported", "search")],
    "search:search_receipt": [Read("search", "search.receipt_downloaded", "search")],
    "search:image_file": [Read("image", "image.viewed", "image")],
    "api_search_detail": [Read("search", "search.viewed", "search", who="api")],
    "oversight:audit_export": [Read(None, "audit.exported")],
    "oversight:disclosure_case": [Read(None, "disclosure.exported")],
    "oversight:disclosure_search": [Read("search", "disclosure.exported", "search")],
    "oversight:transparency_csv": [Read(None, "transparency.exported")],
    "privacy:erasure_photo": [Read("erasure", "erasure.photo_viewed", "erasure", who="operator")],
}

NOT_FACE_BEARING = {
    "home": "a landing page", "platform_home": "platform counts, never probes or results",
    "set_language": "a language switch", "audit_public_key": "the platform's public verification key", "api_schema": "the API's description", "api_docs": "the API's docs page",
    "api_galleries": "gallery names and counts", "api_gallery_images": "an upload (POST) answering a job id",
    "api_image_detail": "a photo's metadata and status, not its file", "api_searches": "search summaries, no results",
    "search:gallery_list": "gallery names", "search:gallery_create": "a form", "search:gallery_detail": "subjects",
    "search:subject_create": "a form post", "search:bulk_upload": "a form", "search:gallery_delete": "a confirmation",
    "search:subject_detail": "photo links whose files are audited by image_file",
    "search:image_upload": "a form post", "search:subject_delete": "a confirmation",
    "search:image_status": "a photo card whose file is audited by image_file",
    "search:image_pick_face": "a form post", "search:image_delete": "a confirmation linking the audited file",
    "search:batch_detail": "enrollment outcomes", "search:search_list": "case numbers and statuses, no results",
    "search:search_new": "a form", "search:candidate_decide": "a review (POST), itself audited",
    "oversight:audit_dashboard": "the search log (itself audited as audit.viewed), no results",
    "oversight:audit_events": "the audit log", "oversight:audit_verify": "a verification (POST)",
    "oversight:oversight_settings": "a form",
    "oversight:transparency": "counts only", "oversight:transparency_public": "counts only, when published",
    "oversight:search_panel": "a search's flags and access log, no candidates",
    "privacy:erasure_request": "the public form", "privacy:erasure_sent": "a thank-you page",
    "privacy:erasure_queue": "requests' names and dates", "privacy:erasure_detail": "links the audited photo",
    "privacy:erasure_approve": "a decision (POST), itself audited", "privacy:erasure_reject": "a decision (POST)",
    "privacy:image_reviewed": "a review (POST)", "privacy:retention_settings": "a form",
    "privacy:review_due": "photo links whose files are audited by image_file",
    "billing:billing": "plan and usage", "billing:checkout": "a redirect to Stripe",
    "billing:customer_portal": "a redirect to Stripe", "billing:stripe_webhook": "Stripe's callback",
    "billing:demo_ended": "a notice", "billing:sales": "demo accounts", "billing:demo_extend": "a sales action",
    "billing:demo_end": "a sales action", "billing:demo_resend": "a sales action",
    **{f"accounts:{name}": "sign-in, team and account pages" for name in (
        "login", "logout", "password_change", "password_change_done", "password_reset", "password_reset_done",
        "password_reset_confirm", "password_reset_complete", "suspended", "accept_invitation", "team", "invite",
        "change_role", "suspend", "reactivate", "revoke_member_token", "conduct", "api_tokens", "revoke_api_token",
        "security", "mfa_verify", "mfa_setup", "recovery_codes_regenerate", "authenticator_replace",
        "tenant_policy", "agency_create", "reset_second_factor")},
    "accounts:platform_users": "operators' list of people: e-mail, agency, whether a second factor is enrolled",
}
NOT_FACE_BEARING_NAMESPACES = {"admin": "Django's admin registers plans and billing ledgers only"}


def named_routes(patterns, prefix: str = "", namespace: str = ""):
    """(name, route) of every URL pattern, names qualified by their namespace."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from named_routes(pattern.url_patterns, route, inner)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name or '?' + route}", route


def unclassified(patterns) -> list[str]:
    return sorted(name for name, _route in named_routes(patterns)
                  if name not in FACE_BEARING and name not in NOT_FACE_BEARING
                  and name.split(":")[0] not in NOT_FACE_BEARING_NAMESPACES)


@pytest.fixture
def world(people):
    data = agency_data(people.agency, people.investigator, "Alpha")
    record_event("search.created", agency=people.agency, actor=people.investigator, target=data["search"].code)
    data["erasure"] = ErasureRequest.objects.create(full_name="P", email="p@p.test", statement="s",
                                                    photo_sha256="f" * 64)
    data["erasure"].photo.save("erasure.jpg", data["image"].file.open("rb"), save=True)
    _token, key = do_create_api_token(user=people.admin, name="reads")
    clients = {"member": client_for(Client(), people.admin), "api": Client(HTTP_AUTHORIZATION=f"Token {key}"),
               "operator": client_for(Client(), make_operator())}
    return data, clients


def url_of(route: str, data: dict, obj: str | None) -> str:
    url = "/" + route.replace("<int:index>", "1")
    if obj is not None:
        url = url.replace("<uuid:code>", str(data[obj].code))
    return url + ("?case_number=Alpha-CASE" if "disclosure/case" in route else "")


def route_of(name: str, patterns) -> str:
    return next(route for found, route in named_routes(patterns) if found == name)


def new_events(since: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(pk__gt=since).exclude(event="test.event").order_by("pk"))


def last_pk() -> int:
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def unaudited_reads(patterns, data: dict, clients: dict) -> list[str]:
    """Each face-bearing read that did not answer 200 with exactly one event of its kind, for its target."""
    problems = []
    with mock.patch("search.reads.CROP_WINDOW", timedelta(0)):  # each read alone: no page covers its crops
        for name, reads in FACE_BEARING.items():
            problems += _unaudited(name, reads, patterns, data, clients)
    return problems


def _unaudited(name: str, reads: list[Read], patterns, data: dict, clients: dict) -> list[str]:
    problems = []
    for read in reads:
        before = last_pk()
        headers = {"HTTP_HX_REQUEST": "true"} if read.htmx else {}
        response = clients[read.who].get(url_of(route_of(name, patterns), data, read.obj), **headers)
        events = new_events(before)
        target = str(data[read.target].code) if read.target else ""
        if response.status_code != 200 or [(e.event, e.target) for e in events] != [(read.event, target)]:
            problems.append(f"{name} {read}: {response.status_code}, {[e.event for e in events]}")
    return problems


def carries_a_face(response, data: dict) -> bool:
    content_type = response.get("Content-Type", "")
    if content_type.startswith(("image/", "application/pdf", "text/csv")) or "attachment" in response.get(
            "Content-Disposition", ""):
        return True
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return str(data["candidate"].code).encode() in body or data["search"].probe_sha256.encode() in body


def simple(route: str) -> bool:
    """A route this test can fill in: no parameter but a code and a face index (tokens are not face-bearing)."""
    return "<" not in route.replace("<uuid:code>", "").replace("<int:index>", "")


def leaks(patterns, data: dict, clients: dict) -> list[str]:
    """Routes outside FACE_BEARING whose GET answer carries a face, a candidate or a download."""
    found = []
    for name, route in named_routes(patterns):
        if name in FACE_BEARING or not simple(route):
            continue
        for who, client in clients.items():
            for obj in ("search", "candidate", "image", "gallery", "subject", "batch", "erasure"):
                response = client.get(url_of(route, data, obj if "<uuid:code>" in route else None))
                if response.status_code == 200 and carries_a_face(response, data):
                    found.append(f"{name} ({who}, {obj})")
                if "<uuid:code>" not in route:
                    break
    return found


def test_every_route_is_classified_and_no_classification_is_stale():
    patterns = get_resolver().url_patterns
    assert unclassified(patterns) == []
    names = {name for name, _route in named_routes(patterns)}
    assert set(FACE_BEARING) - names == set() and set(NOT_FACE_BEARING) - names == set()


def test_every_face_bearing_read_leaves_exactly_one_audit_event(world):
    data, clients = world
    assert unaudited_reads(get_resolver().url_patterns, data, clients) == []


def test_no_other_route_answers_with_a_face_a_candidate_or_a_download(world):
    data, clients = world
    assert leaks(get_resolver().url_patterns, data, clients) == []


# A view added without an audit event is caught: here is one, and the checks that name it.


def leaky_probe(request, code):
    search = get_search_for_user(request, code)
    return FileResponse(search.probe.open("rb"), content_type="image/jpeg")


urlpatterns = [path("leak/<uuid:code>/", leaky_probe, name="leaky_probe"), *portal_urlpatterns]


@pytest.mark.urls("tests.test_audited_reads")
def test_a_new_unaudited_face_bearing_view_fails_the_checks(world):
    data, clients = world
    patterns = get_resolver().url_patterns
    assert unclassified(patterns) == ["leaky_probe"]
    assert leaks(patterns, data, clients) == ["leaky_probe (member, search)"]
    FACE_BEARING["leaky_probe"] = [Read("search", "search.probe_viewed", "search")]
    try:
        assert any(problem.startswith("leaky_probe") for problem in unaudited_reads(patterns, data, clients))
    finally:
        del FACE_BEARING["leaky_probe"]


# Crops: a result page's event covers the crops it shows; a crop loaded on its own is recorded


def test_crops_shown_by_a_result_page_are_covered_by_its_event_and_others_are_recorded(people, world):
    data, clients = world
    member = clients["member"]
    search, candidate = data["search"], data["candidate"]
    crop = reverse("search:candidate_crop", args=[candidate.code])
    probe_crop = reverse("search:probe_face_crop", args=[search.code, 1])
    assert member.get(reverse("search:search_detail", args=[search.code])).status_code == 200
    viewed = AuditEvent.objects.get(event="search.viewed")
    assert viewed.details["shown"] == {"probe_faces": [1], "candidates": [str(candidate.code)]}
    assert viewed.details["via"] == "page" and viewed.actor_code == people.admin.code
    other = client_for(Client(), people.auditor)  # another user's crop load is not covered by the admin's page
    before = last_pk()
    assert member.get(crop).status_code == 200 and member.get(probe_crop).status_code == 200
    assert new_events(before) == []  # both attributed to the page's event
    assert other.get(crop).status_code == 200
    assert [(e.event, e.actor_code, e.details["candidate"]) for e in new_events(before)] == [
        ("search.crop_viewed", people.auditor.code, str(candidate.code))]
    with mock.patch("search.reads.CROP_WINDOW", timedelta(0)):  # an old page event covers nothing
        before = last_pk()
        member.get(crop)
        assert [e.event for e in new_events(before)] == ["search.crop_viewed"]


def test_an_htmx_poll_of_a_running_search_records_nothing_until_results_show(world):
    data, clients = world
    search = data["search"]
    search.faces.all().delete()
    search.status = "running"
    search.save(update_fields=["status"])
    before = last_pk()
    response = clients["member"].get(reverse("search:search_detail", args=[search.code]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and new_events(before) == []


# Platform staff and Stripe act on an agency: the agency's own chain records it


def agency_events(agency, event: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(chain=str(agency.code), event=event))


def test_a_licence_change_applied_from_stripe_is_in_the_agencys_chain(people):
    from billing.licences import current_licence, set_subscription_state
    from core.tenancy import CrossAgency, cross_agency
    from tests.fake_stripe import subscription

    licence = current_licence(people.agency)
    state = subscription(customer="cus_1", status="past_due", price="price_test_plan", created=1_700_000_000)
    with cross_agency(CrossAgency.STRIPE_WEBHOOK):
        set_subscription_state(licence, state, event_at=timezone.now(), event_id="evt_1")
    [event] = agency_events(people.agency, "licence.changed")
    assert event.details == {"status": "past_due", "plan": "Test plan", "stripe_event": "evt_1",
                             "reason": "stripe.subscription"}
    assert event.actor_code is None and event.target == state["id"]


def test_a_tenant_policy_change_is_in_the_chain_of_each_agency_it_admits_or_no_longer_admits(people):
    from accounts.onboarding import do_update_tenant_policy

    operator = make_operator()
    do_update_tenant_policy(countries=["GB"], kinds=["law_enforcement", "private"], actor=operator)
    [alpha] = agency_events(people.agency, "tenant_policy.updated")  # Alpha is in FR: no longer admitted
    assert alpha.details["agency_admitted"] is False and alpha.actor_code == operator.code
    assert agency_events(people.other_agency, "tenant_policy.updated") == []  # Beta (GB) is admitted as before
    assert AuditEvent.objects.filter(chain="platform", event="tenant_policy.updated").count() == 1


def test_a_demo_ended_by_sales_is_in_the_demos_chain(people):
    from billing.demo import do_create_demo, do_end_demo

    sales = make_operator("sales@portal.test", role="sales")
    demo = do_create_demo(name="Demo PD", country="FR", prospect="Prospect", kind_after_conversion="law_enforcement",
                          days=7, search_cap=10, emails=[], actor=sales)
    do_end_demo(demo=demo, actor=sales)
    [ended] = agency_events(demo.agency, "demo.ended")
    assert ended.actor_code == sales.code
