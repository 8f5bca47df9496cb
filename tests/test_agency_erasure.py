"""Agency admins delete an image, a subject or a whole gallery: rows, encodings and files go, and the
audit log keeps only codes and hashes."""
import json

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from search.models import EnrollmentBatch, EnrollmentItem, Face, Gallery, GalleryImage, Subject
from tests.conftest import client_for
from tests.privacy_helpers import add_image, file_exists, identity, make_subject, near

pytestmark = pytest.mark.django_db


@pytest.fixture
def subject(people):
    subject = make_subject(people.agency, "BK-0042", gallery_name="Bookings 2026")
    for seed in (1, 2):
        add_image(subject, near(identity(seed)))
    return subject


def audit_text(event: str) -> str:
    return json.dumps(AuditEvent.objects.get(event=event).details)


def test_admin_deletes_an_image_with_its_encoding_and_file(people, subject, client,
                                                           django_capture_on_commit_callbacks):
    image = subject.images.first()
    admin = client_for(client, people.admin)
    confirm = admin.get(reverse("search:image_delete", args=[image.code]))
    assert confirm.status_code == 200 and "Delete this photo?" in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(reverse("search:image_delete", args=[image.code]))
    assert response.url == reverse("search:subject_detail", args=[subject.code])
    assert not GalleryImage.objects.filter(pk=image.pk).exists() and not Face.objects.filter(image_id=image.pk).exists()
    assert not file_exists(image.file.name)
    assert subject.images.count() == 1
    details = audit_text("image.deleted")
    assert image.sha256 in details and "BK-0042" not in details and "Booking system" not in details


def test_admin_deletes_a_subject(people, subject, client, django_capture_on_commit_callbacks):
    files = [image.file.name for image in subject.images.all()]
    admin = client_for(client, people.admin)
    page = admin.get(reverse("search:subject_delete", args=[subject.code])).content.decode()
    assert "2 photos and 2 face encodings" in page
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(reverse("search:subject_delete", args=[subject.code]))
    assert not Subject.objects.filter(pk=subject.pk).exists() and not Face.objects.exists()
    assert not any(file_exists(name) for name in files)
    details = AuditEvent.objects.get(event="subject.deleted").details
    assert (details["images"], details["faces"]) == (2, 2) and "BK-0042" not in json.dumps(details)


def test_admin_deletes_a_gallery_after_typing_its_name(people, subject, client, django_capture_on_commit_callbacks):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    gallery = subject.gallery
    batch = EnrollmentBatch.objects.create(agency=people.agency, gallery=gallery, total=1)
    staged = default_storage.save("staging/test/file.upload", ContentFile(b"queued"))
    EnrollmentItem.objects.create(batch=batch, row_number=2, filename="a.jpg", staged_file=staged)
    files = [image.file.name for image in gallery.images.all()] + [staged]
    other = add_image(make_subject(people.agency, "KEEP", gallery_name="Other"), near(identity(3)))
    admin = client_for(client, people.admin)
    url = reverse("search:gallery_delete", args=[gallery.code])
    assert admin.get(url).status_code == 200
    wrong = admin.post(url, {"confirm_name": "Bookings"})
    assert wrong.status_code == 400 and Gallery.objects.filter(pk=gallery.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.post(url, {"confirm_name": "Bookings 2026"}).url == reverse("search:gallery_list")
    assert not Gallery.objects.filter(pk=gallery.pk).exists()
    assert list(Face.objects.values_list("image_id", flat=True)) == [other.pk]
    assert not any(file_exists(name) for name in files) and file_exists(other.file.name)
    details = AuditEvent.objects.get(event="gallery.deleted").details
    assert (details["subjects"], details["images"], details["faces"]) == (1, 2, 2)
    assert len(details["image_sha256_digest"]) == 64 and "Bookings" not in json.dumps(details)


@pytest.mark.parametrize("name", ["image_delete", "subject_delete", "gallery_delete"])
def test_lower_roles_get_403_outsiders_404_and_wrong_methods_405(people, subject, client, name):
    image = subject.images.first()
    code = {"image_delete": image.code, "subject_delete": subject.code, "gallery_delete": subject.gallery.code}[name]
    url = reverse(f"search:{name}", args=[code])
    for user in (people.investigator, people.auditor):
        logged_in = client_for(client, user)
        assert logged_in.get(url).status_code == 403 and logged_in.post(url).status_code == 403
        client.logout()
    outsider = client_for(client, people.outsider)
    assert outsider.get(url).status_code == 404 and outsider.post(url).status_code == 404
    client.logout()
    admin = client_for(client, people.admin)
    assert admin.put(url).status_code == 405
    assert admin.get(url.replace(str(code), "not-a-code")).status_code == 404
    assert GalleryImage.objects.count() == 2 and Face.objects.count() == 2


def test_the_delete_buttons_show_only_to_admins(people, subject, client):
    admin_page = client_for(client, people.admin).get(reverse("search:subject_detail", args=[subject.code]))
    assert reverse("search:subject_delete", args=[subject.code]) in admin_page.content.decode()
    client.logout()
    page = client_for(client, people.investigator).get(reverse("search:subject_detail", args=[subject.code]))
    assert reverse("search:subject_delete", args=[subject.code]) not in page.content.decode()
