"""The checks that run inside actions before anything is created: licence state, quota and the demo
sandbox. A refusal is a NotAllowed carrying a message for the user (403 wherever it is not caught)."""
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Agency
from billing import demo as demos
from billing.licences import (
    current_licence,
    is_read_only,
    limits_of,
    locked_licence,
    read_only_reason,
    searches_this_period,
)
from billing.models import DemoAccount
from core.refusals import NotAllowed


class LicenceRefused(NotAllowed):
    """A refusal by the licence, the quota or the demo sandbox."""


def ensure_agency_may_search(agency: Agency) -> None:
    """Call inside the transaction that creates the search (which then holds its usage): the lock taken here
    makes concurrent searches queue, so the quota and the demo cap cannot be overrun. Searches that ran and
    searches still queued or running (their holds) count; searches that failed do not."""
    assert transaction.get_connection().in_atomic_block, "must run in the search's transaction"
    if agency.is_demo:
        demo = DemoAccount.objects.select_for_update().filter(agency=agency).first()
        refusal = demos.demo_refusal(demo, demos.demo_searches_used(demo) if demo else 0)
        if refusal:
            raise LicenceRefused(refusal)
        return
    licence = locked_licence(agency)
    if is_read_only(licence):
        raise LicenceRefused(read_only_reason(licence))
    limits = limits_of(licence)
    if not limits.overage_allowed and searches_this_period(licence) >= limits.monthly_searches:
        raise LicenceRefused(
            _("Your agency has used the %(quota)s searches included in its plan for this period. "
              "An administrator can change the plan on the Billing page.") % {"quota": limits.monthly_searches}
        )


def ensure_agency_may_enroll(agency: Agency) -> None:
    """Galleries and enrollment: never in a demo, and not while the licence is read-only."""
    if agency.is_demo:
        raise LicenceRefused(_("Demo agencies search the built-in demo gallery only: they cannot create "
                               "galleries or enroll images."))
    licence = current_licence(agency)
    if is_read_only(licence):
        raise LicenceRefused(read_only_reason(licence))
