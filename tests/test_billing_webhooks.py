"""Stripe webhooks: real signatures, duplicates (also concurrent), out-of-order events, handler errors."""
import json
import time
import uuid

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import Agency
from billing.models import Licence, LicenceChange, Plan, WebhookEvent
from tests.concurrency import run_together
from tests.fake_stripe import deliver, event, signature_header, stripe_server, subscription  # noqa: F401

pytestmark = pytest.mark.django_db

STATUSES = ["trialing", "active", "past_due", "canceled", "unpaid"]


@pytest.fixture
def plans(db) -> dict[str, Plan]:
    return {
        "basic": Plan.objects.create(name="Basic", stripe_price_id="price_basic", seats=5, monthly_searches=100),
        "pro": Plan.objects.create(name="Pro", stripe_price_id="price_pro", seats=50, monthly_searches=5000,
                                   overage_allowed=True),
    }


def licensed_agency(name: str = "Gamma Police") -> Licence:
    agency = Agency.objects.create(name=f"{name} {uuid.uuid4().hex[:6]}", kind=Agency.Kind.LAW_ENFORCEMENT, country="FR")
    return Licence.objects.create(agency=agency, stripe_customer_id=f"cus_{uuid.uuid4().hex[:14]}")


def subscription_event(licence: Licence, status: str, *, created: int, price: str = "price_basic",
                       sub_created: int = 1_700_000_000, sub_id: str = "sub_main", kind: str = "updated",
                       metadata: dict | None = None) -> dict:
    sub = subscription(customer=licence.stripe_customer_id, status=status, price=price, created=sub_created,
                       sub_id=sub_id, metadata=metadata)
    return event(f"customer.subscription.{kind}", sub, created=created)


# Signatures


@pytest.mark.parametrize("signing", [
    pytest.param(None, id="missing"),
    pytest.param({"secret": "whsec_somebody_else"}, id="wrong-secret"),
    pytest.param({"timestamp": int(time.time()) - 301}, id="stale"),
    pytest.param("tampered", id="payload-changed-after-signing"),
    pytest.param("garbage", id="malformed-header"),
])
def test_a_missing_bad_or_stale_signature_gets_400_and_changes_nothing(client, plans, signing):
    licence = licensed_agency()
    payload = json.dumps(subscription_event(licence, "active", created=int(time.time())))
    headers = {}
    if signing == "tampered":
        headers["HTTP_STRIPE_SIGNATURE"] = signature_header(payload)
        payload = payload.replace('"active"', '"trialing"')
    elif signing == "garbage":
        headers["HTTP_STRIPE_SIGNATURE"] = "t=yesterday,v1=nothing"
    elif signing is not None:
        headers["HTTP_STRIPE_SIGNATURE"] = signature_header(payload, **signing)
    response = client.post("/billing/stripe/webhook/", payload, content_type="application/json", **headers)
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
    assert LicenceChange.objects.count() == 0
    licence.refresh_from_db()
    assert (licence.status, licence.plan) == ("trialing", None)


def test_a_signature_just_inside_the_300_second_tolerance_is_accepted(client, plans):
    licence = licensed_agency()
    response = deliver(client, subscription_event(licence, "active", created=int(time.time())),
                       timestamp=int(time.time()) - 290)
    assert response.status_code == 200
    licence.refresh_from_db()
    assert licence.status == "active"


def test_the_webhook_only_accepts_post(client):
    assert client.get("/billing/stripe/webhook/").status_code == 405


# Applying subscription state


def test_a_subscription_event_sets_the_licence_plan_status_and_period(client, plans):
    licence = licensed_agency()
    stripe_event = subscription_event(licence, "active", created=int(time.time()), price="price_pro")
    assert deliver(client, stripe_event).status_code == 200
    licence.refresh_from_db()
    assert (licence.status, licence.plan, licence.stripe_subscription_id) == ("active", plans["pro"], "sub_main")
    assert licence.current_period_start.timestamp() == 1_700_000_000
    assert licence.current_period_end.timestamp() == 1_700_000_000 + 30 * 86400
    change = LicenceChange.objects.get()
    assert (change.status, change.stripe_event_id) == ("active", stripe_event["id"])
    assert WebhookEvent.objects.get().status == "processed"


