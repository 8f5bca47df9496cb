"""Loading the built-in demo gallery from a folder of photos, with each image's source recorded.

Faces are detected in this process, so loading needs no running worker; a photo already in the
gallery (same sha256) is skipped, so loading twice changes nothing.
"""
from pathlib import Path

from django.conf import settings
from django.db import transaction

from billing.demo import ensure_demo_gallery
from search.actions import (
    Provenance,
    create_gallery_image,
    duplicate_in_gallery,
    files_removed_on_failure,
    get_or_create_subject,
    record_detection,
)
from search.audit import record_event
from search.images import ImageRejected, check_image
from search.models import Gallery, LegalBasis
from search.recognition import detect_faces

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
DEMO_LEGAL_BASIS = "Openly licensed demonstration photo, used only by sales demos"


def load_demo_gallery(directory: Path, source: str) -> list[tuple[str, str]]:
    """Returns (file name, what happened) for each photo of the folder."""
    gallery = ensure_demo_gallery()
    photos = sorted(path for path in directory.iterdir() if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)
    return [(path.name, load_photo(gallery, path, source)) for path in photos]


def load_photo(gallery: Gallery, path: Path, source: str) -> str:
    data = path.read_bytes()
    try:
        checked = check_image(data)
        if duplicate_in_gallery(gallery, checked.sha256) is not None:
            return "already loaded"
        detection = detect_faces(data, settings.DETECTION_MAX_SIDE)
    except ImageRejected as rejected:
        return f"skipped: {rejected}"
    provenance = Provenance(source=f"{source}: {path.name}"[:500], legal_basis=LegalBasis.OTHER,
                            legal_basis_other=DEMO_LEGAL_BASIS)
    with files_removed_on_failure() as written, transaction.atomic():
        subject = get_or_create_subject(gallery=gallery, reference=path.stem[:100], actor=None)
        image = create_gallery_image(subject=subject, checked=checked, provenance=provenance, actor=None)
        written.append(image.file.name)
        record_event("image.uploaded", agency=gallery.agency, target=image.code,
                     details={"subject": subject.reference, "sha256": checked.sha256, "source": provenance.source,
                              "legal_basis": provenance.legal_basis})
        record_detection(image, detection.faces, actor=None)
    return image.status + (f": {image.error}" if image.error else "")
