"""REST API v1: token auth, tenant isolation, field-level errors, the OpenAPI schema."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.actions import do_create_api_token
from search.models import Gallery, GalleryImage, Search
from tests.conftest import face_bytes, wait_for


def api_client(user) -> Client:
    _token, key = do_create_api_token(user=user, name="tests")
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


@pytest.mark.django_db(transaction=True)
def test_enroll_and_search_through_the_api(people, worker):
    api = api_client(people.investigator)
    admin = api_client(people.admin)
    response = admin.post("/api/v1/galleries/", {"name": "Bookings", "description": "2024"},
                          content_type="application/json")
    assert response.status_code == 201
    gallery_code = response.json()["code"]
    assert set(response.json()) == {"code", "name", "description"}
    response = api.post(f"/api/v1/galleries/{gallery_code}/images/", {
        "image": SimpleUploadedFile("o.jpg", face_bytes("obama.jpg")), "subject_reference": "OB-1",
        "source": "Booking system", "legal_basis": "booking_record", "captured_at": "2024-01-05"})
    assert response.status_code == 202 and response.json()["status"] == "pending"
    image_code = response.json()["code"]
    image = wait_for(lambda: (r := api.get(f"/api/v1/images/{image_code}/").json())["status"] != "pending" and r)
    assert image["status"] == "enrolled" and image["subject_reference"] == "OB-1"
    assert len(image["faces"]) == 1 and len(image["faces"][0]["box"]) == 4
    response = api.post("/api/v1/searches/", {
        "probe": SimpleUploadedFile("p.jpg", face_bytes("obama2.jpg")), "purpose": "criminal_investigation",
        "case_number": "C-42", "galleries": [gallery_code], "min_similarity": 50, "max_candidates": 5})
    assert response.status_code == 202
    code = response.json()["code"]
    result = wait_for(lambda: (r := api.get(f"/api/v1/searches/{code}/").json())["status"] in {"done", "failed"} and r)
    assert result["status"] == "done" and "not an identification" in result["notice"]
    candidate = result["faces"][0]["candidates"][0]
    assert candidate["subject_reference"] == "OB-1" and candidate["gallery"] == "Bookings"
    assert candidate["image"] == image_code and candidate["legal_basis"] == "booking_record"
    assert 0 < candidate["distance"] < 0.6 and 0.5 < candidate["similarity"] <= 1
    listing = api.get("/api/v1/searches/").json()
    assert listing["count"] == 1 and listing["results"][0]["code"] == code


@pytest.fixture
def alpha_objects(people):
    gallery = Gallery.objects.create(agency=people.agency, name="Alpha")
    from search.models import Subject

    subject = Subject.objects.create(gallery=gallery, reference="A1")
    image = GalleryImage.objects.create(agency=people.agency, gallery=gallery, subject=subject, sha256="a" * 64,
                                        width=10, height=10, source="s", legal_basis="court_order", file="x.jpg")
    search = Search.objects.create(agency=people.agency, created_by=people.investigator, purpose="other",
                                   case_number="C", threshold=0.6, max_candidates=10, probe_sha256="b" * 64,
                                   probe_width=10, probe_height=10)
    return gallery, image, search


@pytest.mark.django_db
def test_outsiders_get_404_on_every_api_object(people, alpha_objects):
    gallery, image, search = alpha_objects
    outsider = api_client(people.outsider)
    assert outsider.get(f"/api/v1/images/{image.code}/").status_code == 404
    assert outsider.get(f"/api/v1/searches/{search.code}/").status_code == 404
    response = outsider.post(f"/api/v1/galleries/{gallery.code}/images/", {
        "image": SimpleUploadedFile("o.jpg", face_bytes("obama.jpg")), "subject_reference": "X",
        "source": "s", "legal_basis": "court_order"})
    assert response.status_code == 404
    assert outsider.get("/api/v1/galleries/").json()["count"] == 0
    assert outsider.get("/api/v1/searches/").json()["count"] == 0
    response = outsider.post("/api/v1/searches/", {
        "probe": SimpleUploadedFile("p.jpg", face_bytes("obama_small.jpg")), "purpose": "other",
        "case_number": "C", "galleries": [str(gallery.code)]})
    assert response.status_code == 400 and "galleries" in response.json()


@pytest.mark.django_db
def test_api_roles_and_methods(people, alpha_objects):
    gallery, image, search = alpha_objects
    auditor = api_client(people.auditor)
    assert auditor.get(f"/api/v1/searches/{search.code}/").status_code == 200
    response = auditor.post("/api/v1/searches/", {
        "probe": SimpleUploadedFile("p.jpg", face_bytes("obama_small.jpg")), "purpose": "other", "case_number": "C"})
    assert response.status_code == 403
    assert api_client(people.investigator).post("/api/v1/galleries/", {"name": "x"}).status_code == 403
    assert auditor.delete(f"/api/v1/searches/{search.code}/").status_code == 405
    assert auditor.put("/api/v1/galleries/").status_code == 405
    assert Client().get("/api/v1/galleries/").status_code in {401, 403}
    assert Client(HTTP_AUTHORIZATION="Token nonsense").get("/api/v1/galleries/").status_code == 401


@pytest.mark.django_db
def test_api_bad_input_gets_field_level_400s_and_creates_nothing(people, alpha_objects):
    gallery, _image, _search = alpha_objects
    api = api_client(people.investigator)
    response = api.post("/api/v1/searches/", {
        "probe": SimpleUploadedFile("p.jpg", b"text, not a photo"), "purpose": "curiosity", "min_similarity": "lots"})
    body = response.json()
    assert response.status_code == 400
    assert set(body) >= {"probe", "purpose", "case_number", "min_similarity"}
    assert "not a JPEG" in body["probe"][0]
    response = api.post(f"/api/v1/galleries/{gallery.code}/images/", {
        "image": SimpleUploadedFile("o.jpg", face_bytes("obama.jpg")[:20_000]), "subject_reference": "",
        "source": "s", "legal_basis": "scraped", "captured_at": "yesterday"})
    body = response.json()
    assert response.status_code == 400
    assert set(body) >= {"image", "subject_reference", "legal_basis", "captured_at"}
    response = api_client(people.admin).post("/api/v1/galleries/", {"name": "Alpha"}, content_type="application/json")
    assert response.status_code == 400 and "name" in response.json()
    assert Search.objects.count() == 1 and GalleryImage.objects.count() == 1


@pytest.mark.django_db
def test_suspension_kills_api_tokens(client, people):
    api = api_client(people.investigator)
    assert api.get("/api/v1/galleries/").status_code == 200
    from accounts.actions import do_suspend_user

    do_suspend_user(membership=people.investigator.membership, actor=people.admin)
    assert api.get("/api/v1/galleries/").status_code == 401


@pytest.mark.django_db
def test_openapi_schema_and_docs(people):
    api = api_client(people.investigator)
    schema = api.get("/api/v1/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/galleries/", "/api/v1/galleries/{code}/images/", "/api/v1/images/{code}/",
                 "/api/v1/searches/", "/api/v1/searches/{code}/"):
        assert path in text
    assert api.get("/api/v1/docs/").status_code == 200


@pytest.mark.django_db
def test_the_schema_documents_pages_errors_and_file_bodies_as_the_api_answers(people, alpha_objects):
    gallery, _image, _search = alpha_objects
    api = api_client(people.admin)
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    listing = schema["paths"]["/api/v1/galleries/"]["get"]["responses"]["200"]["content"]["application/json"]
    page = schema["components"]["schemas"][listing["schema"]["$ref"].rsplit("/", 1)[1]]
    assert set(page["required"]) == {"count", "next", "previous", "results"} == set(api.get("/api/v1/galleries/").json())
    for path, method in (("/api/v1/galleries/{code}/images/", "post"), ("/api/v1/searches/", "post")):
        operation = schema["paths"][path][method]
        assert list(operation["requestBody"]["content"]) == ["multipart/form-data"]
        assert {"400", "401", "403", "413", "415", "503"} <= set(operation["responses"])
    assert {"400", "401", "403", "404", "503"} <= set(schema["paths"]["/api/v1/images/{code}/"]["get"]["responses"])
    # what the schema now says, the API does: JSON where a file is expected is refused, with a JSON error
    refused = api.post(f"/api/v1/galleries/{gallery.code}/images/", {"subject_reference": "X"},
                       content_type="application/json")
    assert refused.status_code == 415 and "detail" in refused.json()
    for query in ("page=", "page=last", "page=0"):
        response = api.get(f"/api/v1/galleries/?{query}")
        assert response.status_code == 404 and "detail" in response.json(), query
    response = api.post("/api/v1/galleries/", {"name": 5}, content_type="application/json")
    assert response.status_code == 400 and "name" in response.json()
    assert not Gallery.objects.filter(name="5").exists()
