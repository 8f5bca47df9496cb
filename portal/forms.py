from django.http import HttpRequest


def posted(request: HttpRequest) -> tuple:
    """The data and files to bind a form to: bound on every POST, even an empty one."""
    if request.method == "POST":
        return request.POST, request.FILES
    return None, None
