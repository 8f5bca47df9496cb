"""Crafted photos from a hostile-input campaign (issue 12): each made from a real photo, with one part broken
the way an attacker would break it."""
import io
import struct
import zlib

import numpy as np
from PIL import Image

from tests.conftest import face_bytes

# EXIF blocks found by mutating a real one (random byte flips, fixed seed) that made Pillow fail:
# a TIFF header whose magic number is wrong (SyntaxError when read), and an entry whose type no longer
# matches its value (struct.error "required argument is not an integer" when the photo is turned upright).
EXIF_BAD_MAGIC = bytes.fromhex(
    "4578696600004d4d00c7000000080003010f00020000000443616d00011200030000000100060000876900040000000100000032"
    "000000000002829a000c0000000100000050900300020000001400000058000000003f847ae147b31459323032c43a30313a3031"
    "2030303a30303a303000")
EXIF_BAD_TYPE = bytes.fromhex(
    "4578696600004d4d002a000000080003015200020000000443616d0001120003000000010006000087690004000000010000007a"
    "000000000002829a000c0000000100000050900300020000001400000058000000003f847ae147ae147b323032303a30313a3031"
    "2030303a30303a303000")


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        chunks.append((data[position + 4:position + 8], data[position + 8:position + 8 + length]))
        position += 12 + length
    return chunks


def photo(image_format: str, name: str = "obama_small.jpg", **options) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(face_bytes(name))).save(buffer, image_format, **options)
    return buffer.getvalue()


def png_with(*, after_header: bytes = b"", header: bytes | None = None) -> bytes:
    """A real photo as PNG with extra chunks after IHDR, or with IHDR's data replaced."""
    out = b"\x89PNG\r\n\x1a\n"
    for kind, data in png_chunks(photo("PNG")):
        out += chunk(kind, header if kind == b"IHDR" and header is not None else data)
        if kind == b"IHDR":
            out += after_header
    return out


def inflating_chunk(kind: bytes, keyword: bytes) -> bytes:
    """2 kB of chunk that inflates to 2 MB, past Pillow's limit for text and colour profiles."""
    return chunk(kind, keyword + b"\x00\x00" + zlib.compress(b"a" * 2_000_000, 9))


HOSTILE = {
    "png short gAMA": lambda: png_with(after_header=chunk(b"gAMA", b"\x00\x01")),
    "png short IHDR": lambda: png_with(header=b"\x00\x00\x01\x00"),
    "png zTXt bomb": lambda: png_with(after_header=inflating_chunk(b"zTXt", b"comment")),
    "png iCCP bomb": lambda: png_with(after_header=inflating_chunk(b"iCCP", b"profile")),
    "png malformed EXIF": lambda: photo("PNG", exif=EXIF_BAD_MAGIC),
    "webp malformed EXIF": lambda: photo("WEBP", exif=EXIF_BAD_MAGIC),
    "jpeg mutated EXIF": lambda: photo("JPEG", exif=EXIF_BAD_TYPE),
}


def sixteen_bit_grey(name: str) -> bytes:
    grey = np.asarray(Image.open(io.BytesIO(face_bytes(name))).convert("L")).astype(np.uint16) * 257
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, "PNG")
    return buffer.getvalue()


def sixteen_bit_rgb(name: str) -> bytes:
    """Written by hand: Pillow cannot save 16-bit colour PNGs."""
    rgb = np.asarray(Image.open(io.BytesIO(face_bytes(name))).convert("RGB")).astype(np.uint16) * 257
    height, width, _channels = rgb.shape
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in rgb)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
