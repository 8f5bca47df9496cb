from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from accounts import mfa_views, platform_views, views
from accounts.forms import EmailLoginForm

app_name = "accounts"

urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="accounts/login.html", authentication_form=EmailLoginForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/change/",
        views.PasswordChangeView.as_view(
            template_name="accounts/password_change.html", success_url=reverse_lazy("accounts:password_change_done")
        ),
        name="password_change",
    ),
    path(
        "accounts/password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="accounts/password_change_done.html"),
        name="password_change_done",
    ),
    path(
        "accounts/password/reset/",
        auth_views.PasswordResetView.as_view(
            template_name="accounts/password_reset.html",
            email_template_name="accounts/email/password_reset.txt",
            success_url=reverse_lazy("accounts:password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html",
            success_url=reverse_lazy("accounts:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("accounts/suspended/", views.suspended, name="suspended"),
    path("accounts/invitation/<str:token>/", views.accept_invitation, name="accept_invitation"),
    path("accounts/team/", views.team, name="team"),
    path("accounts/team/invite/", views.invite, name="invite"),
    path("accounts/team/<uuid:code>/role/", views.change_role, name="change_role"),
    path("accounts/team/<uuid:code>/suspend/", views.suspend, name="suspend"),
    path("accounts/team/<uuid:code>/reactivate/", views.reactivate, name="reactivate"),
    path("accounts/team/tokens/<uuid:code>/revoke/", views.revoke_member_token, name="revoke_member_token"),
    path("accounts/conduct/", views.conduct, name="conduct"),
    path("accounts/tokens/", views.api_tokens, name="api_tokens"),
    path("accounts/tokens/<uuid:code>/revoke/", views.revoke_api_token, name="revoke_api_token"),
    # Second factor and account security
    path("security/", mfa_views.security, name="security"),
    path("security/verify/", mfa_views.mfa_verify, name="mfa_verify"),
    path("security/setup/", mfa_views.mfa_setup, name="mfa_setup"),
    path("security/recovery-codes/", mfa_views.recovery_codes_regenerate, name="recovery_codes_regenerate"),
    path("security/authenticator/replace/", mfa_views.authenticator_replace, name="authenticator_replace"),
    # Platform operators: onboarding
    path("platform/policy/", platform_views.tenant_policy, name="tenant_policy"),
    path("platform/agencies/new/", platform_views.agency_create, name="agency_create"),
    path("platform/users/", platform_views.platform_users, name="platform_users"),
    path("platform/users/<uuid:code>/reset-second-factor/", platform_views.reset_second_factor,
         name="reset_second_factor"),
]
