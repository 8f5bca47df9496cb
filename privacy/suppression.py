"""The platform-wide suppression list: faces that an approved erasure request keeps out for good.

Enrollment refuses a suppressed face, and every 1:N query leaves one out even if it slipped in
(for instance enrolled while the erasure was being approved)."""
from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from pgvector.django import L2Distance

from privacy.models import SuppressedEncoding

SUPPRESSED_MESSAGE = _("Refused: this face is suppressed by an erasure request.")


def is_suppressed(encoding) -> bool:
    return (
        SuppressedEncoding.objects.alias(distance=L2Distance("encoding", list(encoding)))
        .filter(distance__lt=settings.SUPPRESSION_THRESHOLD)
        .exists()
    )


def any_suppressed(faces) -> bool:
    """faces: detected faces (with an `encoding`)."""
    return any(is_suppressed(face.encoding) for face in faces)


def suppressions_near(encoding, radius: float) -> list:
    """The suppression encodings that can be within the threshold of a face lying within `radius` of
    `encoding`. L2 is a metric, so any other one is farther than the threshold from all such faces;
    usually the answer is empty and the 1:N query runs unchanged."""
    reach = radius + settings.SUPPRESSION_THRESHOLD
    return list(
        SuppressedEncoding.objects.alias(distance=L2Distance("encoding", list(encoding)))
        .filter(distance__lt=reach)
        .values_list("encoding", flat=True)
    )


def exclude_suppressed(faces: QuerySet, suppressions: list) -> QuerySet:
    """Face rows farther than the threshold from each of `suppressions`."""
    for index, suppressed in enumerate(suppressions):
        name = f"suppression_distance_{index}"
        faces = faces.alias(**{name: L2Distance("encoding", suppressed)}).filter(
            **{f"{name}__gte": settings.SUPPRESSION_THRESHOLD}
        )
    return faces
