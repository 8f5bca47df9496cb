"""Opt-out and erasure across agencies: a person's request, the operators' decision, and what an
approval removes. Each action owns its transaction and its audit events; files go after commit."""
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from pgvector.django import L2Distance

from accounts.models import Agency, Membership, Role, User
from audit.log import record_event
from core.files import delete_files_after_commit, files_removed_on_failure, generated_name
from core.jobs import dispatch_on_commit
from core.refusals import Refused
from core.tenancy import CrossAgency, cross_agency
from privacy.models import ErasureRequest, SuppressedEncoding
from privacy.tasks import detect_erasure_faces
from search.images import CheckedImage
from search.models import Face, GalleryImage


@dataclass(frozen=True)
class Contact:
    full_name: str
    email: str
    phone: str
    statement: str


@dataclass
class Removal:
    """What an approval removed from one agency."""

    faces: int = 0
    image_sha256: list[str] = field(default_factory=list)


def do_submit_erasure_request(*, contact: Contact, photo: CheckedImage, request=None) -> ErasureRequest:
    with files_removed_on_failure() as written, transaction.atomic():
        erasure = ErasureRequest(
            full_name=contact.full_name, email=contact.email.strip().lower(), phone=contact.phone,
            statement=contact.statement, photo_sha256=photo.sha256, photo_width=photo.width,
            photo_height=photo.height,
        )
        erasure.photo.save(generated_name(photo.extension), ContentFile(photo.data), save=False)
        written.append(erasure.photo.name)
        erasure.save(force_insert=True)
        record_event("erasure.requested", agency=None, request=request, target=erasure.code,
                     details={"photo_sha256": photo.sha256})
        dispatch_on_commit(detect_erasure_faces, erasure.pk)
        transaction.on_commit(lambda: _mail_requester(erasure, "privacy/email/erasure_received.txt",
                                                      _("We received your erasure request")), robust=True)
    return erasure


def do_approve_erasure(*, erasure: ErasureRequest, face_indexes: list[int], actor: User, request=None) -> int:
    """Suppresses the chosen faces and removes every gallery photo of them in every agency.
    Returns the number of faces removed."""
    with transaction.atomic():
        erasure = ErasureRequest.objects.select_for_update().get(pk=erasure.pk)
        if erasure.status != ErasureRequest.Status.READY:
            raise Refused(_("This request is not awaiting a decision."))
        if not face_indexes or any(not 0 <= index < len(erasure.detected_faces) for index in face_indexes):
            raise Refused(_("Choose the requester's face."))
        encodings = [erasure.detected_faces[index]["encoding"] for index in sorted(set(face_indexes))]
        SuppressedEncoding.objects.bulk_create(
            [SuppressedEncoding(request=erasure, encoding=encoding) for encoding in encodings]
        )
        with cross_agency(CrossAgency.ERASURE):
            removals, file_names = _remove_matching_images(encodings)
        for agency, removal in removals.items():
            record_event("erasure.applied", agency=agency, actor=actor, request=request, target=erasure.code,
                         details={"faces_removed": removal.faces, "image_sha256": removal.image_sha256})
        total = sum(removal.faces for removal in removals.values())
        file_names.append(erasure.photo.name)
        erasure.status, erasure.decided_at, erasure.decided_by = ErasureRequest.Status.APPROVED, timezone.now(), actor
        erasure.faces_removed = total
        erasure.images_removed = sum(len(removal.image_sha256) for removal in removals.values())
        erasure.agencies_affected = len(removals)
        _forget_biometrics(erasure)
        record_event("erasure.approved", agency=None, actor=actor, request=request, target=erasure.code,
                     details={"faces_removed": total, "images_removed": erasure.images_removed,
                              "agencies": [str(agency.code) for agency in removals],
                              "suppressed_encodings": len(encodings)})
        delete_files_after_commit(file_names)
        notified = {agency.pk: removal.faces for agency, removal in removals.items()}
        transaction.on_commit(lambda: _notify_agencies(erasure, notified), robust=True)
        transaction.on_commit(lambda: _mail_requester(erasure, "privacy/email/erasure_approved.txt",
                                                      _("Your erasure request was carried out")), robust=True)
    return total


