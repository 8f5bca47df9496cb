from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse

from accounts.access import load_membership


class AccountStateMiddleware:
    """Checks the membership on every request, so a suspension cuts off every open session at once."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = None
        if request.user.is_authenticated:
            membership = load_membership(request.user)
            request.membership = membership
            if membership is not None and not membership.is_active:
                logout(request)
                return redirect(reverse("accounts:suspended"))
        return self.get_response(request)
