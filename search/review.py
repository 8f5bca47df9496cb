"""Two-person verification: a candidate becomes a verified lead only after two different people
independently confirm it. Nobody sees another's decision before recording their own.

A gallery photo enrolled in several galleries comes back once per gallery: the review screen shows it as
one card (its galleries listed), and a review of the card is recorded on each of its candidates."""
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from search.models import Candidate, CandidateDecision

STATE_LABELS = {
    "unreviewed": _("Not reviewed"),
    "awaiting_second_review": _("One review so far: needs a second, independent review"),
    "verified_lead": _("Verified lead: two independent confirmations"),
    "rejected": _("Rejected by two reviewers"),
    "disagreement": _("Reviewers disagree"),
}
SHORT_STATE_LABELS = {
    "unreviewed": _("Not reviewed"),
    "awaiting_second_review": _("1 of 2 reviews"),
    "verified_lead": _("Verified lead"),
    "rejected": _("Rejected"),
    "disagreement": _("Reviewers disagree"),
}
REVIEWS_NEEDED = 2


def verification_state(decisions: list[CandidateDecision]) -> str:
    confirmed = {d.user_id for d in decisions if d.decision == CandidateDecision.Decision.CONFIRMED}
    rejected = {d.user_id for d in decisions if d.decision == CandidateDecision.Decision.REJECTED}
    if confirmed and rejected:
        return "disagreement"
    if len(confirmed) >= 2:
        return "verified_lead"
    if len(rejected) >= 2:
        return "rejected"
    return "awaiting_second_review" if decisions else "unreviewed"


def review_for(candidate: Candidate, viewer_id: int) -> dict:
    """What this viewer may see: until they have decided, only whether a review is still needed."""
    decisions = list(candidate.decisions.all())
    own = next((d for d in decisions if d.user_id == viewer_id), None)
    state = verification_state(decisions)
    visible = decisions if own is not None else []
    # One slot per review needed (or made): what each reviewer decided once the viewer has decided too.
    slots = [d.decision for d in visible] or ["hidden"] * len(decisions)
    slots += ["open"] * (REVIEWS_NEEDED - len(slots))
    return {
        "state": state,
        "label": STATE_LABELS[state],
        "short_label": SHORT_STATE_LABELS[state],
        "own": own,
        "visible_decisions": visible,
        "can_decide": own is None,
        "slots": slots,
        "reviews_done": len(decisions),
    }


@dataclass
class PhotoCard:
    """One gallery photo among a probe face's candidates, however many galleries it was found in."""

    lead: Candidate  # the best-ranked of its candidates
    candidates: list[Candidate] = field(default_factory=list)
    review: dict = field(default_factory=dict)

    @property
    def sightings(self) -> list[tuple[str, str]]:
        """(gallery, subject reference) for each gallery that holds the photo."""
        return list(dict.fromkeys((c.gallery_name, c.subject_reference) for c in self.candidates))

    @property
    def references(self) -> list[str]:
        return list(dict.fromkeys(c.subject_reference for c in self.candidates))


def photo_key(candidate: Candidate) -> str:
    """Candidates of the same photo share its content hash (kept on the candidate, so that a demo's result
    never reads the demo gallery's rows); a deleted photo's candidate stands alone."""
    return candidate.image_sha256 if candidate.image_id else f"candidate:{candidate.code}"


def photo_cards(candidates, viewer_id: int) -> list[PhotoCard]:
    """Candidates (best first) folded into one card per gallery photo, in the order of their best candidate."""
    cards: dict[str, PhotoCard] = {}
    for candidate in candidates:
        card = cards.setdefault(photo_key(candidate), PhotoCard(lead=candidate))
        card.candidates.append(candidate)
    for card in cards.values():
        card.review = review_for(card.lead, viewer_id)
    return list(cards.values())


def photo_group(candidate: Candidate) -> list[Candidate]:
    """Every candidate of the same probe face that shows the same gallery photo as this one."""
    if candidate.image_id is None:
        return [candidate]
    return list(Candidate.objects.filter(search_face_id=candidate.search_face_id, image__isnull=False,
                                         image_sha256=candidate.image_sha256).order_by("rank"))
