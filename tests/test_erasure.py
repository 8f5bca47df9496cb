"""Opt-out and erasure across agencies: the public request, the worker, the operator's decision,
and the suppression list that keeps the face out afterwards."""
import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse

from audit.models import AuditEvent
from privacy.models import ErasureRequest, SuppressedEncoding
from privacy.ratelimit import erasure_rate_key
from search.models import Candidate, Face, GalleryImage
from search.vector import nearest_faces
from tests.conftest import client_for, face_bytes, wait_for
from tests.privacy_helpers import add_image, file_exists, make_operator, make_subject, started_token
from tests.test_search import enroll, make_gallery, search_for

REQUESTER_IP = "192.0.2.10"


@pytest.fixture
def requester_client(client):
    cache.delete(erasure_rate_key(REQUESTER_IP))
    client.defaults["REMOTE_ADDR"] = REQUESTER_IP
    yield client
    cache.delete(erasure_rate_key(REQUESTER_IP))


def request_fields(photo_name: str = "obama3.jpg", **overrides) -> dict:
    fields = {"photo": SimpleUploadedFile(photo_name, face_bytes(photo_name), content_type="image/jpeg"),
              "full_name": "Barack Requester", "email": "Requester@Example.org", "phone": "",
              "statement": "Please remove my face from every gallery.", "website": "",
              "started": started_token()}
    return {**fields, **overrides}


def submit(client, **overrides) -> ErasureRequest:
    response = client.post(reverse("privacy:erasure_request"), request_fields(**overrides))
    assert response.status_code == 302, response.content.decode()[:2000]
    return ErasureRequest.objects.latest("created")


def detected(erasure: ErasureRequest) -> ErasureRequest:
    return wait_for(lambda: ErasureRequest.objects.filter(pk=erasure.pk, status="ready").first())


