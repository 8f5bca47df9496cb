"""The calls we make to Stripe, through the official client, at the pinned API version.

The client is built from the settings on each use, so STRIPE_API_BASE (a local server in the tests)
and the key can change without a restart of anything that imported this module.
"""
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import stripe
from django.conf import settings
from django.utils.translation import gettext as _

from accounts.models import Agency

StripeError = stripe.StripeError


def client() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        stripe_version=settings.STRIPE_API_VERSION,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=1,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
    )


def create_customer(agency: Agency) -> str:
    """The agency code travels in metadata that only we can set; the idempotency key stops a retry
    from creating a second customer for the same agency."""
    customer = client().v1.customers.create(
        params={"name": agency.name, "metadata": {"agency_code": str(agency.code)}},
        options={"idempotency_key": f"customer-for-agency-{agency.code}"},
    )
    return customer.id


def create_checkout_session(
    *, agency: Agency, customer_id: str, prices: list[str], purpose: str, success_url: str, cancel_url: str
) -> str:
    """Returns the URL of the hosted Checkout page."""
    metadata = {"agency_code": str(agency.code), "purpose": purpose}
    line_items = [{"price": prices[0], "quantity": 1}] + [{"price": price} for price in prices[1:]]
    session = client().v1.checkout.sessions.create(params={
        "mode": "subscription",
        "customer": customer_id,
        "client_reference_id": str(agency.code),
        "line_items": line_items,
        "metadata": metadata,
        "subscription_data": {"metadata": metadata},
        "success_url": success_url,
        "cancel_url": cancel_url,
    })
    return session.url


def create_portal_session(*, customer_id: str, return_url: str) -> str:
    session = client().v1.billing_portal.sessions.create(params={"customer": customer_id, "return_url": return_url})
    return session.url


def retrieve_subscription(subscription_id: str) -> dict:
    return client().v1.subscriptions.retrieve(subscription_id).to_dict()


def cancel_subscription(subscription_id: str) -> None:
    client().v1.subscriptions.cancel(subscription_id, params={"prorate": True})


@dataclass(frozen=True)
class InvoiceLine:
    number: str
    created_at: datetime
    amount: Decimal
    currency: str
    status: str
    hosted_invoice_url: str


def list_invoices(customer_id: str, limit: int = 12) -> list[InvoiceLine]:
    invoices = client().v1.invoices.list(params={"customer": customer_id, "limit": limit})
    return [
        InvoiceLine(
            number=invoice.get("number") or "",
            created_at=datetime.fromtimestamp(invoice["created"], tz=UTC),
            amount=to_major_units(invoice["amount_due"], invoice["currency"]),
            currency=invoice["currency"],
            status=invoice.get("status") or "",
            hosted_invoice_url=invoice.get("hosted_invoice_url") or "",
        )
        for invoice in (stripe_invoice.to_dict() for stripe_invoice in invoices.data)
    ]


# Stripe amounts are in the currency's smallest unit; these currencies have no minor unit.
ZERO_DECIMAL_CURRENCIES = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
                           "xaf", "xof", "xpf"}


def to_major_units(amount: int, currency: str) -> Decimal:
    if currency.lower() in ZERO_DECIMAL_CURRENCIES:
        return Decimal(amount)
    return (Decimal(amount) / 100).quantize(Decimal("0.01"))


def send_meter_event(*, identifier: str, customer_id: str, timestamp: int, value: int = 1) -> None:
    """Stripe ignores a second meter event with the same identifier, so a resend after a crash is harmless."""
    client().v1.billing.meter_events.create(params={
        "event_name": settings.STRIPE_METER_EVENT_NAME,
        "identifier": identifier,
        "timestamp": timestamp,
        "payload": {"stripe_customer_id": customer_id, "value": str(value)},
    })


def unavailable_message() -> str:
    return _("The payment service cannot be reached right now; nothing was changed. Please try again shortly.")
