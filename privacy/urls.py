from django.urls import path

from privacy import agency_views, mfa_views, views

app_name = "privacy"

urlpatterns = [
    # Anyone, no login
    path("opt-out/", views.erasure_request, name="erasure_request"),
    path("opt-out/sent/", views.erasure_sent, name="erasure_sent"),
    # Second factor and account security
    path("security/", mfa_views.security, name="security"),
    path("security/verify/", mfa_views.mfa_verify, name="mfa_verify"),
    path("security/setup/", mfa_views.mfa_setup, name="mfa_setup"),
    path("security/recovery-codes/", mfa_views.recovery_codes_regenerate, name="recovery_codes_regenerate"),
    path("security/authenticator/replace/", mfa_views.authenticator_replace, name="authenticator_replace"),
    # Platform operators
    path("platform/erasure/", views.erasure_queue, name="erasure_queue"),
    path("platform/erasure/<str:code>/", views.erasure_detail, name="erasure_detail"),
    path("platform/erasure/<str:code>/photo/", views.erasure_photo, name="erasure_photo"),
    path("platform/erasure/<str:code>/approve/", views.erasure_approve, name="erasure_approve"),
    path("platform/erasure/<str:code>/reject/", views.erasure_reject, name="erasure_reject"),
    path("platform/policy/", views.tenant_policy, name="tenant_policy"),
    path("platform/agencies/new/", views.agency_create, name="agency_create"),
    # Agency admins
    path("galleries/<str:code>/delete/", agency_views.gallery_delete, name="gallery_delete"),
    path("subjects/<str:code>/delete/", agency_views.subject_delete, name="subject_delete"),
    path("images/<str:code>/delete/", agency_views.image_delete, name="image_delete"),
    path("images/<str:code>/reviewed/", agency_views.image_reviewed, name="image_reviewed"),
    path("retention/", agency_views.retention_settings, name="retention_settings"),
    path("retention/review/", agency_views.review_due, name="review_due"),
]
