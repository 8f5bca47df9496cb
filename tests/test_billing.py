"""Licence gates, quota, seats, the billing page, Checkout, the Customer Portal and usage reporting."""
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Agency, ConductAcceptance, Invitation, User
from audit.models import AuditEvent
from billing.models import Licence, UsageRecord, UsageReport
from billing.usage import record_search_usage, report_usage
from search.actions import do_create_search
from search.images import check_image
from search.models import Gallery, Search, Subject
from search.validation import SearchParameters
from tests.concurrency import run_together
from tests.conftest import client_for, face_bytes, make_member, wait_for
from tests.fake_stripe import FAKE_SECRET_KEY, stripe_server  # noqa: F401
from tests.mfa import enroll_totp

pytestmark = pytest.mark.django_db


def probe() -> SimpleUploadedFile:
    return SimpleUploadedFile("probe.jpg", face_bytes("obama2.jpg"), content_type="image/jpeg")


def post_search(client):
    return client.post(reverse("search:search_new"), {
        "probe": probe(), "purpose": "criminal_investigation", "case_number": "CASE-9", "min_similarity": 50,
        "max_candidates": 5,
    })


def set_licence(agency, **fields) -> Licence:
    Licence.objects.filter(agency=agency).update(**fields)
    return Licence.objects.select_related("plan").get(agency=agency)


def bill_as_run(search: Search) -> None:
    """What the worker records when a search has run (search.tasks.store_results)."""
    Search.objects.filter(pk=search.pk).update(status="done")
    record_search_usage(agency_id=search.agency_id, search_code=search.code, created=search.created)


def set_plan(agency, **fields) -> None:
    plan = Licence.objects.get(agency=agency).plan
    for name, value in fields.items():
        setattr(plan, name, value)
    plan.save()


# Licence gates


def test_past_due_searches_during_the_grace_period_only(people, client):
    client = client_for(client, people.investigator)
    set_licence(people.agency, status="past_due", past_due_since=timezone.now() - timedelta(days=1))
    assert post_search(client).status_code == 302
    page = client.get(reverse("home")).content.decode()
    assert "Payment is overdue" in page
    days = settings.BILLING_PAST_DUE_GRACE_DAYS
    set_licence(people.agency, past_due_since=timezone.now() - timedelta(days=days, minutes=1))
    response = post_search(client)
    assert response.status_code == 403
    assert "grace period has ended" in response.content.decode()
    assert Search.objects.count() == 1


@pytest.mark.parametrize("status", ["canceled", "unpaid"])
def test_a_canceled_or_unpaid_licence_is_read_only_yet_results_and_audit_log_stay(people, client, status):
    client = client_for(client, people.admin)
    assert post_search(client).status_code == 302
    search = Search.objects.get()
    gallery = Gallery.objects.create(agency=people.agency, name="Bookings")
    subject = Subject.objects.create(gallery=gallery, reference="S-1")
    set_licence(people.agency, status=status)

    refused = post_search(client)
    assert refused.status_code == 403 and "read-only" in refused.content.decode()
    assert client.post(reverse("search:gallery_create"), {"name": "New"}).status_code == 403
    upload = client.post(reverse("search:image_upload", args=[subject.code]), {
        "image": probe(), "source": "Booking", "legal_basis": "booking_record"})
    assert upload.status_code == 403
    new_subject = client.post(reverse("search:subject_create", args=[gallery.code]), {"reference": "S-2"})
    assert new_subject.status_code == 403 and Subject.objects.count() == 1
    api = client.post("/api/v1/searches/", {"probe": probe(), "purpose": "other", "case_number": "C"})
    assert api.status_code == 403 and "read-only" in api.json()["detail"]
    # The search was started but has not run: it is not billed yet.
    assert (Search.objects.count(), Gallery.objects.count(), UsageRecord.objects.count()) == (1, 1, 0)

    assert client.get(reverse("search:search_list")).status_code == 200
    assert client.get(reverse("search:search_detail", args=[search.code])).status_code == 200
    assert client.get(reverse("search:search_probe", args=[search.code])).status_code == 200
    assert client.get(reverse("billing:billing")).status_code == 200
    assert "read-only" in client.get(reverse("home")).content.decode()
    dashboard = client.get(reverse("oversight:audit_dashboard"))
    assert dashboard.status_code == 200 and "CASE-9" in dashboard.content.decode()
    assert client.get(reverse("oversight:audit_events")).status_code == 200
    assert client.get(reverse("oversight:audit_export")).status_code == 200
    events = list(AuditEvent.objects.filter(agency_code=people.agency.code).values_list("event", flat=True))
    assert events.count("search.created") == 1 and "search.viewed" in events


