"""Enrollment and 1:N search end to end: the web views, the real worker, pgvector and the real photos."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from search.models import Candidate, Face, Gallery, GalleryImage, Search, SearchFace, Subject
from tests.conftest import client_for, face_bytes, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def upload(name: str, data: bytes | None = None, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, face_bytes(name) if data is None else data, content_type=content_type)


def make_gallery(agency, name="Bookings") -> Gallery:
    return Gallery.objects.create(agency=agency, name=name)


def enroll(client, gallery: Gallery, reference: str, photo: str) -> GalleryImage:
    subject = Subject.objects.get_or_create(gallery=gallery, reference=reference)[0]
    response = client.post(reverse("search:image_upload", args=[subject.code]), {
        "image": upload(photo), "source": "Booking system", "legal_basis": "booking_record",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    image = GalleryImage.objects.filter(subject=subject).latest("created")
    return wait_for(lambda: GalleryImage.objects.exclude(status="pending").filter(pk=image.pk).first())


def search_for(client, photo: str, **fields) -> Search:
    data = {"probe": upload(photo), "purpose": "criminal_investigation", "case_number": "CASE-1",
            "min_similarity": 50, "max_candidates": 10, **fields}
    response = client.post(reverse("search:search_new"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    search = Search.objects.latest("created")
    return wait_for(lambda: Search.objects.filter(pk=search.pk, status__in=["done", "failed"]).first())


@pytest.fixture
def enrolled(people, worker, client):
    """obama, biden and lin-manuel-miranda enrolled in agency A's gallery."""
    client = client_for(client, people.investigator)
    gallery = make_gallery(people.agency)
    images = {ref: enroll(client, gallery, ref, photo) for ref, photo in
              [("OBAMA", "obama.jpg"), ("BIDEN", "biden.jpg"), ("LMM", "lin-manuel-miranda.png")]}
    assert {image.status for image in images.values()} == {"enrolled"}
    return gallery, images, client


def candidates_of(search: Search, face_index: int = 1) -> list[Candidate]:
    return list(Candidate.objects.filter(search_face__search=search, search_face__index=face_index).order_by("rank"))


def test_obama2_finds_obama_first(enrolled):
    _gallery, _images, client = enrolled
    search = search_for(client, "obama2.jpg")
    assert search.status == "done"
    candidates = candidates_of(search)
    assert candidates[0].subject_reference == "OBAMA"
    assert candidates[0].distance < 0.6
    assert [c.distance for c in candidates] == sorted(c.distance for c in candidates)
    page = client.get(reverse("search:search_detail", args=[search.code])).content.decode()
    assert "OBAMA" in page and "not an identification" in page


def test_biden_never_matches_obama_under_the_default_threshold(enrolled):
    _gallery, _images, client = enrolled
    search = search_for(client, "biden.jpg")
    references = [c.subject_reference for c in candidates_of(search)]
    assert references[0] == "BIDEN"
    assert "OBAMA" not in references


def test_two_people_gives_two_faces_each_with_its_own_results(enrolled):
    _gallery, _images, client = enrolled
    search = search_for(client, "two_people.jpg")
    faces = list(SearchFace.objects.filter(search=search))
    assert len(faces) == 2
    assert faces[0].box != faces[1].box
    assert all(0 <= face.left < face.right <= search.probe_width for face in faces)


def test_rgba_png_probe_works(enrolled):
    _gallery, _images, client = enrolled
    search = search_for(client, "32bit.png")
    assert search.status == "done"
    assert SearchFace.objects.filter(search=search).count() == 1


def test_a_photo_with_no_face_is_a_normal_done_result(enrolled):
    _gallery, _images, client = enrolled
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (120, 160, 200)).save(buffer, "JPEG")
    data = {"probe": SimpleUploadedFile("sky.jpg", buffer.getvalue()), "purpose": "missing_person",
            "case_number": "MP-7", "min_similarity": 50, "max_candidates": 10}
    client.post(reverse("search:search_new"), data)
    search = wait_for(lambda: Search.objects.filter(status__in=["done", "failed"]).first())
    assert search.status == "done" and search.error == ""
    page = client.get(reverse("search:search_detail", args=[search.code])).content.decode()
    assert "No face found" in page


def test_results_are_stored_and_reopening_shows_the_same_candidates(enrolled):
    _gallery, _images, client = enrolled
    search = search_for(client, "obama3.jpg")
    first = [(c.code, c.distance) for c in candidates_of(search)]
    again = [(c.code, c.distance) for c in candidates_of(Search.objects.get(pk=search.pk))]
    assert first == again and first


