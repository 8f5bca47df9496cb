"""The public opt-out page, the operators' erasure queue and the tenant policy."""
import logging
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import require_platform_role
from accounts.models import User
from core.refusals import Refused
from core.web import client_ip, page_of, serve_private_file
from privacy import erasure as erasure_actions
from privacy.forms import ErasureApproveForm, ErasureRequestForm, ReasonForm
from privacy.models import ErasureRequest
from privacy.ratelimit import take_erasure_slot

logger = logging.getLogger(__name__)
KEPT_FIELDS = ("full_name", "email", "phone", "statement")
# The public opt-out page


@require_http_methods(["GET", "POST"])
def erasure_request(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "privacy/erasure_request.html", {"form": ErasureRequestForm()})
    if not take_erasure_slot(request):
        refusal = _("Too many requests from your network. Please try again in an hour.")
        # The form comes back as it was sent (a browser with JavaScript keeps the photo too): a refusal loses nothing.
        kept = ErasureRequestForm(initial={name: request.POST.get(name, "") for name in KEPT_FIELDS})
        return render(request, "privacy/erasure_request.html", {"form": kept, "refusal": refusal}, status=429)
    form = ErasureRequestForm(request.POST, request.FILES)
    if form.filled_by_a_robot:
        logger.info("Erasure form honeypot filled from %s", client_ip(request))
        return redirect("privacy:erasure_sent")
    if not form.is_valid():
        return render(request, "privacy/erasure_request.html", {"form": form}, status=400)
    data = form.cleaned_data
    contact = erasure_actions.Contact(full_name=data["full_name"], email=data["email"], phone=data["phone"],
                                      statement=data["statement"])
    erasure_actions.do_submit_erasure_request(contact=contact, photo=data["photo"], request=request)
    return redirect("privacy:erasure_sent")


@require_GET
def erasure_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "privacy/erasure_sent.html")


# The operators' queue


def _operator(request: HttpRequest) -> User:
    return require_platform_role(request, User.PlatformRole.OPERATOR)


def _erasure_for_operator(request: HttpRequest, code: UUID) -> ErasureRequest:
    _operator(request)
    erasure = ErasureRequest.objects.filter(code=code).first()
    if erasure is None:
        raise Http404
    return erasure


@login_required
@require_GET
def erasure_queue(request: HttpRequest) -> HttpResponse:
    _operator(request)
    status = request.GET.get("status", ErasureRequest.Status.READY)
    if status not in ErasureRequest.Status.values:
        status = ErasureRequest.Status.READY
    requests = ErasureRequest.objects.filter(status=status).order_by("created")
    page = page_of(request, requests)
    context = {"page": page, "status": status, "statuses": ErasureRequest.Status.choices, "query": f"status={status}"}
    return render(request, "privacy/erasure_queue.html", context)


def _render_erasure(request, erasure, approve_form=None, reject_form=None, status=200) -> HttpResponse:
    context = {
        "erasure": erasure,
        "approve_form": approve_form or ErasureApproveForm(face_count=len(erasure.detected_faces)),
        "reject_form": reject_form or ReasonForm(),
    }
    return render(request, "privacy/erasure_detail.html", context, status=status)


@login_required
@require_GET
def erasure_detail(request: HttpRequest, code) -> HttpResponse:
    return _render_erasure(request, _erasure_for_operator(request, code))


@login_required
@require_GET
def erasure_photo(request: HttpRequest, code) -> FileResponse:
    erasure = _erasure_for_operator(request, code)
    response = serve_private_file(erasure.photo)
    erasure_actions.do_view_erasure_photo(erasure=erasure, actor=request.user, request=request)
    return response


@login_required
@require_POST
def erasure_approve(request: HttpRequest, code) -> HttpResponse:
    erasure = _erasure_for_operator(request, code)
    form = ErasureApproveForm(request.POST, face_count=len(erasure.detected_faces))
    if form.is_valid():
        try:
            removed = erasure_actions.do_approve_erasure(erasure=erasure, face_indexes=form.cleaned_data["faces"],
                                                         actor=request.user, request=request)
        except Refused as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Approved: %(count)s faces removed, and the face is suppressed.")
                             % {"count": removed})
            return redirect("privacy:erasure_queue")
    return _render_erasure(request, erasure, approve_form=form, status=400)


@login_required
@require_POST
def erasure_reject(request: HttpRequest, code) -> HttpResponse:
    erasure = _erasure_for_operator(request, code)
    form = ReasonForm(request.POST)
    if form.is_valid():
        try:
            erasure_actions.do_reject_erasure(erasure=erasure, reason=form.cleaned_data["reason"],
                                              actor=request.user, request=request)
        except Refused as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Rejected; the requester is told why."))
            return redirect("privacy:erasure_queue")
    return _render_erasure(request, erasure, reject_form=form, status=400)
