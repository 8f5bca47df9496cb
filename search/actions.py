"""Changes to galleries, enrollment and searches. Each action owns its transaction and audit event,
and queues worker jobs only once the transaction has committed."""
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import partial

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Agency, User
from billing.gates import ensure_agency_may_enroll, ensure_agency_may_search, record_search_usage, searchable_galleries
from privacy.suppression import SUPPRESSED_MESSAGE, any_suppressed, is_suppressed
from search.audit import (
    PLATFORM_CHAIN,
    ChainReport,
    all_chains,
    record_checkpoint,
    record_event,
    verify_chain,
)
from search.images import CheckedImage
from search.models import (
    AuditVerification,
    Candidate,
    CandidateDecision,
    EnrollmentBatch,
    EnrollmentItem,
    Face,
    Gallery,
    GalleryImage,
    Search,
    Subject,
)


class EnrollmentRefused(ValueError):
    """A refusal with a message for the user."""


@dataclass(frozen=True)
class Provenance:
    source: str
    legal_basis: str
    legal_basis_other: str = ""
    captured_at: date | None = None

    @classmethod
    def from_manifest(cls, values: dict) -> "Provenance":
        captured = values.get("captured_at")
        return cls(
            source=values["source"],
            legal_basis=values["legal_basis"],
            legal_basis_other=values.get("legal_basis_other", ""),
            captured_at=date.fromisoformat(captured) if captured else None,
        )


def generated_name(extension: str) -> str:
    return f"{uuid.uuid4().hex}.{extension}"


def do_create_gallery(*, agency: Agency, name: str, description: str, actor: User, request=None) -> Gallery:
    ensure_agency_may_enroll(agency)
    with transaction.atomic():
        gallery = Gallery.objects.create(agency=agency, name=name, description=description, created_by=actor)
        record_event("gallery.created", agency=agency, actor=actor, request=request, target=gallery.code,
                     details={"name": name})
    return gallery


def do_create_subject(
    *, gallery: Gallery, reference: str, display_name: str = "", notes: str = "", actor: User, request=None
) -> Subject:
    with transaction.atomic():
        subject = Subject.objects.create(gallery=gallery, reference=reference, display_name=display_name, notes=notes)
        record_event("subject.created", agency=gallery.agency, actor=actor, request=request, target=subject.code,
                     details={"gallery": str(gallery.code), "reference": reference})
    return subject


def get_or_create_subject(*, gallery: Gallery, reference: str, actor: User | None, request=None) -> Subject:
    subject = Subject.objects.filter(gallery=gallery, reference=reference).first()
    if subject is not None:
        return subject
    return do_create_subject(gallery=gallery, reference=reference, actor=actor, request=request)


def duplicate_in_gallery(gallery: Gallery, sha256: str) -> GalleryImage | None:
    return GalleryImage.objects.filter(gallery=gallery, sha256=sha256).select_related("subject").first()


def create_gallery_image(
    *, subject: Subject, checked: CheckedImage, provenance: Provenance, actor: User | None
) -> GalleryImage:
    """Stores the file and its row; the caller holds the transaction."""
    image = GalleryImage(
        agency_id=subject.gallery.agency_id,
        gallery=subject.gallery,
        subject=subject,
        sha256=checked.sha256,
        width=checked.width,
        height=checked.height,
        source=provenance.source,
        legal_basis=provenance.legal_basis,
        legal_basis_other=provenance.legal_basis_other,
        captured_at=provenance.captured_at,
        uploaded_by=actor,
    )
    image.file.save(generated_name(checked.extension), ContentFile(checked.data), save=False)
    image.save(force_insert=True)
    return image


@contextmanager
def files_removed_on_failure():
    """Collects the names of files written inside a transaction and deletes them if it fails."""
    written: list[str] = []
    try:
        yield written
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise


def delete_files_after_commit(names: list[str]) -> None:
    def delete() -> None:
        for name in names:
            if name:
                default_storage.delete(name)

    transaction.on_commit(delete)


def do_upload_image(
    *, subject: Subject, checked: CheckedImage, provenance: Provenance, actor: User, request=None
) -> GalleryImage:
    from search.tasks import enroll_image

    ensure_agency_may_enroll(subject.gallery.agency)
    if duplicate_in_gallery(subject.gallery, checked.sha256) is not None:
        raise EnrollmentRefused(_("This exact image is already in the gallery."))
    with files_removed_on_failure() as written, transaction.atomic():
        image = create_gallery_image(subject=subject, checked=checked, provenance=provenance, actor=actor)
        written.append(image.file.name)
        record_event(
            "image.uploaded", agency=subject.gallery.agency, actor=actor, request=request, target=image.code,
            details={"subject": subject.reference, "sha256": checked.sha256, "source": provenance.source,
                     "legal_basis": provenance.legal_basis},
        )
        transaction.on_commit(lambda: enroll_image.delay(image.pk))
    return image


