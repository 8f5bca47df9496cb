"""The 1:N query with its default index settings: every true match comes back, nothing from another
agency, another gallery or a deleted face does, and faces enrolled after the index was built are found.

Correctness only; speed is measured by bench/vector_search.py."""
import threading
import time
import uuid

import numpy as np
import pytest
from django.conf import settings
from django.db import connection, transaction

from bench.synthetic import NEAR_THRESHOLD_NOISE, SyntheticGallery, ensure_gallery
from search import faceindex
from search.models import Face, GalleryImage
from search.vector import nearest_faces

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "owner"])
THRESHOLD, LIMIT = 0.6, 10


@pytest.fixture(autouse=True)
def index_directory(settings, tmp_path):
    """Each test's index files in a folder of its own, as if on a host of its own."""
    settings.FACE_INDEX_DIR = tmp_path / "faceindex"


@pytest.fixture
def gallery() -> SyntheticGallery:
    """Just enough faces for the default settings to build the in-memory index."""
    gallery = ensure_gallery(settings.FACE_INDEX_MIN_FACES, log=lambda message: None)
    yield gallery
    faceindex.forget(gallery.agency.pk)


def search(gallery: SyntheticGallery, probe, gallery_ids=None, threshold=THRESHOLD) -> list[Face]:
    gallery_ids = gallery_ids or [g.pk for g in gallery.galleries]
    with transaction.atomic():
        return nearest_faces(agency_id=gallery.agency.pk, gallery_ids=gallery_ids, encoding=probe,
                             threshold=threshold, limit=LIMIT)


def exact_answer(gallery: SyntheticGallery, probe, gallery_ids=None, threshold=THRESHOLD, deleted=()) -> list[int]:
    """Face ids within the threshold, nearest first, by brute force over the generated encodings."""
    distances = np.linalg.norm(gallery.encodings - probe, axis=1)
    kept = np.isin(gallery.gallery_ids, gallery_ids or [g.pk for g in gallery.galleries])
    kept &= ~np.isin(gallery.face_ids, list(deleted)) & (distances < threshold)
    order = np.argsort(np.where(kept, distances, np.inf))[:LIMIT]
    return [int(gallery.face_ids[i]) for i in order if kept[i]]


def test_the_index_returns_every_true_match_in_exact_order(gallery):
    index = faceindex.refresh(gallery.agency.pk)
    assert index is not None and len(index.face_ids) == settings.FACE_INDEX_MIN_FACES
    probes = gallery.probes(40)
    truth = gallery.true_matches(probes, [g.pk for g in gallery.galleries], THRESHOLD, LIMIT)
    assert sum(len(t) for t in truth) > 100  # the probes do have matches to miss
    for probe, expected in zip(probes, truth):
        faces = search(gallery, probe)
        assert {face.pk for face in faces} == expected
        assert [face.distance for face in faces] == sorted(face.distance for face in faces)
        exact = np.linalg.norm(gallery.encodings[np.searchsorted(gallery.face_ids, [f.pk for f in faces])] - probe,
                               axis=1)
        assert np.allclose([face.distance for face in faces], exact, atol=1e-4)


@pytest.fixture
def near_threshold_gallery() -> SyntheticGallery:
    """Most same-identity distances between 0.5 and 0.6: the hard matches."""
    gallery = ensure_gallery(settings.FACE_INDEX_MIN_FACES, log=lambda message: None, noise=NEAR_THRESHOLD_NOISE)
    yield gallery
    faceindex.forget(gallery.agency.pk)


@pytest.mark.parametrize("distribution", ["uniform", "near threshold"])
def test_above_the_ivf_size_the_index_keeps_at_least_995_per_thousand_of_true_matches(
        distribution, request, settings):
    gallery = request.getfixturevalue("gallery" if distribution == "uniform" else "near_threshold_gallery")
    settings.FACE_INDEX_IVF_FROM = settings.FACE_INDEX_MIN_FACES
    index = faceindex.refresh(gallery.agency.pk)
    assert index.lists > 0
    probes = gallery.probes(300)
    truth = gallery.true_matches(probes, [g.pk for g in gallery.galleries], THRESHOLD, LIMIT)
    distances = [np.linalg.norm(gallery.encodings[np.searchsorted(gallery.face_ids, list(t))] - p, axis=1)
                 for p, t in zip(probes, truth) if t]
    if distribution == "near threshold":  # the data set is what it claims to be
        assert np.mean(np.concatenate(distances) > 0.5) > 0.8
    returned = [search(gallery, probe) for probe in probes]
    found = sum(len({face.pk for face in faces} & expected) for faces, expected in zip(returned, truth))
    assert found / sum(len(expected) for expected in truth) >= 0.995
    for faces, expected in zip(returned, truth):  # what it returns is right, even when it misses one
        assert {face.pk for face in faces} <= expected
        assert [face.distance for face in faces] == sorted(face.distance for face in faces)


