"""Builders shared by the privacy tests: gallery rows with real files and synthetic encodings,
the platform operator, and the public form's signed start time."""
import time
import uuid

import numpy as np
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts.models import User
from privacy.forms import FORM_SIGNING_SALT
from search.models import Face, Gallery, GalleryImage, Subject
from tests.conftest import PASSWORD, face_bytes

RNG = np.random.default_rng(6)


def make_operator(email: str = "operator@portal.test", role: str = User.PlatformRole.OPERATOR) -> User:
    return User.objects.create_user(email, PASSWORD, full_name="Paula Operator", platform_role=role)


def identity(seed: int) -> np.ndarray:
    """A synthetic face identity: a random 128-d point at the scale of real encodings."""
    return np.random.default_rng(seed).normal(0, 0.09, 128)


def near(center: np.ndarray, spread: float = 0.02) -> list[float]:
    return (center + RNG.normal(0, spread / np.sqrt(128), 128)).tolist()


def add_image(subject: Subject, encoding: list[float] | None, photo: str = "obama.jpg") -> GalleryImage:
    """An enrolled gallery photo with a real file and, if given, one face with `encoding`."""
    gallery = subject.gallery
    image = GalleryImage(agency_id=gallery.agency_id, gallery=gallery, subject=subject, sha256=uuid.uuid4().hex * 2,
                         width=100, height=100, source="Booking system", legal_basis="booking_record",
                         status=GalleryImage.Status.ENROLLED)
    image.file.save(f"{uuid.uuid4().hex}.jpg", ContentFile(face_bytes(photo)), save=False)
    image.save()
    if encoding is not None:
        Face.objects.create(image=image, gallery=gallery, agency_id=gallery.agency_id, top=0, right=10, bottom=10,
                            left=0, encoding=encoding)
    return image


def make_subject(agency, reference: str, gallery_name: str = "Bookings") -> Subject:
    gallery = Gallery.objects.get_or_create(agency=agency, name=gallery_name)[0]
    return Subject.objects.get_or_create(gallery=gallery, reference=reference)[0]


def file_exists(name: str) -> bool:
    return bool(name) and default_storage.exists(name)


def started_token(seconds_ago: float = 60) -> str:
    return signing.Signer(salt=FORM_SIGNING_SALT).sign(f"{time.time() - seconds_ago:.3f}")
