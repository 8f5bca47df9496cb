"""The 1:N query. Agency and gallery filters are part of the nearest-neighbour query itself,
so another agency's face can never take a place in the limit, let alone be returned."""
from django.conf import settings
from django.db import connection
from pgvector.django import L2Distance

from privacy.suppression import exclude_suppressed, suppressions_near
from search.models import Face


def nearest_faces(*, agency_id: int, gallery_ids: list[int], encoding, threshold: float, limit: int) -> list[Face]:
    """Faces within `threshold` of `encoding`, nearest first, each with a `distance` attribute, never a
    face on the suppression list. Must run inside a transaction (the index settings are SET LOCAL)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(max(settings.HNSW_EF_SEARCH, limit))])
        cursor.execute("SELECT set_config('hnsw.iterative_scan', 'strict_order', true)")
    distance = L2Distance("encoding", list(encoding))
    queryset = (
        Face.objects.filter(agency_id=agency_id, gallery_id__in=gallery_ids)
        .annotate(distance=distance)
        .filter(distance__lt=threshold)
    )
    queryset = (
        exclude_suppressed(queryset, suppressions_near(encoding, threshold))
        .order_by("distance")
        .select_related("image__subject", "gallery")
    )
    return list(queryset[:limit])
