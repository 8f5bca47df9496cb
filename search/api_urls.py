from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from search import api

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    path("galleries/", api.galleries, name="api_galleries"),
    path("galleries/<uuid:code>/images/", api.gallery_images, name="api_gallery_images"),
    path("images/<uuid:code>/", api.image_detail, name="api_image_detail"),
    path("searches/", api.searches, name="api_searches"),
    path("searches/<uuid:code>/", api.search_detail, name="api_search_detail"),
]
