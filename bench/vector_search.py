"""Vector stage: latency and true-match recall of the 1:N query the product runs.

    .venv/bin/python -m bench.vector_search --faces 100000 [--queries 200] [--explore] [--near-threshold]
    .venv/bin/python -m bench.vector_search --faces 10000000 --index-only [--near-threshold] [--reuse-index]

Times search.vector.nearest_faces, with the agency and gallery filters a search uses, over synthetic
dlib-like encodings in the real tables (bench/synthetic.py). The baseline, measured in the same run, is
the same function with no in-memory index: the exact SQL scan. "Recall" is the share of true matches
(the faces within distance 0.6 among the exact 10 nearest) that the query returns. --explore also
measures pgvector's own indexes (HNSW, ivfflat), built on the same table (partial: on the agency's rows)
and dropped afterwards. --near-threshold draws images farther from their identity (most same-identity
distances between 0.5 and 0.6). --index-only skips PostgreSQL: the index files are written from the
same synthetic arrays and searched alone (for sizes whose SQL load would take hours on this machine);
it also times a new process that maps the files and answers its first search, and the memory it holds.
"""
import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench.common as common

common.setup_django()

import faiss  # noqa: E402
import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from bench.synthetic import NEAR_THRESHOLD_NOISE, UNIFORM_NOISE, SyntheticGallery, draw, ensure_gallery  # noqa: E402
from core.tenancy import tenant_transaction  # noqa: E402
from search import faceindex  # noqa: E402
from search.vector import nearest_faces  # noqa: E402

THRESHOLD = 0.6
LIMIT = 10
WARM_UP_QUERIES = 10


def run_queries(gallery: SyntheticGallery, probes: np.ndarray, gallery_ids: list[int]):
    """(latencies in ms, returned face ids, faces from elsewhere) of nearest_faces on each probe: one SQL round
    trip each, as inside the worker's transaction (whose commit is shared with the rest of the search)."""
    latencies, returned, leaks = [], [], 0
    for probe in probes:
        with tenant_transaction(gallery.agency.pk):  # row-level security: the worker's search runs in one
            started = time.perf_counter()
            faces = nearest_faces(agency_id=gallery.agency.pk, gallery_ids=gallery_ids, encoding=probe,
                                  threshold=THRESHOLD, limit=LIMIT)
            latencies.append((time.perf_counter() - started) * 1000)
        returned.append({face.pk for face in faces})
        leaks += sum(1 for face in faces if face.agency_id != gallery.agency.pk or face.gallery_id not in gallery_ids)
    return latencies, returned, leaks


def recall(returned: list[set], truth: list[set]) -> float:
    found = sum(len(r & t) for r, t in zip(returned, truth))
    return round(found / max(1, sum(len(t) for t in truth)), 4)


def measure(name: str, gallery, probes, truth, gallery_ids, session_settings=(), extra=None) -> dict:
    with connection.cursor() as cursor:
        for statement in session_settings:
            cursor.execute(statement)
    try:
        run_queries(gallery, probes[:WARM_UP_QUERIES], gallery_ids)  # caches and connections in their steady state
        latencies, returned, leaks = run_queries(gallery, probes, gallery_ids)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ALL")
    row = {"method": name, **common.percentiles(latencies), "recall": recall(returned, truth[:len(probes)]),
           "leaks": leaks, **(extra or {})}
    common.say(f"{name}: {row}")
    return row


def product_index(gallery: SyntheticGallery) -> dict:
    faceindex.delete(gallery.agency.pk)
    started = time.perf_counter()
    index = faceindex.refresh(gallery.agency.pk)
    seconds = time.perf_counter() - started
    if index is None:
        raise RuntimeError("The face index was not built: is the gallery below FACE_INDEX_MIN_FACES?")
    return {"build_s": round(seconds, 1), "size_mb": round(disk_bytes(index.main.directory) / 2**20),
            "settings": index.describe(), "directory": str(index.main.directory)}


def disk_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in Path(directory).iterdir())