# Limits


def test_at_the_quota_the_next_search_is_refused_and_no_job_is_created(people, client):
    set_plan(people.agency, monthly_searches=2)
    client = client_for(client, people.investigator)
    UsageRecord.objects.create(agency=people.agency, search_code="00000000-0000-0000-0000-000000000001",
                               created=timezone.now() - timedelta(days=40))  # an earlier period does not count
    assert post_search(client).status_code == 302
    bill_as_run(Search.objects.get())  # one search ran in this period...
    assert post_search(client).status_code == 302  # ...and one is still queued: both count against the quota
    response = post_search(client)
    assert response.status_code == 403
    assert "used the 2 searches" in response.content.decode()
    api = client.post("/api/v1/searches/", {"probe": probe(), "purpose": "other", "case_number": "C"})
    assert api.status_code == 403
    assert Search.objects.count() == 2
    assert UsageRecord.objects.filter(agency=people.agency).count() == 2


def test_with_overage_allowed_searching_goes_on_past_the_quota(people, client):
    set_plan(people.agency, monthly_searches=1, overage_allowed=True)
    client = client_for(client, people.investigator)
    assert [post_search(client).status_code for _ in range(3)] == [302, 302, 302]
    assert Search.objects.filter(agency=people.agency).count() == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_searches_cannot_overrun_the_quota(people):
    set_plan(people.agency, monthly_searches=1)
    enroll_totp(people.investigator)  # once, before the threads: each would otherwise enroll its own device
    statuses = run_together(3, lambda: client_for(Client(), people.investigator),
                            lambda http: post_search(http).status_code)
    assert sorted(statuses) == [302, 403, 403]
    assert Search.objects.count() == 1 and UsageRecord.objects.count() == 0  # billed once it has run


@pytest.mark.django_db(transaction=True)
def test_a_search_is_billed_once_when_it_has_run_and_never_when_it_failed(people, worker):
    gallery = Gallery.objects.create(agency=people.agency, name="Bookings")
    parameters = SearchParameters(min_similarity=50, max_candidates=5)

    def start(case_number: str) -> Search:
        return do_create_search(agency=people.agency, actor=people.investigator, probe=check_image(face_bytes(
            "obama2.jpg")), purpose="other", case_number=case_number, galleries=[gallery], parameters=parameters)

    ran = start("RAN")
    with transaction.atomic():  # the stored probe turns out unreadable when the worker opens it
        unreadable = start("BROKEN")
        with default_storage.open(unreadable.probe.name, "wb") as broken:
            broken.write(b"not an image any more")
    wait_for(lambda: not Search.objects.filter(status__in=["pending", "running"]).exists())
    ran.refresh_from_db()
    unreadable.refresh_from_db()
    assert ran.status == "done" and unreadable.status == "failed" and unreadable.attempts == 1
    record = UsageRecord.objects.get()
    assert (record.agency_id, record.search_code, record.created) == (people.agency.pk, ran.code, ran.created)
    with pytest.raises(ValueError):
        record.save()
    for statement in ["UPDATE billing_usagerecord SET created = now()", "DELETE FROM billing_usagerecord"]:
        with pytest.raises(DatabaseError, match="permission denied"), connection.cursor() as cursor:
            cursor.execute(statement)
    assert UsageRecord.objects.get() == record