def test_the_search_only_sees_the_chosen_galleries(enrolled, people):
    gallery, _images, client = enrolled
    other_gallery = make_gallery(people.agency, "Consented")
    search = search_for(client, "obama2.jpg", galleries=[other_gallery.pk])
    assert search.status == "done"
    assert candidates_of(search) == []


def test_agency_isolation_even_when_the_other_agencys_face_is_nearer(people, worker, client):
    alpha = make_gallery(people.agency)
    beta = make_gallery(people.other_agency)
    enroll(client_for(client, people.outsider), beta, "B-OBAMA", "obama2.jpg")
    client.logout()
    investigator = client_for(client, people.investigator)
    enroll(investigator, alpha, "A-OBAMA", "obama.jpg")
    search = search_for(investigator, "obama2.jpg")  # the very photo agency B enrolled
    references = [c.subject_reference for c in candidates_of(search)]
    assert references == ["A-OBAMA"]
    beta_face = Face.objects.get(gallery=beta)
    assert not Candidate.objects.filter(face=beta_face).exists()


def test_a_task_run_twice_creates_no_duplicate_faces_or_candidates(enrolled):
    from search.tasks import enroll_image, run_search

    _gallery, images, client = enrolled
    image = images["OBAMA"]
    enroll_image.apply(args=[image.pk])
    assert Face.objects.filter(image=image).count() == 1
    search = search_for(client, "obama2.jpg")
    count = Candidate.objects.filter(search_face__search=search).count()
    run_search.apply(args=[search.pk])
    assert Candidate.objects.filter(search_face__search=search).count() == count


def test_an_image_with_several_faces_needs_review_then_the_user_picks_one(people, worker, client):
    client = client_for(client, people.investigator)
    gallery = make_gallery(people.agency)
    image = enroll(client, gallery, "PAIR", "two_people.jpg")
    assert image.status == "needs_review" and len(image.review_faces) == 2
    assert not Face.objects.filter(image=image).exists()
    second_box = image.review_faces[1]["box"]
    response = client.post(reverse("search:image_pick_face", args=[image.code]), {"face": "1"})
    assert response.status_code == 302
    image.refresh_from_db()
    assert image.status == "enrolled" and image.review_faces == []
    assert Face.objects.get(image=image).box == second_box


def test_no_face_enrollment_fails_with_a_reason(people, worker, client):
    import io

    from PIL import Image

    client = client_for(client, people.investigator)
    gallery = make_gallery(people.agency)
    subject = Subject.objects.create(gallery=gallery, reference="NOFACE")
    buffer = io.BytesIO()
    Image.new("RGB", (200, 200), (10, 200, 30)).save(buffer, "PNG")
    client.post(reverse("search:image_upload", args=[subject.code]), {
        "image": SimpleUploadedFile("green.png", buffer.getvalue()), "source": "x", "legal_basis": "court_order"})
    image = wait_for(lambda: GalleryImage.objects.filter(subject=subject).exclude(status="pending").first())
    assert image.status == "failed" and "No face" in image.error


def pending_search(people, probe_name: str) -> Search:
    search = Search(agency=people.agency, created_by=people.investigator, purpose="other", case_number="C-9",
                    threshold=0.6, max_candidates=10, probe_sha256="c" * 64, probe_width=1, probe_height=1)
    search.probe.name = probe_name
    search.save()
    return search


def test_a_job_that_keeps_crashing_is_retried_then_fails_with_its_reason(people, worker):
    from search.tasks import run_search

    search = pending_search(people, "probes/never-written.jpg")
    run_search.delay(search.pk)
    search = wait_for(lambda: Search.objects.filter(pk=search.pk, status="failed").first(), timeout=60)
    assert search.attempts == 4
    assert "Failed after 4 attempts" in search.error and "FileNotFoundError" in search.error


def test_a_cancelled_search_delivers_nothing(people, worker):
    from django.core.files.base import ContentFile

    from accounts.actions import do_suspend_user
    from search.tasks import run_search

    search = pending_search(people, "")
    search.probe.save("probe.jpg", ContentFile(face_bytes("obama2.jpg")))
    do_suspend_user(membership=people.investigator.membership, actor=people.admin)
    run_search.delay(search.pk)
    import time

    time.sleep(3)
    search.refresh_from_db()
    assert search.status == "cancelled" and "suspended" in search.error
    assert not SearchFace.objects.filter(search=search).exists()
