"""Sales demos: sandboxed agencies that search only the built-in demo gallery, for a limited time."""
import math
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.actions import do_invite_user
from accounts.models import Agency, Invitation, Role, User
from audit.log import record_event
from billing.models import DemoAccount, UsageHold, UsageRecord
from core.refusals import Refused
from core.tenancy import tenant_transaction

MAX_EXTENSION_DAYS = 90


def demo_of(agency: Agency) -> DemoAccount | None:
    if not agency.is_demo:
        return None
    return DemoAccount.objects.filter(agency=agency).first()


def demo_has_ended(agency: Agency) -> bool:
    """A demo-kind agency without a demo account (the demo gallery's owner) counts as ended: nobody uses it."""
    if not agency.is_demo:
        return False
    demo = demo_of(agency)
    return demo is None or demo.has_ended()


def demo_searches_used(demo: DemoAccount) -> int:
    """Searches that ran, and those still queued or running."""
    return (UsageRecord.objects.filter(agency_id=demo.agency_id).count()
            + UsageHold.objects.filter(agency_id=demo.agency_id).count())


@dataclass(frozen=True)
class DemoStatus:
    demo: DemoAccount
    days_left: int
    searches_used: int

    @property
    def searches_left(self) -> int:
        return max(0, self.demo.search_cap - self.searches_used)


def demo_status(demo: DemoAccount) -> DemoStatus:
    seconds_left = (demo.expires_at - timezone.now()).total_seconds()
    return DemoStatus(demo=demo, days_left=max(0, math.ceil(seconds_left / 86400)),
                      searches_used=demo_searches_used(demo))


def do_create_demo(
    *, name: str, country: str, prospect: str, kind_after_conversion: str, days: int, search_cap: int,
    emails: list[str], actor: User, request=None,
) -> DemoAccount:
    """Creates the demo agency and invites its users as agency admins, all or nothing."""
    with transaction.atomic():
        agency = Agency.objects.create(name=name, kind=Agency.Kind.DEMO, country=country)
        record_event("demo.created", agency=None, actor=actor, request=request, target=agency.code,
                     details={"name": name, "prospect": prospect, "days": days, "search_cap": search_cap,
                              "users": emails})
        with tenant_transaction(agency.pk):  # sales act for the demo agency they just created
            demo = DemoAccount.objects.create(
                agency=agency, prospect=prospect, kind_after_conversion=kind_after_conversion,
                expires_at=timezone.now() + timedelta(days=days), search_cap=search_cap, created_by=actor,
            )
            for email in emails:
                do_invite_user(agency=agency, email=email, role=Role.ADMIN, invited_by=actor, request=request)
    return demo


def convert_demo(demo: DemoAccount, *, event_id: str) -> None:
    """The prospect paid: the demo becomes a normal agency of the kind recorded at creation. Caller holds the lock."""
    agency = demo.agency
    agency.kind = demo.kind_after_conversion
    agency.save(update_fields=["kind"])
    demo.converted_at = timezone.now()
    demo.save(update_fields=["converted_at"])
    record_event("demo.converted", agency=agency, target=agency.code,
                 details={"kind": agency.kind, "stripe_event": event_id})


def demo_refusal(demo: DemoAccount | None, searches_used: int) -> str | None:
    if demo is None or demo.has_ended():
        return _("This demo has ended.")
    if searches_used >= demo.search_cap:
        return _("This demo has used all of its %(cap)s searches.") % {"cap": demo.search_cap}
    return None


# Sales' follow-up of a running demo: more time, an early end, the invitations sent again.


def _locked_open_demo(demo: DemoAccount) -> DemoAccount:
    """The demo's row, locked; a converted demo is a customer now and sales no longer change it."""
    locked = DemoAccount.objects.select_for_update().select_related("agency").get(pk=demo.pk)
    if locked.converted_at is not None:
        raise Refused(_("This demo was converted into a full licence; it can no longer be changed."))
    return locked


def do_extend_demo(*, demo: DemoAccount, days: int, actor: User, request=None) -> DemoAccount:
    """Gives the demo `days` more days, counted from now if it has already ended (which reopens it)."""
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        raise Refused(_("Extend by 1 to %(days)s days.") % {"days": MAX_EXTENSION_DAYS})
    with tenant_transaction(demo.agency_id):  # sales act for the demo's agency
        demo = _locked_open_demo(demo)
        previous = demo.expires_at
        demo.expires_at = max(previous, timezone.now()) + timedelta(days=days)
        demo.save(update_fields=["expires_at"])
        record_event("demo.extended", agency=demo.agency, actor=actor, request=request, target=demo.agency.code,
                     details={"days": days, "previous_expiry": previous.isoformat(),
                              "expires_at": demo.expires_at.isoformat()})
    return demo


def do_end_demo(*, demo: DemoAccount, actor: User, request=None) -> DemoAccount:
    """Ends the demo now: its users are sent to the "demo ended" page from their next request."""
    with tenant_transaction(demo.agency_id):  # sales act for the demo's agency
        demo = _locked_open_demo(demo)
        if demo.has_ended():
            raise Refused(_("This demo has already ended."))
        previous = demo.expires_at
        demo.expires_at = timezone.now()
        demo.save(update_fields=["expires_at"])
        record_event("demo.ended", agency=demo.agency, actor=actor, request=request, target=demo.agency.code,
                     details={"previous_expiry": previous.isoformat()})
    return demo


def pending_invitees(agency: Agency) -> dict[str, str]:
    """E-mail address -> role of everyone invited to the agency who has not joined yet (expired links included)."""
    invitations = (Invitation.objects.filter(agency=agency, accepted_at__isnull=True).order_by("created")
                   .exclude(email__in=User.objects.values("email")))
    return {invitation.email: invitation.role for invitation in invitations}


def do_resend_demo_invitations(*, demo: DemoAccount, actor: User, request=None) -> list[str]:
    """New links for the demo's invitees who have not joined: the old links stop working."""
    with tenant_transaction(demo.agency_id):  # sales act for the demo's agency
        demo = _locked_open_demo(demo)
        if demo.has_ended():
            raise Refused(_("This demo has ended: extend it before sending the invitations again."))
        invitees = pending_invitees(demo.agency)
        if not invitees:
            raise Refused(_("Everyone invited to this demo has already joined."))
        for email, role in invitees.items():
            do_invite_user(agency=demo.agency, email=email, role=role, invited_by=actor, request=request)
        record_event("demo.invitations_resent", agency=None, actor=actor, request=request, target=demo.agency.code,
                     details={"users": sorted(invitees)})
    return sorted(invitees)
