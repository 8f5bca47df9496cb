"""What a search may cover. One place decides it: an agency's own galleries, or, for a sales demo, the
built-in demo gallery and nothing else, whatever galleries the search row lists."""
from django.utils.translation import gettext as _

from accounts.models import Agency
from core.refusals import NotAllowed
from core.tenancy import CrossAgency, cross_agency
from search.demo import demo_gallery
from search.models import Gallery, GalleryImage, Search, SearchGallery


def searchable_galleries(agency: Agency) -> list[Gallery]:
    """What "all galleries" means for a search: the demo gallery for a demo, the agency's own otherwise."""
    if agency.is_demo:
        gallery = demo_gallery()
        return [gallery] if gallery else []
    return list(Gallery.objects.filter(agency=agency))


def ensure_demo_gallery_loaded(agency: Agency) -> None:
    if agency.is_demo and demo_gallery() is None:
        raise NotAllowed(_("The demo gallery is not loaded yet; please contact your sales representative."))


def search_scope(search: Search) -> tuple[int, list[int]]:
    """(owner agency id, gallery ids) for the vector query. Read from the search's own rows: a demo's
    gallery belongs to another agency, whose gallery rows the search's agency cannot see."""
    gallery_ids = list(SearchGallery.objects.filter(search=search).values_list("gallery_id", flat=True))
    if search.agency.is_demo:
        gallery = demo_gallery()
        if gallery is None:
            return search.agency_id, []
        return gallery.agency_id, [gallery.id] if gallery.id in gallery_ids else []
    return search.agency_id, gallery_ids


def galleries_of(search: Search) -> list[Gallery]:
    """The galleries a search covered, for showing them: a demo's is the built-in one, read on its path."""
    if search.agency.is_demo:
        gallery = demo_gallery()
        return [gallery] if gallery else []
    return list(search.galleries.all())


def searchable_photo_count(agency: Agency) -> int:
    """Enrolled photos in what the agency's searches cover (for a demo, the built-in gallery's, on its path)."""
    photos = GalleryImage.objects.filter(gallery__in=searchable_galleries(agency), status=GalleryImage.Status.ENROLLED)
    if agency.is_demo:
        with cross_agency(CrossAgency.DEMO_GALLERY):
            return photos.count()
    return photos.count()
