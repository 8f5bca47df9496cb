"""Two-person verification: a candidate becomes a verified lead only after two different people
independently confirm it. Nobody sees another's decision before recording their own."""
from django.utils.translation import gettext_lazy as _

from search.models import Candidate, CandidateDecision

STATE_LABELS = {
    "unreviewed": _("Not reviewed"),
    "awaiting_second_review": _("One review so far: needs a second, independent review"),
    "verified_lead": _("Verified lead: two independent confirmations"),
    "rejected": _("Rejected by two reviewers"),
    "disagreement": _("Reviewers disagree"),
}


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
    return {
        "state": state,
        "label": STATE_LABELS[state],
        "own": own,
        "visible_decisions": decisions if own is not None else [],
        "can_decide": own is None,
    }
