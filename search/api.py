"""REST API v1. The same access helpers and actions as the web views: outsiders get 404."""
from django.db.models import Prefetch, prefetch_related_objects
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from accounts.access import require_capability
from accounts.actions import has_accepted_current_conduct
from accounts.roles import Capability
from core.refusals import Refused
from search import actions, reads
from search.access import get_gallery_for_user, get_image_for_user, get_search_for_user
from search.models import Candidate, Gallery, Search
from search.serializers import (
    GallerySerializer,
    ImageSerializer,
    ImageUploadSerializer,
    JobSerializer,
    SearchCreateSerializer,
    SearchSerializer,
    SearchSummarySerializer,
)


def _paginated(request: Request, queryset, serializer_class) -> Response:
    paginator = api_settings.DEFAULT_PAGINATION_CLASS()
    page = paginator.paginate_queryset(queryset, request)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


def page_of(serializer_class) -> serializers.Serializer:
    """How _paginated answers, for the schema: one page of the list and where the others are."""
    name = serializer_class.__name__.removesuffix("Serializer")
    return inline_serializer(f"Paginated{name}List", {
        "count": serializers.IntegerField(help_text="Items in the whole list."),
        "next": serializers.URLField(allow_null=True, help_text="The next page, null on the last one."),
        "previous": serializers.URLField(allow_null=True, help_text="The previous page, null on the first one."),
        "results": serializer_class(many=True),
    })


PAGE = OpenApiParameter("page", OpenApiTypes.INT, description=f"Page number, from 1 ({api_settings.PAGE_SIZE} a page).")


@extend_schema(methods=["GET"], operation_id="galleries_list", parameters=[PAGE],
               responses={200: page_of(GallerySerializer)})
@extend_schema(methods=["POST"], request=GallerySerializer, responses={201: GallerySerializer})
@api_view(["GET", "POST"])
@parser_classes([JSONParser])  # one body type per endpoint: JSON where no file is sent, multipart where one is
def galleries(request: Request) -> Response:
    if request.method == "GET":
        membership = require_capability(request, Capability.VIEW_GALLERIES)
        return _paginated(request, Gallery.objects.filter(agency=membership.agency), GallerySerializer)
    membership = require_capability(request, Capability.MANAGE_GALLERIES)
    serializer = GallerySerializer(data=request.data, context={"agency": membership.agency})
    serializer.is_valid(raise_exception=True)
    gallery = actions.do_create_gallery(agency=membership.agency, name=serializer.validated_data["name"],
                                        description=serializer.validated_data.get("description", ""),
                                        actor=request.user, request=request)
    return Response(GallerySerializer(gallery).data, status=status.HTTP_201_CREATED)


# The image is a file: only a multipart body carries one.
@extend_schema(request=ImageUploadSerializer, responses={202: JobSerializer})
@api_view(["POST"])
@parser_classes([MultiPartParser])
def gallery_images(request: Request, code: str) -> Response:
    gallery = get_gallery_for_user(request, code, Capability.ENROLL)
    serializer = ImageUploadSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    try:
        image = actions.do_upload_to_gallery(gallery=gallery, subject_reference=data["subject_reference"],
                                             checked=data["image"], provenance=data["provenance"],
                                             actor=request.user, request=request)
    except Refused as refused:
        return Response({"image": [str(refused)]}, status=status.HTTP_400_BAD_REQUEST)
    return Response({"code": image.code, "status": image.status}, status=status.HTTP_202_ACCEPTED)


@extend_schema(responses=ImageSerializer)
@api_view(["GET"])
def image_detail(request: Request, code: str) -> Response:
    image = get_image_for_user(request, code)
    return Response(ImageSerializer(image).data)


@extend_schema(methods=["GET"], operation_id="searches_list", parameters=[PAGE],
               responses={200: page_of(SearchSummarySerializer)})
@extend_schema(methods=["POST"], request=SearchCreateSerializer, responses={202: JobSerializer})
@api_view(["GET", "POST"])
@parser_classes([MultiPartParser])  # the probe is a file
def searches(request: Request) -> Response:
    if request.method == "GET":
        membership = require_capability(request, Capability.VIEW_SEARCHES)
        return _paginated(request, Search.objects.filter(agency=membership.agency), SearchSummarySerializer)
    membership = require_capability(request, Capability.SEARCH)
    if not has_accepted_current_conduct(membership):
        raise PermissionDenied(_("Accept your agency's current code of conduct in the portal before searching."))
    serializer = SearchCreateSerializer(data=request.data, context={"agency": membership.agency})
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    search = actions.do_create_search(
        agency=membership.agency, actor=request.user, probe=data["probe"], purpose=data["purpose"],
        case_number=data["case_number"], galleries=data["galleries"], parameters=data["parameters"], request=request,
    )
    return Response({"code": search.code, "status": search.status}, status=status.HTTP_202_ACCEPTED)


@extend_schema(responses=SearchSerializer)
@api_view(["GET"])
def search_detail(request: Request, code: str) -> Response:
    search = get_search_for_user(request, code)
    prefetch_related_objects([search], Prefetch("faces__candidates", Candidate.objects.select_related("image")))
    reads.do_view_search(search=search, actor=request.user, via=reads.Via.API, request=request)
    return Response(SearchSerializer(search).data)
