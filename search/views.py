import io
from contextlib import nullcontext
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, prefetch_related_objects
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from PIL import Image, ImageOps

from accounts.access import require_capability
from accounts.actions import has_accepted_current_conduct
from accounts.roles import Capability
from billing.gates import ensure_agency_may_enroll
from core.refusals import Refused
from core.tenancy import CrossAgency, cross_agency
from core.web import page_of, posted, serve_private_file
from search import actions, deletion, reads
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
from search.images import to_rgb
from search.models import Candidate, EnrollmentItem, Face, Gallery, Search, with_face_found
from search.review import PhotoCard, photo_cards, photo_group, review_for
from search.scope import galleries_of, searchable_photo_count
from search.serializers import SearchSerializer

CROP_SIDE = 240  # pixels: a face crop for the review screen


@login_required
@require_GET
def gallery_list(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.VIEW_GALLERIES)
    agency = membership.agency
    galleries = Gallery.objects.filter(agency=agency).annotate(photo_count=Count("images")).order_by("name")
    context = {"page": page_of(request, galleries)}
    if agency.is_demo:  # a demo has no gallery of its own: its searches run on the built-in one
        context["demo_photos"] = searchable_photo_count(agency)
    return render(request, "search/gallery_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def gallery_create(request: HttpRequest) -> HttpResponse:
    membership = require_capability(request, Capability.MANAGE_GALLERIES)
    form = GalleryForm(posted(request)[0], agency=membership.agency)
    if request.method == "POST" and form.is_valid():
        try:
            gallery = actions.do_create_gallery(
                agency=membership.agency, name=form.cleaned_data["name"],
                description=form.cleaned_data["description"], actor=request.user, request=request,
            )
        except Refused as refused:  # another request created the name since the form checked it
            form.add_error(refused.field, str(refused))
        else:
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
    image = get_image_for_user(request, code)
    response = serve_private_file(image.file)
    reads.do_view_gallery_image(image=image, actor=request.user, request=request)
    return response


def face_crop_response(field, box: list[int]) -> HttpResponse:
    """A small JPEG of one face ([top, right, bottom, left] in the stored photo's pixels) with a margin."""
    if not field:
        raise Http404
    top, right, bottom, left = box
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    with handle:
        picture = ImageOps.exif_transpose(Image.open(handle))
        margin = (bottom - top) // 3
        crop = picture.crop((max(0, left - margin), max(0, top - margin), min(picture.width, right + margin),
                             min(picture.height, bottom + margin)))
        crop = to_rgb(crop)
    crop.thumbnail((CROP_SIDE, CROP_SIDE))
    buffer = io.BytesIO()
    crop.save(buffer, "JPEG", quality=85)
    response = HttpResponse(buffer.getvalue(), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def candidate_crop(request: HttpRequest, code) -> HttpResponse:
    candidate = get_candidate_for_user(request, code)
    # A demo's candidates come from the built-in demo gallery, which only the demo path may read.
    with cross_agency(CrossAgency.DEMO_GALLERY) if candidate.agency.is_demo else nullcontext():
        if candidate.image is None or candidate.face is None:
            raise Http404
        response = face_crop_response(candidate.image.file, candidate.face.box)
    reads.do_view_candidate_crop(candidate=candidate, actor=request.user, request=request)
    return response


@login_required
@require_GET
def probe_face_crop(request: HttpRequest, code, index: int) -> HttpResponse:
    """One face of the probe, to compare side by side with a candidate."""
    search = get_search_for_user(request, code)
    face = search.faces.filter(index=index).first()
    if face is None:
        raise Http404
    response = face_crop_response(search.probe, face.box)
    reads.do_view_probe_face(search=search, index=index, actor=request.user, request=request)
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
    labels = dict(EnrollmentItem.Outcome.choices)
    counts = batch.items.values("outcome").annotate(n=Count("id")).order_by("outcome")
    context = {"batch": batch, "items": batch.items.select_related("image__subject"),
               "outcomes": [(row["outcome"], labels.get(row["outcome"], row["outcome"]), row["n"]) for row in counts]}
    return render(request, template, context)


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
    searches = with_face_found(Search.objects.filter(agency=membership.agency).select_related("created_by"))
    mine = request.GET.get("mine") == "1"
    if mine:
        searches = searches.filter(created_by=request.user)
    return render(request, "search/search_list.html",
                  {"page": page_of(request, searches), "mine": mine, "query": "mine=1" if mine else ""})


def _result_faces(search: Search, viewer_id: int) -> list:
    """The probe's faces, each with its candidates folded into one card per gallery photo."""
    candidates = Prefetch("candidates", Candidate.objects.select_related("image").prefetch_related("decisions"))
    faces = list(search.faces.prefetch_related(candidates))
    for face in faces:
        face.cards = photo_cards(face.candidates.all(), viewer_id)
    return faces


@login_required
@require_GET
def search_detail(request: HttpRequest, code) -> HttpResponse:
    search = get_search_for_user(request, code)
    faces = _result_faces(search, request.user.pk)
    context = {"search": search, "faces": faces}
    if request.htmx:
        # A poll of a running search shows no result yet; the one that first shows them is a read.
        if faces:
            reads.do_view_search(search=search, actor=request.user, via=reads.Via.PARTIAL, faces=faces,
                                 request=request)
        return render(request, "search/_search_results.html", context)
    reads.do_view_search(search=search, actor=request.user, via=reads.Via.PAGE, faces=faces, request=request)
    context["galleries"] = galleries_of(search)
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
@require_GET
def search_receipt(request: HttpRequest, code) -> HttpResponse:
    """Proof, checkable offline with the platform's public key, that the search is in the agency's audit log."""
    search = get_search_for_user(request, code)
    response = JsonResponse(reads.do_download_receipt(search=search, actor=request.user, request=request),
                            json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="receipt-{search.code}.json"'
    return response


@login_required
@require_POST
def candidate_decide(request: HttpRequest, code) -> HttpResponse:
    """A review of a candidate's gallery photo. From the review screen (htmx) the answer is the card's review
    block with the result, swapped in place; without JavaScript, the result page again with a message."""
    candidate = get_candidate_for_user(request, code, Capability.VERIFY)
    form = DecisionForm(request.POST)
    search = candidate.search_face.search
    group = photo_group(candidate)
    outcome, status = None, 400
    if not form.is_valid():
        outcome = messages.ERROR, _("Choose confirm or reject.")
    else:
        try:
            actions.do_decide_photo(candidates=group, user=request.user, request=request,
                                    decision=form.cleaned_data["decision"], comment=form.cleaned_data["comment"])
        except Refused as refused:
            outcome = messages.ERROR, str(refused)
        else:
            outcome, status = (messages.SUCCESS, _("Your review is recorded.")), 200
    if request.htmx:
        card = PhotoCard(lead=group[0], candidates=group, review=review_for(group[0], request.user.pk))
        context = {"card": card, "search": search, "result": {"ok": status == 200, "text": outcome[1]}, "oob": True}
        return render(request, "search/_candidate_review.html", context, status=status)
    messages.add_message(request, *outcome)
    return redirect(f"{reverse('search:search_detail', args=[search.code])}#candidate-{candidate.code}")


@login_required
@require_GET
def search_probe(request: HttpRequest, code) -> FileResponse:
    search = get_search_for_user(request, code)
    response = serve_private_file(search.probe)
    reads.do_view_probe(search=search, actor=request.user, request=request)
    return response


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
