"""The one place where the search app's tenant objects are fetched for a request: one helper per model,
each scoped to the member's agency first (an outsider gets 404), then checked against the role (403)."""
from uuid import UUID

from accounts.access import get_scoped
from accounts.roles import Capability
from search.models import Candidate, EnrollmentBatch, Gallery, GalleryImage, Search, Subject


def get_gallery_for_user(request, code: UUID, capability: Capability = Capability.VIEW_GALLERIES) -> Gallery:
    return get_scoped(request, Gallery.objects.all(), code, capability)


def get_subject_for_user(request, code: UUID, capability: Capability = Capability.VIEW_GALLERIES) -> Subject:
    return get_scoped(request, Subject.objects.select_related("gallery"), code, capability)


def get_image_for_user(request, code: UUID, capability: Capability = Capability.VIEW_GALLERIES) -> GalleryImage:
    return get_scoped(request, GalleryImage.objects.select_related("subject", "gallery"), code, capability)


def get_batch_for_user(request, code: UUID, capability: Capability = Capability.ENROLL) -> EnrollmentBatch:
    return get_scoped(request, EnrollmentBatch.objects.select_related("gallery"), code, capability)


def get_search_for_user(request, code: UUID, capability: Capability = Capability.VIEW_SEARCHES) -> Search:
    return get_scoped(request, Search.objects.select_related("created_by", "agency"), code, capability)


def get_candidate_for_user(request, code: UUID, capability: Capability = Capability.VIEW_SEARCHES) -> Candidate:
    return get_scoped(request, Candidate.objects.select_related("search_face__search", "agency"), code, capability)
