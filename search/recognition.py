"""Face detection and encoding with dlib, through face_recognition.

The models are loaded once per process: on import of face_recognition, which the worker does
when its child process starts (see search.tasks), never per task.
"""
from dataclasses import dataclass

import numpy as np

from search.images import decode_for_detection

_face_recognition = None


def load_models():
    global _face_recognition
    if _face_recognition is None:
        import face_recognition
        from PIL import ImageFile

        ImageFile.LOAD_TRUNCATED_IMAGES = False  # face_recognition turns it on for the whole process
        _face_recognition = face_recognition
    return _face_recognition


@dataclass(frozen=True)
class DetectedFace:
    box: tuple[int, int, int, int]  # top, right, bottom, left in the original image
    encoding: np.ndarray


@dataclass(frozen=True)
class Detection:
    format: str
    width: int
    height: int
    faces: list[DetectedFace]


def detect_faces(data: bytes, max_side: int) -> Detection:
    """Detect and encode every face on a downscaled copy; boxes are mapped back to the original."""
    fr = load_models()
    decoded = decode_for_detection(data, max_side)
    locations = fr.face_locations(decoded.pixels)
    encodings = fr.face_encodings(decoded.pixels, known_face_locations=locations)
    faces = [
        DetectedFace(box=_scale_box(location, decoded.scale, decoded.width, decoded.height), encoding=encoding)
        for location, encoding in zip(locations, encodings)
    ]
    faces.sort(key=lambda face: (face.box[3], face.box[0]))  # left to right, so face numbers read naturally
    return Detection(format=decoded.format, width=decoded.width, height=decoded.height, faces=faces)


def _scale_box(location, scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    top, right, bottom, left = (round(value * scale) for value in location)
    return max(0, top), min(width, right), min(height, bottom), max(0, left)
