"""One kind of refusal for the whole portal, and the one place that turns it into a response.

Actions raise a Refusal carrying a message for the user: a Refused (400, the input cannot be used) or a
NotAllowed (403, the licence, the role or a rule forbids it). Views that can show a Refused next to a form
catch it; anything they leave uncaught, NotAllowed included, is answered here (and by core.api for the
REST API), the same way for the web and for the API, so the two cannot disagree."""
from contextlib import contextmanager

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


class Refusal(Exception):
    """A request turned down with a message for the user; `field` names the input at fault, if one is."""

    status = 400

    def __init__(self, message, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


class Refused(Refusal):
    """The input cannot be used: bad, duplicate or in conflict with what exists."""


class NotAllowed(Refusal, PermissionDenied):
    """Refused because of who asks or what the agency's licence allows."""

    status = 403


def violates(error: IntegrityError, constraint: str) -> bool:
    """Whether the database refused the write because of this constraint (PostgreSQL names it)."""
    return getattr(getattr(error.__cause__, "diag", None), "constraint_name", None) == constraint


@contextmanager
def refused_on_conflict(constraint: str, refusal: Refusal):
    """A check-then-insert that lost its race to a concurrent request (both checked, the other inserted first)
    gets the refusal the check gives when the requests come one after the other, not a server error. Wrap a
    transaction or savepoint in it, so that the caller's transaction is still usable once it is refused."""
    try:
        yield
    except IntegrityError as error:
        if not violates(error, constraint):
            raise
        raise refusal from None


def api_body(refusal: Refusal) -> dict:
    if refusal.field:
        return {refusal.field: [str(refusal)]}
    return {"detail": str(refusal)}


class RefusalMiddleware:
    """Renders a refusal a view did not catch as a page with its message and status."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, Refusal):
            return None
        return render(request, "refused.html", {"exception": exception}, status=exception.status)