def test_a_restarted_worker_maps_the_published_index_instead_of_building_it(gallery, settings, monkeypatch):
    settings.FACE_INDEX_IVF_FROM = settings.FACE_INDEX_MIN_FACES
    built = faceindex.refresh(gallery.agency.pk)
    probes = gallery.probes(20)
    before = [[face.pk for face in search(gallery, probe)] for probe in probes]
    faceindex.forget(gallery.agency.pk)  # as a new worker process starts: nothing in memory

    def no_build(*args):
        raise AssertionError("the published index should have been mapped, not rebuilt")

    monkeypatch.setattr(faceindex, "build", no_build)
    monkeypatch.setattr(faceindex.Segment, "write", no_build)
    assert faceindex.current(gallery.agency.pk) is None
    mapped = faceindex.refresh(gallery.agency.pk)
    assert mapped is not built and mapped.watermark == built.watermark and mapped.lists == built.lists
    assert isinstance(mapped.main.face_ids, np.memmap)  # the pages are the file's, shared by the host's processes
    assert [[face.pk for face in search(gallery, probe)] for probe in probes] == before


def test_a_top_up_published_by_one_process_is_seen_by_another(gallery, settings):
    first = faceindex.refresh(gallery.agency.pk)
    other_process = faceindex._indexes.pop(gallery.agency.pk)  # the same files, mapped twice
    probe = gallery.probes(1, seed=11)[0]
    added = add_face_like(gallery, probe)
    settings.FACE_INDEX_MAX_UNINDEXED = 1
    topped_up = faceindex.refresh(gallery.agency.pk)
    assert topped_up.added is not None and added.pk in topped_up.face_ids
    assert topped_up.main.directory == first.main.directory  # the build's files stay as they are
    faceindex._indexes[gallery.agency.pk] = other_process  # the other process refreshes before its next search
    seen = faceindex.refresh(gallery.agency.pk)
    assert seen.watermark == topped_up.watermark and seen.main is other_process.main
    assert search(gallery, probe)[0].pk == added.pk


@pytest.mark.parametrize("ivf", [False, True], ids=["exact float16", "IVF"])
def test_other_agencies_never_come_back_though_they_hold_the_same_identities(gallery, settings, ivf):
    if ivf:
        settings.FACE_INDEX_IVF_FROM = settings.FACE_INDEX_MIN_FACES
    faceindex.refresh(gallery.agency.pk)
    other_faces = Face.objects.exclude(agency=gallery.agency)
    assert other_faces.count() == round(settings.FACE_INDEX_MIN_FACES * 0.1)
    probes = np.array(list(other_faces.values_list("encoding", flat=True)[:20]), dtype=np.float32)
    for probe in probes:  # the very encodings the other agencies enrolled
        faces = search(gallery, probe)
        assert all(face.agency_id == gallery.agency.pk for face in faces)
        assert [face.pk for face in faces] == exact_answer(gallery, probe)


def test_a_one_gallery_search_sees_only_that_gallery_and_all_of_it(gallery):
    faceindex.refresh(gallery.agency.pk)
    second = [gallery.galleries[1].pk]
    probes = np.concatenate([gallery.probes(40, gallery_id=second[0]), gallery.probes(40)])
    truth = gallery.true_matches(probes, second, THRESHOLD, LIMIT)
    assert sum(len(t) for t in truth) > 100
    for probe, expected in zip(probes, truth):
        faces = search(gallery, probe, second)
        assert {face.pk for face in faces} == expected
        assert all(face.gallery_id == second[0] for face in faces)


@pytest.mark.parametrize("ivf", [False, True], ids=["exact float16", "IVF"])
def test_deleted_faces_never_come_back_and_do_not_hide_the_next_ones(gallery, settings, ivf):
    if ivf:
        settings.FACE_INDEX_IVF_FROM = settings.FACE_INDEX_MIN_FACES
    faceindex.refresh(gallery.agency.pk)
    probe = gallery.probes(1)[0]
    wide = 1.2  # the widest threshold the API allows: strangers count too, so the deletions must be refilled
    nearest = [face.pk for face in search(gallery, probe, threshold=wide)]
    deleted = _nearest_ids(gallery, probe, 3 * LIMIT)  # more than the first round of candidates
    GalleryImage.objects.filter(faces__pk__in=deleted).delete()
    faces = search(gallery, probe, threshold=wide)
    assert set(nearest) <= set(deleted)
    assert not {face.pk for face in faces} & set(deleted)
    if ivf:  # strangers at ~1.0 are ranked approximately by the IVF: the answer is the deletions refilled, in order
        assert [face.distance for face in faces] == sorted(face.distance for face in faces)
    else:
        assert [face.pk for face in faces] == exact_answer(gallery, probe, threshold=wide, deleted=deleted)
    assert len(faces) == LIMIT


