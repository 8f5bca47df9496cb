"""Hostile uploads (issue 12, items 1-3 and 7): whatever a crafted photo makes Pillow raise is one clear 400
on every upload path, a photo that passes the check decodes in the worker, a decode failure in the worker
fails the job once and is not billed, and high bit-depth photos are scaled, not clipped."""
import io

import numpy as np
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image

from billing.models import UsageHold, UsageRecord
from core.web import client_ip
from privacy.models import ErasureRequest
from privacy.ratelimit import erasure_rate_key
from search import actions
from search.images import CheckedImage, ImageRejected, check_image, decode_for_detection
from search.models import Gallery, GalleryImage, Search, Subject
from search.recognition import detect_faces
from search.validation import SearchParameters
from tests.conftest import client_for, face_bytes, wait_for
from tests.hostile_images import HOSTILE, photo, sixteen_bit_grey, sixteen_bit_rgb
from tests.privacy_helpers import started_token
from tests.test_api import api_client

CORRUPT = "The image is corrupt"


@pytest.mark.parametrize("case", list(HOSTILE))
def test_the_check_refuses_every_crafted_photo_as_corrupt(case):
    with pytest.raises(ImageRejected, match=CORRUPT):
        check_image(HOSTILE[case]())


def test_the_worker_decode_refuses_what_the_check_refuses():
    """The worker's decode is the check's: a photo stored before the check caught it fails as a refusal."""
    with pytest.raises(ImageRejected, match=CORRUPT):
        decode_for_detection(HOSTILE["jpeg mutated EXIF"](), 1024)


def upload(data: bytes, name: str = "photo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/png")


def post_web_upload(client, people, data):
    gallery = Gallery.objects.create(agency=people.agency, name="G")
    subject = Subject.objects.create(gallery=gallery, reference="S1")
    return client_for(client, people.investigator).post(reverse("search:image_upload", args=[subject.code]), {
        "image": upload(data), "source": "Booking", "legal_basis": "booking_record"})


def post_web_search(client, people, data):
    return client_for(client, people.investigator).post(reverse("search:search_new"), {
        "probe": upload(data), "purpose": "criminal_investigation", "case_number": "C-1", "min_similarity": 50,
        "max_candidates": 10})


def post_api_upload(client, people, data):
    gallery = Gallery.objects.create(agency=people.agency, name="G")
    return api_client(people.investigator).post(f"/api/v1/galleries/{gallery.code}/images/", {
        "image": upload(data), "subject_reference": "S-1", "source": "Booking", "legal_basis": "booking_record"})


def post_api_search(client, people, data):
    return api_client(people.investigator).post("/api/v1/searches/", {
        "probe": upload(data), "purpose": "criminal_investigation", "case_number": "C-1"})


def post_opt_out(client, people, data):
    cache.delete(erasure_rate_key(client_ip(RequestFactory().get("/"))))  # the form's hourly limit per address
    return client.post(reverse("privacy:erasure_request"), {
        "photo": upload(data), "full_name": "Jo Public", "email": "jo@example.test", "statement": "Remove me",
        "started": started_token()})


UPLOAD_PATHS = {"web upload": post_web_upload, "web search": post_web_search, "api upload": post_api_upload,
                "api search": post_api_search, "public opt-out": post_opt_out}


@pytest.mark.django_db
@pytest.mark.parametrize("path", list(UPLOAD_PATHS))
@pytest.mark.parametrize("case", list(HOSTILE))
def test_every_upload_path_answers_a_crafted_photo_with_400_corrupt(client, people, path, case):
    response = UPLOAD_PATHS[path](client, people, HOSTILE[case]())
    assert response.status_code == 400
    assert CORRUPT in response.content.decode()
    if path.startswith("api"):
        assert response["Content-Type"] == "application/json"
    assert not (GalleryImage.objects.exists() or Search.objects.exists() or ErasureRequest.objects.exists())


@pytest.mark.django_db(transaction=True)
def test_a_probe_the_worker_cannot_decode_fails_once_with_its_reason_and_is_not_billed(people, worker):
    """A probe stored without the check (as before the fix): the worker's failure is the probe's fault, the same
    every time, so it is not retried, and a search that never ran is not billed."""
    data = HOSTILE["jpeg mutated EXIF"]()
    probe = CheckedImage(data=data, format="JPEG", width=320, height=240, sha256="c" * 64)
    gallery = Gallery.objects.create(agency=people.agency, name="Bookings")
    search = actions.do_create_search(agency=people.agency, actor=people.investigator, probe=probe,
                                      purpose="criminal_investigation", case_number="C-9", galleries=[gallery],
                                      parameters=SearchParameters(min_similarity=50, max_candidates=5))
    assert UsageHold.objects.filter(search_code=search.code).exists()  # held while it is queued
    search = wait_for(lambda: Search.objects.filter(pk=search.pk, status__in=["done", "failed"]).first())
    assert search.status == "failed" and search.attempts == 1
    assert CORRUPT in search.error and "attempts" not in search.error
    assert not UsageHold.objects.filter(search_code=search.code).exists()
    assert not UsageRecord.objects.filter(search_code=search.code).exists()


@pytest.mark.parametrize("name", ["obama.jpg", "biden.jpg", "lin-manuel-miranda.png"])
@pytest.mark.parametrize("convert", [sixteen_bit_grey, sixteen_bit_rgb], ids=["16-bit grey", "16-bit RGB"])
def test_a_16_bit_photo_is_scaled_to_8_bits_and_its_face_found(name, convert):
    data = convert(name)
    assert Image.open(io.BytesIO(data)).info.get("dpi") is None  # really the PNG written here
    decoded = decode_for_detection(data, 1024)
    assert decoded.pixels.dtype == np.uint8
    assert (decoded.pixels == 255).mean() < 0.2  # clipping turned 99.6% of a grey photo white
    assert len(detect_faces(data, 1024).faces) == 1


def mutate(data: bytes, flips: list[tuple[float, int]], cut: float) -> bytes:
    mutated = bytearray(data)
    for position, value in flips:
        mutated[int(position * (len(mutated) - 1))] = value
    return bytes(mutated[:max(1, int(cut * len(mutated)))])


# One real photo of each accepted format, the JPEG with an EXIF block so that its parser is fuzzed too.
def with_orientation() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = 6, "Camera"
    return exif


SEEDS = {"jpeg": photo("JPEG", exif=with_orientation()), "png": face_bytes("32bit.png"), "webp": photo("WEBP")}


@hypothesis_settings(max_examples=150, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(sorted(SEEDS)),
       flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8),
       cut=st.floats(0.5, 1))
def test_fuzzed_real_photos_give_a_clean_refusal_or_a_clean_decode(seed, flips, cut):
    data = mutate(SEEDS[seed], flips, cut)
    try:
        checked = check_image(data)
    except ImageRejected as rejected:
        assert str(rejected)
        return
    decoded = decode_for_detection(checked.data, 1024)  # what passed the check decodes in the worker
    assert decoded.pixels.dtype == np.uint8 and decoded.pixels.shape[2] == 3
