from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import actions
from accounts.access import (
    get_member_for_admin,
    get_member_token_for_admin,
    get_own_token,
    require_capability,
    require_membership,
)
from accounts.forms import AcceptInvitationForm, ApiTokenForm, InviteForm, RoleForm
from accounts.mfa import is_mfa_verified
from accounts.models import ApiToken, Invitation
from accounts.roles import Capability
from core.refusals import Refusal, Refused
from core.web import page_of, posted


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's, plus: the user's API tokens and other sessions end with the old password."""

    def form_valid(self, form):
        response = super().form_valid(form)
        actions.do_password_changed(user=form.user, request=self.request,
                                    keep_session_key=self.request.session.session_key)
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's, plus: a reset ends every session and token of the account (nothing of it is kept)."""

    def form_valid(self, form):
        response = super().form_valid(form)
        actions.do_password_changed(user=form.user, request=self.request)
        return response


@require_GET
def suspended(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/suspended.html", status=403)


@login_required
@require_GET
def team(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.MANAGE_PEOPLE)
    members = membership.agency.memberships.select_related("user").order_by("user__email")
    page = page_of(request, members, 50)
    invitations = Invitation.objects.filter(agency=membership.agency, accepted_at__isnull=True)[:50]
    tokens = ApiToken.objects.filter(user__membership__agency=membership.agency, revoked_at__isnull=True)
    context = {"page": page, "invitations": invitations, "role_form": RoleForm(),
               "tokens": tokens.select_related("user")[:100]}
    return render(request, "accounts/team.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def invite(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.MANAGE_PEOPLE)
    form = InviteForm(posted(request)[0])
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_invite_user(
                agency=membership.agency,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
                request=request,
            )
        except Refusal as error:  # a taken address, or no seat left
            form.add_error("email", str(error))
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]})
            return redirect("accounts:team")
    return render(request, "accounts/invite.html", {"form": form}, status=400 if form.errors else 200)


def _team_action(request: HttpRequest, action, success: str) -> HttpResponse:
    try:
        action()
    except Refused as error:
        messages.error(request, str(error))
    else:
        messages.success(request, success)
    return redirect("accounts:team")


@login_required
@require_POST
def change_role(request: HttpRequest, code) -> HttpResponse:
    member = get_member_for_admin(request, code)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a valid role."))
        return redirect("accounts:team")
    return _team_action(
        request,
        lambda: actions.do_change_role(membership=member, role=form.cleaned_data["role"], actor=request.user,
                                       request=request),
        _("Role of %(email)s changed.") % {"email": member.user.email},
    )


@login_required
@require_POST
def suspend(request: HttpRequest, code) -> HttpResponse:
    member = get_member_for_admin(request, code)
    return _team_action(
        request,
        lambda: actions.do_suspend_user(membership=member, actor=request.user, request=request),
        _("%(email)s is suspended.") % {"email": member.user.email},
    )


@login_required
@require_POST
def reactivate(request: HttpRequest, code) -> HttpResponse:
    member = get_member_for_admin(request, code)
    return _team_action(
        request,
        lambda: actions.do_reactivate_user(membership=member, actor=request.user, request=request),
        _("%(email)s is active again.") % {"email": member.user.email},
    )


@require_http_methods(["GET", "POST"])
def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    invitation = actions.find_usable_invitation(token)
    if invitation is None:
        return render(request, "accounts/invitation_invalid.html", status=404)
    form = AcceptInvitationForm(posted(request)[0], email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = actions.do_accept_invitation(
                invitation=invitation,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
                request=request,
            )
        except Refused as error:
            form.add_error(None, str(error))
        else:
            login(request, user, backend="accounts.backends.EmailBackend")
            messages.success(request, _("Welcome to %(agency)s.") % {"agency": invitation.agency.name})
            return redirect("home")
    status = 400 if form.errors else 200
    return render(request, "accounts/accept_invitation.html", {"form": form, "invitation": invitation}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    if not is_mfa_verified(request):  # a token outlives the session: only a user who passed MFA may create one
        raise PermissionDenied
    form = ApiTokenForm(posted(request)[0])
    new_key = None
    if request.method == "POST" and form.is_valid():
        _token, new_key = actions.do_create_api_token(user=request.user, name=form.cleaned_data["name"], request=request)
        form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user)
    context = {"form": form, "tokens": tokens, "new_key": new_key}
    return render(request, "accounts/api_tokens.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def revoke_member_token(request: HttpRequest, code) -> HttpResponse:
    token = get_member_token_for_admin(request, code)
    actions.do_revoke_api_token(token=token, actor=request.user, request=request)
    messages.success(request, _("Token %(name)s of %(email)s revoked.") % {"name": token.name, "email": token.user.email})
    return redirect("accounts:team")


@login_required
@require_http_methods(["GET", "POST"])
def conduct(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    if request.method == "POST":
        if request.POST.get("accept") != "yes":
            messages.error(request, _("Tick the box to accept the code of conduct."))
        else:
            actions.do_accept_conduct(membership=membership, request=request)
            messages.success(request, _("Thank you. You accepted version %(version)s of the code of conduct.")
                             % {"version": membership.agency.code_of_conduct_version})
            return redirect(next_url or "home")
    context = {"agency": membership.agency, "accepted": actions.has_accepted_current_conduct(membership),
               "next": next_url}
    return render(request, "accounts/conduct.html", context)


@login_required
@require_POST
def revoke_api_token(request: HttpRequest, code) -> HttpResponse:
    token = get_own_token(request, code)
    actions.do_revoke_api_token(token=token, actor=request.user, request=request)
    messages.success(request, _("Token %(name)s revoked.") % {"name": token.name})
    return redirect("accounts:api_tokens")
