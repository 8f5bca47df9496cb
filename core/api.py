"""Refusals in the REST API: the same statuses and messages as on the web (see core.refusals)."""
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import JsonResponse
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.refusals import Refusal, api_body


def api_exception_handler(exc, context):
    """REST framework's handler, plus refusals as 400/403 with their message."""
    if isinstance(exc, Refusal):
        return Response(api_body(exc), status=exc.status)
    return exception_handler(exc, context)


class Pages(PageNumberPagination):
    """REST framework's page numbers, except that a page parameter that is no page number (`?page=`, `?page=last`)
    is refused like any other bad page (404), not read as the first or the last page: the schema says integer."""

    last_page_strings = ()

    def get_page_number(self, request, paginator):
        return request.query_params.get(self.page_query_param, 1)


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



# The errors every operation can answer, documented once for all of them (drf-spectacular's postprocessing hook
# below): the bodies are those of REST framework's exception handler, core.refusals.api_body, the middleware above
# and core.outage, so a client reads every error the same way and the schema never lags behind a new endpoint.
DETAIL_SCHEMA = {
    "type": "object",
    "description": "An error with one message for the whole request.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
MESSAGES = {"type": "array", "items": {"type": "string"}}
VALIDATION_SCHEMA = {
    "type": "object",
    "description": "Refused input: the messages of each field at fault (by index for a list's items, and under "
                   "`non_field_errors` for the request as a whole), or one `detail` for the whole request "
                   "(a body that cannot be parsed, too many fields).",
    "additionalProperties": {
        "anyOf": [MESSAGES, {"type": "string"}, {"type": "object", "additionalProperties": MESSAGES}],
    },
}


def _error(description: str, name: str) -> dict:
    schema = {"$ref": f"#/components/schemas/{name}"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document_errors(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: every operation's error answers, with their JSON bodies. 404 is
    documented where a code or a page is named (an unknown or another agency's object, a page past the end), 413
    and 415 where a body is sent (too large, not one of the offered media types)."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(
        ApiError=DETAIL_SCHEMA, ValidationError=VALIDATION_SCHEMA)
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            errors = {
                "400": _error("Refused input.", "ValidationError"),
                "401": _error("No credentials, or a revoked token or suspended account.", "ApiError"),
                "403": _error("The role, the licence or a rule of the agency forbids it.", "ApiError"),
                "503": _error("The portal is briefly unavailable (Retry-After says when to come back).", "ApiError"),
            }
            if operation.get("parameters"):
                errors["404"] = _error("No such object in your agency, or no such page.", "ApiError")
            if "requestBody" in operation:
                errors["413"] = _error("The request body is too large.", "ApiError")
                errors["415"] = _error("The body is not of an offered media type.", "ApiError")
            for status, response in errors.items():
                responses.setdefault(status, response)
    return result
