"""A synthetic gallery of dlib-like encodings, loaded into the real tables (subjects, images, faces).

The data follows shared/anchors: a common offset drawn from N(0, 0.12), identity centres at that offset
plus N(0, 0.06) per dimension, each image its centre plus N(0, 0.025); about 4 images per identity, so that
same-identity distances are about 0.4 and other identities about 0.96. The near-threshold distribution
(NEAR_THRESHOLD_NOISE, N(0, 0.034) per image) puts most same-identity distances between 0.5 and 0.6 (89% of
the true matches of its probes), as another age or another angle would. The main agency holds `size` faces
in two galleries (90% / 10% of identities); two other agencies hold 10% more, new images of the same
identities, so that a leak across agencies would show as a wrong match.

Everything is drawn from a fixed seed, so a later run regenerates the same vectors and finds the rows it
loaded before (face ids are consecutive from the first one).

The rows are loaded by the owner role (the schema's, which migrations use): a bulk load across three
agencies is an operator's job, not the application's, and COPY goes through a staging table because
PostgreSQL refuses COPY into a table under row-level security.
"""
import io
from dataclasses import dataclass

import faiss
import numpy as np
from django.db import connections, transaction

from accounts.models import Agency
from core.tenancy import tenant_transaction
from search.models import ENCODING_DIMENSIONS, Face, Gallery

LOADER = "owner"
SEED = 0
IMAGES_PER_IDENTITY = 4
UNIFORM_NOISE = 0.025
NEAR_THRESHOLD_NOISE = 0.034
OTHER_AGENCY_SHARE = 0.10
TRUTH_CHUNK = 1_000_000  # faces per exact-search chunk: 512 MB of float32
TRUTH_SPARE_CANDIDATES = 6
FACE_COPY_ROW = np.dtype([
    ("fields", ">i2"),
    ("id_length", ">i4"), ("id", ">i8"),
    ("code_length", ">i4"), ("code", "V16"),
    ("box", ">i4", (8,)),  # top, right, bottom, left: four int4 fields, each after its length (4)
    ("encoding_length", ">i4"), ("dimensions", ">i2"), ("unused", ">i2"),
    ("encoding", ">f4", (ENCODING_DIMENSIONS,)),
    ("agency_length", ">i4"), ("agency", ">i8"),
    ("gallery_length", ">i4"), ("gallery", ">i8"),
    ("image_length", ">i4"), ("image", ">i8"),
])


@dataclass
class SyntheticGallery:
    agency: Agency
    galleries: list[Gallery]  # the main agency's, the larger first
    face_ids: np.ndarray  # the main agency's faces, in the order of `encodings`
    gallery_ids: np.ndarray
    encodings: np.ndarray  # float32, or float16 (--index-only)
    centres: np.ndarray
    identities: np.ndarray  # identity of each main-agency face
    noise: float  # standard deviation of each image around its identity's centre, per dimension

    def probes(self, count: int, seed: int = 1, gallery_id: int | None = None) -> np.ndarray:
        """New images of identities the main agency holds (in that gallery, if given)."""
        rng = np.random.default_rng(seed)
        held = self.identities if gallery_id is None else self.identities[self.gallery_ids == gallery_id]
        chosen = held[rng.integers(0, len(held), count)]
        noise = rng.normal(0, self.noise, (count, ENCODING_DIMENSIONS))
        return (self.centres[chosen] + noise).astype(np.float32)

    def true_matches(self, probes: np.ndarray, gallery_ids: list[int], threshold: float, limit: int) -> list[set]:
        """Exact answers: for each probe, the `limit` nearest faces in these galleries within `threshold`.

        Memory-bounded at 10M faces: the gallery is read in chunks (converted to float32 one at a time), each
        chunk's nearest few per probe found by faiss's exact search (BLAS, all probes at once); the candidates
        of every chunk are then measured again in float64, so that a distance at the threshold is judged exactly."""
        probes = np.ascontiguousarray(probes, dtype=np.float32)
        inside = np.isin(self.gallery_ids, gallery_ids)
        # A few more than asked from each chunk: float32 ties at the limit are decided by the float64 distances.
        wanted = limit + TRUTH_SPARE_CANDIDATES
        candidates = []
        for start in range(0, len(self.encodings), TRUTH_CHUNK):
            positions = start + np.flatnonzero(inside[start:start + TRUTH_CHUNK])
            if not len(positions):
                continue
            chunk = np.ascontiguousarray(self.encodings[positions], dtype=np.float32)
            _, nearest = faiss.knn(probes, chunk, min(wanted, len(positions)))
            candidates.append(np.where(nearest >= 0, positions[nearest], -1))
        candidates = np.concatenate(candidates, axis=1)  # probes x (chunks * wanted)
        answers = []
        for probe, positions in zip(probes.astype(np.float64), candidates):
            positions = np.unique(positions[positions >= 0])
            exact = np.linalg.norm(self.encodings[positions].astype(np.float64) - probe, axis=1)
            order = np.argsort(exact, kind="stable")[:limit]
            answers.append({int(self.face_ids[i]) for i in positions[order][exact[order] < threshold]})
        return answers