def do_view_erasure_photo(*, erasure: ErasureRequest, actor: User, request=None) -> None:
    """The requester's photo belongs to no agency: an operator's look at it is in the platform's log."""
    record_event("erasure.photo_viewed", agency=None, actor=actor, request=request, target=erasure.code,
                 details={"photo_sha256": erasure.photo_sha256})


def do_reject_erasure(*, erasure: ErasureRequest, reason: str, actor: User, request=None) -> None:
    with transaction.atomic():
        erasure = ErasureRequest.objects.select_for_update().get(pk=erasure.pk)
        if erasure.is_decided:
            raise Refused(_("This request is not awaiting a decision."))
        photo_name = erasure.photo.name
        erasure.status, erasure.decided_at, erasure.decided_by = ErasureRequest.Status.REJECTED, timezone.now(), actor
        erasure.rejection_reason = reason
        _forget_biometrics(erasure)
        record_event("erasure.rejected", agency=None, actor=actor, request=request, target=erasure.code,
                     details={"reason": reason})
        delete_files_after_commit([photo_name])
        transaction.on_commit(lambda: _mail_requester(erasure, "privacy/email/erasure_rejected.txt",
                                                      _("Your erasure request")), robust=True)


def _forget_biometrics(erasure: ErasureRequest) -> None:
    """Once decided, a request keeps neither the photo nor the encodings (those that count are suppressed)."""
    erasure.photo = ""
    erasure.detected_faces = []
    erasure.save()


def _remove_matching_images(encodings: list) -> tuple[dict[Agency, Removal], list[str]]:
    """Deletes every gallery photo holding a face within the suppression threshold of `encodings`,
    whether enrolled or still waiting for someone to pick a face. An exact scan, not the index:
    an erasure must not miss a face."""
    matched_faces: dict[int, int] = defaultdict(int)  # image id -> faces within the threshold
    for encoding in encodings:
        for image_id in (
            Face.objects.alias(distance=L2Distance("encoding", encoding))
            .filter(distance__lt=settings.SUPPRESSION_THRESHOLD)
            .values_list("image_id", flat=True)
        ):
            matched_faces[image_id] += 1
    for image_id, count in _matching_review_faces(encodings):
        matched_faces[image_id] += count
    images = GalleryImage.objects.select_for_update().select_related("agency").filter(pk__in=list(matched_faces))
    removals: dict[Agency, Removal] = defaultdict(Removal)
    file_names = []
    for image in images.order_by("pk"):
        removal = removals[image.agency]
        removal.faces += matched_faces[image.pk]
        removal.image_sha256.append(image.sha256)
        file_names.append(image.file.name)
    GalleryImage.objects.filter(pk__in=list(matched_faces)).delete()
    return dict(removals), file_names


def _matching_review_faces(encodings: list):
    targets = np.asarray(encodings, dtype=np.float64)
    pending = GalleryImage.objects.filter(status=GalleryImage.Status.NEEDS_REVIEW).values_list("pk", "review_faces")
    for image_id, review_faces in pending.iterator():
        count = sum(
            1 for face in review_faces
            if np.min(np.linalg.norm(targets - np.asarray(face["encoding"]), axis=1)) < settings.SUPPRESSION_THRESHOLD
        )
        if count:
            yield image_id, count


def _notify_agencies(erasure: ErasureRequest, faces_by_agency: dict[int, int]) -> None:
    with cross_agency(CrossAgency.ERASURE):
        admins = list(Membership.objects.select_related("user", "agency").filter(
            agency_id__in=list(faces_by_agency), role=Role.ADMIN, status=Membership.Status.ACTIVE
        ))
    for membership in admins:
        context = {"agency": membership.agency, "erasure": erasure, "faces": faces_by_agency[membership.agency_id]}
        send_mail(_("Faces removed from your galleries under an erasure request"),
                  render_to_string("privacy/email/erasure_agency_notice.txt", context), None,
                  [membership.user.email])


def _mail_requester(erasure: ErasureRequest, template: str, subject: str) -> None:
    send_mail(subject, render_to_string(template, {"erasure": erasure}), None, [erasure.email])