def record_detection(image: GalleryImage, faces: list, actor: User | None) -> None:
    """Turns a detection into the image's status and searchable faces; the caller holds the transaction."""
    image.review_faces = []
    image.error = ""
    if any_suppressed(faces):
        refuse_suppressed_image(image, actor)
        return
    if not faces:
        image.status = GalleryImage.Status.FAILED
        image.error = _("No face found in this image.")
    elif len(faces) > 1:
        image.status = GalleryImage.Status.NEEDS_REVIEW
        image.error = _("%(count)s faces found: pick the subject's face.") % {"count": len(faces)}
        image.review_faces = [{"box": list(face.box), "encoding": face.encoding.tolist()} for face in faces]
    else:
        _add_face(image, faces[0].box, faces[0].encoding)
        image.status = GalleryImage.Status.ENROLLED
    image.save(update_fields=["status", "error", "review_faces"])
    if image.status == GalleryImage.Status.ENROLLED:
        record_event("image.enrolled", agency=image.agency, actor=actor, target=image.code,
                     details={"subject": image.subject.reference, "sha256": image.sha256})


def refuse_suppressed_image(image: GalleryImage, actor: User | None) -> None:
    """A photo of someone on the suppression list is not kept: its file goes, the refusal stays visible."""
    delete_files_after_commit([image.file.name])
    image.file = ""
    image.status = GalleryImage.Status.FAILED
    image.error = str(SUPPRESSED_MESSAGE)
    image.save(update_fields=["status", "error", "review_faces", "file"])
    record_event("image.suppressed", agency=image.agency, actor=actor, target=image.code,
                 details={"sha256": image.sha256})


def _add_face(image: GalleryImage, box, encoding) -> Face:
    top, right, bottom, left = box
    return Face.objects.create(
        image=image, gallery_id=image.gallery_id, agency_id=image.agency_id,
        top=top, right=right, bottom=bottom, left=left, encoding=list(encoding),
    )


def do_pick_face(*, image: GalleryImage, index: int, actor: User, request=None) -> None:
    with transaction.atomic():
        image = GalleryImage.objects.select_for_update(of=("self",)).select_related("subject", "agency").get(
            pk=image.pk
        )
        if image.status != GalleryImage.Status.NEEDS_REVIEW or not 0 <= index < len(image.review_faces):
            raise EnrollmentRefused(_("This image has no face to pick."))
        chosen = image.review_faces[index]
        if is_suppressed(chosen["encoding"]):
            raise EnrollmentRefused(SUPPRESSED_MESSAGE)
        _add_face(image, chosen["box"], chosen["encoding"])
        image.status = GalleryImage.Status.ENROLLED
        image.error = ""
        image.review_faces = []
        image.save(update_fields=["status", "error", "review_faces"])
        record_event("image.enrolled", agency=image.agency, actor=actor, request=request, target=image.code,
                     details={"subject": image.subject.reference, "sha256": image.sha256, "picked_face": index})


