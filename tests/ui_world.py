"""Data the interface tests look at: real photos enrolled in this process (no worker needed), search
results made of real gallery photos (finished here, or by the real worker in the browser tests' world),
so crops, boxes and one photo found in several galleries show as they would after a real search."""
import io
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from PIL import Image

from accounts.actions import do_accept_conduct, do_create_api_token
from accounts.models import Agency, Role, User
from billing.demo import do_create_demo
from privacy.erasure import Contact, do_submit_erasure_request
from privacy.models import ErasureRequest
from search import actions
from search.demo import ensure_demo_gallery
from search.enrollment import create_gallery_image, get_or_create_subject, record_detection
from search.images import check_image
from search.models import (
    Candidate,
    EnrollmentBatch,
    EnrollmentItem,
    Gallery,
    GalleryImage,
    LegalBasis,
    Search,
    SearchFace,
)
from search.recognition import detect_faces
from search.validation import Provenance, SearchParameters
from tests.conftest import PASSWORD, face_bytes, make_member, wait_for

BOOKING = Provenance(source="Booking system, Metro Central", legal_basis=LegalBasis.BOOKING_RECORD)


def enroll(gallery: Gallery, photo: str, reference: str, provenance: Provenance = BOOKING) -> GalleryImage:
    """Enrolls a photo of ../shared/faces with faces detected here, as the worker would."""
    data = face_bytes(photo)
    detection = detect_faces(data, settings.DETECTION_MAX_SIDE)
    with transaction.atomic():
        subject = get_or_create_subject(gallery=gallery, reference=reference, actor=None)
        image = create_gallery_image(subject=subject, checked=check_image(data), provenance=provenance, actor=None)
        record_detection(image, detection.faces, actor=None)
    return image


def search_with_probe(agency, actor, photo: str = "two_people.jpg", case_number: str = "CASE-2026-0142",
                      probe: bytes | None = None) -> Search:
    """A search of a photo of ../shared/faces (or of `probe`), queued for the worker once committed."""
    return actions.do_create_search(agency=agency, actor=actor, probe=check_image(probe or face_bytes(photo)),
                                    purpose="criminal_investigation", case_number=case_number, galleries=[],
                                    parameters=SearchParameters(min_similarity=50, max_candidates=10))


def faceless_photo() -> bytes:
    """A photo with no face in it: a plain gradient."""
    picture = Image.linear_gradient("L").resize((480, 320)).convert("RGB")
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG")
    return buffer.getvalue()


def finished_search(search: Search, photo: str, found: list[GalleryImage]) -> Search:
    """Finishes a search as the worker would: the probe's real faces, each with the given gallery photos as
    candidates (best first)."""
    detection = detect_faces(face_bytes(photo), settings.DETECTION_MAX_SIDE)
    for index, detected in enumerate(detection.faces, start=1):
        top, right, bottom, left = detected.box
        face = SearchFace.objects.create(search=search, index=index, top=top, right=right, bottom=bottom, left=left)
        for rank, image in enumerate(found, start=1):
            Candidate.objects.create(
                search_face=face, rank=rank, face=image.faces.first(), image=image, distance=0.3 + rank / 50,
                subject_reference=image.subject.reference, gallery_name=image.gallery.name, source=image.source,
                legal_basis=image.legal_basis, captured_at=image.captured_at)
    Search.objects.filter(pk=search.pk).update(status=Search.Status.DONE)
    search.refresh_from_db()
    return search


LONG_REFERENCE = "INTERPOL-YELLOW-NOTICE-2026-000000000000000000000000000000000000000000000000000000000000000001"


@dataclass
class World:
    """Everything the main pages of each journey show, for one agency and the platform."""

    people: object
    sales: User
    operator: User
    demo_user: User
    bookings: Gallery
    search: Search
    no_face_search: Search
    picker_image: GalleryImage
    batch: EnrollmentBatch
    erasure: ErasureRequest


