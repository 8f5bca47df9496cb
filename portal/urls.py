from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("platform/", views.platform_home, name="platform_home"),
    path(".well-known/audit-public-key", views.audit_public_key, name="audit_public_key"),
    path("", include("accounts.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("", include("search.urls")),
    path("", include("oversight.urls")),
    path("", include("privacy.urls")),
    path("", include("billing.urls")),
    path("api/v1/", include("search.api_urls")),
    path("admin/", admin.site.urls),
]
