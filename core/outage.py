"""A database or a broker that cannot be reached is an outage, not a bug: the client is told to come back
(503 with Retry-After: JSON for the API, a plain page for people), never shown a server error.

The page is rendered without the request's context processors, which would ask the database again."""
import logging

import kombu.exceptions
import redis.exceptions
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

OUTAGE_ERRORS = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
)
RETRY_AFTER_SECONDS = 30


def outage_response(request: HttpRequest, error: Exception) -> HttpResponse:
    logger.warning("Service unavailable for %s %s: %s: %s", request.method, request.path,
                   error.__class__.__name__, error)
    message = _("The portal is briefly unavailable. Nothing was lost; please try again in a minute.")
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=503)
    else:
        response = HttpResponse(render_to_string("unavailable.html", {"message": message}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class OutageMiddleware:
    """Answers a view's outage error; accounts.middleware.TenantMiddleware answers its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OUTAGE_ERRORS):
            return outage_response(request, exception)
        return None
