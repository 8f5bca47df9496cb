"""Enrollment pipeline: bulk enrollment through the product against raw face_recognition.

    .venv/bin/python -m bench.enrollment [--copies 8] [--processes 2] [--rounds 5]

The product side logs in and posts N copies of the shared photos (each copy made unique by trailing
bytes that no decoder reads, so none is a duplicate) with a manifest to the bulk upload page, served by
gunicorn, and waits until the real worker (a `celery worker` with --concurrency PROCESSES) has finished
the batch: upload, queue, worker, database. The baseline, in the same run, is raw face_recognition on
the very same bytes, with the same downscaling (DETECTION_MAX_SIDE) and the same number of processes.
Each round runs both, the first alternating, and the ratio is the median of the rounds' product / raw.
CPU time per image, summed over every process of the product (gunicorn, worker, database backends;
for raw, the pool) is reported too: unlike throughput, it hardly moves when other tenants of the
machine load it.
"""
import argparse
import csv
import io
import multiprocessing
import time
from dataclasses import dataclass

import bench.common as common

common.setup_django()

import numpy as np  # noqa: E402
import psutil  # noqa: E402
import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.files.storage import default_storage  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from core.tenancy import tenant_transaction  # noqa: E402
from search.models import EnrollmentBatch, Gallery, GalleryImage  # noqa: E402

PHOTOS = sorted(path for path in common.FACES_DIR.iterdir() if path.suffix.lower() in {".jpg", ".jpeg", ".png"})


def photo_copies(copies: int) -> list[tuple[str, bytes]]:
    """(file name, bytes) for each copy; the trailing marker changes the hash, never the pixels."""
    return [(f"{copy:03d}-{path.name}", path.read_bytes() + f"copy {copy} {time.time_ns()}".encode())
            for copy in range(copies) for path in PHOTOS]


def raw_detect(data: bytes) -> int:
    import face_recognition

    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    image.thumbnail((settings.DETECTION_MAX_SIDE, settings.DETECTION_MAX_SIDE), Image.Resampling.BILINEAR)
    pixels = np.asarray(image)
    return len(face_recognition.face_encodings(pixels, face_recognition.face_locations(pixels)))


@dataclass
class Round:
    images_per_s: float
    cpu_s_per_image: float  # CPU time of every process involved, which the neighbours' load barely changes


def cpu_of(processes: list[psutil.Process]) -> dict[int, float]:
    seconds = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        seconds[process.pid] = times.user + times.system + times.children_user + times.children_system
    return seconds