RESTART_PROBE = """
import sys, time, resource
started = time.perf_counter()
import django
import numpy as np
django.setup()  # the environment is the bench's, inherited
from search.faceindex import Segment
segment = Segment.open(__import__("pathlib").Path(sys.argv[1]))
opened = time.perf_counter()
probe = np.load(sys.argv[3])
segment.search(probe.reshape(1, -1), frozenset(segment.gallery_ids[:1].tolist()) | frozenset(np.unique(segment.gallery_ids[::1000]).tolist()), 20)
searched = time.perf_counter()
rollup = dict(line.split(":")[0:2] for line in open("/proc/self/smaps_rollup").read().splitlines()[1:])
kb = lambda key: int(rollup[key].split()[0])
print(round(opened - started, 3), round(searched - opened, 3), kb("Rss") // 1024,
      (kb("Private_Clean") + kb("Private_Dirty")) // 1024, (kb("Shared_Clean") + kb("Shared_Dirty")) // 1024)
"""


def restarted_worker(directory: str, probe) -> dict:
    """A new process (as a restarted worker): maps the published files and answers its first search. Imports
    of numpy, faiss and Django count in; the page cache is warm, as on a host whose other workers search."""
    with tempfile.NamedTemporaryFile(suffix=".npy") as probe_file:
        np.save(probe_file.name, probe)
        started = time.perf_counter()
        output = subprocess.run([sys.executable, "-c", RESTART_PROBE, directory, "", probe_file.name],
                                capture_output=True, text=True, check=True,
                                cwd=common.BASE_DIR).stdout.split()
        total = time.perf_counter() - started
    row = {"process_start_to_first_answer_s": round(total, 2), "map_s": float(output[0]),
           "first_search_s": float(output[1]), "rss_mb": int(output[2]), "private_mb": int(output[3]),
           "shared_mb": int(output[4])}
    common.say(f"restarted worker: {row}")
    return row


def index_only(index, probes, truth, gallery_ids, label="index alone (no SQL)") -> dict:
    """The index alone, without the SQL re-check: where the product's time goes. The re-check keeps only
    faces within the threshold, by their exact distance: so does this, by the float16 one."""
    latencies, returned = [], []
    for probe in probes[:WARM_UP_QUERIES]:
        index.search(probe, gallery_ids, 2 * LIMIT)
    for probe in probes:
        started = time.perf_counter()
        face_ids, distances = index.search(probe, gallery_ids, 2 * LIMIT)
        latencies.append((time.perf_counter() - started) * 1000)
        returned.append(set(face_ids[:LIMIT][distances[:LIMIT] < THRESHOLD + faceindex.DISTANCE_SLACK].tolist()))
    row = {"method": label, **common.percentiles(latencies), "recall": recall(returned, truth), "leaks": 0}
    common.say(f"{row}")
    return row


class ArraysIndex:
    """The product's search over a segment written straight from the synthetic arrays (no SQL)."""

    def __init__(self, segment):
        self.segment = segment

    def search(self, encoding, gallery_ids, k):
        query = np.asarray(encoding, dtype=np.float32).reshape(1, -1)
        return self.segment.search(query, frozenset(gallery_ids), k)


