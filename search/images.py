"""Checking and decoding uploaded photos.

Uploads are judged by their content, never by name or Content-Type. Sizes and pixel counts are
checked from the header before any decoding, and a decompression-bomb warning is an error.
"""
import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from PIL.ExifTags import Base as ExifTag

from core.refusals import Refused

ACCEPTED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


class ImageRejected(Refused):
    """An upload that cannot be used, with a message for the user."""


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    format: str
    width: int
    height: int
    sha256: str

    @property
    def extension(self) -> str:
        return ACCEPTED_FORMATS[self.format]


@dataclass(frozen=True)
class DecodedImage:
    """An upright RGB copy for detection, and the factor that maps its boxes back to the original."""

    pixels: np.ndarray
    format: str
    width: int
    height: int
    scale: float


def read_upload(uploaded) -> bytes:
    if uploaded.size is not None and uploaded.size > settings.MAX_UPLOAD_BYTES:
        raise ImageRejected(_too_large())
    data = uploaded.read(settings.MAX_UPLOAD_BYTES + 1)
    if len(data) > settings.MAX_UPLOAD_BYTES:
        raise ImageRejected(_too_large())
    return data


def _too_large() -> str:
    return _("The file is larger than the %(limit)s limit.") % {"limit": filesizeformat(settings.MAX_UPLOAD_BYTES)}


def open_checked(data: bytes) -> Image.Image:
    """Opens the header only: format and pixel count are judged before any decoding."""
    if not data:
        raise ImageRejected(_("The file is empty."))
    Image.MAX_IMAGE_PIXELS = settings.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageRejected(_too_many_pixels()) from None
    except (UnidentifiedImageError, OSError):
        raise ImageRejected(_("The file is not a JPEG, PNG or WebP image.")) from None
    if image.format not in ACCEPTED_FORMATS:
        raise ImageRejected(_("The file is not a JPEG, PNG or WebP image."))
    width, height = image.size
    if width * height > settings.MAX_IMAGE_PIXELS:
        raise ImageRejected(_too_many_pixels())
    return image


def _too_many_pixels() -> str:
    return _("The image has too many pixels (the limit is %(limit)s megapixels).") % {
        "limit": settings.MAX_IMAGE_PIXELS // 1_000_000
    }


def _load_fully(image: Image.Image) -> None:
    # face_recognition turns LOAD_TRUNCATED_IMAGES on for the whole process when imported.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageRejected(_("The image is truncated or corrupt.")) from None


def check_image(data: bytes) -> CheckedImage:
    """Everything the web request checks before a job is queued."""
    image = open_checked(data)
    image_format, (width, height) = image.format, image.size
    if image_format == "JPEG":
        # A scaled-down DCT decode still reads the whole entropy stream, so truncation shows, at an 8th of the cost.
        image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
    _load_fully(image)
    oriented_width, oriented_height = _oriented_size(image, width, height)
    return CheckedImage(
        data=data,
        format=image_format,
        width=oriented_width,
        height=oriented_height,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _oriented_size(image: Image.Image, width: int, height: int) -> tuple[int, int]:
    orientation = image.getexif().get(ExifTag.Orientation, 1)
    return (height, width) if orientation in {5, 6, 7, 8} else (width, height)


def decode_for_detection(data: bytes, max_side: int) -> DecodedImage:
    """One decode: upright, RGB, and no larger than max_side for the detector."""
    image = open_checked(data)
    image_format, (width, height) = image.format, image.size
    if image_format == "JPEG" and max(width, height) > 2 * max_side:
        image.draft("RGB", (max_side, max_side))
    _load_fully(image)
    full_width, full_height = _oriented_size(image, width, height)
    image = ImageOps.exif_transpose(image)
    if image.mode != "RGB":
        image = image.convert("RGB")
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    scale = full_width / image.width
    return DecodedImage(pixels=np.asarray(image), format=image_format, width=full_width, height=full_height, scale=scale)

