"""Small helpers every app's views share."""
import ipaddress
import mimetypes
from functools import lru_cache

from django.conf import settings
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
    """The client's address, which lockout, rate limits and the audit log key on.

    Behind the TLS proxy REMOTE_ADDR is the proxy's address: only when the request comes from one of
    TRUSTED_PROXIES is X-Forwarded-For believed, read from the right (each proxy appends the address it saw),
    up to the first address that is not a trusted proxy. Whatever a client puts in X-Forwarded-For itself
    sits to the left of that and is never read, and a request that reaches the portal directly is judged by
    its own address."""
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR") or None
    if remote is None or not is_trusted_proxy(remote):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = parsed_address(hop)
        if address is None:  # a proxy never writes garbage: what is left of it came from the client
            break
        if not is_trusted_proxy(hop):
            return str(address)
    return remote


def parsed_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def _in_networks(address: str, networks: tuple) -> bool:
    parsed = parsed_address(address)
    return parsed is not None and any(parsed in network for network in networks)


def is_trusted_proxy(address: str) -> bool:
    return _in_networks(address, settings.TRUSTED_PROXIES)


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
