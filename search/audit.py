"""Writing the tamper-evident audit log.

Each agency has its own chain (platform-level events use the "platform" chain). A writer locks the
chain's head row, so concurrent writers queue instead of forking the chain, and the event is
written in the caller's transaction: if the audit write fails, the action fails with it.
"""
import hashlib
import json
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import Agency, User
from search.models import AuditChainHead, AuditEvent

PLATFORM_CHAIN = "platform"
GENESIS_HASH = "0" * 64


def chain_key(agency: Agency | None) -> str:
    return str(agency.code) if agency is not None else PLATFORM_CHAIN


def canonical_row(event: AuditEvent) -> str:
    """The exact text that is hashed; every stored column but the hashes takes part."""
    return json.dumps(
        {
            "chain": event.chain,
            "seq": event.seq,
            "agency": str(event.agency_code) if event.agency_code else None,
            "at": _utc_iso(event.at),
            "actor": str(event.actor_code) if event.actor_code else None,
            "actor_email": event.actor_email,
            "ip": event.actor_ip,
            "event": event.event,
            "target": event.target,
            "outcome": event.outcome,
            "details": event.details,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def compute_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256((prev_hash + canonical_row(event)).encode()).hexdigest()


def _utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record_event(
    event: str,
    *,
    agency: Agency | None,
    actor: User | None = None,
    request=None,
    target: object = "",
    outcome: str = "ok",
    details: dict | None = None,
) -> AuditEvent:
    key = chain_key(agency)
    with transaction.atomic():
        AuditChainHead.objects.bulk_create([AuditChainHead(chain=key)], ignore_conflicts=True)
        head = AuditChainHead.objects.select_for_update().get(chain=key)
        row = AuditEvent(
            chain=key,
            seq=head.seq + 1,
            agency_code=agency.code if agency is not None else None,
            at=timezone.now(),
            actor_code=actor.code if actor is not None and actor.pk else None,
            actor_email=actor.email if actor is not None and actor.pk else "",
            actor_ip=client_ip(request),
            event=event,
            target=str(target or ""),
            outcome=outcome,
            details=details or {},
            prev_hash=head.hash,
        )
        # JSON round trip so the hash is computed over exactly what the database will return.
        row.details = json.loads(json.dumps(row.details, default=str))
        row.hash = compute_hash(head.hash, row)
        row.save(force_insert=True)
        head.seq = row.seq
        head.hash = row.hash
        head.save(update_fields=["seq", "hash"])
    return row
