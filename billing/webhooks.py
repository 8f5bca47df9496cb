"""Stripe webhook events: verified, stored by Stripe id, applied once, newest state wins.

A delivery first inserts the event row (a concurrent duplicate waits on the unique index), then
locks it: a row already processed makes the delivery a no-op. A handler error rolls back what the
handler did, keeps the row as failed and answers 500, so Stripe's retry applies it once.
"""
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import stripe
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing import stripe_api
from billing.demo import convert_demo
from billing.licences import SEARCHING_STATUSES, is_older, set_subscription_state
from billing.models import DemoAccount, Licence, WebhookEvent
from core.tenancy import CrossAgency, cross_agency

logger = logging.getLogger(__name__)

SUBSCRIPTION_EVENTS = {
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.pending_update_applied",
    "customer.subscription.pending_update_expired",
}
PAID_CHECKOUT = {"paid", "no_payment_required"}


class BadSignature(ValueError):
    """The payload is not from Stripe (or is too old to trust)."""


@dataclass(frozen=True)
class Delivery:
    ok: bool
    outcome: str


def verified_event(payload: bytes, signature_header: str | None) -> dict:
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, signature_header, settings.STRIPE_WEBHOOK_SECRET,
                                              tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS)
        event = json.loads(text)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as error:
        raise BadSignature(str(error)) from None
    if not isinstance(event, dict) or not all(key in event for key in ("id", "type", "created", "data")):
        raise BadSignature("not a Stripe event")
    return event


def receive(event: dict) -> Delivery:
    with transaction.atomic():
        WebhookEvent.objects.bulk_create([WebhookEvent(
            stripe_id=event["id"], type=event["type"], api_version=event.get("api_version") or "",
            created=datetime.fromtimestamp(event["created"], tz=UTC), payload=event,
        )], ignore_conflicts=True)
        stored = WebhookEvent.objects.select_for_update().get(stripe_id=event["id"])
        if stored.is_done:
            return Delivery(True, "duplicate")
        stored.attempts += 1
        if stored.api_version and stored.api_version != settings.STRIPE_API_VERSION:
            logger.warning("Stripe event %s has API version %s, we pin %s", stored.stripe_id, stored.api_version,
                           settings.STRIPE_API_VERSION)
        try:
            with cross_agency(CrossAgency.STRIPE_WEBHOOK):
                applied = apply(event, stored.created)
        except Exception as error:
            logger.exception("Stripe event %s (%s) failed", stored.stripe_id, stored.type)
            stored.status, stored.error = WebhookEvent.Status.FAILED, f"{error.__class__.__name__}: {error}"[:500]
            stored.save(update_fields=["attempts", "status", "error"])
            return Delivery(False, "failed")
        stored.status = WebhookEvent.Status.PROCESSED if applied else WebhookEvent.Status.IGNORED
        stored.error, stored.processed_at = "", timezone.now()
        stored.save(update_fields=["attempts", "status", "error", "processed_at"])
        return Delivery(True, stored.status)


def apply(event: dict, event_at: datetime) -> bool:
    """True if the event changed (or confirmed) our state, False if it is not for us."""
    obj = event["data"]["object"]
    if event["type"] in SUBSCRIPTION_EVENTS:
        return apply_subscription(obj, event_at=event_at, event_id=event["id"], fetched=False)
    if event["type"] == "checkout.session.completed":
        return apply_checkout(obj, event_at=event_at, event_id=event["id"])
    return False


def licence_for_customer(customer_id: str, metadata: dict) -> Licence | None:
    """Our own record of the customer first; else the agency code in metadata that only we set, and only
    for a licence that has no customer yet. Never the customer's name or e-mail, which they can edit."""
    locked = Licence.objects.select_for_update(of=("self",)).select_related("agency")
    licence = locked.filter(stripe_customer_id=customer_id).first()
    if licence is not None or not metadata.get("agency_code"):
        return licence
    licence = locked.filter(agency__code=metadata["agency_code"], stripe_customer_id__isnull=True).first()
    if licence is not None:
        licence.stripe_customer_id = customer_id
        licence.save(update_fields=["stripe_customer_id"])
    return licence


def apply_subscription(subscription: dict, *, event_at: datetime, event_id: str, fetched: bool) -> bool:
    licence = licence_for_customer(subscription["customer"], subscription.get("metadata") or {})
    if licence is None:
        logger.warning("Stripe event %s is about customer %s, who is none of ours", event_id, subscription["customer"])
        return False
    older = is_older(licence, subscription, event_at)
    if older:
        return True  # a newer state is already applied: this one is history
    if older is None and not fetched:
        # Same subscription, same second: arrival order says nothing, so ask Stripe for the current state.
        subscription = stripe_api.retrieve_subscription(subscription["id"])
    replaced = set_subscription_state(licence, subscription, event_at=event_at, event_id=event_id)
    purpose = (subscription.get("metadata") or {}).get("purpose")
    if replaced and purpose == "change_plan":
        stripe_api.cancel_subscription(replaced)
    if purpose == "demo_conversion" and licence.status in SEARCHING_STATUSES:
        demo = DemoAccount.objects.select_for_update().filter(agency=licence.agency, converted_at__isnull=True).first()
        if demo is not None:
            convert_demo(demo, event_id=event_id)
    return True


def apply_checkout(session: dict, *, event_at: datetime, event_id: str) -> bool:
    """A completed Checkout carries no subscription state, so the subscription is read from Stripe."""
    if session.get("mode") != "subscription" or session.get("payment_status") not in PAID_CHECKOUT:
        return False
    subscription = stripe_api.retrieve_subscription(session["subscription"])
    return apply_subscription(subscription, event_at=event_at, event_id=event_id, fetched=True)
