"""Changes to galleries, enrollment and searches. Each action owns its transaction and audit event,
and queues worker jobs only once the transaction has committed."""
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Agency, User
from audit.log import record_event
from billing.gates import ensure_agency_may_enroll, ensure_agency_may_search
from billing.usage import hold_search_usage, release_search_usage
from core.files import files_removed_on_failure, generated_name
from core.jobs import dispatch_on_commit
from core.refusals import Refused, refused_on_conflict
from search.enrollment import (
    add_face,
    add_subject,
    create_gallery_image,
    duplicate_in_gallery,
    get_or_create_subject,
)
from search.images import CheckedImage
from search.models import (
    GALLERY_NAME_UNIQUE,
    IMAGE_SHA256_UNIQUE,
    Candidate,
    CandidateDecision,
    EnrollmentBatch,
    EnrollmentItem,
    Gallery,
    GalleryImage,
    Search,
    Subject,
)
from search.scope import ensure_demo_gallery_loaded, searchable_galleries
from search.screening import face_screen
from search.tasks import OPEN_SEARCH, enroll_batch_item, enroll_image, run_search
from search.validation import GALLERY_NAME_TAKEN, Provenance, SearchParameters


def do_create_gallery(*, agency: Agency, name: str, description: str, actor: User, request=None) -> Gallery:
    ensure_agency_may_enroll(agency)
    with refused_on_conflict(GALLERY_NAME_UNIQUE, Refused(GALLERY_NAME_TAKEN, field="name")), transaction.atomic():
        gallery = Gallery.objects.create(agency=agency, name=name, description=description, created_by=actor)
        record_event("gallery.created", agency=agency, actor=actor, request=request, target=gallery.code,
                     details={"name": name})
    return gallery


def do_create_subject(
    *, gallery: Gallery, reference: str, display_name: str = "", notes: str = "", actor: User, request=None
) -> Subject:
    with transaction.atomic():
        return add_subject(gallery=gallery, reference=reference, display_name=display_name, notes=notes,
                           actor=actor, request=request)


def do_upload_image(
    *, subject: Subject, checked: CheckedImage, provenance: Provenance, actor: User, request=None
) -> GalleryImage:
    ensure_agency_may_enroll(subject.gallery.agency)
    duplicate = Refused(_("This exact image is already in the gallery."))
    if duplicate_in_gallery(subject.gallery, checked.sha256) is not None:
        raise duplicate
    with (refused_on_conflict(IMAGE_SHA256_UNIQUE, duplicate), files_removed_on_failure() as written,
          transaction.atomic()):
        image = create_gallery_image(subject=subject, checked=checked, provenance=provenance, actor=actor)
        written.append(image.file.name)
        record_event(
            "image.uploaded", agency=subject.gallery.agency, actor=actor, request=request, target=image.code,
            details={"subject": subject.reference, "sha256": checked.sha256, "source": provenance.source,
                     "legal_basis": provenance.legal_basis},
        )
        dispatch_on_commit(enroll_image, image.pk)
    return image


def do_upload_to_gallery(
    *, gallery: Gallery, subject_reference: str, checked: CheckedImage, provenance: Provenance, actor: User,
    request=None,
) -> GalleryImage:
    """An upload that names its subject by reference, creating the subject if it is new; a refused upload
    leaves no new subject behind."""
    with transaction.atomic():
        subject = get_or_create_subject(gallery=gallery, reference=subject_reference, actor=actor, request=request)
        return do_upload_image(subject=subject, checked=checked, provenance=provenance, actor=actor, request=request)


def do_pick_face(*, image: GalleryImage, index: int, actor: User, request=None) -> None:
    with transaction.atomic():
        image = GalleryImage.objects.select_for_update(of=("self",)).select_related("subject", "agency").get(
            pk=image.pk
        )
        if image.status != GalleryImage.Status.NEEDS_REVIEW or not 0 <= index < len(image.review_faces):
            raise Refused(_("This image has no face to pick."))
        chosen = image.review_faces[index]
        if face_screen().is_blocked(chosen["encoding"]):
            raise Refused(face_screen().refusal_message)
        add_face(image, chosen["box"], chosen["encoding"])
        image.status = GalleryImage.Status.ENROLLED
        image.error = ""
        image.review_faces = []
        image.save(update_fields=["status", "error", "review_faces"])
        record_event("image.enrolled", agency=image.agency, actor=actor, request=request, target=image.code,
                     details={"subject": image.subject.reference, "sha256": image.sha256, "picked_face": index})


