"""Faces that must never be enrolled or returned by a search, whoever asks.

The list of such faces is privacy's (an approved erasure request suppresses a face for good), and
privacy sits above search in the layers: search defines what it needs from a screen, privacy registers
its suppression list when the app loads, and a system check stops the portal from starting without
one, so the erasure promise cannot be switched off by leaving an app out."""
from typing import Protocol

from django.conf import settings
from django.core.checks import Error, register
from django.db.models import QuerySet
from pgvector.django import L2Distance


class FaceScreen(Protocol):
    refusal_message: str

    def is_blocked(self, encoding) -> bool:
        """True if this face may not be enrolled."""

    def blocked_near(self, encoding, radius: float) -> list:
        """The blocked encodings that can lie within the threshold of a face within `radius` of `encoding`."""


_screen: FaceScreen | None = None


def register_screen(screen: FaceScreen) -> None:
    global _screen
    _screen = screen


def face_screen() -> FaceScreen:
    if _screen is None:
        raise RuntimeError("No face screen is registered: the privacy app must be installed")
    return _screen


def any_blocked(faces) -> bool:
    """faces: detected faces (with an `encoding`)."""
    return any(face_screen().is_blocked(face.encoding) for face in faces)


def exclude_blocked(faces: QuerySet, blocked: list) -> QuerySet:
    """Face rows farther than the suppression threshold from each of `blocked`."""
    for index, encoding in enumerate(blocked):
        name = f"blocked_distance_{index}"
        faces = faces.alias(**{name: L2Distance("encoding", encoding)}).filter(
            **{f"{name}__gte": settings.SUPPRESSION_THRESHOLD}
        )
    return faces


@register()
def check_a_screen_is_registered(app_configs, **kwargs) -> list[Error]:
    if _screen is None:
        return [Error("No face screen is registered, so suppressed faces would be enrolled and returned.",
                      hint="Install the privacy app, which registers the erasure suppression list.",
                      id="search.E001")]
    return []
