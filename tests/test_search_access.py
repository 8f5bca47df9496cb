"""Every gallery, image, crop and search view: happy path, outsider 404, low role 403, wrong method 405."""
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.files import generated_name
from search.models import Candidate, Face, Gallery, GalleryImage, Search, SearchFace, Subject
from tests.conftest import client_for, face_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(people):
    gallery = Gallery.objects.create(agency=people.agency, name="Alpha")
    subject = Subject.objects.create(gallery=gallery, reference="A1")
    image = GalleryImage(agency=people.agency, gallery=gallery, subject=subject, sha256="a" * 64, width=600,
                         height=800, source="Booking", legal_basis="booking_record", status="enrolled")
    image.file.save(generated_name("jpg"), ContentFile(face_bytes("obama.jpg")), save=False)
    image.save()
    face = Face.objects.create(image=image, gallery=gallery, agency=people.agency, top=100, right=400, bottom=400,
                               left=100, encoding=[0.0] * 128)
    search = Search(agency=people.agency, created_by=people.investigator, purpose="other", case_number="C-1",
                    threshold=0.6, max_candidates=10, probe_sha256="b" * 64, probe_width=600, probe_height=800,
                    status="done")
    search.probe.save("probe.jpg", ContentFile(face_bytes("obama2.jpg")), save=False)
    search.save()
    search_face = SearchFace.objects.create(search=search, index=1, top=1, right=2, bottom=3, left=0)
    candidate = Candidate.objects.create(search_face=search_face, rank=1, face=face, image=image, distance=0.3,
                                         subject_reference="A1", gallery_name="Alpha", source="Booking",
                                         legal_basis="booking_record")
    return {"gallery": gallery, "subject": subject, "image": image, "search": search, "candidate": candidate}


READ_VIEWS = [
    ("search:gallery_detail", "gallery"),
    ("search:subject_detail", "subject"),
    ("search:image_file", "image"),
    ("search:image_status", "image"),
    ("search:search_detail", "search"),
    ("search:search_probe", "search"),
    ("search:candidate_crop", "candidate"),
]


@pytest.mark.parametrize("name,key", READ_VIEWS)
def test_read_views_for_members_outsiders_and_wrong_methods(client, people, objects, name, key):
    url = reverse(name, args=[objects[key].code])
    for user in (people.investigator, people.auditor, people.admin):
        response = client_for(client, user).get(url)
        assert response.status_code == 200, (user, response.status_code)
    assert client_for(client, people.outsider).get(url).status_code == 404
    assert client_for(client, people.investigator).post(url).status_code == 405
    assert client_for(client, people.investigator).get(url.replace(str(objects[key].code), "not-a-code")).status_code == 404


def test_files_and_crops_are_served_privately(client, people, objects):
    investigator = client_for(client, people.investigator)
    response = investigator.get(reverse("search:image_file", args=[objects["image"].code]))
    assert response["Content-Type"] == "image/jpeg" and "no-store" in response["Cache-Control"]
    crop = investigator.get(reverse("search:candidate_crop", args=[objects["candidate"].code]))
    assert crop["Content-Type"] == "image/jpeg" and crop.content[:2] == b"\xff\xd8"


def test_private_files_live_outside_any_public_path(client, settings, people, objects):
    from pathlib import Path

    path = Path(objects["image"].file.path).resolve()
    assert Path(settings.PRIVATE_MEDIA_ROOT).resolve() in path.parents
    assert Path(settings.STATIC_ROOT).resolve() not in path.parents
    assert len(Path(objects["image"].file.name).stem) >= 32  # a generated name, not the uploaded one
    investigator = client_for(client, people.investigator)
    for guess in (f"/{objects['image'].file.name}", f"/media/{objects['image'].file.name}",
                  f"/static/{objects['image'].file.name}"):
        assert investigator.get(guess).status_code == 404


