"""The built-in demo gallery that sales demos search, and loading it from a folder of photos.

The gallery belongs to a platform agency that has no members, so no user can open or change it. Each
photo's source is recorded; faces are detected in this process, so loading needs no running worker; a
photo already in the gallery (same sha256) is skipped, so loading twice changes nothing.
"""
from pathlib import Path

from django.conf import settings
from django.db import transaction

from accounts.models import Agency
from audit.log import record_event
from core.files import files_removed_on_failure
from core.tenancy import CrossAgency, cross_agency, tenant_transaction
from search.enrollment import create_gallery_image, duplicate_in_gallery, get_or_create_subject, record_detection
from search.images import ImageRejected, check_image
from search.models import DemoGallery, Gallery, LegalBasis
from search.recognition import detect_faces
from search.validation import Provenance

DEMO_CONTENT_AGENCY = "Built-in demo gallery"
DEMO_GALLERY_NAME = "Demo gallery"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
DEMO_LEGAL_BASIS = "Openly licensed demonstration photo, used only by sales demos"


def demo_gallery() -> Gallery | None:
    """The built-in demo gallery, read on the demo path (the only rows of another agency a demo may read)."""
    with cross_agency(CrossAgency.DEMO_GALLERY):
        marker = DemoGallery.objects.select_related("gallery").first()
    return marker.gallery if marker else None


def ensure_demo_gallery() -> Gallery:
    with transaction.atomic():
        gallery = demo_gallery()
        if gallery is not None:
            return gallery
        owner = Agency.objects.create(name=DEMO_CONTENT_AGENCY, kind=Agency.Kind.DEMO, country="ZZ")
        with tenant_transaction(owner.pk):
            gallery = Gallery.objects.create(agency=owner, name=DEMO_GALLERY_NAME,
                                             description="Openly licensed photos that sales demos search.")
            DemoGallery.objects.create(gallery=gallery)
            record_event("demo_gallery.created", agency=owner, target=gallery.code)
    return gallery


def load_demo_gallery(directory: Path, source: str) -> list[tuple[str, str]]:
    """Returns (file name, what happened) for each photo of the folder."""
    gallery = ensure_demo_gallery()
    photos = sorted(path for path in directory.iterdir() if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)
    return [(path.name, load_photo(gallery, path, source)) for path in photos]


def load_photo(gallery: Gallery, path: Path, source: str) -> str:
    """Loading is the platform acting for the demo gallery's own agency: its rows, in its transactions."""
    data = path.read_bytes()
    try:
        checked = check_image(data)
        with tenant_transaction(gallery.agency_id):
            if duplicate_in_gallery(gallery, checked.sha256) is not None:
                return "already loaded"
        detection = detect_faces(data, settings.DETECTION_MAX_SIDE)
    except ImageRejected as rejected:
        return f"skipped: {rejected}"
    provenance = Provenance(source=f"{source}: {path.name}"[:500], legal_basis=LegalBasis.OTHER,
                            legal_basis_other=DEMO_LEGAL_BASIS)
    with files_removed_on_failure() as written, tenant_transaction(gallery.agency_id):
        subject = get_or_create_subject(gallery=gallery, reference=path.stem[:100], actor=None)
        image = create_gallery_image(subject=subject, checked=checked, provenance=provenance, actor=None)
        written.append(image.file.name)
        record_event("image.uploaded", agency=gallery.agency, target=image.code,
                     details={"subject": subject.reference, "sha256": checked.sha256, "source": provenance.source,
                              "legal_basis": provenance.legal_basis})
        record_detection(image, detection.faces, actor=None)
    return image.status + (f": {image.error}" if image.error else "")
