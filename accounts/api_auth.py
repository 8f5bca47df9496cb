from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from accounts.actions import hash_secret
from accounts.models import ApiToken


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`; a revoked token or a suspended member is refused on every call."""

    def authenticate_credentials(self, key):
        token = ApiToken.objects.select_related("user", "user__membership__agency").filter(
            key_hash=hash_secret(key)
        ).first()
        if token is None or token.is_revoked or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token."))
        membership = getattr(token.user, "membership", None)
        if membership is not None and not membership.is_active:
            raise exceptions.AuthenticationFailed(_("This account is suspended."))
        ApiToken.objects.filter(pk=token.pk).update(last_used=timezone.now())
        return token.user, token
