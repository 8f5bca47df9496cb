"""Small helpers every app's views share."""
import mimetypes

from django.core.paginator import Page, Paginator
from django.http import FileResponse, Http404, HttpRequest
from django.utils.cache import patch_cache_control

PAGE_SIZE = 25


def posted(request: HttpRequest) -> tuple:
    """The data and files to bind a form to: bound on every POST, even an empty one."""
    if request.method == "POST":
        return request.POST, request.FILES
    return None, None


def page_of(request: HttpRequest, items, per_page: int = PAGE_SIZE) -> Page:
    """The page the request asks for; a missing or bad ?page= gives the first or last page, never an error."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def serve_private_file(field) -> FileResponse:
    """A stored upload, never cached by the browser or a proxy; 404 when the row has no file (any more)."""
    if not field:
        raise Http404
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    content_type = mimetypes.guess_type(field.name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    return response


class PrivateResponsesMiddleware:
    """What a signed-in user or an API client receives is theirs alone (results, probes, crops, exports, JSON):
    never stored by the browser or a proxy. Answers that set their own Cache-Control keep it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        private = request.path.startswith("/api/") or (user is not None and user.is_authenticated)
        if private and not response.has_header("Cache-Control"):
            patch_cache_control(response, private=True, no_store=True)
        return response
