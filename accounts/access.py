"""The one place where tenant objects are fetched for a request.

Every helper first scopes the lookup to the current user's agency, so an outsider gets 404
whether or not the object exists, and only then checks the role, so a member whose role is
too low gets 403.
"""
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from accounts.models import ApiToken, Membership, User
from accounts.roles import Capability, role_can
from core.tenancy import tenant_transaction


def load_membership(user: User) -> Membership | None:
    """The user's own membership, readable before their agency is known (row-level security's own_rows)."""
    with tenant_transaction(None, user_id=user.pk):
        return Membership.objects.select_related("agency").filter(user=user).first()


def current_membership(request) -> Membership | None:
    # DRF wraps the Django request, and token-authenticated API calls skip the session middleware.
    django_request = getattr(request, "_request", request)
    cached = getattr(django_request, "membership", None)
    if cached is not None and cached.user_id == request.user.pk:
        return cached
    membership = load_membership(request.user) if request.user.is_authenticated else None
    django_request.membership = membership
    return membership


def require_membership(request) -> Membership:
    membership = current_membership(request)
    if membership is None or not membership.is_active:
        raise Http404("Not a member of an agency")
    return membership


def require_capability(request, capability: Capability) -> Membership:
    membership = require_membership(request)
    if not role_can(membership.role, capability):
        raise PermissionDenied
    return membership


def require_platform_role(request, *roles: str) -> User:
    user = request.user
    if not user.is_authenticated or user.platform_role not in roles:
        raise Http404
    return user


def get_scoped(request, queryset: QuerySet, code: UUID, capability: Capability, agency_field: str = "agency") -> Model:
    """The object with this code in the member's own agency: 404 if there is none, 403 if the role may not."""
    membership = require_membership(request)
    obj = queryset.filter(code=code, **{agency_field: membership.agency}).first()
    if obj is None:
        raise Http404
    if not role_can(membership.role, capability):
        raise PermissionDenied
    return obj


def get_member_for_admin(request, code: UUID) -> Membership:
    return get_scoped(request, Membership.objects.select_related("user", "agency"), code, Capability.MANAGE_PEOPLE)


def get_member_token_for_admin(request, code: UUID) -> ApiToken:
    return get_scoped(request, ApiToken.objects.select_related("user"), code, Capability.MANAGE_PEOPLE,
                      "user__membership__agency")


def get_own_token(request, code: UUID) -> ApiToken:
    token = ApiToken.objects.filter(code=code, user=request.user).first()
    if token is None:
        raise Http404
    return token
