"""Agency-side erasure: an admin deletes an image, a subject or a whole gallery. Encodings go with
their rows, files after commit, and the audit event keeps only codes and hashes."""
import hashlib
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, QuerySet

from accounts.models import User
from audit.log import record_event
from core.files import delete_files_after_commit
from search.models import EnrollmentItem, Face, Gallery, GalleryImage, Subject


@dataclass(frozen=True)
class Erased:
    images: int
    faces: int
    image_sha256: list[str]
    file_names: list[str]

    @property
    def sha256_digest(self) -> str:
        """One hash standing for all the image hashes, for deletions too large to list them."""
        return hashlib.sha256("\n".join(sorted(self.image_sha256)).encode()).hexdigest()


def _erase_images(images: QuerySet) -> Erased:
    """Deletes the images (their faces cascade); the caller holds the transaction and deletes the files."""
    rows = list(images.select_for_update().values_list("pk", "sha256", "file"))
    ids = [pk for pk, _sha, _file in rows]
    faces = Face.objects.filter(image_id__in=ids).aggregate(count=Count("pk"))["count"]
    GalleryImage.objects.filter(pk__in=ids).delete()
    return Erased(images=len(rows), faces=faces, image_sha256=[sha for _pk, sha, _file in rows],
                  file_names=[name for _pk, _sha, name in rows if name])


def do_delete_image(*, image: GalleryImage, actor: User, request=None) -> Erased:
    with transaction.atomic():
        erased = _erase_images(GalleryImage.objects.filter(pk=image.pk))
        record_event("image.deleted", agency=image.agency, actor=actor, request=request, target=image.code,
                     details={"subject": str(image.subject.code), "faces": erased.faces,
                              "image_sha256": erased.image_sha256})
        delete_files_after_commit(erased.file_names)
    return erased


def do_delete_subject(*, subject: Subject, actor: User, request=None) -> Erased:
    with transaction.atomic():
        erased = _erase_images(GalleryImage.objects.filter(subject=subject))
        subject.delete()
        record_event("subject.deleted", agency=subject.gallery.agency, actor=actor, request=request,
                     target=subject.code,
                     details={"gallery": str(subject.gallery.code), "images": erased.images, "faces": erased.faces,
                              "image_sha256": erased.image_sha256})
        delete_files_after_commit(erased.file_names)
    return erased


def do_delete_gallery(*, gallery: Gallery, actor: User, request=None) -> Erased:
    with transaction.atomic():
        gallery = Gallery.objects.select_for_update().get(pk=gallery.pk)
        staged = list(EnrollmentItem.objects.filter(batch__gallery=gallery).exclude(staged_file="")
                      .values_list("staged_file", flat=True))
        erased = _erase_images(GalleryImage.objects.filter(gallery=gallery))
        subjects = gallery.subjects.count()
        gallery.delete()
        record_event("gallery.deleted", agency=gallery.agency, actor=actor, request=request, target=gallery.code,
                     details={"subjects": subjects, "images": erased.images, "faces": erased.faces,
                              "image_sha256_digest": erased.sha256_digest})
        delete_files_after_commit(erased.file_names + staged)
    return erased
