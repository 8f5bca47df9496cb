"""Billing actions started by people: opening Stripe Checkout and the Customer Portal."""
from django.db import transaction

from accounts.models import Agency, User
from audit.log import record_event
from billing import stripe_api
from billing.licences import locked_licence
from billing.models import Plan


def ensure_customer(agency: Agency) -> str:
    """The agency's Stripe customer, created once; the licence row lock keeps two clicks from making two."""
    with transaction.atomic():
        licence = locked_licence(agency)
        if not licence.stripe_customer_id:
            licence.stripe_customer_id = stripe_api.create_customer(agency)
            licence.save(update_fields=["stripe_customer_id"])
            record_event("billing.customer_created", agency=agency, target=licence.stripe_customer_id)
        return licence.stripe_customer_id


def do_start_checkout(*, agency: Agency, plan: Plan, actor: User, success_url: str, cancel_url: str,
                      request=None) -> str:
    """Returns the Checkout URL. For a demo, paying converts it into a normal agency."""
    customer_id = ensure_customer(agency)
    purpose = "demo_conversion" if agency.is_demo else "change_plan"
    prices = [plan.stripe_price_id] + ([plan.stripe_metered_price_id] if plan.stripe_metered_price_id else [])
    url = stripe_api.create_checkout_session(agency=agency, customer_id=customer_id, prices=prices, purpose=purpose,
                                             success_url=success_url, cancel_url=cancel_url)
    record_event("billing.checkout_started", agency=agency, actor=actor, request=request, target=plan.code,
                 details={"plan": plan.name, "purpose": purpose})
    return url


def do_open_customer_portal(*, agency: Agency, actor: User, return_url: str, request=None) -> str:
    customer_id = ensure_customer(agency)
    url = stripe_api.create_portal_session(customer_id=customer_id, return_url=return_url)
    record_event("billing.portal_opened", agency=agency, actor=actor, request=request, target=customer_id)
    return url
