"""Seats: how many people an agency may have, counting active members and open invitations.

The limit comes from the agency's plan, which billing copies onto the agency (Agency.seat_limit)
whenever the licence changes; an agency without a plan has the trial's seats, a demo the demo's."""
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Agency, Invitation, Membership
from core.refusals import NotAllowed


def seats_of(agency: Agency) -> int:
    if agency.is_demo:
        return settings.DEMO_MAX_USERS
    return agency.seat_limit if agency.seat_limit is not None else settings.BILLING_TRIAL_SEATS


def seats_used(agency: Agency, *, except_email: str = "") -> int:
    """Active members plus invitations still open (an invitation holds its seat until it expires)."""
    members = Membership.objects.filter(agency=agency, status=Membership.Status.ACTIVE).count()
    invited = Invitation.objects.filter(agency=agency, accepted_at__isnull=True, expires_at__gt=timezone.now())
    return members + invited.exclude(email=except_email).count()


def ensure_seat_available(agency: Agency, email: str) -> None:
    """Call inside the invitation's transaction; re-inviting the same address reuses its seat."""
    assert transaction.get_connection().in_atomic_block, "must run in the invitation's transaction"
    agency = Agency.objects.select_for_update().get(pk=agency.pk)
    seats = seats_of(agency)
    if seats_used(agency, except_email=email) >= seats:
        raise NotAllowed(
            _("All %(seats)s seats of your agency's plan are taken (members and open invitations). "
              "Suspend someone, let an invitation expire, or change the plan.") % {"seats": seats}
        )