def used_cpu(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def raw_round(files: list[tuple[str, bytes]], processes: int) -> Round:
    """face_recognition alone; the pool's processes are counted once they are reaped, as children."""
    import face_recognition  # noqa: F401  (loaded before the fork, as the worker loads it before its jobs)

    me = [psutil.Process()]
    cpu_before, started = cpu_of(me), time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        pool.map(raw_detect, [data for _name, data in files], chunksize=1)
        pool.close()
        pool.join()
    elapsed = time.perf_counter() - started
    return Round(len(files) / elapsed, used_cpu(cpu_before, cpu_of(me)) / len(files))


def product_processes(server: common.BenchServer, worker: common.BenchWorker) -> list[psutil.Process]:
    """gunicorn and the worker, with their children, and the database's backends."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid()")
        backends = [psutil.Process(pid) for (pid,) in cursor.fetchall() if psutil.pid_exists(pid)]
    tops = [psutil.Process(server.process.pid), psutil.Process(worker.process.pid)]
    return [*tops, *(child for top in tops for child in top.children(recursive=True)), *backends]


def manifest_for(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["filename", "subject_reference", "source", "legal_basis", "captured_at"])
    for name, _data in files:
        writer.writerow([name, name.split("-", 1)[1].rsplit(".", 1)[0], "Benchmark upload", "booking_record", ""])
    return buffer.getvalue().encode()


def product_round(files: list[tuple[str, bytes]], session: requests.Session, server, worker, agency,
                  number: int) -> Round:
    """From the upload's first byte until the worker has stored the whole batch."""
    with tenant_transaction(agency.pk):  # row-level security: the bench's reads and writes are the agency's
        gallery = Gallery.objects.create(agency=agency, name=f"Enrollment bench {time.time_ns()} #{number}")
    uploads = [("files", (name, data)) for name, data in files]
    uploads.append(("manifest", ("manifest.csv", manifest_for(files), "text/csv")))
    cpu_before, started = cpu_of(product_processes(server, worker)), time.perf_counter()
    response = session.post(f"{server.url}/galleries/{gallery.code}/bulk/", files=uploads, allow_redirects=False,
                            data={"csrfmiddlewaretoken": session.cookies["csrftoken"]}, timeout=300)
    if response.status_code != 302:
        raise RuntimeError(f"The bulk upload was refused: {response.status_code} {response.text[:500]}")
    uploaded = time.perf_counter() - started
    while not _batch_done(gallery):
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    used = used_cpu(cpu_before, cpu_of(product_processes(server, worker)))
    measured = Round(len(files) / elapsed, used / len(files))
    common.say(f"product round {number}: {measured.images_per_s:.2f} images/s, {measured.cpu_s_per_image:.3f} "
               f"CPU s/image (the upload request took {uploaded:.1f} s), outcomes {_outcomes(gallery)}")
    _remove(gallery)
    return measured


def _batch_done(gallery: Gallery) -> bool:
    with tenant_transaction(gallery.agency_id):
        return EnrollmentBatch.objects.filter(gallery=gallery, status=EnrollmentBatch.Status.DONE).exists()


def _outcomes(gallery: Gallery) -> dict:
    from django.db.models import Count

    with tenant_transaction(gallery.agency_id):
        batch = EnrollmentBatch.objects.get(gallery=gallery)
        return dict(batch.items.values_list("outcome").annotate(count=Count("id")).values_list("outcome", "count"))


def _remove(gallery: Gallery) -> None:
    with tenant_transaction(gallery.agency_id):
        for name in GalleryImage.objects.filter(gallery=gallery).values_list("file", flat=True):
            default_storage.delete(name)
        gallery.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=8, help=f"copies of the {len(PHOTOS)} shared photos")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()

    agency, investigator = common.bench_people()
    raw_rounds, product_rounds = [], []
    with common.BenchServer(workers=2) as server, common.BenchWorker(concurrency=arguments.processes) as worker:
        session = common.logged_in(requests.Session(), server.url, investigator.email)
        for number in range(1, arguments.rounds + 1):
            files = photo_copies(arguments.copies)
            if number % 2 == 0:  # alternate which goes first, so that a drift in the machine's load favours neither
                product_rounds.append(product_round(files, session, server, worker, agency, number))
            raw_rounds.append(raw_round(files, arguments.processes))
            common.say(f"raw round {number}: {raw_rounds[-1].images_per_s:.2f} images/s, "
                       f"{raw_rounds[-1].cpu_s_per_image:.3f} CPU s/image")
            if number % 2 == 1:
                product_rounds.append(product_round(files, session, server, worker, agency, number))
    throughput = float(np.median([p.images_per_s / r.images_per_s for p, r in zip(product_rounds, raw_rounds)]))
    efficiency = float(np.median([r.cpu_s_per_image / p.cpu_s_per_image for p, r in zip(product_rounds, raw_rounds)]))
    print()
    print(f"{len(PHOTOS) * arguments.copies} images per round ({arguments.copies} copies of {len(PHOTOS)} photos), "
          f"{arguments.processes} processes, DETECTION_MAX_SIDE={settings.DETECTION_MAX_SIDE}, {arguments.rounds} "
          "rounds; ratios are medians over rounds of product / raw within the same round")
    header = ["path", "images/s", "ratio to raw (target >= 0.90)", "CPU s per image", "raw CPU / product CPU"]
    common.print_table(header, [
        ["raw face_recognition (baseline)", _median(raw_rounds, "images_per_s"), 1.0,
         _median(raw_rounds, "cpu_s_per_image"), 1.0],
        ["product: bulk upload -> queue -> worker -> database", _median(product_rounds, "images_per_s"),
         round(throughput, 3), _median(product_rounds, "cpu_s_per_image"), round(efficiency, 3)],
    ])
    common.save_results("enrollment", {"copies": arguments.copies, "processes": arguments.processes,
                                       "raw": [vars(r) for r in raw_rounds],
                                       "product": [vars(p) for p in product_rounds],
                                       "throughput_ratio": round(throughput, 3), "cpu_ratio": round(efficiency, 3)})


def _median(rounds: list[Round], attribute: str) -> float:
    return round(float(np.median([getattr(r, attribute) for r in rounds])), 3)


if __name__ == "__main__":
    main()