def test_at_the_seat_limit_the_next_invitation_is_refused(people, client, mailoutbox, django_capture_on_commit_callbacks):
    set_plan(people.agency, seats=4)  # three members already
    client = client_for(client, people.admin)
    invite = reverse("accounts:invite")
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(invite, {"email": "fourth@alpha.test", "role": "auditor"}).status_code == 302
    refused = client.post(invite, {"email": "fifth@alpha.test", "role": "auditor"})
    assert refused.status_code == 400
    assert "All 4 seats" in refused.content.decode()
    assert not Invitation.objects.filter(email="fifth@alpha.test").exists()
    # Re-inviting someone who already holds a seat is allowed.
    assert client.post(invite, {"email": "fourth@alpha.test", "role": "investigator"}).status_code == 302
    assert len(mailoutbox) == 1
    # A suspended member frees a seat.
    people.auditor.membership.status = "suspended"
    people.auditor.membership.save()
    assert client.post(invite, {"email": "fifth@alpha.test", "role": "auditor"}).status_code == 302


def test_an_agency_without_a_licence_is_a_trial_with_the_trial_limits(people, client, settings):
    agency = Agency.objects.create(name="Gamma Police", kind=Agency.Kind.LAW_ENFORCEMENT, country="FR")
    investigator = make_member("investigator@gamma.test", agency, "investigator")
    ConductAcceptance.objects.create(user=investigator, agency=agency, version=1)
    settings.BILLING_TRIAL_MONTHLY_SEARCHES = 1
    client = client_for(client, investigator)
    assert post_search(client).status_code == 302
    assert post_search(client).status_code == 403
    assert Licence.objects.get(agency=agency).status == "trialing"


# The billing page


def test_the_billing_page_shows_plan_seats_usage_and_invoices(people, client, stripe_server):
    set_licence(people.agency, stripe_customer_id="cus_alpha")
    stripe_server.invoices["cus_alpha"] = [{
        "id": "in_1", "object": "invoice", "number": "ALPHA-0001", "created": 1_767_225_600, "amount_due": 49900,
        "currency": "eur", "status": "paid", "hosted_invoice_url": "https://invoice.stripe.test/in_1",
    }]
    post_search(client_for(client, people.investigator))
    bill_as_run(Search.objects.get())
    client = client_for(Client(), people.admin)
    page = client.get(reverse("billing:billing")).content.decode()
    assert "Test plan" in page
    assert "3 of 10 used" in page
    assert "1 of 1000" in page and 'max="100" value="0"' in page  # the usage bar (a progress element)
    assert "ALPHA-0001" in page and "499.00 EUR" in page and "https://invoice.stripe.test/in_1" in page
    call = stripe_server.calls("GET", "/v1/invoices")[0]
    assert call.params["customer"] == "cus_alpha"
    assert call.headers["authorization"] == f"Bearer {FAKE_SECRET_KEY}"
    assert call.headers["stripe-version"] == settings.STRIPE_API_VERSION


def test_the_billing_page_still_shows_when_stripe_is_down(people, client, stripe_server):
    set_licence(people.agency, stripe_customer_id="cus_alpha")
    stripe_server.fail_next("GET", "/v1/invoices", times=2)
    response = client_for(client, people.admin).get(reverse("billing:billing"))
    assert response.status_code == 200
    assert "Invoices cannot be loaded" in response.content.decode()


def test_the_billing_page_is_for_agency_admins_only(people, client):
    assert client_for(client, people.investigator).get(reverse("billing:billing")).status_code == 403
    assert client_for(Client(), people.auditor).get(reverse("billing:billing")).status_code == 403
    sales = User.objects.create_user("sales@portal.test", "x" * 16, platform_role="sales")
    assert client_for(Client(), sales).get(reverse("billing:billing")).status_code == 404
    assert client_for(Client(), people.admin).post(reverse("billing:billing")).status_code == 405


