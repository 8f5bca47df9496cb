"""The licence's say over the REST API."""
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from accounts.access import current_membership
from billing.demo import demo_has_ended


class DemoNotEnded(BasePermission):
    """An ended demo's tokens answer 403 on every endpoint (its web sessions see the "demo ended" page)."""

    message = _("This demo has ended.")

    def has_permission(self, request, view) -> bool:
        membership = current_membership(request)
        return membership is None or not demo_has_ended(membership.agency)
