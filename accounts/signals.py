"""Login signals: login, logout and failed logins are audited on the user's agency chain (or the platform's);
failed passwords count towards the lockout; a login starts the session clocks."""
from django.contrib.auth.signals import (
    user_logged_in,
    user_logged_out,
    user_login_failed,
)
from django.dispatch import Signal, receiver

from accounts import lockout
from accounts.access import load_membership
from accounts.models import User
from accounts.sessions import start_session_clock
from audit.log import record_event

# Sent inside the transaction that suspends a member; receivers stop the member's work and return how
# many jobs they stopped.
member_suspended = Signal()


def _agency_of(user: User | None):
    membership = load_membership(user) if user is not None and user.pk else None
    return membership.agency if membership else None


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs):
    record_event("login.succeeded", agency=_agency_of(user), actor=user, request=request, target=user.code)


@receiver(user_logged_out)
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        record_event("login.logout", agency=_agency_of(user), actor=user, request=request, target=user.code)


@receiver(user_login_failed)
def audit_login_failure(sender, credentials, request=None, **kwargs):
    email = str(credentials.get("username") or credentials.get("email") or "").strip().lower()[:254]
    user = User.objects.filter(email=email).first()
    record_event(
        "login.failed", agency=_agency_of(user), actor=None, request=request,
        target=user.code if user else "", outcome="denied", details={"email": email},
    )


@receiver(user_login_failed)
def count_failed_login(sender, credentials, request=None, **kwargs):
    email = str(credentials.get("username") or credentials.get("email") or "")
    if request is not None and email:
        lockout.record_failure(email, request)


@receiver(user_logged_in)
def start_clocks(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        start_session_clock(request.session)
