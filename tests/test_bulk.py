"""Bulk enrollment: files or a zip plus a CSV manifest, one background job, a per-file report."""
import io
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from search.models import EnrollmentBatch, EnrollmentItem, Face, Gallery, GalleryImage, Subject
from tests.conftest import client_for, face_bytes, wait_for

MANIFEST_HEADER = "filename,subject_reference,source,legal_basis,captured_at\n"


def manifest(*rows: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("manifest.csv", (MANIFEST_HEADER + "\n".join(rows) + "\n").encode(), "text/csv")


def zipped(files: dict[str, bytes]) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"photos/{name}", data)
    return SimpleUploadedFile("photos.zip", buffer.getvalue(), "application/zip")


def outcomes(batch: EnrollmentBatch) -> dict[str, str]:
    return dict(batch.items.values_list("filename", "outcome"))


@pytest.mark.django_db(transaction=True)
def test_bulk_upload_reports_every_file_and_never_aborts_the_others(client, people, worker):
    gallery = Gallery.objects.create(agency=people.agency, name="Bookings")
    client = client_for(client, people.investigator)
    files = {
        "obama.jpg": face_bytes("obama.jpg"),
        "biden.jpg": face_bytes("biden.jpg"),
        "biden-again.jpg": face_bytes("biden.jpg"),
        "pair.jpg": face_bytes("two_people.jpg"),
        "notes.jpg": b"definitely not an image",
        "cut.jpg": face_bytes("obama2.jpg")[:30_000],
        "stray.png": face_bytes("lin-manuel-miranda.png"),
        "small.jpg": face_bytes("obama_small.jpg"),
    }
    sky = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (300, 200), (90, 140, 220)).save(sky, "JPEG")
    files["sky.jpg"] = sky.getvalue()
    rows = manifest(
        "obama.jpg,B-1,Booking 2024,booking_record,2024-03-02",
        "biden.jpg,B-2,Booking 2024,court_order,",
        "biden-again.jpg,B-3,Booking 2024,court_order,",
        "pair.jpg,B-4,Booking 2024,other: witness statement,",
        "notes.jpg,B-5,Booking 2024,booking_record,",
        "cut.jpg,B-6,Booking 2024,booking_record,",
        "sky.jpg,B-7,Booking 2024,booking_record,",
        "missing.jpg,B-8,Booking 2024,booking_record,",
        "obama.jpg,B-9,Booking 2024,booking_record,",
        ",B-10,x,booking_record,",
        "small.jpg,B-11,Booking,scraped_it,",
    )
    response = client.post(reverse("search:bulk_upload", args=[gallery.code]),
                           {"files": [zipped(files)], "manifest": rows})
    assert response.status_code == 302, response.content.decode()[:3000]
    batch = EnrollmentBatch.objects.get()
    batch = wait_for(lambda: EnrollmentBatch.objects.filter(pk=batch.pk, status="done").first(), timeout=120)
    items = {item.row_number: item for item in batch.items.all()}
    assert items[2].outcome == "enrolled"
    assert {items[3].outcome, items[4].outcome} == {"enrolled", "duplicate"}
    assert items[5].outcome == "several_faces"
    assert items[6].outcome == "unreadable" and "not a JPEG" in items[6].message
    assert items[7].outcome == "unreadable" and "truncated" in items[7].message
    assert items[8].outcome == "no_face"
    assert items[9].outcome == "bad_row" and "not in the upload" in items[9].message
    assert items[10].outcome == "bad_row" and "listed twice" in items[10].message
    assert items[11].outcome == "bad_row" and "filename is missing" in items[11].message
    assert items[12].outcome == "bad_row" and "legal basis" in items[12].message
    assert items[13].filename == "stray.png" and items[13].outcome == "bad_row"
    assert batch.processed == batch.total == 12
    # What was enrolled is whole: one face per enrolled image, provenance recorded, staging emptied.
    obama = GalleryImage.objects.get(subject__reference="B-1")
    assert obama.source == "Booking 2024" and str(obama.captured_at) == "2024-03-02"
    assert Face.objects.filter(image__status="enrolled").count() == 2
    pair = GalleryImage.objects.get(subject__reference="B-4")
    assert pair.status == "needs_review" and pair.legal_basis_other == "witness statement"
    assert not Subject.objects.filter(reference__in=["B-5", "B-6", "B-8"]).exists()
    assert not default_storage.exists(f"staging/{batch.code}") or not default_storage.listdir(f"staging/{batch.code}")[1]
    page = client.get(reverse("search:batch_detail", args=[batch.code])).content.decode()
    assert "Several faces" in page and "Bad manifest row" in page and 'max="100" value="100"' in page


@pytest.mark.django_db
def test_a_manifest_with_wrong_columns_is_rejected_as_a_whole(client, people):
    gallery = Gallery.objects.create(agency=people.agency, name="Bookings")
    bad = SimpleUploadedFile("m.csv", b"file,who\nobama.jpg,B-1\n")
    response = client_for(client, people.investigator).post(
        reverse("search:bulk_upload", args=[gallery.code]),
        {"files": [SimpleUploadedFile("obama.jpg", face_bytes("obama.jpg"))], "manifest": bad})
    assert response.status_code == 400 and "columns must be exactly" in response.content.decode()
    assert not EnrollmentBatch.objects.exists() and not EnrollmentItem.objects.exists()


@pytest.mark.django_db
def test_bulk_upload_access(client, people):
    gallery = Gallery.objects.create(agency=people.agency, name="Bookings")
    url = reverse("search:bulk_upload", args=[gallery.code])
    assert client_for(client, people.investigator).get(url).status_code == 200
    assert client_for(client, people.auditor).get(url).status_code == 403
    assert client_for(client, people.outsider).get(url).status_code == 404
    assert client_for(client, people.investigator).delete(url).status_code == 405
    response = client_for(client, people.investigator).post(url, {})
    assert response.status_code == 400
    batch = EnrollmentBatch.objects.create(agency=people.agency, gallery=gallery, total=0)
    assert client_for(client, people.outsider).get(reverse("search:batch_detail", args=[batch.code])).status_code == 404
    assert client_for(client, people.auditor).get(reverse("search:batch_detail", args=[batch.code])).status_code == 403
