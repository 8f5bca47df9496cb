from django.urls import path

from oversight import views

app_name = "oversight"

urlpatterns = [
    path("audit/", views.audit_dashboard, name="audit_dashboard"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
    path("audit/events/", views.audit_events, name="audit_events"),
    path("audit/verify/", views.audit_verify, name="audit_verify"),
    path("audit/settings/", views.oversight_settings, name="oversight_settings"),
    path("audit/searches/<uuid:code>/", views.search_panel, name="search_panel"),
    path("audit/searches/<uuid:code>/disclosure.pdf", views.disclosure_search, name="disclosure_search"),
    path("audit/disclosure/case.pdf", views.disclosure_case, name="disclosure_case"),
    path("audit/transparency/", views.transparency, name="transparency"),
    path("audit/transparency.csv", views.transparency_csv, name="transparency_csv"),
    path("transparency/<uuid:code>/", views.transparency_public, name="transparency_public"),
]
