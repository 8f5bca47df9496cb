"""Concurrent duplicates (issue 12, item 4): eight requests at once that the sequential case answers with one
success and seven refusals get exactly that, never a 500 from the database's unique constraints, and leave
no stored file without its row and no subject created for an upload that was refused."""
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from search.models import Gallery, GalleryImage, Subject
from tests.concurrency import run_together
from tests.conftest import client_for, face_bytes
from tests.mfa import enroll_totp
from tests.test_api import api_client

pytestmark = pytest.mark.django_db(transaction=True)
PARALLEL = 8
DUPLICATE = "This exact image is already in the gallery."
NAME_TAKEN = "Your agency already has a gallery with this name."
PHOTOS = ["obama.jpg", "obama2.jpg", "obama3.jpg", "obama-240p.jpg", "obama_small.jpg", "biden.jpg",
          "lin-manuel-miranda.png", "two_people.jpg"]


def stored_files() -> set[str]:
    root = Path(default_storage.location)
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def web_clients(user):
    enroll_totp(user)  # once, before the threads: each would otherwise enroll its own device
    return lambda: client_for(Client(), user)


def provenance() -> dict:
    return {"source": "Booking system", "legal_basis": "booking_record"}


def test_parallel_uploads_of_one_photo_into_one_gallery_get_one_success_and_the_sequential_refusal(people):
    gallery = Gallery.objects.create(agency=people.agency, name="Bookings")
    subject = Subject.objects.create(gallery=gallery, reference="OB-1")
    url = reverse("search:image_upload", args=[subject.code])
    before = stored_files()

    def upload(http):
        response = http.post(url, {"image": SimpleUploadedFile("o.jpg", face_bytes("obama.jpg")), **provenance()})
        return response.status_code, DUPLICATE in response.content.decode()

    results = run_together(PARALLEL, web_clients(people.investigator), upload)
    assert sorted(results) == [(302, False)] + [(400, True)] * (PARALLEL - 1)
    assert stored_files() - before == {GalleryImage.objects.get().file.name}


def api_upload(gallery: Gallery, reference: str, photo: str):
    def act(api):
        response = api.post(f"/api/v1/galleries/{gallery.code}/images/", {
            "image": SimpleUploadedFile("photo", face_bytes(photo)), "subject_reference": reference, **provenance()})
        return response.status_code, response.json()
    return act


def test_parallel_api_uploads_of_one_photo_under_one_new_subject_leave_no_empty_subject(people):
    gallery = Gallery.objects.create(agency=people.agency, name="Bookings")
    before = stored_files()
    results = run_together(PARALLEL, lambda: api_client(people.investigator), api_upload(gallery, "NEW-1", "obama.jpg"))
    statuses = sorted(status for status, _body in results)
    assert statuses == [202] + [400] * (PARALLEL - 1)
    assert all(body == {"image": [DUPLICATE]} for status, body in results if status == 400)
    assert Subject.objects.filter(gallery=gallery).count() == 1
    assert AuditEvent.objects.filter(event="subject.created").count() == 1
    assert stored_files() - before == {GalleryImage.objects.get().file.name}


def test_parallel_api_uploads_of_different_photos_naming_one_new_subject_all_succeed(people):
    gallery = Gallery.objects.create(agency=people.agency, name="Bookings")
    clients = iter([api_client(people.investigator) for _photo in PHOTOS])
    photos = iter(PHOTOS)
    results = run_together(PARALLEL, lambda: (next(clients), next(photos)),
                           lambda prepared: api_upload(gallery, "NEW-2", prepared[1])(prepared[0]))
    assert sorted(status for status, _body in results) == [202] * PARALLEL, results
    subject = Subject.objects.get(gallery=gallery)
    assert subject.images.count() == PARALLEL


def test_parallel_creations_of_one_gallery_name_get_one_success_and_the_sequential_refusal(people):
    def create(http):
        response = http.post(reverse("search:gallery_create"), {"name": "Bookings", "description": ""})
        return response.status_code, NAME_TAKEN in response.content.decode()

    results = run_together(PARALLEL, web_clients(people.admin), create)
    assert sorted(results) == [(302, False)] + [(400, True)] * (PARALLEL - 1)
    assert Gallery.objects.filter(name="Bookings").count() == 1


def test_parallel_api_creations_of_one_gallery_name_answer_like_the_sequential_case(people):
    def create(api):
        response = api.post("/api/v1/galleries/", {"name": "Bookings"}, content_type="application/json")
        return response.status_code, response.json()

    results = run_together(PARALLEL, lambda: api_client(people.admin), create)
    assert sorted(status for status, _body in results) == [201] + [400] * (PARALLEL - 1)
    assert all(body == {"name": [NAME_TAKEN]} for status, body in results if status == 400)