@pytest.mark.django_db(transaction=True)
class TestAcrossAgencies:
    @pytest.fixture
    def world(self, people, worker, client):
        """Obama enrolled in both agencies (and waiting for a face pick in B); Biden only in A."""
        alpha, beta = make_gallery(people.agency), make_gallery(people.other_agency)
        investigator = client_for(client, people.investigator)
        images = {"A-OBAMA": enroll(investigator, alpha, "A-OBAMA", "obama.jpg"),
                  "A-BIDEN": enroll(investigator, alpha, "A-BIDEN", "biden.jpg")}
        client.logout()
        outsider = client_for(client, people.outsider)
        images["B-OBAMA"] = enroll(outsider, beta, "B-OBAMA", "obama2.jpg")
        images["B-PAIR"] = enroll(outsider, beta, "B-PAIR", "two_people.jpg")
        client.logout()
        assert images["B-PAIR"].status == "needs_review"
        return alpha, beta, images

    def approve(self, client, erasure: ErasureRequest):
        operator = client_for(client, make_operator())
        page = operator.get(reverse("privacy:erasure_detail", args=[erasure.code]))
        assert page.status_code == 200 and "Barack Requester" in page.content.decode()
        assert operator.get(reverse("privacy:erasure_photo", args=[erasure.code])).status_code == 200
        mail.outbox.clear()
        response = operator.post(reverse("privacy:erasure_approve", args=[erasure.code]), {"faces": ["0"]})
        assert response.status_code == 302, response.content.decode()[:2000]
        operator.logout()
        return response

    def test_one_approval_removes_the_face_from_both_agencies_with_the_counts_right(
        self, world, people, requester_client
    ):
        alpha, beta, images = world
        erasure = detected(submit(requester_client))
        assert len(erasure.detected_faces) == 1
        photo_name = erasure.photo.name
        assert file_exists(photo_name)
        files = {reference: image.file.name for reference, image in images.items()}

        self.approve(requester_client, erasure)

        erasure.refresh_from_db()
        assert (erasure.status, erasure.faces_removed, erasure.images_removed, erasure.agencies_affected) == (
            "approved", 3, 3, 2)
        remaining = set(GalleryImage.objects.values_list("subject__reference", flat=True))
        assert remaining == {"A-BIDEN"}
        assert Face.objects.filter(agency=people.agency).count() == 1
        assert not Face.objects.filter(agency=people.other_agency).exists()
        assert [file_exists(files[ref]) for ref in ("A-OBAMA", "B-OBAMA", "B-PAIR", "A-BIDEN")] == [
            False, False, False, True]
        applied = {event.chain: event.details["faces_removed"]
                   for event in AuditEvent.objects.filter(event="erasure.applied", target=str(erasure.code))}
        assert applied == {str(people.agency.code): 1, str(people.other_agency.code): 2}
        assert AuditEvent.objects.filter(event="erasure.approved", chain="platform",
                                         details__faces_removed=3).exists()
        recipients = {tuple(message.to) for message in mail.outbox}
        assert {(people.admin.email,), (people.outsider.email,), ("requester@example.org",)} <= recipients
        confirmation = next(message for message in mail.outbox if message.to == ["requester@example.org"])
        assert "3 faces were removed" in confirmation.body

    def test_the_requesters_photo_and_encodings_are_gone_after_processing(self, world, requester_client):
        erasure = detected(submit(requester_client))
        photo_name = erasure.photo.name
        self.approve(requester_client, erasure)
        erasure.refresh_from_db()
        assert not file_exists(photo_name)
        assert erasure.photo.name == "" and erasure.detected_faces == []
        suppressed = SuppressedEncoding.objects.get(request=erasure)
        assert len(suppressed.encoding) == 128

    def test_suppression_holds_for_enrollment_and_search(self, world, people, client, requester_client):
        alpha, _beta, _images = world
        self.approve(requester_client, detected(submit(requester_client)))
        investigator = client_for(client, people.investigator)

        again = enroll(investigator, alpha, "A-OBAMA-AGAIN", "obama.jpg")
        assert again.status == "failed" and "suppressed by an erasure request" in again.error
        assert again.file.name == "" and not Face.objects.filter(image=again).exists()
        page = investigator.get(reverse("search:subject_detail", args=[again.subject.code])).content.decode()
        assert "suppressed by an erasure request" in page

        # A face slipped in directly, as if enrolled by a race with the approval.
        suppressed = SuppressedEncoding.objects.get().encoding
        slipped = add_image(make_subject(people.agency, "SLIPPED", gallery_name=alpha.name),
                            [float(value) + 0.001 for value in suppressed])
        search = search_for(investigator, "obama2.jpg")
        assert search.status == "done"
        assert not Candidate.objects.filter(search_face__search=search, image=slipped).exists()
        assert "SLIPPED" not in [c.subject_reference for c in Candidate.objects.filter(search_face__search=search)]

    def test_rejection_deletes_the_photo_and_tells_the_requester_why(self, world, requester_client):
        erasure = detected(submit(requester_client))
        photo_name = erasure.photo.name
        operator = client_for(requester_client, make_operator())
        mail.outbox.clear()
        response = operator.post(reverse("privacy:erasure_reject", args=[erasure.code]),
                                 {"reason": "The photo shows someone else."})
        assert response.status_code == 302
        erasure.refresh_from_db()
        assert erasure.status == "rejected" and not file_exists(photo_name) and erasure.detected_faces == []
        assert GalleryImage.objects.count() == 4 and not SuppressedEncoding.objects.exists()
        assert "someone else" in mail.outbox[0].body


