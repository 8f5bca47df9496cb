"""Login lockout: after LOGIN_FAILURE_LIMIT failed logins (password or second factor) in a row, one
e-mail address is locked for LOGIN_LOCKOUT_MINUTES, from the IP address the failures came from.

Locking the pair, not the account, is what keeps an attacker from cheaply locking people out: their
failures lock only themselves, and the account's owner still logs in from their own address. The
counter is cleared only by a complete login (password and second factor)."""
import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import load_membership
from accounts.models import LoginThrottle, User
from audit.log import record_event
from core.web import client_ip

# Failures further apart than this no longer add up.
FAILURE_MEMORY = timedelta(hours=24)


def throttle_key(email: str, request) -> str:
    return hashlib.sha256(f"{email.strip().lower()}|{client_ip(request) or ''}".encode()).hexdigest()


def locked_until(email: str, request) -> datetime | None:
    throttle = LoginThrottle.objects.filter(key=throttle_key(email, request)).first()
    if throttle is None or throttle.locked_until is None or throttle.locked_until <= timezone.now():
        return None
    return throttle.locked_until


def lockout_message(email: str, request) -> str:
    until = locked_until(email, request)
    if until is None:
        return ""
    minutes = max(1, round((until - timezone.now()).total_seconds() / 60))
    return _("Too many failed attempts. Try again in %(minutes)s minutes.") % {"minutes": minutes}


def record_failure(email: str, request) -> bool:
    """Counts one failure; True if it locked the address (the lock is audited)."""
    now = timezone.now()
    with transaction.atomic():
        LoginThrottle.objects.bulk_create([LoginThrottle(key=throttle_key(email, request), last_failure_at=now)],
                                          ignore_conflicts=True)
        throttle = LoginThrottle.objects.select_for_update().get(key=throttle_key(email, request))
        if throttle.locked_until is not None and throttle.locked_until > now:
            return False  # attempts while locked neither count nor extend the lock
        if throttle.locked_until is not None or throttle.last_failure_at < now - FAILURE_MEMORY:
            throttle.failures, throttle.locked_until = 0, None
        throttle.failures += 1
        throttle.last_failure_at = now
        locked = throttle.failures >= settings.LOGIN_FAILURE_LIMIT
        if locked:
            throttle.locked_until = now + timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
            _audit_lockout(email, request, throttle)
        throttle.save()
    return locked


def clear_failures(email: str, request) -> None:
    LoginThrottle.objects.filter(key=throttle_key(email, request)).delete()


def _audit_lockout(email: str, request, throttle: LoginThrottle) -> None:
    user = User.objects.filter(email=email.strip().lower()).first()
    membership = load_membership(user) if user is not None else None
    record_event(
        "login.locked_out", agency=membership.agency if membership else None, actor=None, request=request, target=user.code if user else "",
        outcome="denied", details={"failures": throttle.failures, "minutes": settings.LOGIN_LOCKOUT_MINUTES,
                                   "email_sha256": hashlib.sha256(email.strip().lower().encode()).hexdigest()},
    )
