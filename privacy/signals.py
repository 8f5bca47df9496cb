"""Login signals: failed passwords count towards the lockout; a login starts the session clocks."""
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from privacy import lockout
from privacy.sessions import start_session_clock


@receiver(user_login_failed)
def count_failed_login(sender, credentials, request=None, **kwargs):
    email = str(credentials.get("username") or credentials.get("email") or "")
    if request is not None and email:
        lockout.record_failure(email, request)


@receiver(user_logged_in)
def start_clocks(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        start_session_clock(request.session)
