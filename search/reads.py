"""Audited reads: every response that carries a face, a probe or a result list records who saw it.

The web pages, their htmx partials and the API share these actions, so each read records exactly one event
whichever way it is made. Face crops are small images a result page loads by the dozen: a crop shown by a
result page the same user opened a moment ago is attributed to that page's `search.viewed` event, which lists
every crop the page carries; a crop loaded on its own records an event of its own.
"""
from datetime import timedelta

from django.utils import timezone

from accounts.models import User
from audit.heads import receipt_for
from audit.log import record_event
from audit.models import AuditEvent
from search.models import Candidate, GalleryImage, Search

CROP_WINDOW = timedelta(minutes=5)  # how long a result page's event covers the crops it shows


class Via:
    PAGE = "page"
    PARTIAL = "partial"
    API = "api"


def shown_crops(faces: list) -> dict:
    """What a result page shows: each probe face's crop and its candidates' crops (codes)."""
    return {
        "probe_faces": [face.index for face in faces],
        "candidates": sorted(str(candidate.code) for face in faces for candidate in face.candidates.all()),
    }


def do_view_search(*, search: Search, actor: User, via: str, faces: list | None = None, request=None) -> None:
    """A read of a search's result list (page, partial or API). `faces`: the prefetched faces the response
    shows, whose crops the event then covers."""
    details = {"via": via, "status": search.status}
    if faces is not None:
        details["shown"] = shown_crops(faces)
    record_event("search.viewed", agency=search.agency, actor=actor, request=request, target=search.code,
                 details=details)


def do_view_probe(*, search: Search, actor: User, request=None) -> None:
    record_event("search.probe_viewed", agency=search.agency, actor=actor, request=request, target=search.code,
                 details={"probe_sha256": search.probe_sha256})


def do_view_gallery_image(*, image: GalleryImage, actor: User, request=None) -> None:
    record_event("image.viewed", agency=image.agency, actor=actor, request=request, target=image.code,
                 details={"subject": image.subject.reference, "sha256": image.sha256})


def _covered_by_result_page(agency, search: Search, actor: User, key: str, value) -> bool:
    recent = AuditEvent.objects.filter(chain=str(agency.code), event="search.viewed", target=str(search.code),
                                       actor_code=actor.code, at__gte=timezone.now() - CROP_WINDOW)
    return recent.filter(**{f"details__shown__{key}__contains": [value]}).exists()


def do_view_probe_face(*, search: Search, index: int, actor: User, request=None) -> None:
    if not _covered_by_result_page(search.agency, search, actor, "probe_faces", index):
        record_event("search.crop_viewed", agency=search.agency, actor=actor, request=request, target=search.code,
                     details={"probe_face": index})


def do_view_candidate_crop(*, candidate: Candidate, actor: User, request=None) -> None:
    # A result page loads its crops by the dozen: the candidate's agency, loaded with it, spares a query each.
    search = candidate.search_face.search
    if not _covered_by_result_page(candidate.agency, search, actor, "candidates", str(candidate.code)):
        record_event("search.crop_viewed", agency=candidate.agency, actor=actor, request=request, target=search.code,
                     details={"candidate": str(candidate.code), "subject": candidate.subject_reference})


def do_download_receipt(*, search: Search, actor: User, request=None) -> dict:
    """The receipt of the search's `search.created` event; the download is itself recorded."""
    created = AuditEvent.objects.get(chain=str(search.agency.code), event="search.created", target=str(search.code))
    proof = receipt_for(created)
    record_event("search.receipt_downloaded", agency=search.agency, actor=actor, request=request, target=search.code,
                 details={"tree_size": proof["tree_head"]["tree_size"]})
    return proof
