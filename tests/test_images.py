"""Bad uploads get a clear error before anything is queued, and leave no partial rows or files."""
import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from PIL import Image

from search.images import ImageRejected, check_image, decode_for_detection
from search.models import GalleryImage, Search, Subject
from tests.conftest import client_for, face_bytes

pytestmark = pytest.mark.django_db


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims huge dimensions: a pixel flood."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


BAD_FILES = {
    "text named .jpg": (b"this is not a photo at all\n" * 20, "not a JPEG, PNG or WebP"),
    "truncated jpeg": (face_bytes("obama.jpg")[:40_000], "corrupt or truncated"),
    "pixel flood": (png_declaring(50_000, 50_000), "too many pixels"),
    "gif": (b"GIF89a" + b"\x00" * 200, "not a JPEG, PNG or WebP"),
    "empty": (b"", "empty"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_check_image_rejects_bad_files_with_a_clear_message(case):
    data, message = BAD_FILES[case]
    with pytest.raises(ImageRejected, match=message):
        check_image(data)


def test_check_image_accepts_jpeg_png_rgba_and_webp():
    buffer = io.BytesIO()
    Image.open(io.BytesIO(face_bytes("obama_small.jpg"))).save(buffer, "WEBP")
    for data in (face_bytes("obama.jpg"), face_bytes("lin-manuel-miranda.png"), face_bytes("32bit.png"), buffer.getvalue()):
        checked = check_image(data)
        assert checked.format in {"JPEG", "PNG", "WEBP"} and len(checked.sha256) == 64


def test_truncation_is_caught_even_after_face_recognition_turned_truncated_loading_on():
    import face_recognition  # noqa: F401  (sets ImageFile.LOAD_TRUNCATED_IMAGES = True on import)

    with pytest.raises(ImageRejected, match="truncated"):
        check_image(face_bytes("obama.jpg")[:40_000])


def test_detection_copy_is_downscaled_and_rgb_with_the_original_size_kept():
    decoded = decode_for_detection(face_bytes("obama-1080p.jpg"), 1024)
    assert max(decoded.pixels.shape[:2]) <= 1024 and decoded.pixels.shape[2] == 3
    assert (decoded.width, decoded.height) == Image.open(io.BytesIO(face_bytes("obama-1080p.jpg"))).size
    rgba = decode_for_detection(face_bytes("32bit.png"), 1024)
    assert rgba.pixels.shape[2] == 3


def test_exif_orientation_is_applied():
    original = Image.open(io.BytesIO(face_bytes("obama_small.jpg")))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    buffer = io.BytesIO()
    original.save(buffer, "JPEG", exif=exif)
    decoded = decode_for_detection(buffer.getvalue(), 1024)
    assert (decoded.width, decoded.height) == (original.height, original.width)
    assert check_image(buffer.getvalue()).width == original.height


@pytest.fixture
def subject(people):
    from search.models import Gallery

    gallery = Gallery.objects.create(agency=people.agency, name="G")
    return Subject.objects.create(gallery=gallery, reference="S1")


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_upload_form_rejects_bad_files_and_stores_nothing(client, people, subject, case):
    data, message = BAD_FILES[case]
    response = client_for(client, people.investigator).post(reverse("search:image_upload", args=[subject.code]), {
        "image": SimpleUploadedFile("photo.jpg", data, content_type="image/jpeg"),
        "source": "Booking", "legal_basis": "booking_record"})
    assert response.status_code == 400
    assert message in response.content.decode() or "empty" in response.content.decode()
    assert not GalleryImage.objects.exists()


@override_settings(MAX_UPLOAD_BYTES=100_000)
def test_a_file_over_the_size_cap_is_rejected(client, people, subject):
    response = client_for(client, people.investigator).post(reverse("search:image_upload", args=[subject.code]), {
        "image": SimpleUploadedFile("big.jpg", face_bytes("obama.jpg")), "source": "B", "legal_basis": "booking_record"})
    assert response.status_code == 400
    assert "larger than the 97.7\xa0KB limit" in response.content.decode()
    assert not GalleryImage.objects.exists()


def test_search_form_rejects_missing_case_number_and_unknown_purpose(client, people):
    investigator = client_for(client, people.investigator)
    base = {"purpose": "criminal_investigation", "case_number": "C-1", "min_similarity": 50, "max_candidates": 10}
    for change, field_message in (({"case_number": "  "}, "required"), ({"purpose": "curiosity"}, "valid choice"),
                                  ({"min_similarity": 0}, "between 1 and 99"), ({"max_candidates": 500}, "between 1 and 50")):
        data = {**base, **change, "probe": SimpleUploadedFile("p.jpg", face_bytes("obama_small.jpg"))}
        response = investigator.post(reverse("search:search_new"), data)
        assert response.status_code == 400 and field_message in response.content.decode()
    response = investigator.post(reverse("search:search_new"), {
        **base, "probe": SimpleUploadedFile("p.jpg", b"not an image")})
    assert response.status_code == 400 and "not a JPEG, PNG or WebP" in response.content.decode()
    assert not Search.objects.exists()


def test_provenance_is_required(client, people, subject):
    response = client_for(client, people.investigator).post(reverse("search:image_upload", args=[subject.code]), {
        "image": SimpleUploadedFile("p.jpg", face_bytes("obama_small.jpg")), "source": "", "legal_basis": "other"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "This field is required" in page and "Describe the legal basis" in page
    assert not GalleryImage.objects.exists()
