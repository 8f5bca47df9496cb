from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

from billing.demo import demo_has_ended

# What a member of an ended demo may still reach: the "demo ended" page, conversion, and leaving, after the
# second factor of the login (accounts.mfa), which comes first.
OPEN_AFTER_DEMO = {"billing:demo_ended", "billing:checkout", "accounts:logout", "set_language",
                   "accounts:mfa_verify", "accounts:mfa_setup"}


class DemoEndedMiddleware:
    """Once a demo has expired, its users see only the "demo ended" page with the way to convert."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        membership = getattr(request, "membership", None)
        if membership is not None and demo_has_ended(membership.agency) and not self._is_open(request.path_info):
            if request.path_info.startswith("/api/"):
                return JsonResponse({"detail": _("This demo has ended.")}, status=403)
            return redirect("billing:demo_ended")
        return self.get_response(request)

    @staticmethod
    def _is_open(path: str) -> bool:
        try:
            return resolve(path).view_name in OPEN_AFTER_DEMO
        except Resolver404:
            return False
