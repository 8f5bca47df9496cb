"""Issue 11, part 4: the disclosure report of a case (or one search) as a PDF, read back as text."""
import io

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from audit.models import AuditEvent
from search.models import Candidate, CandidateDecision, Face, Gallery, GalleryImage, SearchFace, Subject
from tests.conftest import client_for
from tests.test_oversight import create_search

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(people, settings, tmp_path):
    """Case K-7: two searches by the investigator; the first found a candidate, confirmed by the admin."""
    settings.AUDIT_HEAD_SINK_DIR = tmp_path / "heads"
    first = create_search(people, case_number="K-7")
    second = create_search(people, case_number="K-7", purpose="missing_person")
    create_search(people, case_number="OTHER-1")
    gallery = Gallery.objects.create(agency=people.agency, name="Bookings 2024")
    subject = Subject.objects.create(gallery=gallery, reference="BK-4411")
    image = GalleryImage.objects.create(agency=people.agency, gallery=gallery, subject=subject, sha256="a" * 64,
                                        width=10, height=10, source="Booking system", legal_basis="booking_record",
                                        status="enrolled")
    face = Face.objects.create(image=image, gallery=gallery, agency=people.agency, top=1, right=9, bottom=9, left=1,
                               encoding=[0.01] * 128)
    search_face = SearchFace.objects.create(search=first, index=1, top=1, right=2, bottom=3, left=0)
    candidate = Candidate.objects.create(search_face=search_face, rank=1, face=face, image=image, distance=0.3,
                                         subject_reference="BK-4411", gallery_name=gallery.name,
                                         source="Booking system", legal_basis="booking_record")
    CandidateDecision.objects.create(candidate=candidate, user=people.admin, decision="confirmed",
                                     comment="same scar")
    first.status = second.status = "done"
    first.save(update_fields=["status"])
    second.save(update_fields=["status"])
    client_for(Client(), people.admin).get(reverse("search:search_detail", args=[first.code]))  # a read to list
    return first, second


def pdf_text(response) -> str:
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


def test_the_case_report_renders_every_search_its_candidates_decisions_reads_and_receipts(people, case):
    first, second = case
    auditor = client_for(Client(), people.auditor)
    text = pdf_text(auditor.get(reverse("oversight:disclosure_case"), {"case_number": "K-7"}))
    flat = " ".join(text.split())
    assert "Alpha Police" in flat and "K-7" in flat and "OTHER-1" not in flat
    assert str(first.code) in flat and str(second.code) in flat
    assert "investigator@alpha.test" in flat and "Criminal investigation" in flat and "Missing person" in flat
    assert "BK-4411" in flat and "Bookings 2024" in flat and "same scar" in flat
    assert "Confirmed: Admin <admin@alpha.test>" in flat
    assert "not an identification" in flat
    assert "search.viewed" in flat and "disclosure.exported" in flat  # who read it, the export itself included
    created = AuditEvent.objects.get(event="search.created", target=str(first.code))
    assert created.leaf_hash[:32] in flat.replace(" ", "")
    exported = AuditEvent.objects.get(event="disclosure.exported")
    assert exported.details == {"case_number": "K-7", "searches": [str(first.code), str(second.code)]}
    assert exported.actor_code == people.auditor.code


def test_one_search_report_is_for_admins_and_auditors_only(people, case):
    first, _second = case
    url = reverse("oversight:disclosure_search", args=[first.code])
    assert str(first.code) in " ".join(pdf_text(client_for(Client(), people.admin).get(url)).split())
    assert client_for(Client(), people.investigator).get(url).status_code == 403
    assert client_for(Client(), people.outsider).get(url).status_code == 404
    assert client_for(Client(), people.admin).post(url).status_code == 405


def test_a_case_report_needs_a_case_that_exists(people, case):
    auditor = client_for(Client(), people.auditor)
    assert auditor.get(reverse("oversight:disclosure_case")).status_code == 400
    assert auditor.get(reverse("oversight:disclosure_case"), {"case_number": "NOPE"}).status_code == 404
    assert not AuditEvent.objects.filter(event="disclosure.exported").exists()
