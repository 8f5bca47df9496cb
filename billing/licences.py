"""What a licence allows, and how Stripe's subscription state becomes the licence's state."""
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Agency
from audit.log import record_event
from billing.models import Licence, LicenceChange, Plan, UsageHold, UsageRecord

SEARCHING_STATUSES = {Licence.Status.TRIALING, Licence.Status.ACTIVE}


class UnknownPrice(Exception):
    """A subscription to a price no plan has: the event fails until an operator adds the plan."""


@dataclass(frozen=True)
class Limits:
    seats: int
    monthly_searches: int
    overage_allowed: bool


def current_licence(agency: Agency) -> Licence:
    """For display: the agency's licence, or an unsaved trial one when it has none yet."""
    licence = Licence.objects.select_related("plan").filter(agency=agency).first()
    return licence or Licence(agency=agency, status=Licence.Status.TRIALING)


def locked_licence(agency: Agency) -> Licence:
    """The agency's licence row, created as a trial if missing, locked until the transaction ends."""
    Licence.objects.get_or_create(agency=agency)
    return Licence.objects.select_for_update(of=("self",)).select_related("plan").get(agency=agency)


def limits_of(licence: Licence) -> Limits:
    if licence.plan is None:
        return Limits(settings.BILLING_TRIAL_SEATS, settings.BILLING_TRIAL_MONTHLY_SEARCHES, False)
    return Limits(licence.plan.seats, licence.plan.monthly_searches, licence.plan.overage_allowed)


def period_start(licence: Licence, now: datetime | None = None) -> datetime:
    """Stripe's billing period when we know it and are inside it, otherwise the calendar month."""
    now = now or timezone.now()
    start, end = licence.current_period_start, licence.current_period_end
    if start and end and start <= now < end:
        return start
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def searches_this_period(licence: Licence) -> int:
    """Searches that ran in the period, and those still queued or running."""
    ran = UsageRecord.objects.filter(agency_id=licence.agency_id, created__gte=period_start(licence)).count()
    return ran + UsageHold.objects.filter(agency_id=licence.agency_id).count()


def grace_ends_at(licence: Licence) -> datetime | None:
    if licence.status != Licence.Status.PAST_DUE or licence.past_due_since is None:
        return None
    return licence.past_due_since + timedelta(days=settings.BILLING_PAST_DUE_GRACE_DAYS)


def is_read_only(licence: Licence, now: datetime | None = None) -> bool:
    """Read-only: past results and the audit log stay reachable, nothing new is searched or enrolled."""
    if licence.status in SEARCHING_STATUSES:
        return False
    grace_end = grace_ends_at(licence)
    return grace_end is None or (now or timezone.now()) >= grace_end


def read_only_reason(licence: Licence) -> str:
    if licence.status == Licence.Status.PAST_DUE:
        return _("Payment is overdue and the grace period has ended: new searches and enrollments are paused "
                 "until the payment is made. Past results and the audit log remain available.")
    return _("Your agency's licence is %(status)s: the agency is read-only. New searches and enrollments are "
             "refused; past results and the audit log remain available.") % {"status": licence.get_status_display()}


# Stripe's subscription state -> the licence


def _moment(timestamp: int | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp else None


def plan_and_period(subscription: dict) -> tuple[Plan, datetime | None, datetime | None]:
    items = subscription.get("items", {}).get("data", [])
    price_ids = [item["price"]["id"] for item in items]
    plan = Plan.objects.filter(stripe_price_id__in=price_ids).first()
    if plan is None:
        raise UnknownPrice(f"No plan has any of the prices {price_ids} of subscription {subscription['id']}")
    item = next(item for item in items if item["price"]["id"] == plan.stripe_price_id)
    # Since API version 2025-03-31 the period lives on the subscription item.
    start = item.get("current_period_start") or subscription.get("current_period_start")
    end = item.get("current_period_end") or subscription.get("current_period_end")
    return plan, _moment(start), _moment(end)


def is_older(licence: Licence, subscription: dict, event_at: datetime) -> bool | None:
    """Compares (subscription created, event created) with what the licence shows: True if older,
    None if it is the same instant (the arrival order then says nothing), False if newer."""
    if licence.subscription_created is None or licence.state_at is None:
        return False
    incoming = (_moment(subscription["created"]), event_at)
    stored = (licence.subscription_created, licence.state_at)
    if incoming == stored:
        return None
    return incoming < stored


def set_subscription_state(licence: Licence, subscription: dict, *, event_at: datetime, event_id: str) -> str:
    """Writes the subscription's state on the locked licence; returns the subscription id it replaced, if any."""
    plan, start, end = plan_and_period(subscription)
    status = subscription["status"]
    replaced = licence.stripe_subscription_id if licence.stripe_subscription_id != subscription["id"] else ""
    changed = (licence.status, licence.plan_id, licence.stripe_subscription_id) != (status, plan.pk, subscription["id"])
    if status == Licence.Status.PAST_DUE:
        if licence.status != Licence.Status.PAST_DUE or licence.past_due_since is None:
            licence.past_due_since = event_at
    else:
        licence.past_due_since = None
    licence.status, licence.plan, licence.stripe_subscription_id = status, plan, subscription["id"]
    licence.subscription_created, licence.state_at = _moment(subscription["created"]), event_at
    licence.current_period_start, licence.current_period_end = start, end
    licence.updated = timezone.now()
    licence.save()
    if changed:
        LicenceChange.objects.create(licence=licence, status=status, plan=plan, stripe_subscription_id=subscription["id"],
                                     stripe_event_id=event_id, reason="stripe.subscription")
        # No person acted: Stripe did, and the event id says which of its events.
        record_event("licence.changed", agency=licence.agency, target=subscription["id"],
                     details={"status": status, "plan": plan.name, "stripe_event": event_id,
                              "reason": "stripe.subscription"})
    return replaced