def _nearest_ids(gallery: SyntheticGallery, probe, count: int) -> list[int]:
    distances = np.linalg.norm(gallery.encodings - probe, axis=1)
    return [int(gallery.face_ids[i]) for i in np.argsort(distances)[:count]]


def add_face_like(gallery: SyntheticGallery, probe) -> Face:
    template = Face.objects.filter(agency=gallery.agency).select_related("image").first()
    image = template.image
    image.pk, image.code, image.sha256 = None, uuid.uuid4(), uuid.uuid4().hex
    image.save()
    return Face.objects.create(image=image, gallery_id=image.gallery_id, agency_id=image.agency_id, top=0, right=1,
                               bottom=1, left=0, encoding=probe + 0.001)


def test_faces_enrolled_after_the_build_are_found_at_once_then_indexed(gallery, settings):
    index = faceindex.refresh(gallery.agency.pk)
    probe = gallery.probes(1, seed=7)[0]
    added = add_face_like(gallery, probe)
    assert added.pk > index.watermark
    assert search(gallery, probe)[0].pk == added.pk  # scanned exactly above the watermark
    settings.FACE_INDEX_MAX_UNINDEXED = 1
    index = faceindex.refresh(gallery.agency.pk)
    assert index.watermark >= added.pk and added.pk in index.face_ids
    assert search(gallery, probe)[0].pk == added.pk


def test_the_build_waits_for_a_writer_that_drew_a_lower_id_and_commits_late(gallery):
    started, release = threading.Event(), threading.Event()
    late = {}

    def slow_enrollment() -> None:
        with transaction.atomic():
            late["face"] = add_face_like(gallery, gallery.probes(1, seed=8)[0])
            started.set()
            release.wait(10)
        connection.close()

    writer = threading.Thread(target=slow_enrollment)
    writer.start()
    started.wait(10)
    later = add_face_like(gallery, gallery.probes(1, seed=9)[0])  # a higher id, committed first
    threading.Timer(0.5, release.set).start()
    began = time.monotonic()
    index = faceindex.refresh(gallery.agency.pk)
    writer.join()
    assert time.monotonic() - began >= 0.4
    assert index.watermark >= later.pk > late["face"].pk
    assert late["face"].pk in index.face_ids


def test_a_writer_that_never_finishes_leaves_the_exact_scan_in_charge(gallery, settings):
    settings.FACE_INDEX_SETTLE_SECONDS = 0.2
    started, release = threading.Event(), threading.Event()

    def stuck_enrollment() -> None:
        with transaction.atomic():
            add_face_like(gallery, gallery.probes(1, seed=10)[0])
            started.set()
            release.wait(10)
        connection.close()

    writer = threading.Thread(target=stuck_enrollment)
    writer.start()
    started.wait(10)
    try:
        assert faceindex.refresh(gallery.agency.pk) is None
    finally:
        release.set()
        writer.join()
    probe = gallery.probes(1)[0]
    assert [face.pk for face in search(gallery, probe)] == exact_answer(gallery, probe)


def test_small_agencies_are_scanned_exactly(gallery, settings):
    settings.FACE_INDEX_MIN_FACES = settings.FACE_INDEX_MIN_FACES + 1
    assert faceindex.refresh(gallery.agency.pk) is None
    probe = gallery.probes(1)[0]
    assert [face.pk for face in search(gallery, probe)] == exact_answer(gallery, probe)


def test_refresh_refuses_to_run_inside_a_transaction(gallery):
    with transaction.atomic(), pytest.raises(RuntimeError):
        faceindex.refresh(gallery.agency.pk)


def test_the_index_leaves_the_process_openmp_threads_to_face_detection(gallery, settings):
    import faiss

    settings.FACE_INDEX_IVF_FROM = settings.FACE_INDEX_MIN_FACES  # trains, which uses every core meanwhile
    before = faiss.omp_get_max_threads()
    faceindex.refresh(gallery.agency.pk)
    search(gallery, gallery.probes(1)[0])
    assert faiss.omp_get_max_threads() == before  # dlib runs on the same OpenMP threads, twice as fast with two