def index_only_run(arguments, noise: float) -> None:
    """--index-only: draws the arrays (no agency in PostgreSQL), writes the product's files, searches them."""
    common.say(f"Drawing {arguments.faces} synthetic faces (image noise {noise}), as float16")
    started = time.perf_counter()
    centres, identities, encodings, in_second_gallery = draw(arguments.faces, noise, dtype=np.float16)
    phases = {"draw_s": round(time.perf_counter() - started, 1)}
    encodings, identities = encodings[:arguments.faces], identities[:arguments.faces]  # the main agency's
    face_ids = np.arange(1, arguments.faces + 1, dtype=np.int64)
    gallery_ids = np.where(in_second_gallery[identities], 2, 1).astype(np.int64)
    gallery = SyntheticGallery(agency=None, galleries=[], face_ids=face_ids, gallery_ids=gallery_ids,
                               encodings=encodings, centres=centres, identities=identities, noise=noise)
    probes = gallery.probes(arguments.queries)
    common.say("Computing the exact answers in memory")
    started = time.perf_counter()
    truth = gallery.true_matches(probes, [1, 2], THRESHOLD, LIMIT)
    probes_second = gallery.probes(arguments.queries, seed=2, gallery_id=2)
    truth_second = gallery.true_matches(probes_second, [2], THRESHOLD, LIMIT)
    phases["exact_answers_s"] = round(time.perf_counter() - started, 1)
    common.say(f"{phases}")
    directory = Path(settings.FACE_INDEX_DIR) / f"bench-index-only-{arguments.faces}-{noise}"
    earlier = sorted(directory.glob("main-*"), key=lambda path: path.stat().st_mtime)  # complete ones only
    if arguments.reuse_index and earlier:  # same seed, same arrays: only the search settings may differ
        common.say(f"Reusing the index files of an earlier run: {earlier[-1]}")
        segment_directory, build_s = earlier[-1], "reused"
    else:
        common.say(f"Writing the index files under {directory}")
        started = time.perf_counter()
        state = faceindex.write_main_segment(directory, face_ids, gallery_ids, encodings, watermark=arguments.faces)
        build_s = round(time.perf_counter() - started, 1)
        segment_directory = directory / state["main"]
        for stale in earlier:
            shutil.rmtree(stale)
    del encodings, gallery
    segment = faceindex.Segment.open(segment_directory)
    common.say(f"Built in {build_s} s: {disk_bytes(segment.directory) / 2**20:.0f} MB on disk")
    index = ArraysIndex(segment)
    restart = restarted_worker(str(segment.directory), probes[0])
    rows = [index_only(index, probes, truth, [1, 2], "index alone (no SQL), all galleries"),
            index_only(index, probes_second, truth_second, [2], "index alone (no SQL), one gallery (10%)")]
    print()
    print(f"{arguments.faces} faces, image noise {noise}, {arguments.queries} probes, threshold {THRESHOLD}, "
          f"limit {LIMIT}; {np.mean([len(t) for t in truth]):.2f} true matches per probe; {segment.lists} lists, "
          f"{segment.nprobe} probed; build {build_s} s; {disk_bytes(segment.directory) / 2**20:.0f} MB on disk")
    common.print_table(["method", "p50 ms", "p95 ms", "true-match recall"],
                       [[row["method"], row["p50_ms"], row["p95_ms"], row["recall"]] for row in rows])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"Restarted worker: {restart}; this process: {phases}, peak RSS {peak_mb} MB")
    common.save_results("vector_search_index_only", {
        "faces": arguments.faces, "noise": noise, "queries": arguments.queries, "build_s": build_s,
        "disk_mb": round(disk_bytes(segment.directory) / 2**20), "rows": rows, "restart": restart,
        "files_mb": {path.name: round(path.stat().st_size / 2**20) for path in segment.directory.iterdir()},
        "peak_rss_mb": peak_mb, **phases})


def hnsw_settings(ef_search: int, iterative: str = "off") -> tuple[str, list[str]]:
    label = f"ef_search={ef_search}" + (f", iterative {iterative}" if iterative != "off" else "")
    return label, [f"SET hnsw.ef_search = {ef_search}", f"SET hnsw.iterative_scan = {iterative}"]


