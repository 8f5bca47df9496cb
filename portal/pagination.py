from django.core.paginator import Page, Paginator
from django.http import HttpRequest

PAGE_SIZE = 25


def page_of(request: HttpRequest, items, per_page: int = PAGE_SIZE) -> Page:
    """The page the request asks for; a missing or bad ?page= gives the first or last page, never an error."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))
