"""Enrollment pipeline: bulk enrollment through the product against raw face_recognition.

    .venv/bin/python -m bench.enrollment [--copies 8] [--processes 2] [--rounds 2]

The product side posts N copies of the shared photos (each copy made unique by trailing bytes that no
decoder reads, so none is a duplicate) with a manifest to the bulk upload view, and waits until the
real worker (a `celery worker` with --concurrency PROCESSES) has finished the batch: upload, queue,
worker, database. The baseline, in the same run, is raw face_recognition on the very same bytes, with
the same downscaling (DETECTION_MAX_SIDE) and the same number of processes. Rounds alternate the two.
"""
import argparse
import csv
import io
import multiprocessing
import time

import bench.common as common

common.setup_django()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.files.storage import default_storage  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

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


def raw_round(files: list[tuple[str, bytes]], processes: int) -> float:
    """Images per second of face_recognition alone."""
    import face_recognition  # noqa: F401  (loaded before the fork, as the worker loads it before its jobs)

    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        pool.map(raw_detect, [data for _name, data in files], chunksize=1)
    return len(files) / (time.perf_counter() - started)


def manifest_for(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["filename", "subject_reference", "source", "legal_basis", "captured_at"])
    for name, _data in files:
        writer.writerow([name, name.split("-", 1)[1].rsplit(".", 1)[0], "Benchmark upload", "booking_record", ""])
    return buffer.getvalue().encode()


def product_round(files: list[tuple[str, bytes]], client: Client, agency, number: int) -> float:
    """Images per second from the upload's first byte until the worker has stored the whole batch."""
    gallery = Gallery.objects.create(agency=agency, name=f"Enrollment bench {time.time_ns()} #{number}")
    uploads = [SimpleUploadedFile(name, data) for name, data in files]
    manifest = SimpleUploadedFile("manifest.csv", manifest_for(files), content_type="text/csv")
    started = time.perf_counter()
    response = client.post(reverse("search:bulk_upload", args=[gallery.code]),
                           {"files": uploads, "manifest": manifest})
    if response.status_code != 302:
        raise RuntimeError(f"The bulk upload was refused: {response.status_code} {response.content[:500]!r}")
    uploaded = time.perf_counter() - started
    batch = EnrollmentBatch.objects.get(gallery=gallery)
    while not EnrollmentBatch.objects.filter(pk=batch.pk, status=EnrollmentBatch.Status.DONE).exists():
        time.sleep(0.05)
    rate = len(files) / (time.perf_counter() - started)
    common.say(f"product round {number}: {rate:.2f} images/s (the upload request took {uploaded:.1f} s), "
               f"outcomes {_outcomes(batch)}")
    _remove(gallery)
    return rate


def _outcomes(batch: EnrollmentBatch) -> dict:
    from django.db.models import Count

    return dict(batch.items.values_list("outcome").annotate(count=Count("id")).values_list("outcome", "count"))


def _remove(gallery: Gallery) -> None:
    for name in GalleryImage.objects.filter(gallery=gallery).values_list("file", flat=True):
        default_storage.delete(name)
    gallery.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=8, help=f"copies of the {len(PHOTOS)} shared photos")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args()

    agency, investigator = common.bench_people()
    client = Client()
    client.force_login(investigator)
    raw_rates, product_rates = [], []
    with common.BenchWorker(concurrency=arguments.processes):
        for number in range(1, arguments.rounds + 1):
            files = photo_copies(arguments.copies)
            raw_rates.append(raw_round(files, arguments.processes))
            common.say(f"raw round {number}: {raw_rates[-1]:.2f} images/s")
            product_rates.append(product_round(files, client, agency, number))
    raw, product = float(np.median(raw_rates)), float(np.median(product_rates))
    print()
    print(f"{len(PHOTOS) * arguments.copies} images per round ({arguments.copies} copies of {len(PHOTOS)} photos), "
          f"{arguments.processes} processes, DETECTION_MAX_SIDE={settings.DETECTION_MAX_SIDE}, "
          f"median of {arguments.rounds} rounds")
    common.print_table(["path", "images/s", "ratio to raw (target >= 0.90)"], [
        ["raw face_recognition (baseline)", round(raw, 2), 1.0],
        ["product: bulk upload -> queue -> worker -> database", round(product, 2), common.ratio(product, raw)],
    ])
    common.save_results("enrollment", {"copies": arguments.copies, "processes": arguments.processes,
                                       "raw_images_per_s": raw_rates, "product_images_per_s": product_rates,
                                       "ratio": common.ratio(product, raw)})


if __name__ == "__main__":
    main()
