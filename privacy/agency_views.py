"""Agency-side privacy: deleting images, subjects and galleries, retention settings, photo reviews."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import get_gallery_for_user, get_image_for_user, get_subject_for_user, require_capability
from accounts.roles import Capability
from portal.forms import posted
from portal.pagination import page_of
from privacy import deletion
from privacy.forms import GalleryDeleteForm, RetentionForm
from privacy.models import RetentionPolicy
from privacy.retention import do_mark_reviewed, do_update_retention, images_due_for_review
from search.models import Face

@login_required
@require_http_methods(["GET", "POST"])
def image_delete(request: HttpRequest, code) -> HttpResponse:
    image = get_image_for_user(request, code, Capability.MANAGE_GALLERIES)
    if request.method == "GET":
        return render(request, "privacy/image_delete.html", {"image": image})
    deletion.do_delete_image(image=image, actor=request.user, request=request)
    messages.success(request, _("The photo and its face encoding were deleted."))
    return redirect("search:subject_detail", image.subject.code)


@login_required
@require_http_methods(["GET", "POST"])
def subject_delete(request: HttpRequest, code) -> HttpResponse:
    subject = get_subject_for_user(request, code, Capability.MANAGE_GALLERIES)
    if request.method == "GET":
        context = {"subject": subject, "images": subject.images.count(),
                   "faces": Face.objects.filter(image__subject=subject).count()}
        return render(request, "privacy/subject_delete.html", context)
    erased = deletion.do_delete_subject(subject=subject, actor=request.user, request=request)
    messages.success(request, _("Subject deleted with %(images)s photos and %(faces)s face encodings.")
                     % {"images": erased.images, "faces": erased.faces})
    return redirect("search:gallery_detail", subject.gallery.code)


@login_required
@require_http_methods(["GET", "POST"])
def gallery_delete(request: HttpRequest, code) -> HttpResponse:
    gallery = get_gallery_for_user(request, code, Capability.MANAGE_GALLERIES)
    form = GalleryDeleteForm(posted(request)[0], gallery=gallery)
    if request.method == "POST" and form.is_valid():
        erased = deletion.do_delete_gallery(gallery=gallery, actor=request.user, request=request)
        messages.success(request, _("Gallery deleted with %(images)s photos and %(faces)s face encodings.")
                         % {"images": erased.images, "faces": erased.faces})
        return redirect("search:gallery_list")
    context = {"gallery": gallery, "form": form, "subjects": gallery.subjects.count(),
               "images": gallery.images.count(), "faces": Face.objects.filter(gallery=gallery).count()}
    return render(request, "privacy/gallery_delete.html", context, status=400 if form.errors else 200)


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