def test_a_duplicate_event_is_applied_once(client, plans):
    licence = licensed_agency()
    first = subscription_event(licence, "past_due", created=int(time.time()) - 10)
    assert deliver(client, first).status_code == 200
    assert deliver(client, first).status_code == 200
    assert LicenceChange.objects.count() == 1
    assert WebhookEvent.objects.get(stripe_id=first["id"]).attempts == 1
    licence.refresh_from_db()
    past_due_since = licence.past_due_since
    assert deliver(client, first).status_code == 200
    licence.refresh_from_db()
    assert licence.past_due_since == past_due_since


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_deliveries_of_one_event_are_applied_once(plans):
    licence = licensed_agency()
    stripe_event = subscription_event(licence, "active", created=int(time.time()))
    statuses = run_together(2, Client, lambda http: deliver(http, stripe_event).status_code)
    assert statuses == [200, 200]
    assert WebhookEvent.objects.filter(stripe_id=stripe_event["id"]).count() == 1
    assert WebhookEvent.objects.get().attempts == 1
    assert LicenceChange.objects.filter(licence=licence).count() == 1


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_shuffled_subscription_events_end_in_the_state_of_the_newest(client, plans, stripe_server, data):
    """The true history has non-decreasing timestamps (equal ones too: Stripe counts in seconds).
    Whatever the delivery order, the licence ends as Stripe's subscription is now."""
    licence = licensed_agency()
    statuses = data.draw(st.lists(st.sampled_from(STATUSES), min_size=1, max_size=6), label="statuses")
    prices = data.draw(st.lists(st.sampled_from(["price_basic", "price_pro"]), min_size=len(statuses),
                                max_size=len(statuses)), label="prices")
    gaps = data.draw(st.lists(st.integers(0, 3), min_size=len(statuses), max_size=len(statuses)), label="gaps")
    base = int(time.time()) - 1000
    history = []
    for index, (status, price) in enumerate(zip(statuses, prices)):
        created = base + sum(gaps[: index + 1])
        history.append(subscription_event(licence, status, created=created, price=price,
                                          sub_id=f"sub_{licence.pk}"))
    stripe_server.subscriptions[f"sub_{licence.pk}"] = history[-1]["data"]["object"]
    for stripe_event in data.draw(st.permutations(history), label="delivery order"):
        assert deliver(client, stripe_event).status_code == 200
    licence.refresh_from_db()
    assert licence.status == statuses[-1]
    assert licence.plan.stripe_price_id == prices[-1]


def test_events_of_the_same_second_ask_stripe_for_the_current_state(client, plans, stripe_server):
    licence = licensed_agency()
    now = int(time.time())
    older = subscription_event(licence, "past_due", created=now)
    newer = subscription_event(licence, "active", created=now)
    stripe_server.subscriptions["sub_main"] = newer["data"]["object"]
    deliver(client, newer)
    deliver(client, older)
    licence.refresh_from_db()
    assert licence.status == "active"
    assert len(stripe_server.calls("GET", "/v1/subscriptions/sub_main")) == 1


def test_a_plan_change_follows_the_new_subscription_and_cancels_the_old_one(client, plans, stripe_server):
    licence = licensed_agency()
    now = int(time.time())
    old = subscription_event(licence, "active", created=now - 100, sub_created=now - 1000, sub_id="sub_old")
    new = subscription_event(licence, "active", created=now - 50, sub_created=now - 60, sub_id="sub_new",
                             price="price_pro", kind="created", metadata={"purpose": "change_plan"})
    stripe_server.subscriptions["sub_old"] = dict(old["data"]["object"])
    old_deleted = subscription_event(licence, "canceled", created=now, sub_created=now - 1000, sub_id="sub_old",
                                     kind="deleted")
    for stripe_event in (old, new, old_deleted):
        assert deliver(client, stripe_event).status_code == 200
    licence.refresh_from_db()
    assert (licence.status, licence.plan, licence.stripe_subscription_id) == ("active", plans["pro"], "sub_new")
    assert [call.path for call in stripe_server.calls("DELETE", "/v1/subscriptions/")] == ["/v1/subscriptions/sub_old"]