def test_lists_are_built_from_the_current_agency(client, people, objects):
    Gallery.objects.create(agency=people.other_agency, name="Beta secret")
    page = client_for(client, people.investigator).get(reverse("search:gallery_list")).content.decode()
    assert "Alpha" in page and "Beta secret" not in page
    outsider_page = client_for(client, people.outsider).get(reverse("search:search_list")).content.decode()
    assert "C-1" not in outsider_page and "No searches yet" in outsider_page
    assert client_for(client, people.investigator).post(reverse("search:gallery_list")).status_code == 405


def test_gallery_create_rules(client, people):
    url = reverse("search:gallery_create")
    admin = client_for(client, people.admin)
    assert admin.post(url, {"name": "New", "description": "d"}).status_code == 302
    assert admin.post(url, {"name": "New"}).status_code == 400  # duplicate name
    assert admin.post(url, {"name": ""}).status_code == 400
    assert admin.delete(url).status_code == 405
    assert client_for(client, people.investigator).post(url, {"name": "X"}).status_code == 403
    assert Gallery.objects.filter(agency=people.agency).count() == 1


def test_subject_create_rules(client, people, objects):
    url = reverse("search:subject_create", args=[objects["gallery"].code])
    investigator = client_for(client, people.investigator)
    assert investigator.post(url, {"reference": "A2"}).status_code == 302
    assert investigator.post(url, {"reference": "A2"}).status_code == 400
    assert investigator.get(url).status_code == 405
    assert client_for(client, people.auditor).post(url, {"reference": "A3"}).status_code == 403
    assert client_for(client, people.outsider).post(url, {"reference": "A4"}).status_code == 404
    assert sorted(Subject.objects.values_list("reference", flat=True)) == ["A1", "A2"]


def test_image_upload_rules(client, people, objects):
    url = reverse("search:image_upload", args=[objects["subject"].code])
    data = lambda: {"image": SimpleUploadedFile("p.jpg", face_bytes("obama_small.jpg")), "source": "s",
                    "legal_basis": "booking_record"}
    assert client_for(client, people.auditor).post(url, data()).status_code == 403
    assert client_for(client, people.outsider).post(url, data()).status_code == 404
    assert client_for(client, people.investigator).get(url).status_code == 405
    investigator = client_for(client, people.investigator)
    assert investigator.post(url, data()).status_code == 302
    response = investigator.post(url, data())
    assert response.status_code == 400 and "already in the gallery" in response.content.decode()
    assert GalleryImage.objects.count() == 2


def test_pick_face_rules(client, people, objects):
    url = reverse("search:image_pick_face", args=[objects["image"].code])
    assert client_for(client, people.outsider).post(url, {"face": 0}).status_code == 404
    assert client_for(client, people.auditor).post(url, {"face": 0}).status_code == 403
    assert client_for(client, people.investigator).get(url).status_code == 405
    response = client_for(client, people.investigator).post(url, {"face": "x"}, follow=True)
    assert "Pick one of the numbered faces" in response.content.decode()


def test_search_new_rules(client, people, objects):
    url = reverse("search:search_new")
    assert client_for(client, people.auditor).get(url).status_code == 403
    assert client_for(client, people.investigator).get(url).status_code == 200
    assert client_for(client, people.investigator).put(url).status_code == 405
    assert client_for(client, people.investigator).post(url, {}).status_code == 400
    operator_page = client_for(client, people.outsider).get(url).content.decode()
    assert "Alpha" not in operator_page  # the form offers only the user's own galleries


def test_a_search_and_its_audit_event_are_written_together(client, people, objects, django_capture_on_commit_callbacks):
    from audit.models import AuditEvent

    with django_capture_on_commit_callbacks() as callbacks:
        client_for(client, people.investigator).post(reverse("search:search_new"), {
            "probe": SimpleUploadedFile("p.jpg", face_bytes("obama_small.jpg")), "purpose": "missing_person",
            "case_number": "MP-9", "min_similarity": 50, "max_candidates": 10})
    search = Search.objects.get(case_number="MP-9")
    event = AuditEvent.objects.get(event="search.created", target=str(search.code))
    assert event.details["case_number"] == "MP-9" and event.details["probe_sha256"] == search.probe_sha256
    assert event.details["galleries"] == [str(objects["gallery"].code)]
    assert len(callbacks) == 1  # the job is queued only after commit
