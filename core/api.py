"""Refusals in the REST API: the same statuses and messages as on the web (see core.refusals)."""
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import JsonResponse
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.refusals import Refusal, api_body


def api_exception_handler(exc, context):
    """REST framework's handler, plus refusals as 400/403 with their message."""
    if isinstance(exc, Refusal):
        return Response(api_body(exc), status=exc.status)
    return exception_handler(exc, context)


API_PREFIX = "/api/"
# What Django itself refuses before or while a view reads the body, and the status an API client should see.
REQUEST_REFUSALS = (
    (RequestDataTooBig, 413, "The request body is too large."),
    (TooManyFieldsSent, 400, "The request has too many fields."),
    (SuspiciousOperation, 400, "The request was refused as malformed."),
)


def api_error(exception: Exception) -> JsonResponse | None:
    for kind, status, message in REQUEST_REFUSALS:
        if isinstance(exception, kind):
            return JsonResponse({"detail": message}, status=status)
    return None


class ApiErrorsMiddleware:
    """Every answer under /api/ is JSON: an oversized body, too many fields or a bad file name (refused by Django,
    not by REST framework) become JSON 413/400 instead of Django's HTML page (with its debug trace in
    development), and any other non-JSON error (an unknown URL, a crash) becomes its status with a JSON detail."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        return JsonResponse({"detail": response.reason_phrase}, status=response.status_code)

    def process_exception(self, request, exception):
        if request.path.startswith(API_PREFIX):
            return api_error(exception)
        return None