# Unknown types, handler errors, mapping


def test_an_unknown_event_type_gets_200_and_is_ignored(client, plans):
    licence = licensed_agency()
    response = deliver(client, event("invoice.finalized", {"id": "in_1", "customer": licence.stripe_customer_id}))
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == "ignored"
    assert LicenceChange.objects.count() == 0


def test_a_handler_error_gets_500_and_stripes_retry_applies_it_once(client, plans, stripe_server):
    licence = licensed_agency()
    sub = subscription(customer=licence.stripe_customer_id, status="active", price="price_pro",
                       created=int(time.time()) - 60, sub_id="sub_paid")
    stripe_server.subscriptions["sub_paid"] = sub
    completed = event("checkout.session.completed", {
        "id": "cs_1", "object": "checkout.session", "mode": "subscription", "payment_status": "paid",
        "customer": licence.stripe_customer_id, "subscription": "sub_paid", "metadata": {},
    })
    stripe_server.fail_next("GET", "/v1/subscriptions/sub_paid", times=2)  # the client retries once by itself
    assert deliver(client, completed).status_code == 500
    stored = WebhookEvent.objects.get()
    assert (stored.status, stored.attempts) == ("failed", 1)
    assert "APIError" in stored.error
    licence.refresh_from_db()
    assert licence.status == "trialing"
    assert deliver(client, completed).status_code == 200
    assert deliver(client, completed).status_code == 200
    licence.refresh_from_db()
    assert (licence.status, licence.plan) == ("active", plans["pro"])
    assert LicenceChange.objects.count() == 1
    stored.refresh_from_db()
    assert (stored.status, stored.attempts, stored.error) == ("processed", 2, "")


def test_a_subscription_to_an_unknown_price_fails_until_the_plan_exists(client, plans):
    licence = licensed_agency()
    stripe_event = subscription_event(licence, "active", created=int(time.time()), price="price_new")
    assert deliver(client, stripe_event).status_code == 500
    Plan.objects.create(name="New", stripe_price_id="price_new", seats=3, monthly_searches=10)
    assert deliver(client, stripe_event).status_code == 200
    licence.refresh_from_db()
    assert licence.plan.name == "New"


def test_the_agency_comes_from_our_records_never_from_what_a_customer_can_edit(client, plans):
    ours = licensed_agency()
    # A stranger's customer whose metadata names our agency (which already has its customer) changes nothing.
    stranger = subscription(customer="cus_stranger", status="canceled", price="price_basic",
                            created=int(time.time()), metadata={"agency_code": str(ours.agency.code)})
    assert deliver(client, event("customer.subscription.updated", stranger)).status_code == 200
    ours.refresh_from_db()
    assert (ours.status, ours.stripe_customer_id != "cus_stranger") == ("trialing", True)
    assert WebhookEvent.objects.get().status == "ignored"


def test_metadata_we_set_maps_a_customer_we_have_not_recorded_yet(client, plans):
    licence = Licence.objects.create(agency=Agency.objects.create(name="Delta", kind="government", country="DE"))
    sub = subscription(customer="cus_created_by_us", status="active", price="price_basic", created=int(time.time()),
                       metadata={"agency_code": str(licence.agency.code)})
    assert deliver(client, event("customer.subscription.created", sub)).status_code == 200
    licence.refresh_from_db()
    assert (licence.status, licence.stripe_customer_id) == ("active", "cus_created_by_us")
