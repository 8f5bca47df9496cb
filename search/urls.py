from django.urls import path

from search import oversight_views, views

app_name = "search"

urlpatterns = [
    path("galleries/", views.gallery_list, name="gallery_list"),
    path("galleries/new/", views.gallery_create, name="gallery_create"),
    path("galleries/<str:code>/", views.gallery_detail, name="gallery_detail"),
    path("galleries/<str:code>/subjects/", views.subject_create, name="subject_create"),
    path("galleries/<str:code>/bulk/", views.bulk_upload, name="bulk_upload"),
    path("subjects/<str:code>/", views.subject_detail, name="subject_detail"),
    path("subjects/<str:code>/images/", views.image_upload, name="image_upload"),
    path("images/<str:code>/status/", views.image_status, name="image_status"),
    path("images/<str:code>/file/", views.image_file, name="image_file"),
    path("images/<str:code>/pick/", views.image_pick_face, name="image_pick_face"),
    path("batches/<str:code>/", views.batch_detail, name="batch_detail"),
    path("searches/", views.search_list, name="search_list"),
    path("searches/new/", views.search_new, name="search_new"),
    path("searches/<str:code>/", views.search_detail, name="search_detail"),
    path("searches/<str:code>/probe/", views.search_probe, name="search_probe"),
    path("searches/<str:code>/export/", views.search_export, name="search_export"),
    path("candidates/<str:code>/crop/", views.candidate_crop, name="candidate_crop"),
    path("candidates/<str:code>/review/", views.candidate_decide, name="candidate_decide"),
    path("audit/", oversight_views.audit_dashboard, name="audit_dashboard"),
    path("audit/export.csv", oversight_views.audit_export, name="audit_export"),
    path("audit/events/", oversight_views.audit_events, name="audit_events"),
    path("audit/verify/", oversight_views.audit_verify, name="audit_verify"),
    path("audit/settings/", oversight_views.oversight_settings, name="oversight_settings"),
]
