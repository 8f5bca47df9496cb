"""Session limits: a session ends after SESSION_IDLE_TIMEOUT without activity and, whatever the
activity, SESSION_ABSOLUTE_TIMEOUT after the login. Background polling (htmx GETs that refresh a
result) is not activity, so a page left open still locks."""
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.utils.translation import gettext as _

from accounts.access import load_membership
from audit.log import record_event

STARTED_KEY = "session_started_at"
LAST_ACTIVITY_KEY = "session_last_activity_at"


def start_session_clock(session) -> None:
    now = time.time()
    session[STARTED_KEY] = now
    session[LAST_ACTIVITY_KEY] = now


def expiry_reason(session, now: float) -> str:
    if now - session.get(STARTED_KEY, now) > settings.SESSION_ABSOLUTE_TIMEOUT:
        return "absolute"
    if now - session.get(LAST_ACTIVITY_KEY, now) > settings.SESSION_IDLE_TIMEOUT:
        return "idle"
    return ""


def is_background_poll(request) -> bool:
    return request.method == "GET" and bool(getattr(request, "htmx", False) or request.headers.get("HX-Request"))


class SessionTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            self.check(request)
        return self.get_response(request)

    def check(self, request) -> None:
        now = time.time()
        session = request.session
        reason = expiry_reason(session, now)
        if reason:
            user = request.user
            membership = load_membership(user)
            record_event("session.expired", agency=membership.agency if membership else None, actor=user,
                         request=request, target=user.code, details={"reason": reason})
            logout(request)
            if reason == "absolute":
                messages.info(request, _("Your session has expired. Please log in again."))
            else:
                messages.info(request, _("You were logged out after %(minutes)s minutes without activity.")
                              % {"minutes": settings.SESSION_IDLE_TIMEOUT // 60})
            return
        if STARTED_KEY not in session:
            start_session_clock(session)
        elif not is_background_poll(request):
            session[LAST_ACTIVITY_KEY] = now
