from django.urls import path

from search import views

app_name = "search"

urlpatterns = [
    path("galleries/", views.gallery_list, name="gallery_list"),
    path("galleries/new/", views.gallery_create, name="gallery_create"),
    path("galleries/<uuid:code>/", views.gallery_detail, name="gallery_detail"),
    path("galleries/<uuid:code>/subjects/", views.subject_create, name="subject_create"),
    path("galleries/<uuid:code>/bulk/", views.bulk_upload, name="bulk_upload"),
    path("galleries/<uuid:code>/delete/", views.gallery_delete, name="gallery_delete"),
    path("subjects/<uuid:code>/", views.subject_detail, name="subject_detail"),
    path("subjects/<uuid:code>/images/", views.image_upload, name="image_upload"),
    path("subjects/<uuid:code>/delete/", views.subject_delete, name="subject_delete"),
    path("images/<uuid:code>/status/", views.image_status, name="image_status"),
    path("images/<uuid:code>/file/", views.image_file, name="image_file"),
    path("images/<uuid:code>/pick/", views.image_pick_face, name="image_pick_face"),
    path("images/<uuid:code>/delete/", views.image_delete, name="image_delete"),
    path("batches/<uuid:code>/", views.batch_detail, name="batch_detail"),
    path("searches/", views.search_list, name="search_list"),
    path("searches/new/", views.search_new, name="search_new"),
    path("searches/<uuid:code>/", views.search_detail, name="search_detail"),
    path("searches/<uuid:code>/probe/", views.search_probe, name="search_probe"),
    path("searches/<uuid:code>/export/", views.search_export, name="search_export"),
    path("searches/<uuid:code>/receipt/", views.search_receipt, name="search_receipt"),
    path("searches/<uuid:code>/faces/<int:index>/crop/", views.probe_face_crop, name="probe_face_crop"),
    path("candidates/<uuid:code>/crop/", views.candidate_crop, name="candidate_crop"),
    path("candidates/<uuid:code>/review/", views.candidate_decide, name="candidate_decide"),
]
