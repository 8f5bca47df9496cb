"""Changes to agencies, people and tokens. Each action owns its transaction and its audit event."""
import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import load_membership
from accounts.models import (
    Agency,
    ApiToken,
    ConductAcceptance,
    Invitation,
    Membership,
    User,
)
from accounts.seats import ensure_seat_available
from accounts.signals import member_suspended
from audit.log import record_event
from core.refusals import Refused
from core.tenancy import CrossAgency, cross_agency, tenant_transaction


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def do_invite_user(*, agency: Agency, email: str, role: str, invited_by: User, request=None) -> Invitation:
    email = email.strip().lower()
    # Only a member of this agency is named as such. An address in use elsewhere (another agency, the platform)
    # is invited like any other, so the answer tells an agency admin nothing about other tenants; accepting
    # such an invitation is refused to its owner only.
    if Membership.objects.filter(agency=agency, user__email=email).exists():
        raise Refused(_("This person is already a member of your agency."))
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        ensure_seat_available(agency, email)
        Invitation.objects.filter(agency=agency, email=email, accepted_at__isnull=True).update(
            expires_at=timezone.now()
        )
        invitation = Invitation.objects.create(
            agency=agency,
            email=email,
            role=role,
            token_hash=hash_secret(token),
            invited_by=invited_by,
            expires_at=timezone.now() + timedelta(hours=settings.INVITATION_TTL_HOURS),
        )
        record_event(
            "user.invited", agency=agency, actor=invited_by, request=request, target=invitation.code,
            details={"email": email, "role": role},
        )
        link = settings.SITE_URL + reverse("accounts:accept_invitation", args=[token])
        transaction.on_commit(lambda: _send_invitation(invitation, link), robust=True)
    return invitation


def _send_invitation(invitation: Invitation, link: str) -> None:
    context = {"invitation": invitation, "link": link, "hours": settings.INVITATION_TTL_HOURS}
    send_mail(
        _("Your invitation to %(agency)s") % {"agency": invitation.agency.name},
        render_to_string("accounts/email/invitation.txt", context),
        None,
        [invitation.email],
    )


def find_usable_invitation(token: str) -> Invitation | None:
    with cross_agency(CrossAgency.INVITATION):
        invitation = Invitation.objects.select_related("agency").filter(token_hash=hash_secret(token)).first()
    if invitation is None or not invitation.is_usable():
        return None
    return invitation


def do_accept_invitation(*, invitation: Invitation, full_name: str, password: str, request=None) -> User:
    with tenant_transaction(invitation.agency_id):
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not invitation.is_usable():
            raise Refused(_("This invitation has expired or was already used."))
        if User.objects.filter(email=invitation.email).exists():
            raise Refused(_("A user with this e-mail address already exists."))
        user = User.objects.create_user(invitation.email, password, full_name=full_name)
        Membership.objects.create(user=user, agency=invitation.agency, role=invitation.role)
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        record_event(
            "user.joined", agency=invitation.agency, actor=user, request=request, target=user.code,
            details={"role": invitation.role, "invitation": str(invitation.code)},
        )
    return user


def do_change_role(*, membership: Membership, role: str, actor: User, request=None) -> None:
    if membership.user_id == actor.pk:
        raise Refused(_("You cannot change your own role."))
    with transaction.atomic():
        previous = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        record_event(
            "user.role_changed", agency=membership.agency, actor=actor, request=request,
            target=membership.user.code, details={"from": previous, "to": role},
        )


def do_suspend_user(*, membership: Membership, actor: User, request=None) -> None:
    if membership.user_id == actor.pk:
        raise Refused(_("You cannot suspend yourself."))
    with transaction.atomic():
        membership.status = Membership.Status.SUSPENDED
        membership.save(update_fields=["status"])
        revoked = ApiToken.objects.filter(user=membership.user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        # The apps that run work for a member stop it (search cancels the member's open searches).
        stopped = member_suspended.send(sender=Membership, membership=membership)
        cancelled = sum(count for _receiver, count in stopped)
        record_event(
            "user.suspended", agency=membership.agency, actor=actor, request=request, target=membership.user.code,
            details={"tokens_revoked": revoked, "searches_cancelled": cancelled},
        )


def do_reactivate_user(*, membership: Membership, actor: User, request=None) -> None:
    with transaction.atomic():
        membership.status = Membership.Status.ACTIVE
        membership.save(update_fields=["status"])
        record_event(
            "user.reactivated", agency=membership.agency, actor=actor, request=request, target=membership.user.code
        )


def do_create_api_token(*, user: User, name: str, request=None) -> tuple[ApiToken, str]:
    """Returns the token row and its key, which is shown once and never stored."""
    key = secrets.token_urlsafe(32)
    membership = load_membership(user)
    with transaction.atomic():
        token = ApiToken.objects.create(user=user, name=name, key_hash=hash_secret(key), prefix=key[:8])
        record_event(
            "api_token.created", agency=membership.agency if membership else None, actor=user, request=request,
            target=token.code, details={"name": name, "prefix": token.prefix},
        )
    return token, key


def do_revoke_api_token(*, token: ApiToken, actor: User, request=None) -> None:
    membership = Membership.objects.select_related("agency").filter(user=token.user).first()
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if updated:
            record_event(
                "api_token.revoked", agency=membership.agency if membership else None, actor=actor,
                request=request, target=token.code, details={"prefix": token.prefix},
            )


def end_other_access(user: User, *, keep_session_key: str | None = None) -> dict:
    """Revokes every API token of the user and ends every session but the one kept: whatever a stolen password or
    authenticator opened closes with it. Returns the counts, for the audit event of the change that caused it."""
    revoked = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).exclude(session_key=keep_session_key):
        if session.get_decoded().get(SESSION_KEY) == str(user.pk):
            session.delete()
            ended += 1
    return {"tokens_revoked": revoked, "sessions_ended": ended}


def do_password_changed(*, user: User, request=None, keep_session_key: str | None = None) -> None:
    """After a password change (kept session: the user's own) or a reset (none kept)."""
    membership = load_membership(user)
    with transaction.atomic():
        ended = end_other_access(user, keep_session_key=keep_session_key)
        record_event("user.password_changed", agency=membership.agency if membership else None, actor=user,
                     request=request, target=user.code, details=ended)


def has_accepted_current_conduct(membership: Membership) -> bool:
    return ConductAcceptance.objects.filter(
        user_id=membership.user_id, agency_id=membership.agency_id, version=membership.agency.code_of_conduct_version
    ).exists()


def do_accept_conduct(*, membership: Membership, request=None) -> None:
    version = membership.agency.code_of_conduct_version
    with transaction.atomic():
        _acceptance, created = ConductAcceptance.objects.get_or_create(
            user_id=membership.user_id, agency_id=membership.agency_id, version=version
        )
        if created:
            record_event("conduct.accepted", agency=membership.agency, actor=membership.user, request=request,
                         details={"version": version})
