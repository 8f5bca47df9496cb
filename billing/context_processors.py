from django.utils.formats import date_format
from django.utils.translation import gettext as _

from billing.demo import demo_of, demo_status
from billing.licences import current_licence, grace_ends_at, is_read_only, read_only_reason


def licence_notice(request) -> dict:
    """The banner every page shows: a demo's days and searches left, or a licence that limits the agency."""
    membership = getattr(request, "membership", None)
    if membership is None or not membership.is_active:
        return {}
    agency = membership.agency
    if agency.is_demo:
        demo = demo_of(agency)
        return {"demo_status": demo_status(demo)} if demo else {}
    licence = current_licence(agency)
    if is_read_only(licence):
        return {"licence_notice": read_only_reason(licence)}
    grace_end = grace_ends_at(licence)
    if grace_end is not None:
        return {"licence_notice": _("Payment is overdue. Searching continues until %(date)s; after that the agency "
                                    "becomes read-only until the payment is made.")
                % {"date": date_format(grace_end, "SHORT_DATE_FORMAT")}}
    return {}
