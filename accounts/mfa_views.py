"""The second step of every login, enrollment of the authenticator, and the user's security page."""
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import lockout, mfa
from accounts.forms import OtpCodeForm, PasswordConfirmForm
from core.web import posted


@never_cache
@require_http_methods(["GET", "POST"])
def mfa_verify(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(mfa.safe_next(request))
    next_url = mfa.safe_next(request)
    if mfa.is_mfa_verified(request):
        return redirect(next_url)
    if mfa.confirmed_totp(request.user) is None:
        return redirect(mfa.with_next("accounts:mfa_setup", next_url))
    form = OtpCodeForm(posted(request)[0])
    if request.method == "POST" and form.is_valid():
        email = request.user.email
        if mfa.do_verify_second_factor(request=request, code=form.cleaned_data["code"]):
            return redirect(next_url)
        if not request.user.is_authenticated:  # that failure locked the address out
            messages.error(request, lockout.lockout_message(email, request))
            return redirect("accounts:login")
        form.add_error("code", _("This code is not valid. Use the current code of your app, or a recovery code."))
    return render(request, "accounts/mfa_verify.html", {"form": form, "next": next_url},
                  status=400 if form.errors else 200)


@never_cache
@require_http_methods(["GET", "POST"])
def mfa_setup(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(mfa.safe_next(request))
    next_url = mfa.safe_next(request)
    if mfa.confirmed_totp(request.user) is not None:
        return redirect(next_url if mfa.is_mfa_verified(request) else mfa.with_next("accounts:mfa_verify", next_url))
    device = mfa.pending_totp(request.user)
    form = OtpCodeForm(posted(request)[0])
    if request.method == "POST" and form.is_valid():
        codes = mfa.do_confirm_enrollment(request=request, device=device, code=form.cleaned_data["code"])
        if codes is not None:
            return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": next_url})
        form.add_error("code", _("This code is not valid. Check your phone's clock and try the current code."))
    context = {"form": form, "next": next_url, "qr_code": mfa.qr_code_data_uri(device.config_url),
               "secret": mfa.totp_secret(device)}
    return render(request, "accounts/mfa_setup.html", context, status=400 if form.errors else 200)


def _security_page(request: HttpRequest, form: PasswordConfirmForm, status: int = 200) -> HttpResponse:
    context = {"device": mfa.confirmed_totp(request.user),
               "recovery_codes_left": mfa.remaining_recovery_codes(request.user), "form": form}
    return render(request, "accounts/security.html", context, status=status)


def _refused_password(request: HttpRequest) -> HttpResponse | None:
    """None if the posted password is right; else the answer: the page with the error or, once the failures
    locked the address out (the login's lockout), the login page with the session ended."""
    form = PasswordConfirmForm(request.POST, user=request.user, request=request)
    if form.is_valid():
        return None
    if form.locked_out:
        email = request.user.email
        logout(request)
        messages.error(request, lockout.lockout_message(email, request))
        return redirect("accounts:login")
    return _security_page(request, form, status=400)


@login_required
@require_GET
def security(request: HttpRequest) -> HttpResponse:
    return _security_page(request, PasswordConfirmForm(user=request.user, request=request))


@login_required
@require_POST
def recovery_codes_regenerate(request: HttpRequest) -> HttpResponse:
    refused = _refused_password(request)
    if refused is not None:
        return refused
    codes = mfa.do_regenerate_recovery_codes(request=request)
    return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": ""})


@login_required
@require_POST
def authenticator_replace(request: HttpRequest) -> HttpResponse:
    refused = _refused_password(request)
    if refused is not None:
        return refused
    mfa.do_replace_authenticator(request=request)
    messages.info(request, _("Your authenticator app was removed. Enroll the new one now."))
    return redirect("accounts:mfa_setup")
