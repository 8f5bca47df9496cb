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


def load_membership(user: User) -> Membership | None:
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


def _get_scoped(request, queryset: QuerySet, code, capability: Capability, agency_field: str) -> Model:
    membership = require_membership(request)
    try:
        code = UUID(str(code))
    except ValueError:
        raise Http404 from None
    obj = queryset.filter(code=code, **{agency_field: membership.agency}).first()
    if obj is None:
        raise Http404
    if not role_can(membership.role, capability):
        raise PermissionDenied
    return obj


def get_member_for_admin(request, code) -> Membership:
    return _get_scoped(
        request, Membership.objects.select_related("user", "agency"), code, Capability.MANAGE_PEOPLE, "agency"
    )


def get_gallery_for_user(request, code, capability: Capability = Capability.VIEW_GALLERIES):
    from search.models import Gallery

    return _get_scoped(request, Gallery.objects.all(), code, capability, "agency")


def get_subject_for_user(request, code, capability: Capability = Capability.VIEW_GALLERIES):
    from search.models import Subject

    return _get_scoped(request, Subject.objects.select_related("gallery"), code, capability, "gallery__agency")


def get_image_for_user(request, code, capability: Capability = Capability.VIEW_GALLERIES):
    from search.models import GalleryImage

    queryset = GalleryImage.objects.select_related("subject", "gallery")
    return _get_scoped(request, queryset, code, capability, "agency")


def get_batch_for_user(request, code, capability: Capability = Capability.ENROLL):
    from search.models import EnrollmentBatch

    return _get_scoped(request, EnrollmentBatch.objects.select_related("gallery"), code, capability, "agency")


def get_search_for_user(request, code, capability: Capability = Capability.VIEW_SEARCHES):
    from search.models import Search

    return _get_scoped(request, Search.objects.select_related("created_by"), code, capability, "agency")


def get_candidate_for_user(request, code, capability: Capability = Capability.VIEW_SEARCHES):
    from search.models import Candidate

    queryset = Candidate.objects.select_related("search_face__search")
    return _get_scoped(request, queryset, code, capability, "search_face__search__agency")


def get_member_token_for_admin(request, code) -> ApiToken:
    return _get_scoped(request, ApiToken.objects.select_related("user"), code, Capability.MANAGE_PEOPLE,
                       "user__membership__agency")


def get_own_token(request, code) -> ApiToken:
    try:
        code = UUID(str(code))
    except ValueError:
        raise Http404 from None
    token = ApiToken.objects.filter(code=code, user=request.user).first()
    if token is None:
        raise Http404
    return token
