"""The usage ledger, and reporting it to Stripe as meter events, idempotently.

Each usage row is sent once with its own code as the meter event identifier, and a UsageReport row
is written in the same transaction as the send succeeds. A second run finds nothing unreported; a
crash between the send and the commit resends the same identifier, which Stripe ignores.
"""
import logging

from django.conf import settings
from django.db import transaction

from billing import stripe_api
from billing.models import Licence, UsageRecord, UsageReport

logger = logging.getLogger(__name__)


def record_search_usage(*, agency_id: int, search_code, created) -> UsageRecord:
    """The usage ledger row of one search, written in the transaction that records it."""
    return UsageRecord.objects.create(agency_id=agency_id, search_code=search_code, created=created)


def report_usage() -> int:
    """Sends every unreported usage row of agencies that have a Stripe customer; returns how many were sent."""
    sent = 0
    while True:
        batch_sent, more = _report_batch()
        sent += batch_sent
        if not more:
            return sent


def _report_batch() -> tuple[int, bool]:
    size = settings.BILLING_USAGE_REPORT_BATCH
    customers = dict(Licence.objects.exclude(stripe_customer_id=None).values_list("agency_id", "stripe_customer_id"))
    sent = 0
    with transaction.atomic():
        # skip_locked: two concurrent runs share the rows instead of sending them twice.
        records = list(
            UsageRecord.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(report__isnull=True, agency_id__in=list(customers))
            .order_by("id")[:size]
        )
        try:
            for record in records:
                customer_id = customers[record.agency_id]
                stripe_api.send_meter_event(identifier=str(record.code), customer_id=customer_id,
                                            timestamp=int(record.created.timestamp()))
                UsageReport.objects.create(record=record, stripe_customer_id=customer_id)
                sent += 1
        except stripe_api.StripeError:
            # What was sent is kept; the rest waits for the next run.
            logger.exception("Reporting usage to Stripe stopped after %s meter events", sent)
            return sent, False
    return sent, len(records) == size
