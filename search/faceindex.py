"""An in-memory index of a large agency's faces, kept by each worker process.

Why: at 1M faces, neither pgvector HNSW nor ivfflat reaches recall >= 0.99 at p95 <= 20 ms inside
PostgreSQL, and an exact SQL scan takes hundreds of milliseconds (bench/README.md). In memory, faiss
scans a few hundred thousand float16 encodings exactly in a few milliseconds; above that size an
inverted file (IVF) that reads an eighth of its lists keeps more than 99% of true matches, well within budget.

PostgreSQL stays the only source of truth. The index is built from it up to a watermark and only
proposes candidates: search.vector re-checks every candidate in SQL (still there, same agency, chosen
gallery, exact distance) and scans the agency's faces above the watermark exactly, in the same query.
So a deleted face or another agency's face never comes back, and a face enrolled after the build is
found at once.
"""
import logging
import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import faiss
import numpy as np
from django.conf import settings
from django.db import connection

from core import metrics
from core.tenancy import CrossAgency, cross_agency
from search.models import ENCODING_DIMENSIONS

logger = logging.getLogger(__name__)

# The rows of `COPY (SELECT id, gallery_id, encoding ...) TO STDOUT (FORMAT binary)`: a field count, then
# each field as its length and big-endian value; pgvector sends a vector as dimensions, a zero, then floats.
COPY_HEADER_BYTES = 19
COPY_ROW = np.dtype([
    ("fields", ">i2"),
    ("id_length", ">i4"), ("id", ">i8"),
    ("gallery_length", ">i4"), ("gallery", ">i8"),
    ("encoding_length", ">i4"), ("dimensions", ">i2"), ("unused", ">i2"),
    ("encoding", ">f4", (ENCODING_DIMENSIONS,)),
])
TRAINING_POINTS_PER_LIST = 40  # faiss asks for at least 39
# Distances from float16 encodings are off by at most ~0.003: candidates are judged with this much room.
DISTANCE_SLACK = 0.01

MAX_CACHED_BITMAPS = 64  # 1M faces: 125 kB each


@contextmanager
def openmp_threads(count: int):
    """OpenMP's thread count is shared by the whole process, dlib's face detection included: set it, then restore it."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


@dataclass
class AgencyIndex:
    agency_id: int
    index: faiss.Index  # exact float16 scan, or IVF over float16 encodings for the largest agencies
    face_ids: np.ndarray  # Face pk of each position in the index
    gallery_ids: np.ndarray  # gallery pk of each position
    watermark: int  # every face of the agency with an id up to this one was committed, and loaded, at build
    trained_size: int
    # Bitmaps of the positions in a set of galleries, for searches that leave some galleries out.
    bitmaps: dict[frozenset, np.ndarray] = field(default_factory=dict)

    @property
    def lists(self) -> int:
        return getattr(self.index, "nlist", 0)

    @property
    def nprobe(self) -> int:
        return max(1, math.ceil(self.lists * settings.FACE_INDEX_PROBED_SHARE))

    def describe(self) -> str:
        if not self.lists:
            return f"exact float16 scan of {self.index.ntotal} faces"
        return f"IVF over float16, {self.lists} lists, {self.nprobe} probed, {self.index.ntotal} faces"

    def search(self, encoding, gallery_ids: list[int], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to k (face pks, approximate distances) in the given galleries, nearest first."""
        query = np.asarray(encoding, dtype=np.float32).reshape(1, ENCODING_DIMENSIONS)
        params = faiss.SearchParametersIVF(nprobe=self.nprobe) if self.lists else faiss.SearchParameters()
        bitmap = self.bitmap_of(frozenset(gallery_ids))  # referenced here until the search returns
        if bitmap is not None:
            params.sel = faiss.IDSelectorBitmap(len(self.face_ids), faiss.swig_ptr(bitmap))
        with openmp_threads(1):  # one query: a second thread would only wait at a barrier
            squared, positions = self.index.search(query, k, params=params)
        found = positions[0] >= 0
        return self.face_ids[positions[0][found]], np.sqrt(squared[0][found])

    def bitmap_of(self, galleries: frozenset) -> np.ndarray | None:
        """None when the search covers every gallery in the index."""
        if galleries not in self.bitmaps:
            if len(self.bitmaps) >= MAX_CACHED_BITMAPS:
                self.bitmaps.clear()
            allowed = np.isin(self.gallery_ids, list(galleries))
            self.bitmaps[galleries] = None if allowed.all() else np.packbits(allowed, bitorder="little")
        return self.bitmaps[galleries]

    def add(self, face_ids: np.ndarray, gallery_ids: np.ndarray, encodings: np.ndarray, watermark: int) -> None:
        self.index.add(encodings)
        self.face_ids = np.concatenate([self.face_ids, face_ids])
        self.gallery_ids = np.concatenate([self.gallery_ids, gallery_ids])
        self.watermark = watermark
        self.bitmaps.clear()


_indexes: dict[int, AgencyIndex] = {}


def current(agency_id: int) -> AgencyIndex | None:
    return _indexes.get(agency_id)


