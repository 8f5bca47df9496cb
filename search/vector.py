"""The 1:N query. Agency and gallery filters are part of every SQL query that returns faces,
so another agency's face can never take a place in the limit, let alone be returned.

Small agencies, and any agency whose in-memory index is not built yet, are scanned exactly in SQL.
Large ones ask their index (search.faceindex) for candidates; one SQL query then re-checks those
candidates and scans the faces newer than the index's watermark, exactly, with the same filters.
"""
from django.db.models import Q
from pgvector.django import L2Distance

from search import faceindex
from search.models import Face
from search.screening import exclude_blocked, face_screen


def nearest_faces(*, agency_id: int, gallery_ids: list[int], encoding, threshold: float, limit: int) -> list[Face]:
    """Faces within `threshold` of `encoding`, nearest first, each with a `distance` attribute, never a
    face on the suppression list (checked here too, so a face slipped in by a race never comes back)."""
    suppressed = face_screen().blocked_near(encoding, threshold)
    index = faceindex.current(agency_id)
    if index is None:
        return exact_nearest_faces(Q(agency_id=agency_id, gallery_id__in=gallery_ids), encoding, threshold, limit,
                                   suppressed)
    wanted = 2 * limit  # room for candidates deleted since the build
    while True:
        face_ids, distances = index.search(encoding, gallery_ids, wanted)
        among = Q(pk__in=face_ids.tolist()) | Q(pk__gt=index.watermark)
        faces = exact_nearest_faces(among & Q(agency_id=agency_id, gallery_id__in=gallery_ids), encoding,
                                    threshold, limit, suppressed)
        # Every indexed face beyond the candidates is at least as far as the last candidate: the answer is
        # complete once that one is past the threshold, or past every face kept.
        horizon = distances[-1] - faceindex.DISTANCE_SLACK if len(face_ids) == wanted else float("inf")
        if horizon >= threshold or (len(faces) == limit and faces[-1].distance <= horizon):
            return faces
        wanted *= 2


def exact_nearest_faces(where: Q, encoding, threshold: float, limit: int, suppressed: list) -> list[Face]:
    queryset = (
        Face.objects.filter(where)
        .annotate(distance=L2Distance("encoding", encoding))
        .filter(distance__lt=threshold)
    )
    queryset = (
        exclude_blocked(queryset, suppressed)
        .order_by("distance")
        .select_related("image__subject", "gallery")
        .defer("encoding")  # the caller needs the distance, not the vector
    )
    return list(queryset[:limit])