def do_start_bulk_enrollment(*, gallery: Gallery, staged: list, actor: User, request=None) -> EnrollmentBatch:
    """staged: search.bulk.StagedRow items, each either a file to enroll or a row already judged bad."""
    ensure_agency_may_enroll(gallery.agency)
    with files_removed_on_failure() as written, transaction.atomic():
        batch = EnrollmentBatch.objects.create(
            agency=gallery.agency, gallery=gallery, created_by=actor, total=len(staged),
            status=EnrollmentBatch.Status.RUNNING,
        )
        items = []
        for row in staged:
            item = EnrollmentItem(
                agency_id=batch.agency_id, batch=batch, row_number=row.row_number, filename=row.filename[:300],
                subject_reference=row.subject_reference[:100], manifest=row.manifest,
                outcome=row.outcome or EnrollmentItem.Outcome.QUEUED, message=row.message[:500],
            )
            if row.data is not None:
                item.staged_file = default_storage.save(f"staging/{batch.code}/{generated_name('upload')}",
                                                        ContentFile(row.data))
                written.append(item.staged_file)
            items.append(item)
        EnrollmentItem.objects.bulk_create(items)
        judged = sum(1 for item in items if item.outcome != EnrollmentItem.Outcome.QUEUED)
        batch.processed = judged
        if judged == batch.total:
            batch.status, batch.finished_at = EnrollmentBatch.Status.DONE, timezone.now()
        batch.save(update_fields=["processed", "status", "finished_at"])
        record_event("enrollment.batch_started", agency=gallery.agency, actor=actor, request=request,
                     target=batch.code, details={"gallery": str(gallery.code), "rows": len(items)})
        for item in items:
            if item.outcome == EnrollmentItem.Outcome.QUEUED:
                dispatch_on_commit(enroll_batch_item, item.pk)
    return batch


def do_create_search(
    *, agency: Agency, actor: User, probe: CheckedImage, purpose: str, case_number: str,
    galleries: QuerySet | list[Gallery], parameters: SearchParameters, request=None,
) -> Search:
    ensure_demo_gallery_loaded(agency)
    galleries = list(galleries) or searchable_galleries(agency)
    threshold, max_candidates = parameters.threshold, parameters.max_candidates
    with files_removed_on_failure() as written, transaction.atomic():
        ensure_agency_may_search(agency)
        search = Search(
            agency=agency, created_by=actor, purpose=purpose, case_number=case_number, threshold=threshold,
            max_candidates=max_candidates, probe_sha256=probe.sha256, probe_width=probe.width,
            probe_height=probe.height,
        )
        search.probe.save(generated_name(probe.extension), ContentFile(probe.data), save=False)
        written.append(search.probe.name)
        search.save(force_insert=True)
        search.galleries.set(galleries, through_defaults={"agency": agency})
        hold_search_usage(agency_id=agency.pk, search_code=search.code)
        record_event(
            "search.created", agency=agency, actor=actor, request=request, target=search.code,
            details={
                "purpose": purpose, "case_number": case_number, "probe_sha256": probe.sha256,
                "galleries": [str(gallery.code) for gallery in galleries], "threshold": threshold,
                "min_similarity": parameters.min_similarity, "max_candidates": max_candidates,
            },
        )
        dispatch_on_commit(run_search, search.pk)
    return search


def cancel_open_searches_of(user: User) -> int:
    """A cancelled search never runs, so it is not billed."""
    open_searches = Search.objects.filter(created_by=user, status__in=OPEN_SEARCH)
    codes = list(open_searches.values_list("code", flat=True))
    release_search_usage(*codes)
    return open_searches.update(status=Search.Status.CANCELLED, error=_("Cancelled: the user was suspended."),
                                finished_at=timezone.now())


# Two-person verification of candidates


def already_reviewed() -> Refused:
    return Refused(_("You have already reviewed this candidate; a second review must come from someone else."))


def do_decide_candidate(*, candidate: Candidate, user: User, decision: str, comment: str, request=None) -> None:
    with transaction.atomic():
        Candidate.objects.select_for_update().get(pk=candidate.pk)
        if CandidateDecision.objects.filter(candidate=candidate, user=user).exists():
            raise already_reviewed()
        CandidateDecision.objects.create(candidate=candidate, user=user, decision=decision, comment=comment)
        search = candidate.search_face.search
        record_event(f"candidate.{decision}", agency=search.agency, actor=user, request=request,
                     target=candidate.code, details={"search": str(search.code), "comment": comment[:500]})


def do_decide_photo(*, candidates: list[Candidate], user: User, decision: str, comment: str, request=None) -> int:
    """One review of a gallery photo that a search found in several galleries, recorded on each of its
    candidates the reviewer has not decided yet, all or nothing. Returns how many were recorded."""
    with transaction.atomic():
        undecided = [c for c in candidates if not CandidateDecision.objects.filter(candidate=c, user=user).exists()]
        if not undecided:
            raise already_reviewed()
        for candidate in undecided:
            do_decide_candidate(candidate=candidate, user=user, decision=decision, comment=comment, request=request)
    return len(undecided)


def do_export_search(*, search: Search, actor: User, request=None) -> None:
    record_event("search.exported", agency=search.agency, actor=actor, request=request, target=search.code)