def forget(agency_id: int) -> None:
    _indexes.pop(agency_id, None)


def refresh(agency_id: int) -> AgencyIndex | None:
    """Builds the agency's index once it is large enough, and adds new faces once there are many.

    Call it outside any transaction (it may wait for open transactions to end). Cheap when nothing is due:
    one bounded count."""
    if connection.in_atomic_block:
        raise RuntimeError("faceindex.refresh() must run outside a transaction")
    existing = _indexes.get(agency_id)
    after = existing.watermark if existing is not None else 0
    due = settings.FACE_INDEX_MAX_UNINDEXED if existing is not None else settings.FACE_INDEX_MIN_FACES
    if _count_faces(agency_id, after, due) < due:
        return existing
    watermark = settled_watermark()
    if watermark is None:
        logger.warning("Open transactions did not end in time; the face index of agency %s stays as it was", agency_id)
        return existing
    if existing is None or len(existing.face_ids) >= 2 * existing.trained_size:
        _indexes[agency_id] = build(agency_id, watermark)
    else:
        existing.add(*load_faces(agency_id, after, watermark), watermark=watermark)
    return _indexes[agency_id]


def _count_faces(agency_id: int, after: int, up_to: int) -> int:
    with cross_agency(CrossAgency.FACE_INDEX), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM search_face WHERE agency_id = %s AND id > %s LIMIT %s) AS due",
            [agency_id, after, up_to],
        )
        return cursor.fetchone()[0]


def settled_watermark() -> int | None:
    """The highest committed face id W, once every transaction that had begun when W was read has ended.

    Ids are drawn before commit, so a face with a lower id can still commit after W is read. Waiting for
    the transactions begun by then means every face with an id up to W is visible to the next statement
    or never will be; faces above W are the ones search.vector scans exactly. None when they take too
    long. (Transactions of the server's other databases count too: waiting for them is merely safe.)"""
    deadline = time.monotonic() + settings.FACE_INDEX_SETTLE_SECONDS
    with cross_agency(CrossAgency.FACE_INDEX), connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(max(id), 0) FROM search_face")
        watermark = cursor.fetchone()[0]
    # Outside any transaction from here: one that stayed open while waiting would hold up the others' waits.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()")  # every transaction begun so far has a lower id
        newest = cursor.fetchone()[0]
        while True:
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot()) >= %s::xid8", [newest])
            if cursor.fetchone()[0]:
                return watermark
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)


def load_faces(agency_id: int, after: int, up_to: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(face pks, gallery pks, float32 encodings) of the agency's faces with after < id <= up_to."""
    sink = _CopySink()
    with cross_agency(CrossAgency.FACE_INDEX), connection.cursor() as cursor:
        query = cursor.mogrify(
            "COPY (SELECT id, gallery_id, encoding FROM search_face WHERE agency_id = %s AND id > %s AND id <= %s) "
            "TO STDOUT WITH (FORMAT binary)",
            [agency_id, after, up_to],
        )
        cursor.copy_expert(query.decode() if isinstance(query, bytes) else query, sink)
    rows = sink.rows()
    return rows["id"].astype(np.int64), rows["gallery"].astype(np.int64), rows["encoding"].astype(np.float32)


class _CopySink:
    """A file-like target for COPY that keeps the raw bytes; rows() parses them in one go."""

    def __init__(self):
        self.chunks: list[bytes] = []

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def rows(self) -> np.ndarray:
        data = b"".join(self.chunks)
        self.chunks = []
        body = data[COPY_HEADER_BYTES:-2]  # the trailer is a field count of -1
        return np.frombuffer(body, dtype=COPY_ROW)


def build(agency_id: int, watermark: int) -> AgencyIndex:
    started = time.monotonic()
    face_ids, gallery_ids, encodings = load_faces(agency_id, 0, watermark)
    with openmp_threads(os.cpu_count() or 1):  # training and adding do use every core
        index = _trained_index(encodings)
        index.add(encodings)
    built = AgencyIndex(agency_id=agency_id, index=index, face_ids=face_ids, gallery_ids=gallery_ids,
                        watermark=watermark, trained_size=len(face_ids))
    seconds = time.monotonic() - started
    logger.info("Face index of agency %s: %s, built in %.1f s", agency_id, built.describe(), seconds)
    metrics.observe_index_build(agency_id, seconds, len(face_ids))
    return built


def _trained_index(encodings: np.ndarray) -> faiss.Index:
    if len(encodings) < settings.FACE_INDEX_IVF_FROM:
        return faiss.IndexScalarQuantizer(ENCODING_DIMENSIONS, faiss.ScalarQuantizer.QT_fp16)
    lists = round(math.sqrt(len(encodings)))
    index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatL2(ENCODING_DIMENSIONS), ENCODING_DIMENSIONS, lists,
                                          faiss.ScalarQuantizer.QT_fp16)
    sample = np.random.default_rng(0).choice(len(encodings), min(len(encodings), lists * TRAINING_POINTS_PER_LIST),
                                             replace=False)
    index.train(encodings[np.sort(sample)])
    return index