@pytest.mark.django_db(transaction=True)
def test_a_photo_without_a_face_is_reported_to_the_operator(requester_client, worker):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (240, 240), (90, 140, 200)).save(buffer, "PNG")
    erasure = submit(requester_client, photo=SimpleUploadedFile("sky.png", buffer.getvalue(), "image/png"))
    erasure = detected(erasure)
    assert erasure.detected_faces == [] and "No face" in erasure.error
    operator = client_for(requester_client, make_operator())
    page = operator.get(reverse("privacy:erasure_detail", args=[erasure.code])).content.decode()
    assert "No face" in page and "Approve and erase" not in page
    response = operator.post(reverse("privacy:erasure_approve", args=[erasure.code]), {"faces": ["0"]})
    assert response.status_code == 400


@pytest.mark.django_db
class TestSuppressionAtQueryTime:
    def test_a_suppressed_face_is_never_returned_and_others_still_are(self, people):
        from privacy.models import ErasureRequest
        from tests.privacy_helpers import identity, near

        erased, kept = identity(1), identity(2)
        subject = make_subject(people.agency, "MANY")
        erased_images = [add_image(subject, near(erased)) for _ in range(3)]
        kept_images = [add_image(subject, near(kept)) for _ in range(3)]
        request = ErasureRequest.objects.create(full_name="x", email="x@example.org", statement="s",
                                                photo_sha256="0" * 64, status="approved")
        SuppressedEncoding.objects.create(request=request, encoding=erased.tolist())
        gallery_ids = [subject.gallery_id]
        with transaction.atomic():
            found_erased = nearest_faces(agency_id=people.agency.pk, gallery_ids=gallery_ids, encoding=near(erased),
                                         threshold=0.6, limit=10)
            found_kept = nearest_faces(agency_id=people.agency.pk, gallery_ids=gallery_ids, encoding=near(kept),
                                       threshold=0.6, limit=10)
            wide = nearest_faces(agency_id=people.agency.pk, gallery_ids=gallery_ids, encoding=near(kept),
                                 threshold=5.0, limit=10)
        assert found_erased == []
        assert {face.image_id for face in found_kept} == {image.pk for image in kept_images}
        assert not {face.image_id for face in wide} & {image.pk for image in erased_images}


@pytest.mark.django_db
class TestPublicForm:
    def test_the_page_needs_no_login_and_a_valid_request_is_stored(self, requester_client, django_capture_on_commit_callbacks):
        page = requester_client.get(reverse("privacy:erasure_request"))
        assert page.status_code == 200 and "Remove my face" in page.content.decode()
        with django_capture_on_commit_callbacks(execute=False):
            erasure = submit(requester_client)
        assert erasure.status == "detecting" and erasure.email == "requester@example.org"
        assert file_exists(erasure.photo.name)
        assert AuditEvent.objects.filter(event="erasure.requested", target=str(erasure.code)).exists()
        assert requester_client.get(reverse("privacy:erasure_sent")).status_code == 200

    def test_bad_input_is_rejected_and_nothing_is_stored(self, requester_client):
        for fields in ({"photo": SimpleUploadedFile("x.jpg", b"not an image")}, {"email": "nope"},
                       {"statement": ""}):
            response = requester_client.post(reverse("privacy:erasure_request"), request_fields(**fields))
            assert response.status_code == 400
        assert not ErasureRequest.objects.exists()

    def test_a_robot_filling_the_hidden_field_is_dropped_silently(self, requester_client):
        response = requester_client.post(reverse("privacy:erasure_request"), request_fields(website="http://spam"))
        assert response.status_code == 302 and not ErasureRequest.objects.exists()

    def test_a_form_sent_back_within_seconds_or_tampered_with_is_refused(self, requester_client):
        with time_machine.travel("2026-05-01 10:00:00Z", tick=False) as traveller:
            cache.delete(erasure_rate_key(REQUESTER_IP))  # the limit counts per hour of the travelled clock
            token = requester_client.get(reverse("privacy:erasure_request")).context["form"]["started"].initial
            response = requester_client.post(reverse("privacy:erasure_request"), request_fields(started=token))
            assert response.status_code == 400 and "very quick" in response.content.decode()
            traveller.shift(30)
            tampered = requester_client.post(reverse("privacy:erasure_request"),
                                             request_fields(started=token[:-2] + "xx"))
            assert tampered.status_code == 400
        assert not ErasureRequest.objects.exists()

    def test_the_rate_limit_per_address(self, requester_client, settings, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=False):
            for _attempt in range(settings.ERASURE_REQUESTS_PER_IP_PER_HOUR):
                submit(requester_client)
            response = requester_client.post(reverse("privacy:erasure_request"), request_fields())
        assert response.status_code == 429
        assert ErasureRequest.objects.count() == settings.ERASURE_REQUESTS_PER_IP_PER_HOUR
        other = requester_client.post(reverse("privacy:erasure_request"), request_fields(),
                                      REMOTE_ADDR="192.0.2.11")
        cache.delete(erasure_rate_key("192.0.2.11"))
        assert other.status_code == 302

    def test_wrong_method(self, requester_client):
        assert requester_client.put(reverse("privacy:erasure_request")).status_code == 405
        assert requester_client.post(reverse("privacy:erasure_sent")).status_code == 405


