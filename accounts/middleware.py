import structlog
from django.contrib.auth import logout
from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse

from accounts.access import load_membership
from core.outage import OUTAGE_ERRORS, outage_response
from core.tenancy import enter_agency, tenant_transaction
from core.web import client_ip


class TenantMiddleware:
    """Each request runs in one transaction that sees only the signed-in member's agency: PostgreSQL's
    row-level security hides every other agency's rows, whatever a view forgets to filter. The setting is
    local to that transaction, so the next request on the same connection starts with none.

    The membership is checked on every request, so a suspension cuts off every open session at once. A view
    that raises rolls back everything the request wrote."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.respond_in_tenant_transaction(request)
        except OUTAGE_ERRORS as error:  # the database went away at the start or the end of the request
            return outage_response(request, error)

    def respond_in_tenant_transaction(self, request):
        user_id = request.user.pk if request.user.is_authenticated else None
        with tenant_transaction(None, user_id=user_id):
            membership = load_membership(request.user) if user_id else None
            request.membership = membership
            # The request's log lines (and its jobs', through django-structlog) name the client and the agency.
            structlog.contextvars.bind_contextvars(
                ip=client_ip(request), agency=str(membership.agency.code) if membership else None)
            if membership is not None and not membership.is_active:
                logout(request)
                return redirect(reverse("accounts:suspended"))
            if membership is not None:
                enter_agency(membership.agency_id, user_id=user_id)
            response = self.get_response(request)
            if getattr(request, "view_raised", False):
                transaction.set_rollback(True)  # after the error page was rendered, which may read
            return response

    def process_exception(self, request, exception):
        """A view that raised keeps nothing it wrote; a response it chose (even a 500) keeps it all."""
        request.view_raised = True
