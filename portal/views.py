from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.access import current_membership, require_platform_role
from accounts.models import Agency, User
from accounts.roles import Capability, role_can
from audit.heads import public_key_pem
from core.tenancy import CrossAgency, cross_agency
from search.models import Search, with_face_found
from search.scope import searchable_galleries, searchable_photo_count


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_platform_staff:
        return redirect("platform_home")
    membership = current_membership(request)
    if membership is None:
        return render(request, "portal/no_agency.html", status=403)
    agency = membership.agency
    searches = Search.objects.filter(agency=agency)
    if not role_can(membership.role, Capability.AUDIT):
        searches = searches.filter(created_by=request.user)
    galleries = searchable_galleries(agency)  # a demo's searches run on the built-in demo gallery
    context = {
        "gallery_count": len(galleries),
        "photo_count": searchable_photo_count(agency),
        "recent_searches": with_face_found(searches.select_related("created_by"))[:10],
        "searches_30_days": searches.filter(created__gte=timezone.now() - timedelta(days=30)).count(),
        "member_count": agency.memberships.count(),
    }
    return render(request, "portal/dashboard.html", context)


@login_required
@require_GET
def platform_home(request: HttpRequest) -> HttpResponse:
    require_platform_role(request, User.PlatformRole.OPERATOR, User.PlatformRole.SALES)
    agencies = Agency.objects.exclude(kind=Agency.Kind.DEMO).order_by("name")
    # The demo gallery's owner is a demo-kind agency too, but nobody's demo: only real demos are listed.
    with cross_agency(CrossAgency.PLATFORM_STAFF):
        demos = list(Agency.objects.filter(kind=Agency.Kind.DEMO, demo__isnull=False).order_by("name"))
    return render(request, "portal/platform_home.html", {"agencies": agencies, "demos": demos})


@require_GET
def audit_public_key(request: HttpRequest) -> HttpResponse:
    """The key that signs every audit log's tree heads: anyone may check a head or a receipt with it."""
    return HttpResponse(public_key_pem(), content_type="text/plain; charset=utf-8")