@pytest.mark.django_db
class TestOperatorViews:
    @pytest.fixture
    def erasure(self):
        return ErasureRequest.objects.create(
            full_name="Jo Requester", email="jo@example.org", statement="Remove me", photo_sha256="0" * 64,
            status="ready", detected_faces=[{"box": [0, 10, 10, 0], "encoding": [0.0] * 128}])

    def urls(self, erasure):
        return {"queue": reverse("privacy:erasure_queue"),
                "detail": reverse("privacy:erasure_detail", args=[erasure.code]),
                "photo": reverse("privacy:erasure_photo", args=[erasure.code]),
                "approve": reverse("privacy:erasure_approve", args=[erasure.code]),
                "reject": reverse("privacy:erasure_reject", args=[erasure.code])}

    def test_the_queue_lists_requests_awaiting_review(self, client, erasure):
        operator = client_for(client, make_operator())
        page = operator.get(reverse("privacy:erasure_queue")).content.decode()
        assert "Jo Requester" in page
        assert "Jo Requester" not in operator.get(reverse("privacy:erasure_queue") + "?status=approved").content.decode()

    def test_agency_people_and_sales_get_404(self, client, people, erasure):
        for user in (people.admin, make_operator("sales@portal.test", role="sales")):
            logged_in = client_for(client, user)
            for name, url in self.urls(erasure).items():
                response = logged_in.post(url) if name in {"approve", "reject"} else logged_in.get(url)
                assert response.status_code == 404, (user, name)
            client.logout()

    def test_wrong_methods(self, client, erasure):
        operator = client_for(client, make_operator())
        urls = self.urls(erasure)
        assert operator.post(urls["queue"]).status_code == 405
        assert operator.post(urls["detail"]).status_code == 405
        assert operator.get(urls["approve"]).status_code == 405
        assert operator.get(urls["reject"]).status_code == 405

    def test_bad_input(self, client, erasure):
        operator = client_for(client, make_operator())
        urls = self.urls(erasure)
        assert operator.post(urls["approve"], {"faces": ["3"]}).status_code == 400
        assert operator.post(urls["approve"], {}).status_code == 400
        assert operator.post(urls["reject"], {"reason": "   "}).status_code == 400
        assert operator.get("/platform/erasure/not-a-uuid/").status_code == 404
        erasure.refresh_from_db()
        assert erasure.status == "ready"

    def test_a_decided_request_cannot_be_decided_again(self, client, erasure, django_capture_on_commit_callbacks):
        operator = client_for(client, make_operator())
        with django_capture_on_commit_callbacks(execute=True):
            assert operator.post(self.urls(erasure)["reject"], {"reason": "Duplicate"}).status_code == 302
        response = operator.post(self.urls(erasure)["approve"], {"faces": ["0"]})
        assert response.status_code == 400 and not SuppressedEncoding.objects.exists()