def test_change_plan_opens_stripe_checkout_for_our_customer(people, client, stripe_server):
    client = client_for(client, people.admin)
    plan = Licence.objects.get(agency=people.agency).plan
    response = client.post(reverse("billing:checkout"), {"plan": plan.code})
    assert response.status_code == 303
    assert response["Location"].startswith("https://checkout.stripe.test/pay/cs_test_")
    customer_call, = stripe_server.calls("POST", "/v1/customers")
    assert customer_call.params["metadata[agency_code]"] == str(people.agency.code)
    assert customer_call.headers["idempotency-key"] == f"customer-for-agency-{people.agency.code}"
    session_call, = stripe_server.calls("POST", "/v1/checkout/sessions")
    licence = Licence.objects.get(agency=people.agency)
    assert session_call.params["customer"] == licence.stripe_customer_id
    assert session_call.params["mode"] == "subscription"
    assert session_call.params["line_items[0][price]"] == plan.stripe_price_id
    assert session_call.params["subscription_data[metadata][agency_code]"] == str(people.agency.code)
    assert session_call.params["metadata[purpose]"] == "change_plan"
    assert session_call.headers["stripe-version"] == settings.STRIPE_API_VERSION
    # Manage payment reuses the same customer.
    portal = client.post(reverse("billing:customer_portal"))
    assert portal.status_code == 303 and portal["Location"].startswith("https://billing.stripe.test/session/")
    assert stripe_server.calls("POST", "/v1/billing_portal/sessions")[0].params["customer"] == licence.stripe_customer_id
    assert len(stripe_server.calls("POST", "/v1/customers")) == 1
    assert AuditEvent.objects.filter(event="billing.checkout_started", agency_code=people.agency.code).count() == 1


def test_change_plan_refuses_a_bad_plan_and_survives_stripe_errors(people, client, stripe_server):
    client = client_for(client, people.admin)
    response = client.post(reverse("billing:checkout"), {"plan": "not-a-plan"}, follow=True)
    assert "Choose one of the plans" in response.content.decode()
    assert stripe_server.requests == []
    stripe_server.fail_next("POST", "/v1/customers", times=2)
    plan = Licence.objects.get(agency=people.agency).plan
    response = client.post(reverse("billing:checkout"), {"plan": plan.code}, follow=True)
    assert "cannot be reached" in response.content.decode()
    assert Licence.objects.get(agency=people.agency).stripe_customer_id is None


def test_checkout_and_portal_need_the_billing_role_and_post(people, client):
    investigator = client_for(client, people.investigator)
    assert investigator.post(reverse("billing:checkout"), {}).status_code == 403
    assert investigator.post(reverse("billing:customer_portal")).status_code == 403
    admin = client_for(Client(), people.admin)
    assert admin.get(reverse("billing:checkout")).status_code == 405
    assert admin.get(reverse("billing:customer_portal")).status_code == 405


# Usage reporting


def test_usage_reporting_is_idempotent(people, client, stripe_server):
    set_licence(people.agency, stripe_customer_id="cus_alpha")
    investigator = client_for(client, people.investigator)
    for _ in range(3):
        post_search(investigator)
    post_search(client_for(Client(), people.outsider))  # Beta has no Stripe customer: nothing to report
    for search in Search.objects.all():
        bill_as_run(search)
    stripe_server.fail_next("POST", "/v1/billing/meter_events", times=2)
    assert report_usage() == 0
    assert report_usage() == 3
    assert report_usage() == 0
    records = UsageRecord.objects.filter(agency=people.agency)
    assert set(stripe_server.meter_events) == {str(record.code) for record in records}
    sent = stripe_server.calls("POST", "/v1/billing/meter_events")
    assert len(sent) == 2 + 3
    assert {call.params["payload[stripe_customer_id]"] for call in sent} == {"cus_alpha"}
    assert {call.params["event_name"] for call in sent} == {settings.STRIPE_METER_EVENT_NAME}
    assert UsageReport.objects.count() == 3
    post_search(investigator)
    assert report_usage() == 0  # a search is reported once it has run
    bill_as_run(Search.objects.filter(status="pending").get())
    assert report_usage() == 1
    assert "billing.report_usage" in {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
