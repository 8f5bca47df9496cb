"""Checking and decoding uploaded photos.

Uploads are judged by their content, never by name or Content-Type. Sizes and pixel counts are
checked from the header before any decoding, and a decompression-bomb warning is an error.

The check decodes the photo exactly as the worker will (the same function, fully loaded, EXIF
orientation applied, converted to RGB), so a photo that passes the check cannot fail in the worker for
what it contains, and whatever Pillow raises on hostile bytes is one clear refusal, never a server error.
"""
import hashlib
import io
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from core.refusals import Refused

ACCEPTED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
# What the accepted formats start with: a file that does, but that Pillow cannot identify, is corrupt.
SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
HIGH_BIT_DEPTH_MAXIMUM = 65535  # Pillow's 16-bit (I;16*) and 32-bit integer (I) modes, from 16-bit PNGs


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


def _too_many_pixels() -> str:
    return _("The image has too many pixels (the limit is %(limit)s megapixels).") % {
        "limit": settings.MAX_IMAGE_PIXELS // 1_000_000
    }


def _corrupt() -> str:
    return _("The image is corrupt or truncated.")


def _not_accepted() -> str:
    return _("The file is not a JPEG, PNG or WebP image.")


def _looks_accepted(data: bytes) -> bool:
    return data.startswith(SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


@contextmanager
def pillow_guard(data: bytes):
    """Pillow answers hostile bytes with whatever its parsers hit (ValueError, SyntaxError, OSError, EOFError,
    struct.error, zlib.error, IndexError, TypeError, ... , the list changes between versions): inside this
    block every one of them is a refusal of the upload, never a server error or a retried job."""
    # face_recognition turns LOAD_TRUNCATED_IMAGES on for the whole process when imported.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    Image.MAX_IMAGE_PIXELS = settings.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except ImageRejected:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageRejected(_too_many_pixels()) from None
    except UnidentifiedImageError:
        raise ImageRejected(_corrupt() if _looks_accepted(data) else _not_accepted()) from None
    except (Exception, MemoryError):  # noqa: BLE001  (see the docstring: any of them is the file's fault)
        raise ImageRejected(_corrupt()) from None


def _open(data: bytes) -> Image.Image:
    """Opens the header only: format and pixel count are judged before any decoding (call under pillow_guard)."""
    if not data:
        raise ImageRejected(_("The file is empty."))
    image = Image.open(io.BytesIO(data))
    if image.format not in ACCEPTED_FORMATS:
        raise ImageRejected(_not_accepted())
    width, height = image.size
    if width * height > settings.MAX_IMAGE_PIXELS:
        raise ImageRejected(_too_many_pixels())
    return image


def open_checked(data: bytes) -> Image.Image:
    """The header check alone, for uploads the worker decodes later (bulk rows)."""
    with pillow_guard(data):
        return _open(data)


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB. High bit-depth grey (16-bit PNG) is scaled to 8 bits: Pillow's own conversion clips it,
    which turns almost every pixel white and hides every face."""
    if image.mode.startswith("I"):
        levels = np.asarray(image, dtype=np.float64) * (255 / HIGH_BIT_DEPTH_MAXIMUM)
        image = Image.fromarray(np.clip(np.rint(levels), 0, 255).astype(np.uint8), mode="L")
    return image if image.mode == "RGB" else image.convert("RGB")


def decode_for_detection(data: bytes, max_side: int) -> DecodedImage:
    """One decode: fully loaded, upright, RGB, and no larger than max_side for the detector."""
    with pillow_guard(data):
        image = _open(data)
        image_format, (width, height) = image.format, image.size
        if image_format == "JPEG" and max(width, height) > 2 * max_side:
            # A scaled-down DCT decode still reads the whole entropy stream, so truncation shows.
            image.draft("RGB", (max_side, max_side))
        image.load()
        upright = ImageOps.exif_transpose(image)
        swapped = (upright.width, upright.height) != (image.width, image.height)
        full_width, full_height = (height, width) if swapped else (width, height)
        image = to_rgb(upright)
        if max(image.size) > max_side:
            image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
        pixels = np.asarray(image)
    return DecodedImage(pixels=pixels, format=image_format, width=full_width, height=full_height,
                        scale=full_width / image.width)


def check_image(data: bytes) -> CheckedImage:
    """Everything the web request checks before a job is queued: the worker's own decode, so that what passes
    here decodes there."""
    decoded = decode_for_detection(data, settings.DETECTION_MAX_SIDE)
    return CheckedImage(data=data, format=decoded.format, width=decoded.width, height=decoded.height,
                        sha256=hashlib.sha256(data).hexdigest())