def pgvector_options(size: int) -> list:
    """(label, CREATE INDEX clause, [(label, settings)]) of each pgvector index tried."""
    lists = round(size ** 0.5)
    return [
        ("HNSW m=16 ef_construction=64", "hnsw (encoding vector_l2_ops) WITH (m = 16, ef_construction = 64)",
         # ef_search=200 with a strict iterative scan was the product's previous default
         [hnsw_settings(40), hnsw_settings(100), hnsw_settings(400), hnsw_settings(200, "strict_order")]),
        ("HNSW m=32 ef_construction=200", "hnsw (encoding vector_l2_ops) WITH (m = 32, ef_construction = 200)",
         [hnsw_settings(100), hnsw_settings(400)]),
        (f"ivfflat lists={lists}", f"ivfflat (encoding vector_l2_ops) WITH (lists = {lists})",
         [(f"probes={probes}", [f"SET ivfflat.probes = {probes}"]) for probes in (lists // 32, lists // 8)]),
    ]


def explore_pgvector(gallery, probes, truth, gallery_ids) -> list[dict]:
    faceindex.forget(gallery.agency.pk)
    rows = []
    for label, definition, variants in pgvector_options(len(gallery.face_ids)):
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '2GB'")
            started = time.perf_counter()
            # Partial, on this agency's rows only, as a per-agency index would be (the query's filter implies it).
            cursor.execute(f"CREATE INDEX bench_explore ON search_face USING {definition} "
                           f"WHERE agency_id = {int(gallery.agency.pk)}")
            build = round(time.perf_counter() - started, 1)
            cursor.execute("SELECT pg_relation_size('bench_explore')")
            size_mb = round(cursor.fetchone()[0] / 2**20)
        try:
            for variant, statements in variants:
                rows.append(measure(f"pgvector {label}, {variant}", gallery, probes, truth, gallery_ids, statements,
                                    {"build_s": build, "size_mb": size_mb}))
        finally:
            with connection.cursor() as cursor:
                cursor.execute("DROP INDEX bench_explore")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=100_000, help="faces in the main agency")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=30, help="probes for the slow exact baseline")
    parser.add_argument("--explore", action="store_true", help="also measure pgvector HNSW and ivfflat indexes")
    parser.add_argument("--near-threshold", action="store_true", help="same-identity distances mostly 0.5-0.6")
    parser.add_argument("--index-only", action="store_true", help="no PostgreSQL: the index files from the arrays")
    parser.add_argument("--reuse-index", action="store_true",
                        help="--index-only: search the files an earlier run wrote (e.g. with other probe settings)")
    arguments = parser.parse_args()
    noise = NEAR_THRESHOLD_NOISE if arguments.near_threshold else UNIFORM_NOISE
    if arguments.index_only:
        index_only_run(arguments, noise)
        return

    gallery = ensure_gallery(arguments.faces, log=common.say, noise=noise)
    probes = gallery.probes(arguments.queries)
    every_gallery = [g.pk for g in gallery.galleries]
    second_gallery = [gallery.galleries[1].pk]
    common.say("Computing the exact answers in memory")
    truth = gallery.true_matches(probes, every_gallery, THRESHOLD, LIMIT)
    probes_second = gallery.probes(arguments.queries, seed=2, gallery_id=second_gallery[0])
    truth_second = gallery.true_matches(probes_second, second_gallery, THRESHOLD, LIMIT)

    faceindex.forget(gallery.agency.pk)
    baseline = measure("exact SQL scan (baseline)", gallery, probes[:arguments.exact_queries], truth, every_gallery)
    rows = [baseline]
    if arguments.explore:
        rows += explore_pgvector(gallery, probes, truth, every_gallery)
    common.say("Building the product's in-memory index")
    built = product_index(gallery)
    rows.append(measure("product: nearest_faces, all galleries", gallery, probes, truth, every_gallery, extra=built))
    rows.append(measure("product: nearest_faces, one gallery (10%)", gallery, probes_second, truth_second,
                        second_gallery))
    rows.append(index_only(faceindex.current(gallery.agency.pk), probes, truth, every_gallery))
    restart = restarted_worker(built["directory"], probes[0])

    print()
    print(f"{arguments.faces} faces in the agency (+{round(arguments.faces * 0.1)} in other agencies), "
          f"image noise {noise}, "
          f"{arguments.queries} probes, threshold {THRESHOLD}, limit {LIMIT}; "
          f"{np.mean([len(t) for t in truth]):.2f} true matches per probe")
    common.print_table(
        ["method", "p50 ms", "p95 ms", "p95 / exact SQL", "true-match recall", "leaks", "build s", "size MB"],
        [[row["method"], row["p50_ms"], row["p95_ms"], common.ratio(row["p95_ms"], baseline["p95_ms"]),
          row["recall"], row["leaks"], row.get("build_s", ""), row.get("size_mb", "")] for row in rows],
    )
    knobs = ", ".join(f"{name}={getattr(settings, name)}" for name in dir(settings) if name.startswith("FACE_INDEX_"))
    print(f"Product index: {built['settings']}; {knobs}")
    print(f"Restarted worker: {restart}")
    common.save_results("vector_search", {"faces": arguments.faces, "noise": noise, "queries": arguments.queries,
                                          "rows": rows, "restart": restart})


if __name__ == "__main__":
    main()
