"""The platform-wide suppression list: faces that an approved erasure request keeps out for good.

Enrollment refuses a suppressed face, and every 1:N query leaves one out even if it slipped in
(for instance enrolled while the erasure was being approved). Search asks this list through the
screen registered in privacy.apps (see search.screening)."""
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from pgvector.django import L2Distance

from privacy.models import SuppressedEncoding

SUPPRESSED_MESSAGE = _("Refused: this face is suppressed by an erasure request.")


class SuppressionList:
    refusal_message = SUPPRESSED_MESSAGE

    def is_blocked(self, encoding) -> bool:
        return (
            SuppressedEncoding.objects.alias(distance=L2Distance("encoding", list(encoding)))
            .filter(distance__lt=settings.SUPPRESSION_THRESHOLD)
            .exists()
        )

    def blocked_near(self, encoding, radius: float) -> list:
        """L2 is a metric, so a suppressed encoding farther than radius + threshold is farther than the
        threshold from every face within `radius`; usually the answer is empty and the query runs unchanged."""
        reach = radius + settings.SUPPRESSION_THRESHOLD
        return list(
            SuppressedEncoding.objects.alias(distance=L2Distance("encoding", list(encoding)))
            .filter(distance__lt=reach)
            .values_list("encoding", flat=True)
        )
