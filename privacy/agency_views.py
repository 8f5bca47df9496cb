"""Agency-side privacy: retention settings and the review of gallery photos."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import require_capability
from accounts.roles import Capability
from core.web import page_of, posted
from privacy.forms import RetentionForm
from privacy.models import RetentionPolicy
from privacy.retention import do_mark_reviewed, do_update_retention, images_due_for_review
from search.access import get_image_for_user


@login_required
@require_http_methods(["GET", "POST"])
def retention_settings(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.MANAGE_GALLERIES)
    policy = RetentionPolicy.for_agency(membership.agency)
    initial = {"probe_retention_days": policy.probe_retention_days,
               "gallery_review_days": policy.gallery_review_days}
    form = RetentionForm(posted(request)[0], initial=initial)
    if request.method == "POST" and form.is_valid():
        do_update_retention(agency=membership.agency, actor=request.user, request=request, **form.cleaned_data)
        messages.success(request, _("Retention settings saved."))
        return redirect("privacy:retention_settings")
    context = {"form": form, "policy": policy, "due_count": images_due_for_review(membership.agency).count()}
    return render(request, "privacy/retention_settings.html", context, status=400 if form.errors else 200)


@login_required
@require_GET
def review_due(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.MANAGE_GALLERIES)
    policy = RetentionPolicy.for_agency(membership.agency)
    page = page_of(request, images_due_for_review(membership.agency))
    return render(request, "privacy/review_due.html", {"page": page, "policy": policy})


@login_required
@require_POST
def image_reviewed(request: HttpRequest, code) -> HttpResponse:
    image = get_image_for_user(request, code, Capability.MANAGE_GALLERIES)
    do_mark_reviewed(image=image, actor=request.user, request=request)
    messages.success(request, _("Photo kept; its next review is due in %(days)s days.")
                     % {"days": RetentionPolicy.for_agency(image.agency).gallery_review_days})
    return redirect("privacy:review_due")
