"""What the web forms, the API's serializers and the bulk manifest all check, written once: where a
gallery photo comes from (its provenance) and the parameters of a search. Each check raises a Refused
naming the field at fault; forms and serializers turn it into their own field errors, the manifest
into a report line."""
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.refusals import Refused
from search.models import LegalBasis, distance_to_similarity, similarity_to_distance

SOURCE_MAX_LENGTH = 500
LEGAL_BASIS_OTHER_MAX_LENGTH = 300
SUBJECT_REFERENCE_MAX_LENGTH = 100
MIN_SIMILARITY, MAX_SIMILARITY = 1, 99
MAX_CANDIDATES = 50
# Checked by the forms and the API, and given again when a concurrent creation took the name first.
GALLERY_NAME_TAKEN = gettext_lazy("Your agency already has a gallery with this name.")


@dataclass(frozen=True)
class Provenance:
    source: str
    legal_basis: str
    legal_basis_other: str = ""
    captured_at: date | None = None

    def as_manifest(self) -> dict:
        """What a bulk row keeps for the worker (JSON)."""
        return {"source": self.source, "legal_basis": self.legal_basis, "legal_basis_other": self.legal_basis_other,
                "captured_at": self.captured_at.isoformat() if self.captured_at else None}

    @classmethod
    def from_manifest(cls, values: dict) -> "Provenance":
        captured = values.get("captured_at")
        return cls(source=values["source"], legal_basis=values["legal_basis"],
                   legal_basis_other=values.get("legal_basis_other", ""),
                   captured_at=date.fromisoformat(captured) if captured else None)


def provenance_problems(*, source: str, legal_basis: str, legal_basis_other: str = "",
                        captured_at: date | None = None) -> list[Refused]:
    """Every problem at once, so a form can show them all."""
    source, legal_basis_other = (source or "").strip(), (legal_basis_other or "").strip()
    problems = []
    if not source:
        problems.append(Refused(_("The source is missing."), field="source"))
    elif len(source) > SOURCE_MAX_LENGTH:
        problems.append(Refused(_("The source is longer than %(count)s characters.") % {"count": SOURCE_MAX_LENGTH},
                                field="source"))
    if legal_basis not in LegalBasis.values:
        problems.append(Refused(_("The legal basis must be one of %(allowed)s.")
                                % {"allowed": ", ".join(LegalBasis.values)}, field="legal_basis"))
    elif legal_basis == LegalBasis.OTHER and not legal_basis_other:
        problems.append(Refused(_("Describe the legal basis."), field="legal_basis_other"))
    if len(legal_basis_other) > LEGAL_BASIS_OTHER_MAX_LENGTH:
        problems.append(Refused(_("The legal basis is longer than %(count)s characters.")
                                % {"count": LEGAL_BASIS_OTHER_MAX_LENGTH}, field="legal_basis_other"))
    if captured_at is not None and captured_at > timezone.localdate():
        problems.append(Refused(_("The capture date is in the future."), field="captured_at"))
    return problems


def clean_provenance(*, source: str, legal_basis: str, legal_basis_other: str = "",
                     captured_at: date | None = None) -> Provenance:
    problems = provenance_problems(source=source, legal_basis=legal_basis, legal_basis_other=legal_basis_other,
                                   captured_at=captured_at)
    if problems:
        raise problems[0]
    source, legal_basis_other = source.strip(), (legal_basis_other or "").strip()
    return Provenance(source=source, legal_basis=legal_basis,
                      legal_basis_other=legal_basis_other if legal_basis == LegalBasis.OTHER else "",
                      captured_at=captured_at)


def clean_subject_reference(reference: str) -> str:
    reference = (reference or "").strip()
    if not reference or len(reference) > SUBJECT_REFERENCE_MAX_LENGTH:
        raise Refused(_("The subject reference is missing or longer than %(count)s characters.")
                      % {"count": SUBJECT_REFERENCE_MAX_LENGTH}, field="subject_reference")
    return reference


# Search parameters: people think in similarity (%), the index in distance; both the web and the API take
# the similarity, and the search row keeps the distance it stands for.

DEFAULT_MIN_SIMILARITY = round(100 * distance_to_similarity(settings.DEFAULT_MATCH_THRESHOLD))


@dataclass(frozen=True)
class SearchParameters:
    min_similarity: int
    max_candidates: int

    @property
    def threshold(self) -> float:
        return similarity_to_distance(self.min_similarity / 100)


def clean_search_parameters(*, min_similarity: int | None, max_candidates: int | None) -> SearchParameters:
    min_similarity = DEFAULT_MIN_SIMILARITY if min_similarity is None else min_similarity
    max_candidates = settings.DEFAULT_MAX_CANDIDATES if max_candidates is None else max_candidates
    if not MIN_SIMILARITY <= min_similarity <= MAX_SIMILARITY:
        raise Refused(_("The minimum similarity must be between %(low)s and %(high)s (%%).")
                      % {"low": MIN_SIMILARITY, "high": MAX_SIMILARITY}, field="min_similarity")
    if not 1 <= max_candidates <= MAX_CANDIDATES:
        raise Refused(_("The number of candidates per face must be between 1 and %(high)s.")
                      % {"high": MAX_CANDIDATES}, field="max_candidates")
    return SearchParameters(min_similarity=min_similarity, max_candidates=max_candidates)