def do_start_bulk_enrollment(*, gallery: Gallery, staged: list, actor: User, request=None) -> EnrollmentBatch:
    """staged: search.bulk.StagedRow items, each either a file to enroll or a row already judged bad."""
    from search.tasks import enroll_batch_item

    ensure_agency_may_enroll(gallery.agency)
    with files_removed_on_failure() as written, transaction.atomic():
        batch = EnrollmentBatch.objects.create(
            agency=gallery.agency, gallery=gallery, created_by=actor, total=len(staged),
            status=EnrollmentBatch.Status.RUNNING,
        )
        items = []
        for row in staged:
            item = EnrollmentItem(
                batch=batch, row_number=row.row_number, filename=row.filename[:300],
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
        queued = [item.pk for item in items if item.outcome == EnrollmentItem.Outcome.QUEUED]
        for pk in queued:
            transaction.on_commit(partial(enroll_batch_item.delay, pk))
    return batch


def do_create_search(
    *, agency: Agency, actor: User, probe: CheckedImage, purpose: str, case_number: str,
    galleries: QuerySet | list[Gallery], threshold: float, max_candidates: int, request=None,
) -> Search:
    from search.tasks import run_search

    galleries = list(galleries) or searchable_galleries(agency)
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
        search.galleries.set(galleries)
        record_search_usage(search)
        record_event(
            "search.created", agency=agency, actor=actor, request=request, target=search.code,
            details={
                "purpose": purpose, "case_number": case_number, "probe_sha256": probe.sha256,
                "galleries": [str(gallery.code) for gallery in galleries], "threshold": threshold,
                "max_candidates": max_candidates,
            },
        )
        transaction.on_commit(lambda: run_search.delay(search.pk))
    return search


def cancel_open_searches_of(user: User) -> int:
    return Search.objects.filter(
        created_by=user, status__in=[Search.Status.PENDING, Search.Status.RUNNING]
    ).update(status=Search.Status.CANCELLED, error=_("Cancelled: the user was suspended."), finished_at=timezone.now())


def agency_of_chain(chain: str) -> Agency | None:
    return None if chain == PLATFORM_CHAIN else Agency.objects.filter(code=chain).first()


def do_verify_audit(*, chain: str, actor: User | None = None, request=None) -> ChainReport:
    report = verify_chain(chain)
    with transaction.atomic():
        AuditVerification.objects.create(chain=chain, ok=report.ok, first_bad_seq=report.first_bad_seq,
                                         message=report.message[:500], checked_events=report.checked)
        record_event("audit.verified", agency=agency_of_chain(chain), actor=actor, request=request,
                     outcome="ok" if report.ok else "tampered",
                     details={"first_bad_seq": report.first_bad_seq, "checked": report.checked})
    return report


def do_record_checkpoints() -> int:
    """Records every chain's head and e-mails each agency's to its admins, who keep it outside the database."""
    recorded = 0
    for chain in all_chains():
        with transaction.atomic():
            checkpoint = record_checkpoint(chain)
        if checkpoint is None:
            continue
        recorded += 1
        agency = agency_of_chain(chain)
        if agency is not None:
            _mail_checkpoint(agency, checkpoint)
    return recorded


def _mail_checkpoint(agency: Agency, checkpoint) -> None:
    admins = list(agency.memberships.filter(role="admin", status="active").values_list("user__email", flat=True))
    if admins:
        send_mail(
            _("Audit checkpoint for %(agency)s") % {"agency": agency.name},
            _("Keep this message: it lets you prove later that your audit log was not shortened.\n\n"
              "Agency: %(agency)s\nSequence: %(seq)s\nHash: %(hash)s\nRecorded: %(at)s UTC\n")
            % {"agency": agency.code, "seq": checkpoint.seq, "hash": checkpoint.hash,
               "at": checkpoint.created.strftime("%Y-%m-%d %H:%M")},
            None,
            admins,
        )


# Two-person verification of candidates


class DecisionRefused(ValueError):
    """A refusal with a message for the user."""


def do_decide_candidate(*, candidate: Candidate, user: User, decision: str, comment: str, request=None) -> None:
    with transaction.atomic():
        Candidate.objects.select_for_update().get(pk=candidate.pk)
        if CandidateDecision.objects.filter(candidate=candidate, user=user).exists():
            raise DecisionRefused(_("You have already reviewed this candidate; a second review must come from "
                                    "someone else."))
        CandidateDecision.objects.create(candidate=candidate, user=user, decision=decision, comment=comment)
        search = candidate.search_face.search
        record_event(f"candidate.{decision}", agency=search.agency, actor=user, request=request,
                     target=candidate.code, details={"search": str(search.code), "comment": comment[:500]})


def do_export_search(*, search: Search, actor: User, request=None) -> None:
    record_event("search.exported", agency=search.agency, actor=actor, request=request, target=search.code)


def do_update_oversight_settings(*, agency: Agency, actor: User, request=None, **values) -> None:
    with transaction.atomic():
        agency = Agency.objects.select_for_update(no_key=True).get(pk=agency.pk)
        conduct_changed = values["code_of_conduct"].strip() != agency.code_of_conduct.strip()
        for field, value in values.items():
            setattr(agency, field, value)
        if conduct_changed:
            agency.code_of_conduct_version += 1
        agency.save()
        record_event("agency.oversight_settings_changed", agency=agency, actor=actor, request=request,
                     details={**{k: v for k, v in values.items() if k != "code_of_conduct"},
                              "code_of_conduct_version": agency.code_of_conduct_version})