def draw(size: int, noise: float = UNIFORM_NOISE, dtype=np.float32):
    """(centres, identities, encodings, in_second_gallery); float16 encodings halve the memory of a 10M draw
    (the index keeps float16 anyway) and are the exact data the answers are computed on."""
    rng = np.random.default_rng(SEED)
    offset = rng.normal(0, 0.12, ENCODING_DIMENSIONS)
    identity_count = max(1, size // IMAGES_PER_IDENTITY)
    centres = (offset + rng.normal(0, 0.06, (identity_count, ENCODING_DIMENSIONS))).astype(np.float32)
    total = size + round(size * OTHER_AGENCY_SHARE)
    identities = rng.integers(0, identity_count, total)
    encodings = np.empty((total, ENCODING_DIMENSIONS), dtype=dtype)
    for start in range(0, total, 1_000_000):  # in chunks: at 10M, float64 noise for all at once is 11 GB
        end = min(total, start + 1_000_000)
        encodings[start:end] = centres[identities[start:end]] + rng.normal(0, noise, (end - start, ENCODING_DIMENSIONS))
    in_second_gallery = rng.random(identity_count) < 0.10
    return centres, identities, encodings, in_second_gallery


def agency_name(size: int, noise: float = UNIFORM_NOISE) -> str:
    return f"Vector bench {size} faces" + ("" if noise == UNIFORM_NOISE else f", image noise {noise}")


def ensure_gallery(size: int, log=print, noise: float = UNIFORM_NOISE) -> SyntheticGallery:
    centres, identities, encodings, in_second_gallery = draw(size, noise)
    agency = Agency.objects.filter(name=agency_name(size, noise)).first()
    if agency is None:
        log(f"Loading {len(encodings)} synthetic faces ({size} in the main agency) into the real tables")
        agency = _load(size, identities, encodings, in_second_gallery, noise)
    with tenant_transaction(agency.pk):
        galleries = list(Gallery.objects.filter(agency=agency).order_by("name"))  # "A ..." holds 90%
        first_id = Face.objects.filter(agency=agency).order_by("id").values_list("id", flat=True).first()
        complete = Face.objects.filter(agency=agency, pk__gte=first_id, pk__lt=first_id + size).count() == size
    if not complete:
        raise RuntimeError(f"{agency_name(size, noise)} is incomplete: drop the "
                           f"{connections[LOADER].settings_dict['NAME']} database and run again")
    gallery_of_identity = np.where(in_second_gallery, galleries[1].pk, galleries[0].pk)
    main = slice(0, size)
    return SyntheticGallery(
        agency=agency, galleries=galleries, face_ids=np.arange(first_id, first_id + size, dtype=np.int64),
        gallery_ids=gallery_of_identity[identities[main]], encodings=encodings[main], centres=centres,
        identities=identities[main], noise=noise,
    )


def _load(size: int, identities: np.ndarray, encodings: np.ndarray, in_second_gallery: np.ndarray,
          noise: float) -> Agency:
    total = len(encodings)
    agencies, galleries = Agency.objects.using(LOADER), Gallery.objects.using(LOADER)
    with transaction.atomic(using=LOADER):
        agency = agencies.create(name=agency_name(size, noise), kind=Agency.Kind.LAW_ENFORCEMENT, country="FR")
        others = [agencies.create(name=f"{agency_name(size, noise)}, other agency {n}", kind=Agency.Kind.PRIVATE,
                                  country="GB") for n in (1, 2)]
        main_galleries = [galleries.create(agency=agency, name="A bookings"),
                          galleries.create(agency=agency, name="B consented")]
        other_galleries = [galleries.create(agency=other, name="Customers") for other in others]
        face_agency = np.empty(total, dtype=np.int64)
        face_gallery = np.empty(total, dtype=np.int64)
        face_agency[:size] = agency.pk
        face_gallery[:size] = np.where(in_second_gallery[identities[:size]], main_galleries[1].pk,
                                       main_galleries[0].pk)
        other_half = (np.arange(total - size) % 2).astype(int)
        face_agency[size:] = np.array([other.pk for other in others])[other_half]
        face_gallery[size:] = np.array([gallery.pk for gallery in other_galleries])[other_half]
        with connections[LOADER].cursor() as cursor:
            subject_of_face = _insert_subjects(cursor, face_gallery, identities)
            first_image = _insert_images(cursor, face_agency, face_gallery, subject_of_face)
            _copy_faces(cursor, face_agency, face_gallery, first_image, encodings)
            for table in ("search_subject", "search_galleryimage", "search_face"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    with connections[LOADER].cursor() as cursor:
        cursor.execute("ANALYZE search_subject, search_galleryimage, search_face")
    return agency


def _next_id(cursor, table: str) -> int:
    cursor.execute(f"SELECT COALESCE(max(id), 0) + 1 FROM {table}")
    return cursor.fetchone()[0]


def _array(values: np.ndarray) -> str:
    return "{" + ",".join(map(str, values.tolist())) + "}"


def _insert_subjects(cursor, face_gallery: np.ndarray, identities: np.ndarray) -> np.ndarray:
    pairs, subject_index = np.unique(np.stack([face_gallery, identities], axis=1), axis=0, return_inverse=True)
    first = _next_id(cursor, "search_subject")
    cursor.execute(
        "INSERT INTO search_subject (id, code, reference, display_name, notes, created, gallery_id, agency_id) "
        "SELECT %s + n - 1, gen_random_uuid(), 'ID-' || identity, '', '', now(), s.gallery, g.agency_id "
        "FROM unnest(%s::bigint[], %s::bigint[]) WITH ORDINALITY AS s(gallery, identity, n) "
        "JOIN search_gallery AS g ON g.id = s.gallery",
        [first, _array(pairs[:, 0]), _array(pairs[:, 1])],
    )
    return first + subject_index.reshape(-1)


def _insert_images(cursor, face_agency: np.ndarray, face_gallery: np.ndarray, subject_of_face: np.ndarray) -> int:
    first = _next_id(cursor, "search_galleryimage")
    cursor.execute(
        "INSERT INTO search_galleryimage (id, code, file, sha256, width, height, source, legal_basis, "
        "legal_basis_other, status, error, attempts, review_faces, created, agency_id, gallery_id, subject_id) "
        "SELECT %s + n - 1, gen_random_uuid(), 'bench/synthetic.jpg', lpad(to_hex(%s + n - 1), 64, '0'), 640, 480, "
        "'Synthetic benchmark data', 'booking_record', '', 'enrolled', '', 0, '[]', now(), agency, gallery, subject "
        "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) WITH ORDINALITY AS i(agency, gallery, subject, n)",
        [first, first, _array(face_agency), _array(face_gallery), _array(subject_of_face)],
    )
    return first


def _copy_faces(cursor, face_agency, face_gallery, first_image: int, encodings: np.ndarray) -> None:
    first = _next_id(cursor, "search_face")
    total = len(encodings)
    rows = np.zeros(total, dtype=FACE_COPY_ROW)
    rows["fields"] = 10
    rows["id_length"], rows["id"] = 8, np.arange(first, first + total)
    rows["code_length"], rows["code"] = 16, np.frombuffer(np.random.default_rng().bytes(16 * total), dtype="V16")
    rows["encoding_length"], rows["dimensions"] = 4 + 4 * ENCODING_DIMENSIONS, ENCODING_DIMENSIONS
    rows["encoding"] = encodings
    rows["agency_length"], rows["agency"] = 8, face_agency
    rows["gallery_length"], rows["gallery"] = 8, face_gallery
    rows["image_length"], rows["image"] = 8, np.arange(first_image, first_image + total)
    rows["box"] = [4, 10, 4, 110, 4, 110, 4, 10]  # a 100-pixel square
    payload = io.BytesIO()
    payload.write(b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big"))
    payload.write(rows.tobytes())
    payload.write((-1).to_bytes(2, "big", signed=True))
    payload.seek(0)
    columns = 'id, code, "top", "right", "bottom", "left", encoding, agency_id, gallery_id, image_id'
    cursor.execute("CREATE TEMPORARY TABLE face_load (LIKE search_face) ON COMMIT DROP")
    cursor.copy_expert(f"COPY face_load ({columns}) FROM STDIN WITH (FORMAT binary)", payload)
    cursor.execute(f"INSERT INTO search_face ({columns}) SELECT {columns} FROM face_load")
