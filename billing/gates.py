"""The checks that run inside actions before anything is created: licence state, quota, seats and
the demo sandbox. A refusal is a PermissionDenied carrying a message for the user, so a view that
does not catch it still answers 403 with that message (and the API answers 403 with it as detail)."""
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Agency, Invitation, Membership
from billing import demo as demos
from billing.licences import (
    current_licence,
    is_read_only,
    limits_of,
    locked_licence,
    read_only_reason,
    searches_this_period,
)
from billing.models import DemoAccount, UsageRecord
from search.models import Gallery, Search


class LicenceRefused(PermissionDenied):
    """A refusal by the licence, the quota, the seat count or the demo sandbox, with a message for the user."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def ensure_agency_may_search(agency: Agency) -> None:
    """Call inside the transaction that creates the search: the lock it takes makes concurrent searches
    queue here, so the quota and the demo cap cannot be overrun."""
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


def record_search_usage(search: Search) -> UsageRecord:
    """The usage ledger row, written in the transaction that creates the search."""
    return UsageRecord.objects.create(agency_id=search.agency_id, search_code=search.code, created=search.created)


def ensure_agency_may_enroll(agency: Agency) -> None:
    """Galleries and enrollment: never in a demo, and not while the licence is read-only."""
    if agency.is_demo:
        raise LicenceRefused(_("Demo agencies search the built-in demo gallery only: they cannot create "
                               "galleries or enroll images."))
    licence = current_licence(agency)
    if is_read_only(licence):
        raise LicenceRefused(read_only_reason(licence))


def seats_of(agency: Agency) -> int:
    if agency.is_demo:
        return settings.DEMO_MAX_USERS
    return limits_of(current_licence(agency)).seats


def seats_used(agency: Agency, *, except_email: str = "") -> int:
    """Active members plus invitations still open (an invitation holds its seat until it expires)."""
    members = Membership.objects.filter(agency=agency, status=Membership.Status.ACTIVE).count()
    invited = Invitation.objects.filter(agency=agency, accepted_at__isnull=True, expires_at__gt=timezone.now())
    return members + invited.exclude(email=except_email).count()


def ensure_seat_available(agency: Agency, email: str) -> None:
    """Call inside the invitation's transaction; re-inviting the same address reuses its seat."""
    assert transaction.get_connection().in_atomic_block, "must run in the invitation's transaction"
    Agency.objects.select_for_update().filter(pk=agency.pk).first()
    seats = seats_of(agency)
    if seats_used(agency, except_email=email) >= seats:
        raise LicenceRefused(
            _("All %(seats)s seats of your agency's plan are taken (members and open invitations). "
              "Suspend someone, let an invitation expire, or change the plan.") % {"seats": seats}
        )


def searchable_galleries(agency: Agency) -> list[Gallery]:
    """What "all galleries" means for a search: the demo gallery for a demo, the agency's own otherwise."""
    if agency.is_demo:
        gallery = demos.demo_gallery()
        return [gallery] if gallery else []
    return list(Gallery.objects.filter(agency=agency))


def search_scope(search: Search) -> tuple[int, list[int]]:
    """(owner agency id, gallery ids) for the vector query. A demo search reaches the demo gallery and
    nothing else, whatever galleries the search row lists."""
    gallery_ids = list(search.galleries.values_list("id", flat=True))
    if search.agency.is_demo:
        gallery = demos.demo_gallery()
        if gallery is None:
            return search.agency_id, []
        return gallery.agency_id, [gallery.id] if gallery.id in gallery_ids else []
    return search.agency_id, gallery_ids
