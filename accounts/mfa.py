"""Multi-factor authentication with django-otp, required of every user, agency staff and platform staff.

A password login gives a session that can reach nothing but the second-factor pages: the middleware
sends it to enroll an authenticator app (at first login, with a QR code and one-time recovery codes)
or to enter a code. A TOTP code is accepted once (django-otp refuses a time step it has already seen),
and a recovery code is deleted when used. Nothing here lets a request skip the second factor: tests
pass it by enrolling a device with a known key and computing its code (see tests/mfa.py)."""
import base64
import io
from urllib.parse import urlencode

import django_otp
import qrcode
from django.contrib.auth import logout
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import lockout
from accounts.access import load_membership
from accounts.actions import end_other_access
from accounts.models import User
from audit.log import record_event

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
# What a logged-in session may reach before its second factor: the second-factor pages themselves,
# logging out, and the pages anyone may see.
MFA_EXEMPT_VIEWS = {
    "accounts:login", "accounts:logout", "accounts:suspended", "accounts:accept_invitation", "set_language",
    "accounts:mfa_verify", "accounts:mfa_setup", "privacy:erasure_request", "privacy:erasure_sent",
}


def is_mfa_verified(request) -> bool:
    verified = getattr(request.user, "is_verified", None)
    return bool(verified and verified())


class MfaRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not request.user.is_authenticated or is_mfa_verified(request):
            return None
        if request.resolver_match.view_name in MFA_EXEMPT_VIEWS:
            return None
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": _("Multi-factor authentication is required.")}, status=403)
        return redirect(with_next("accounts:mfa_verify", request.get_full_path()))


def with_next(view_name: str, next_url: str) -> str:
    return f"{reverse(view_name)}?{urlencode({'next': next_url})}"


def safe_next(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return candidate
    return reverse("home")


def confirmed_totp(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_totp(user: User) -> TOTPDevice:
    """The authenticator being enrolled; the same one until it is confirmed, so the QR code stays valid."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


def totp_secret(device: TOTPDevice) -> str:
    return base64.b32encode(device.bin_key).decode()


def qr_code_data_uri(text: str) -> str:
    buffer = io.BytesIO()
    qrcode.make(text, box_size=6, border=2).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def remaining_recovery_codes(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def _agency_of(user: User):
    membership = load_membership(user)
    return membership.agency if membership else None


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _index in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def do_confirm_enrollment(*, request, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirms the authenticator if `code` is right, and returns the new recovery codes (shown once)."""
    user = request.user
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user)
        if not device.verify_token(_normalized(code)):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        codes = _new_recovery_codes(user)
        record_event("mfa.enrolled", agency=_agency_of(user), actor=user, request=request, target=user.code)
    _complete(request, device)
    return codes


def do_verify_second_factor(*, request, code: str) -> bool:
    """Checks a TOTP or recovery code; a failure counts towards the lockout, which logs the session out."""
    user = request.user
    code = _normalized(code)
    with transaction.atomic():
        model = TOTPDevice if code.isdigit() else StaticDevice
        device = model.objects.select_for_update().filter(user=user, confirmed=True).first()
        verified = device is not None and device.verify_token(code)
        if verified:
            event = "login.mfa_succeeded" if model is TOTPDevice else "login.recovery_code_used"
            record_event(event, agency=_agency_of(user), actor=user, request=request, target=user.code)
    if verified:
        _complete(request, device)
        return True
    record_event("login.mfa_failed", agency=_agency_of(user), actor=user, request=request, target=user.code,
                 outcome="denied")
    if lockout.record_failure(user.email, request):
        logout(request)
    return False


def do_regenerate_recovery_codes(*, request) -> list[str]:
    user = request.user
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        record_event("mfa.recovery_codes_regenerated", agency=_agency_of(user), actor=user, request=request,
                     target=user.code)
    return codes


def do_replace_authenticator(*, request) -> None:
    """Removes the authenticator app; the session then has to enroll a new one before going on."""
    user = request.user
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        # Another session (or a token) could otherwise enroll an authenticator of its own, or go on without one.
        ended = end_other_access(user, keep_session_key=request.session.session_key)
        record_event("mfa.authenticator_removed", agency=_agency_of(user), actor=user, request=request,
                     target=user.code, details=ended)
    request.session.pop(django_otp.DEVICE_ID_SESSION_KEY, None)


def do_reset_second_factor(*, user: User, actor: User, request=None) -> None:
    """Platform staff's only power over someone's second factor: clear it. The user enrolls a new authenticator
    (and gets new recovery codes) at the next login; staff never see or set a secret."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        ended = end_other_access(user)
        record_event("mfa.reset_by_staff", agency=_agency_of(user), actor=actor, request=request, target=user.code,
                     details={"email": user.email, **ended})


def _complete(request, device) -> None:
    request.session.cycle_key()  # a new session id once the login is complete, as after the password
    django_otp.login(request, device)
    lockout.clear_failures(request.user.email, request)


def _normalized(code: str) -> str:
    return "".join(code.split()).lower()
