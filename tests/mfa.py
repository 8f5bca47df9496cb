"""Passing the second factor in tests, the same way a person does: with a TOTP device whose key the
test knows. Nothing in the portal skips MFA; these helpers only create real django-otp devices.

- `client_for` (conftest) logs a Django test client in and marks its session verified with the
  user's real device, as django_otp.login does after a correct code.
- A browser test (Playwright) that logs in through the form enrolls a device with a known key first,
  then types the code of the moment:

      device = enroll_totp(user)              # or enroll_totp(user, key=...)
      page.fill("#id_username", email); page.fill("#id_password", password); page.click("button[type=submit]")
      page.fill("#id_code", totp_code(device))  # on /security/verify/
      page.click("form button[type=submit]")

  Each code is accepted once (django-otp refuses a time step it has already seen), so a second
  login in the same 30-second step needs `totp_code(device, step_offset=1)` or a time jump.
"""
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User

KNOWN_TOTP_KEY = "3132333435363738393031323334353637383930"  # hex of b"12345678901234567890" (RFC 6238)


def enroll_totp(user: User, key: str = KNOWN_TOTP_KEY) -> TOTPDevice:
    TOTPDevice.objects.filter(user=user).delete()
    return TOTPDevice.objects.create(user=user, name="Authenticator app", key=key, confirmed=True)


def totp_code(device: TOTPDevice, step_offset: int = 0) -> str:
    """The code the user's app shows now (or `step_offset` steps of 30 s later)."""
    t0 = device.t0 - step_offset * device.step
    code = totp(device.bin_key, step=device.step, t0=t0, digits=device.digits, drift=0)
    return str(code).zfill(device.digits)


def mark_mfa_verified(client, user: User) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or enroll_totp(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device
