"""The index of a large agency's faces: one copy per host, in files that every worker process maps.

Why: at 1M faces, neither pgvector HNSW nor ivfflat reaches recall >= 0.99 at p95 <= 20 ms inside
PostgreSQL, and an exact SQL scan takes hundreds of milliseconds (bench/README.md). faiss scans a few
hundred thousand float16 encodings exactly in a few milliseconds; above that size an inverted file (IVF)
over 4-bit PQ codes reads a fifth of its lists (2 sqrt(N) of them) for candidates and re-ranks the
nearest on the float16 encodings, which keeps more than 99.5% of true matches, near the threshold too.

The files (float16 encodings, face and gallery pks; under FACE_INDEX_DIR) are mapped, so the processes
of a host share their pages through the page cache, and a restarted worker maps them in well under a
second instead of rebuilding. One process builds at a time (a lock file) and publishes by renaming a
small state file; the others map the new files at their next refresh().

PostgreSQL stays the only source of truth. The index is built from it up to a watermark and only
proposes candidates: search.vector re-checks every candidate in SQL (still there, same agency, chosen
gallery, exact distance) and scans the agency's faces above the watermark exactly, in the same query.
So a deleted face or another agency's face never comes back, and a face enrolled after the build is
found at once.
"""
import fcntl
import json
import logging
import math
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

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
LISTS_PER_SQRT = 2  # 2 sqrt(N) IVF lists
PQ_SUBQUANTIZERS = 32  # of 4 dimensions, 4 bits each: 16 bytes a face, scanned with SIMD (faiss "fast scan")
RERANKED = 256  # nearest candidates by PQ code re-ranked on the float16 encodings
# Faces added since the build are scanned exactly in a segment of their own; past this share, a rebuild.
ADDED_SHARE_BEFORE_REBUILD = 0.25
ADD_CHUNK = 1_000_000  # faces converted to float32 and added at a time (512 MB)


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
class Segment:
    """Faces of one build, or of the top-ups since, in immutable files that every worker process of the host
    maps: the float16 encodings (faiss's flat codes, mapped without a copy) and the face and gallery pks, so
    their pages are shared through the page cache. A large build adds an IVF over 4-bit PQ codes (16 bytes a
    face, read into each process) that proposes candidates, re-ranked on the float16 encodings."""

    directory: Path
    vectors: faiss.IndexScalarQuantizer
    face_ids: np.ndarray
    gallery_ids: np.ndarray
    ivf: faiss.IndexIVFPQFastScan | None
    # Bitmaps of the positions in a set of galleries, for searches that leave some galleries out.
    bitmaps: dict[frozenset, np.ndarray] = field(default_factory=dict)

    @classmethod
    def write(cls, directory: Path, face_ids: np.ndarray, gallery_ids: np.ndarray, encodings: np.ndarray,
              with_ivf: bool) -> "Segment":
        """Writes the files into a fresh folder renamed into place once complete, then maps them."""
        partial = directory.with_name(f".{directory.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        np.save(partial / "face_ids.npy", np.ascontiguousarray(face_ids, dtype=np.int64))
        np.save(partial / "gallery_ids.npy", np.ascontiguousarray(gallery_ids, dtype=np.int64))
        vectors = faiss.IndexScalarQuantizer(ENCODING_DIMENSIONS, faiss.ScalarQuantizer.QT_fp16)
        with openmp_threads(os.cpu_count() or 1):  # training and adding do use every core
            _add_in_chunks(vectors, encodings)
            faiss.write_index(vectors, str(partial / "vectors.faiss"))
            del vectors
            if with_ivf:
                faiss.write_index(_trained_ivf(encodings), str(partial / "ivf.faiss"))
        os.rename(partial, directory)
        return cls.open(directory)

    @classmethod
    def open(cls, directory: Path) -> "Segment":
        ivf_file = directory / "ivf.faiss"
        return cls(
            directory=directory,
            vectors=faiss.read_index(str(directory / "vectors.faiss"), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY),
            face_ids=np.load(directory / "face_ids.npy", mmap_mode="r"),
            gallery_ids=np.load(directory / "gallery_ids.npy", mmap_mode="r"),
            ivf=faiss.read_index(str(ivf_file)) if ivf_file.exists() else None,
        )

    @property
    def lists(self) -> int:
        return self.ivf.nlist if self.ivf is not None else 0

    @property
    def nprobe(self) -> int:
        return max(1, math.ceil(self.lists * settings.FACE_INDEX_PROBED_SHARE))

    def search(self, query: np.ndarray, galleries: frozenset, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to k (face pks, float16 distances) in the given galleries, nearest first."""
        bitmap = self.bitmap_of(galleries)  # referenced here until the search returns
        if self.ivf is None:
            params = faiss.SearchParameters()
            wanted = k
        else:
            params = faiss.SearchParametersIVF(nprobe=self.nprobe)
            wanted = max(RERANKED, 4 * k)
        if bitmap is not None:
            params.sel = faiss.IDSelectorBitmap(len(self.face_ids), faiss.swig_ptr(bitmap))
        with openmp_threads(1):  # one query: a second thread would only wait at a barrier
            squared, positions = (self.ivf or self.vectors).search(query, wanted, params=params)
        positions = positions[0][positions[0] >= 0]
        if self.ivf is None:
            distances = np.sqrt(squared[0][:len(positions)])
        else:  # PQ codes rank roughly; the float16 encodings give the distance, within DISTANCE_SLACK
            distances = np.linalg.norm(self.vectors.reconstruct_batch(positions) - query, axis=1)
            nearest = np.argsort(distances, kind="stable")[:k]
            positions, distances = positions[nearest], distances[nearest]
        return np.asarray(self.face_ids[positions]), distances

    def bitmap_of(self, galleries: frozenset) -> np.ndarray | None:
        """None when the search covers every gallery in the segment."""
        if galleries not in self.bitmaps:
            if len(self.bitmaps) >= MAX_CACHED_BITMAPS:
                self.bitmaps.clear()
            allowed = np.isin(self.gallery_ids, list(galleries))
            self.bitmaps[galleries] = None if allowed.all() else np.packbits(allowed, bitorder="little")
        return self.bitmaps[galleries]


@dataclass
class AgencyIndex:
    """The agency's index as published on disk: the main segment of the last build, and one segment of the faces
    added since (rewritten at each top-up). Faces above the watermark are scanned in SQL by search.vector."""

    agency_id: int
    state: dict  # the published current.json
    main: Segment
    added: Segment | None

    @property
    def watermark(self) -> int:
        """Every face of the agency with an id up to this one was committed, and indexed, when it was written."""
        return self.state["watermark"]

    @property
    def trained_size(self) -> int:
        return len(self.main.face_ids)

    @property
    def face_ids(self) -> np.ndarray:
        parts = [self.main.face_ids] + ([self.added.face_ids] if self.added is not None else [])
        return np.concatenate(parts)

    @property
    def lists(self) -> int:
        return self.main.lists

    @property
    def nprobe(self) -> int:
        return self.main.nprobe

    def describe(self) -> str:
        added = f" + exact float16 scan of {len(self.added.face_ids)} added" if self.added is not None else ""
        if not self.lists:
            return f"exact float16 scan of {len(self.main.face_ids)} faces{added}"
        return (f"IVF over {PQ_SUBQUANTIZERS}x4-bit PQ, {self.lists} lists, {self.nprobe} probed, top {RERANKED} "
                f"re-ranked on float16, {len(self.main.face_ids)} faces{added}")

    def search(self, encoding, gallery_ids: list[int], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to k (face pks, approximate distances) in the given galleries, nearest first."""
        query = np.asarray(encoding, dtype=np.float32).reshape(1, ENCODING_DIMENSIONS)
        galleries = frozenset(gallery_ids)
        face_ids, distances = self.main.search(query, galleries, k)
        if self.added is not None:
            more_ids, more_distances = self.added.search(query, galleries, k)
            face_ids, distances = np.concatenate([face_ids, more_ids]), np.concatenate([distances, more_distances])
            nearest = np.argsort(distances, kind="stable")[:k]
            face_ids, distances = face_ids[nearest], distances[nearest]
        return face_ids, distances


_indexes: dict[int, AgencyIndex] = {}


def current(agency_id: int) -> AgencyIndex | None:
    return _indexes.get(agency_id)


def forget(agency_id: int) -> None:
    """Drops this process's copy; the files stay, and the next refresh() maps them again."""
    _indexes.pop(agency_id, None)


def delete(agency_id: int) -> None:
    """Drops the agency's index from this process and from disk (its files stay mapped where they are in use)."""
    forget(agency_id)
    shutil.rmtree(agency_directory(agency_id), ignore_errors=True)


def refresh(agency_id: int) -> AgencyIndex | None:
    """Maps the agency's published index, builds it once the agency is large enough, and tops it up once
    there are many new faces. One process of the host builds at a time; the others keep searching meanwhile.

    Call it outside any transaction (it may wait for open transactions to end). Cheap when nothing is due:
    a stat() of the published state and one bounded count."""
    if connection.in_atomic_block:
        raise RuntimeError("faceindex.refresh() must run outside a transaction")
    directory = agency_directory(agency_id)
    existing = _load_published(agency_id, directory)
    if not _due(agency_id, existing):
        return existing
    directory.mkdir(parents=True, exist_ok=True)
    with _lock(directory / "build.lock", fcntl.LOCK_EX | fcntl.LOCK_NB) as building:
        if not building:  # another process of the host builds it: the SQL scan covers the gap meanwhile
            return existing
        existing = _load_published(agency_id, directory)  # that process may have just published
        if not _due(agency_id, existing):
            return existing
        watermark = settled_watermark()
        if watermark is None:
            logger.warning("Open transactions did not end in time; the face index of agency %s stays as it was",
                           agency_id)
            return existing
        if existing is None or _rebuild_due(existing, watermark):
            state = build(agency_id, watermark)
        else:
            state = _top_up(agency_id, existing, watermark)
        _publish(directory, state)
    return _load_published(agency_id, directory)


def _due(agency_id: int, existing: AgencyIndex | None) -> bool:
    after = existing.watermark if existing is not None else 0
    due = settings.FACE_INDEX_MAX_UNINDEXED if existing is not None else settings.FACE_INDEX_MIN_FACES
    return _count_faces(agency_id, after, due) >= due


def _rebuild_due(existing: AgencyIndex, watermark: int) -> bool:
    """The faces added since the build are scanned exactly: rebuild before that scan costs more than the rest."""
    added = _count_faces(existing.agency_id, existing.state["main_watermark"], watermark)
    grown = existing.trained_size + added
    crosses_to_ivf = not existing.lists and grown >= settings.FACE_INDEX_IVF_FROM
    return crosses_to_ivf or added >= ADDED_SHARE_BEFORE_REBUILD * existing.trained_size


def agency_directory(agency_id: int) -> Path:
    """Named by the agency's code, not its pk: a recreated database reuses pks, never codes."""
    with cross_agency(CrossAgency.FACE_INDEX), connection.cursor() as cursor:
        cursor.execute("SELECT code FROM accounts_agency WHERE id = %s", [agency_id])
        code = cursor.fetchone()[0]
    return Path(settings.FACE_INDEX_DIR) / f"agency-{code.hex}"


@contextmanager
def _lock(path: Path, operation: int):
    """flock on the file; yields False when LOCK_NB was asked and another process holds it."""
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, operation)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _load_published(agency_id: int, directory: Path) -> AgencyIndex | None:
    """This process's copy, mapped again from disk when another process (or this one) published a newer one."""
    existing = _indexes.get(agency_id)
    state_file = directory / "current.json"
    if not state_file.exists():
        _indexes.pop(agency_id, None)
        return None
    with _lock(directory / "publish.lock", fcntl.LOCK_SH):  # no clean-up removes the files while they are opened
        state = json.loads(state_file.read_text())
        if existing is not None and existing.state == state:
            return existing
        main = existing.main if existing is not None and existing.state["main"] == state["main"] else None
        loaded = AgencyIndex(
            agency_id=agency_id, state=state,
            main=main or Segment.open(directory / state["main"]),
            added=Segment.open(directory / state["added"]) if state["added"] else None,
        )
    _indexes[agency_id] = loaded
    return loaded


def _publish(directory: Path, state: dict) -> None:
    """Replaces current.json in one rename, then removes the segments nothing refers to (a process that mapped
    them keeps its mapping: the files go once it lets go of them)."""
    with _lock(directory / "publish.lock", fcntl.LOCK_EX):
        partial = directory / ".current.json.partial"
        partial.write_text(json.dumps(state))
        os.replace(partial, directory / "current.json")
        for entry in directory.iterdir():
            if entry.is_dir() and entry.name not in (state["main"], state["added"]):
                shutil.rmtree(entry, ignore_errors=True)


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


def build(agency_id: int, watermark: int) -> dict:
    """Writes a new main segment of the agency's faces up to the watermark; returns the state to publish."""
    started = time.monotonic()
    face_ids, gallery_ids, encodings = load_faces(agency_id, 0, watermark)
    state = write_main_segment(agency_directory(agency_id), face_ids, gallery_ids, encodings, watermark)
    seconds = time.monotonic() - started
    logger.info("Face index of agency %s: %s faces, %s, built in %.1f s", agency_id, len(face_ids),
                "IVF" if len(face_ids) >= settings.FACE_INDEX_IVF_FROM else "exact", seconds)
    metrics.observe_index_build(agency_id, seconds, len(face_ids))
    return state


def write_main_segment(directory: Path, face_ids: np.ndarray, gallery_ids: np.ndarray, encodings: np.ndarray,
                       watermark: int) -> dict:
    """The files of a build from arrays already in memory (bench/vector_search.py writes 10M faces this way)."""
    name = f"main-{watermark}-{uuid.uuid4().hex[:8]}"
    Segment.write(directory / name, face_ids, gallery_ids, encodings,
                  with_ivf=len(face_ids) >= settings.FACE_INDEX_IVF_FROM)
    return {"main": name, "main_watermark": watermark, "added": None, "watermark": watermark}


def _top_up(agency_id: int, existing: AgencyIndex, watermark: int) -> dict:
    """Rewrites the segment of the faces added since the build (small next to the main one), up to the watermark."""
    face_ids, gallery_ids, encodings = load_faces(agency_id, existing.state["main_watermark"], watermark)
    name = f"added-{watermark}-{uuid.uuid4().hex[:8]}"
    Segment.write(agency_directory(agency_id) / name, face_ids, gallery_ids, encodings, with_ivf=False)
    return {**existing.state, "added": name, "watermark": watermark}


def publish_state(agency_id: int, state: dict) -> AgencyIndex:
    """Publishes a state written outside refresh() (the bench's 10M build) and maps it."""
    directory = agency_directory(agency_id)
    _publish(directory, state)
    return _load_published(agency_id, directory)


def _trained_ivf(encodings: np.ndarray) -> faiss.Index:
    lists = round(LISTS_PER_SQRT * math.sqrt(len(encodings)))
    index = faiss.IndexIVFPQFastScan(faiss.IndexFlatL2(ENCODING_DIMENSIONS), ENCODING_DIMENSIONS, lists,
                                     PQ_SUBQUANTIZERS, 4)
    sample = np.random.default_rng(0).choice(len(encodings), min(len(encodings), lists * TRAINING_POINTS_PER_LIST),
                                             replace=False)
    index.train(np.asarray(encodings[np.sort(sample)], dtype=np.float32))
    _add_in_chunks(index, encodings)
    return index


def _add_in_chunks(index: faiss.Index, encodings: np.ndarray) -> None:
    """Adds float32 or float16 encodings a chunk at a time: a 10M float16 array is never copied whole to float32."""
    for start in range(0, len(encodings), ADD_CHUNK):
        index.add(np.ascontiguousarray(encodings[start:start + ADD_CHUNK], dtype=np.float32))
