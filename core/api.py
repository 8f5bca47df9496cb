"""Refusals in the REST API: the same statuses and messages as on the web (see core.refusals)."""
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.refusals import Refusal, api_body


def api_exception_handler(exc, context):
    """REST framework's handler, plus refusals as 400/403 with their message."""
    if isinstance(exc, Refusal):
        return Response(api_body(exc), status=exc.status)
    return exception_handler(exc, context)