def build_world(people) -> World:
    """Enrolls here, searches through the real worker (a transactional test's commits queue its jobs) and
    waits for it."""
    bookings = Gallery.objects.create(agency=people.agency, name="Bookings 2024",
                                      description="Booking photos of the Central precinct, 2024")
    wanted = Gallery.objects.create(agency=people.agency, name="Wanted persons")
    field_stops = Gallery.objects.create(agency=people.agency, name="Field stops")
    enroll(bookings, "obama.jpg", "B-1042")
    enroll(wanted, "obama.jpg", "W-77")  # the same photo in a second gallery
    enroll(bookings, "biden.jpg", LONG_REFERENCE)
    enroll(bookings, "lin-manuel-miranda.png", "B-3090")
    picker_image = enroll(field_stops, "two_people.jpg", "FS-0311")
    for user in (people.admin, people.investigator, people.auditor):
        do_accept_conduct(membership=user.membership)
    search = search_with_probe(people.agency, people.investigator)
    no_face = search_with_probe(people.agency, people.investigator, case_number="CASE-NOFACE", probe=faceless_photo())
    for number in range(3):  # the same probe again and again: a flag on the audit dashboard
        search_with_probe(people.agency, people.admin, photo="biden.jpg", case_number=f"CASE-2026-01{number}")
    do_create_api_token(user=people.investigator, name="case-import")  # listed on the token and team pages
    operator = User.objects.create_user("operator@portal.test", PASSWORD, full_name="Paula Operator",
                                        platform_role=User.PlatformRole.OPERATOR)
    sales = User.objects.create_user("sales@portal.test", PASSWORD, full_name="Sam Sales",
                                     platform_role=User.PlatformRole.SALES)
    demo = do_create_demo(name="Acme County Demo", country="US", prospect="Acme County Sheriff", days=14,
                          search_cap=50, kind_after_conversion=Agency.Kind.LAW_ENFORCEMENT,
                          emails=["lead@acme.test"], actor=sales)
    enroll(ensure_demo_gallery(), "obama2.jpg", "obama2")
    demo_user = make_member("demo@acme.test", demo.agency, Role.ADMIN)
    do_accept_conduct(membership=demo_user.membership)
    erasure = do_submit_erasure_request(photo=check_image(face_bytes("obama3.jpg")), contact=Contact(
        full_name="Barack Requester", email="requester@example.org", phone="",
        statement="Please remove my face from every gallery."))
    wait_for(lambda: not Search.objects.exclude(status=Search.Status.DONE).exists()
             and ErasureRequest.objects.filter(pk=erasure.pk, status=ErasureRequest.Status.READY).exists(),
             timeout=180)
    search.refresh_from_db()
    no_face.refresh_from_db()
    erasure.refresh_from_db()
    return World(people=people, sales=sales, operator=operator, demo_user=demo_user, bookings=bookings,
                 search=search, no_face_search=no_face, picker_image=picker_image, batch=_batch(bookings, people),
                 erasure=erasure)


def _batch(gallery: Gallery, people) -> EnrollmentBatch:
    """A finished bulk enrollment with one row of each kind of outcome."""
    outcomes = [("b-1042.jpg", "B-1042", "enrolled", ""), ("b-1043.jpg", "B-1043", "enrolled", ""),
                ("b-1044.jpg", "B-1044", "no_face", "No face found in this image."),
                ("b-1045.jpg", "B-1045", "duplicate", "Same photo as B-1042."),
                ("notes.txt", "", "unreadable", "Not a JPEG, PNG or WebP image.")]
    batch = EnrollmentBatch.objects.create(agency=people.agency, gallery=gallery, created_by=people.investigator,
                                           status=EnrollmentBatch.Status.DONE, total=len(outcomes),
                                           processed=len(outcomes))
    for row, (filename, reference, outcome, message) in enumerate(outcomes, start=2):
        EnrollmentItem.objects.create(batch=batch, row_number=row, filename=filename, subject_reference=reference,
                                      outcome=outcome, message=message)
    return batch


