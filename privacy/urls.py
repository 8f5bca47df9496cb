from django.urls import path

from privacy import agency_views, views

app_name = "privacy"

urlpatterns = [
    # Anyone, no login
    path("opt-out/", views.erasure_request, name="erasure_request"),
    path("opt-out/sent/", views.erasure_sent, name="erasure_sent"),
    # Platform operators
    path("platform/erasure/", views.erasure_queue, name="erasure_queue"),
    path("platform/erasure/<uuid:code>/", views.erasure_detail, name="erasure_detail"),
    path("platform/erasure/<uuid:code>/photo/", views.erasure_photo, name="erasure_photo"),
    path("platform/erasure/<uuid:code>/approve/", views.erasure_approve, name="erasure_approve"),
    path("platform/erasure/<uuid:code>/reject/", views.erasure_reject, name="erasure_reject"),
    # Agency admins
    path("images/<uuid:code>/reviewed/", agency_views.image_reviewed, name="image_reviewed"),
    path("retention/", agency_views.retention_settings, name="retention_settings"),
    path("retention/review/", agency_views.review_due, name="review_due"),
]
