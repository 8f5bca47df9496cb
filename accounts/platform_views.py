"""The platform operators' pages: onboarding (the tenant policy and the creation of an agency), and the people of
the platform, whose lost second factor an operator resets."""
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.db.models import Exists, OuterRef
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.access import require_platform_role
from accounts.forms import AgencyForm, TenantPolicyForm
from accounts.mfa import do_reset_second_factor
from accounts.models import Membership, TenantPolicy, User
from accounts.onboarding import do_create_agency, do_update_tenant_policy
from core.refusals import Refused
from core.tenancy import CrossAgency, cross_agency
from core.web import page_of, posted


def _operator(request: HttpRequest) -> User:
    return require_platform_role(request, User.PlatformRole.OPERATOR)


@login_required
@require_POST
def reset_second_factor(request: HttpRequest, code) -> HttpResponse:
    """A person who lost their authenticator and recovery codes: the operator clears the factor (audited) and the
    person enrolls a new one at their next login."""
    operator = _operator(request)
    user = get_object_or_404(User, code=code)
    if user.pk == operator.pk:
        raise Refused(_("Reset your own authenticator from your security page."))
    do_reset_second_factor(user=user, actor=operator, request=request)
    messages.success(request, _("The second factor of %(email)s was reset.") % {"email": user.email})
    return redirect("accounts:platform_users")


@login_required
@require_GET
def platform_users(request: HttpRequest) -> HttpResponse:
    """Everyone with an account, found by e-mail address: their agency, whether they have an authenticator, and
    the reset of a lost one. Who people are, never what they searched."""
    operator = _operator(request)
    query = request.GET.get("q", "").strip()
    users = User.objects.annotate(
        has_authenticator=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True))
    ).order_by("email")
    if query:
        users = users.filter(email__icontains=query)
    page = page_of(request, users)
    with cross_agency(CrossAgency.PLATFORM_STAFF):
        agencies = {membership.user_id: membership.agency.name for membership in
                    Membership.objects.filter(user__in=page.object_list).select_related("agency")}
    rows = [(user, agencies.get(user.pk)) for user in page.object_list]
    return render(request, "accounts/platform_users.html", {
        "page": page, "rows": rows, "q": query, "query": urlencode({"q": query}) if query else "",
        "operator": operator,
    })


@login_required
@require_http_methods(["GET", "POST"])
def tenant_policy(request: HttpRequest) -> HttpResponse:
    _operator(request)
    policy = TenantPolicy.current()
    initial = {"countries": ", ".join(policy.allowed_countries), "kinds": policy.allowed_kinds}
    form = TenantPolicyForm(posted(request)[0], initial=initial)
    if request.method == "POST" and form.is_valid():
        do_update_tenant_policy(countries=form.cleaned_data["countries"], kinds=form.cleaned_data["kinds"],
                                actor=request.user, request=request)
        messages.success(request, _("Tenant policy saved."))
        return redirect("accounts:tenant_policy")
    return render(request, "accounts/tenant_policy.html", {"form": form, "policy": policy},
                  status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def agency_create(request: HttpRequest) -> HttpResponse:
    _operator(request)
    form = AgencyForm(posted(request)[0])
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            agency = do_create_agency(name=data["name"], kind=data["kind"], country=data["country"],
                                      approval_reason=data["approval_reason"], admin_email=data["admin_email"],
                                      actor=request.user, request=request)
        except Refused as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Agency %(name)s created.") % {"name": agency.name})
            return redirect("platform_home")
    return render(request, "accounts/agency_form.html", {"form": form, "policy": TenantPolicy.current()},
                  status=400 if form.errors else 200)
