from django.contrib.auth.backends import ModelBackend

from accounts.lockout import locked_until


class EmailBackend(ModelBackend):
    """Log in by e-mail address, case-insensitively."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        email = kwargs.get("email", username)
        if email is None or password is None:
            return None
        if request is not None and locked_until(email, request) is not None:
            return None  # locked out: even the right password is refused (see accounts.lockout)
        return super().authenticate(request, username=email.strip().lower(), password=password)
