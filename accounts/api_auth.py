from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from accounts.access import load_membership
from accounts.actions import hash_secret
from accounts.models import ApiToken
from core.tenancy import enter_agency


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`; a revoked token or a suspended member is refused on every call."""

    def authenticate_credentials(self, key):
        token = ApiToken.objects.select_related("user").filter(
            key_hash=hash_secret(key)
        ).first()
        if token is None or token.is_revoked or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token."))
        membership = load_membership(token.user)
        if membership is not None and not membership.is_active:
            raise exceptions.AuthenticationFailed(_("This account is suspended."))
        if membership is not None:
            # The request's transaction (accounts.middleware) began before the token was read.
            enter_agency(membership.agency_id, user_id=token.user.pk)
        ApiToken.objects.filter(pk=token.pk).update(last_used=timezone.now())
        return token.user, token
