"""The usage ledger, the holds of searches still running, and reporting usage to Stripe as meter events,
idempotently.

Each usage row is sent once with its own code as the meter event identifier, and a UsageReport row
is written in the same transaction as the send succeeds. A second run finds nothing unreported; a
crash between the send and the commit resends the same identifier, which Stripe ignores.
"""
import logging

from django.conf import settings
from django.db import connection

from billing import stripe_api
from billing.models import Licence, UsageHold, UsageRecord, UsageReport
from core.tenancy import CrossAgency, cross_agency

logger = logging.getLogger(__name__)


def hold_search_usage(*, agency_id: int, search_code) -> None:
    """A search was started: it counts against the quota while it is queued or running."""
    UsageHold.objects.create(agency_id=agency_id, search_code=search_code)


def record_search_usage(*, agency_id: int, search_code, created) -> UsageRecord:
    """The search ran: its usage ledger row, written in the transaction that records its results."""
    release_search_usage(search_code)
    return UsageRecord.objects.create(agency_id=agency_id, search_code=search_code, created=created)


def release_search_usage(*search_codes) -> None:
    """Searches that ended without running (failed, cancelled) are not billed: their holds go."""
    UsageHold.objects.filter(search_code__in=search_codes).delete()


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
    sent = 0
    with cross_agency(CrossAgency.USAGE_REPORTING):
        # One run at a time: a concurrent run finds the lock taken and leaves the rows to this one (the ledger
        # is append-only, so its rows cannot be locked one by one).
        if not _took_the_reporting_lock():
            return 0, False
        customers = dict(Licence.objects.exclude(stripe_customer_id=None)
                         .values_list("agency_id", "stripe_customer_id"))
        records = list(UsageRecord.objects.filter(report__isnull=True, agency_id__in=list(customers))
                       .order_by("id")[:size])
        try:
            for record in records:
                customer_id = customers[record.agency_id]
                stripe_api.send_meter_event(identifier=str(record.code), customer_id=customer_id,
                                            timestamp=int(record.created.timestamp()))
                UsageReport.objects.create(agency_id=record.agency_id, record=record, stripe_customer_id=customer_id)
                sent += 1
        except stripe_api.StripeError:
            # What was sent is kept; the rest waits for the next run.
            logger.exception("Reporting usage to Stripe stopped after %s meter events", sent)
            return sent, False
    return sent, len(records) == size


def _took_the_reporting_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext('billing.report_usage'))")
        return cursor.fetchone()[0]
