from django import template
from django.db.models import Q

from privacy.models import SearchPurge
from search.models import AuditEvent

register = template.Library()


@register.simple_tag
def retention_purge(search) -> SearchPurge | None:
    """The purge record of a search whose probe and results are gone, or None."""
    return SearchPurge.objects.filter(search=search).first()


@register.inclusion_tag("privacy/_audit_trail.html")
def audit_trail(search) -> dict:
    """The search's history in the audit log (views and exports are listed apart), which outlives its
    probe and results."""
    code = str(search.code)
    events = AuditEvent.objects.filter(chain=str(search.agency.code)).filter(
        Q(target=code) | Q(event="retention.purged", details__search_codes__contains=[code])
    ).exclude(event__in=["search.viewed", "search.exported"]).order_by("seq")
    return {"events": events}
