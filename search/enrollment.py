"""The steps of enrolling a gallery photo, shared by single uploads, bulk rows, the demo loader and the
worker: store the file and its row, then turn a detection into the image's status and searchable faces.
The callers hold the transaction."""
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import User
from audit.log import record_event
from core.files import delete_files_after_commit, generated_name
from core.refusals import violates
from search.images import CheckedImage
from search.models import SUBJECT_REFERENCE_UNIQUE, Face, Gallery, GalleryImage, Subject
from search.screening import any_blocked, face_screen
from search.validation import Provenance


def add_subject(*, gallery: Gallery, reference: str, display_name: str = "", notes: str = "", actor: User | None,
                request=None) -> Subject:
    subject = Subject.objects.create(gallery=gallery, reference=reference, display_name=display_name, notes=notes)
    record_event("subject.created", agency=gallery.agency, actor=actor, request=request, target=subject.code,
                 details={"gallery": str(gallery.code), "reference": reference})
    return subject


def get_or_create_subject(*, gallery: Gallery, reference: str, actor: User | None, request=None) -> Subject:
    """The gallery's subject with this reference, created if new. Two uploads naming the same new subject at
    once both get the one that was created first."""
    subject = Subject.objects.filter(gallery=gallery, reference=reference).first()
    if subject is not None:
        return subject
    try:
        with transaction.atomic():  # a savepoint: losing the race leaves the caller's transaction usable
            return add_subject(gallery=gallery, reference=reference, actor=actor, request=request)
    except IntegrityError as error:
        if not violates(error, SUBJECT_REFERENCE_UNIQUE):
            raise
        # PostgreSQL refuses the insert only once the winner has committed, so its subject is there to read.
        return Subject.objects.get(gallery=gallery, reference=reference)


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
    # The row first: an insert refused by a unique constraint (the same photo, uploaded at the same moment)
    # has then written no file. The caller removes the file if its transaction fails later.
    image.file.name = generated_name(checked.extension)
    image.save(force_insert=True)
    image.file.storage.save(image.file.name, ContentFile(checked.data))
    return image


def record_detection(image: GalleryImage, faces: list, actor: User | None) -> None:
    """Turns a detection into the image's status and searchable faces; the caller holds the transaction."""
    image.review_faces = []
    image.error = ""
    if any_blocked(faces):
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
        add_face(image, faces[0].box, faces[0].encoding)
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
    image.error = str(face_screen().refusal_message)
    image.save(update_fields=["status", "error", "review_faces", "file"])
    record_event("image.suppressed", agency=image.agency, actor=actor, target=image.code,
                 details={"sha256": image.sha256})


def add_face(image: GalleryImage, box, encoding) -> Face:
    top, right, bottom, left = box
    return Face.objects.create(
        image=image, gallery_id=image.gallery_id, agency_id=image.agency_id,
        top=top, right=right, bottom=bottom, left=left, encoding=list(encoding),
    )
