import io
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Prefetch, prefetch_related_objects
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from PIL import Image, ImageOps

from accounts.access import require_capability
from accounts.actions import has_accepted_current_conduct
from accounts.roles import Capability
from audit.log import record_event
from billing.gates import ensure_agency_may_enroll
from core.refusals import Refused
from core.tenancy import CrossAgency, cross_agency
from core.web import page_of, posted, serve_private_file
from search import actions, deletion
from search.access import (
    get_batch_for_user,
    get_candidate_for_user,
    get_gallery_for_user,
    get_image_for_user,
    get_search_for_user,
    get_subject_for_user,
)
from search.bulk import BulkRejected, collect_files, read_manifest, stage_rows
from search.forms import (
    BulkUploadForm,
    DecisionForm,
    GalleryDeleteForm,
    GalleryForm,
    ImageUploadForm,
    SearchForm,
    SubjectForm,
)
from search.models import Candidate, Face, Gallery, Search
from search.review import review_for
from search.serializers import SearchSerializer


@login_required
@require_GET
def gallery_list(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.VIEW_GALLERIES)
    galleries = Gallery.objects.filter(agency=membership.agency)
    return render(request, "search/gallery_list.html", {"page": page_of(request, galleries)})


@login_required
@require_http_methods(["GET", "POST"])
def gallery_create(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.MANAGE_GALLERIES)
    form = GalleryForm(posted(request)[0], agency=membership.agency)
    if request.method == "POST" and form.is_valid():
        gallery = actions.do_create_gallery(
            agency=membership.agency, name=form.cleaned_data["name"],
            description=form.cleaned_data["description"], actor=request.user, request=request,
        )
        messages.success(request, _("Gallery created."))
        return redirect("search:gallery_detail", gallery.code)
    return render(request, "search/gallery_form.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_GET
def gallery_detail(request: HttpRequest, code) -> HttpResponse:
    gallery = get_gallery_for_user(request, code)
    query = request.GET.get("q", "").strip()
    return render(request, "search/gallery_detail.html", _gallery_context(request, gallery, query, SubjectForm(gallery=gallery)))


def _gallery_context(request: HttpRequest, gallery: Gallery, query: str, subject_form: SubjectForm) -> dict:
    subjects = gallery.subjects.filter(reference__icontains=query) if query else gallery.subjects.all()
    return {
        "gallery": gallery,
        "page": page_of(request, subjects),
        "q": query,
        "query": urlencode({"q": query}) if query else "",
        "subject_form": subject_form,
        "batches": gallery.batches.all()[:5],
    }


@login_required
@require_POST
def subject_create(request: HttpRequest, code) -> HttpResponse:
    gallery = get_gallery_for_user(request, code, Capability.ENROLL)
    ensure_agency_may_enroll(gallery.agency)  # a read-only licence refuses new subjects too
    form = SubjectForm(request.POST, gallery=gallery)
    if not form.is_valid():
        return render(request, "search/gallery_detail.html", _gallery_context(request, gallery, "", form), status=400)
    subject = actions.do_create_subject(gallery=gallery, actor=request.user, request=request, **form.cleaned_data)
    return redirect("search:subject_detail", subject.code)


@login_required
@require_GET
def subject_detail(request: HttpRequest, code) -> HttpResponse:
    subject = get_subject_for_user(request, code)
    context = {"subject": subject, "images": subject.images.all(), "form": ImageUploadForm()}
    return render(request, "search/subject_detail.html", context)


@login_required
@require_POST
def image_upload(request: HttpRequest, code) -> HttpResponse:
    subject = get_subject_for_user(request, code, Capability.ENROLL)
    form = ImageUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            actions.do_upload_image(subject=subject, checked=form.cleaned_data["image"], provenance=form.provenance,
                                    actor=request.user, request=request)
        except Refused as refused:
            form.add_error("image", str(refused))
        else:
            messages.success(request, _("Photo uploaded; enrollment is running."))
            return redirect("search:subject_detail", subject.code)
    context = {"subject": subject, "images": subject.images.all(), "form": form}
    return render(request, "search/subject_detail.html", context, status=400)


@login_required
@require_GET
def image_status(request: HttpRequest, code) -> HttpResponse:
    image = get_image_for_user(request, code)
    return render(request, "search/_image_card.html", {"image": image})


@login_required
@require_POST
def image_pick_face(request: HttpRequest, code) -> HttpResponse:
    image = get_image_for_user(request, code, Capability.ENROLL)
    try:
        index = int(request.POST.get("face", ""))
        actions.do_pick_face(image=image, index=index, actor=request.user, request=request)
    except (ValueError, Refused):
        messages.error(request, _("Pick one of the numbered faces."))
    else:
        messages.success(request, _("Face chosen; the image is enrolled."))
    return redirect("search:subject_detail", image.subject.code)


@login_required
@require_GET
def image_file(request: HttpRequest, code) -> FileResponse:
    return serve_private_file(get_image_for_user(request, code).file)


@login_required
@require_GET
def candidate_crop(request: HttpRequest, code) -> HttpResponse:
    candidate = get_candidate_for_user(request, code)
    # A demo's candidates come from the built-in demo gallery, which only the demo path may read.
    reading = cross_agency(CrossAgency.DEMO_GALLERY) if candidate.agency.is_demo else transaction.atomic()
    with reading:
        face = candidate.face
        image_file = candidate.image.file if candidate.image_id else None
        if face is None or image_file is None:
            raise Http404
        with image_file.open("rb") as handle:
            picture = ImageOps.exif_transpose(Image.open(handle))
            margin = (face.bottom - face.top) // 3
            box = (max(0, face.left - margin), max(0, face.top - margin),
                   min(picture.width, face.right + margin), min(picture.height, face.bottom + margin))
            crop = picture.crop(box).convert("RGB")
    crop.thumbnail((240, 240))
    buffer = io.BytesIO()
    crop.save(buffer, "JPEG", quality=85)
    response = HttpResponse(buffer.getvalue(), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def bulk_upload(request: HttpRequest, code) -> HttpResponse:
    gallery = get_gallery_for_user(request, code, Capability.ENROLL)
    form = BulkUploadForm(*posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            rows = stage_rows(read_manifest(form.cleaned_data["manifest"]), collect_files(form.cleaned_data["files"]))
        except BulkRejected as rejected:
            form.add_error(None, str(rejected))
        else:
            batch = actions.do_start_bulk_enrollment(gallery=gallery, staged=rows, actor=request.user,
                                                     request=request)
            return redirect("search:batch_detail", batch.code)
    return render(request, "search/bulk_upload.html", {"gallery": gallery, "form": form},
                  status=400 if form.errors else 200)


@login_required
@require_GET
def batch_detail(request: HttpRequest, code) -> HttpResponse:
    batch = get_batch_for_user(request, code)
    template = "search/_batch_progress.html" if request.htmx else "search/batch_detail.html"
    return render(request, template, {"batch": batch, "items": batch.items.select_related("image")})


@login_required
@require_http_methods(["GET", "POST"])
def search_new(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.SEARCH)
    if not has_accepted_current_conduct(membership):
        return redirect(f"{reverse('accounts:conduct')}?{urlencode({'next': request.path})}")
    form = SearchForm(*posted(request), agency=membership.agency)
    if request.method == "POST" and form.is_valid():
        search = actions.do_create_search(
            agency=membership.agency, actor=request.user, probe=form.cleaned_data["probe"],
            purpose=form.cleaned_data["purpose"], case_number=form.cleaned_data["case_number"],
            galleries=form.cleaned_data["galleries"], parameters=form.parameters, request=request,
        )
        return redirect("search:search_detail", search.code)
    return render(request, "search/search_new.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_GET
def search_list(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.VIEW_SEARCHES)
    searches = Search.objects.filter(agency=membership.agency).select_related("created_by")
    mine = request.GET.get("mine") == "1"
    if mine:
        searches = searches.filter(created_by=request.user)
    return render(request, "search/search_list.html",
                  {"page": page_of(request, searches), "mine": mine, "query": "mine=1" if mine else ""})


@login_required
@require_GET
def search_detail(request: HttpRequest, code) -> HttpResponse:
    search = get_search_for_user(request, code)
    faces = list(search.faces.prefetch_related("candidates__decisions"))
    for face in faces:
        for candidate in face.candidates.all():
            candidate.review = review_for(candidate, request.user.pk)
    context = {"search": search, "faces": faces}
    if request.htmx:
        return render(request, "search/_search_results.html", context)
    record_event("search.viewed", agency=search.agency, actor=request.user, request=request, target=search.code)
    return render(request, "search/search_detail.html", context)


@login_required
@require_GET
def search_export(request: HttpRequest, code) -> HttpResponse:
    search = get_search_for_user(request, code)
    actions.do_export_search(search=search, actor=request.user, request=request)
    prefetch_related_objects([search], Prefetch("faces__candidates", Candidate.objects.select_related("image")))
    response = JsonResponse(SearchSerializer(search).data, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="search-{search.code}.json"'
    return response


@login_required
@require_POST
def candidate_decide(request: HttpRequest, code) -> HttpResponse:
    candidate = get_candidate_for_user(request, code, Capability.VERIFY)
    form = DecisionForm(request.POST)
    search = candidate.search_face.search
    if not form.is_valid():
        messages.error(request, _("Choose confirm or reject."))
    else:
        try:
            actions.do_decide_candidate(candidate=candidate, user=request.user, request=request,
                                        decision=form.cleaned_data["decision"], comment=form.cleaned_data["comment"])
        except Refused as refused:
            messages.error(request, str(refused))
        else:
            messages.success(request, _("Your review is recorded."))
    return redirect(f"{reverse('search:search_detail', args=[search.code])}#candidate-{candidate.code}")


@login_required
@require_GET
def search_probe(request: HttpRequest, code) -> FileResponse:
    return serve_private_file(get_search_for_user(request, code).probe)


# Deleting what an agency enrolled


@login_required
@require_http_methods(["GET", "POST"])
def image_delete(request: HttpRequest, code) -> HttpResponse:
    image = get_image_for_user(request, code, Capability.MANAGE_GALLERIES)
    if request.method == "GET":
        return render(request, "search/image_delete.html", {"image": image})
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
        return render(request, "search/subject_delete.html", context)
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
    return render(request, "search/gallery_delete.html", context, status=400 if form.errors else 200)
