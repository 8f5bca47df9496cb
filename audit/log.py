"""Writing and verifying the tamper-evident audit log.

`agency` is any tenant object with a `pk` and a `code` (the audit log depends on no other app), `actor` any
user with a `code` and an `email`. Each agency has its own chain (platform-level events use the "platform"
chain). A writer locks the chain's head (audit_chain_tip), so concurrent writers queue instead of forking the
chain, and the event is written in the caller's transaction: if the audit write fails, the action fails with
it. Only the owner's functions write the audit tables (see audit/models.py).
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from audit import merkle
from audit.models import AuditChainHead, AuditCheckpoint, AuditEvent, AuditTreeHead
from core.tenancy import CrossAgency, cross_agency
from core.web import client_ip

PLATFORM_CHAIN = "platform"
GENESIS_HASH = "0" * 64


def chain_key(agency) -> str:
    return str(agency.code) if agency is not None else PLATFORM_CHAIN


def canonical_row(event: AuditEvent) -> str:
    """The exact text that is hashed; every stored column but the hashes takes part."""
    return json.dumps(
        {
            "chain": event.chain,
            "seq": event.seq,
            "agency": str(event.agency_code) if event.agency_code else None,
            "at": utc_iso(event.at),
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


def leaf_of(event) -> bytes:
    """The event's leaf in its log's Merkle tree (RFC 6962: SHA-256 of 0x00 and the canonical row)."""
    return merkle.leaf_hash(canonical_row(event).encode())


def compute_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256((prev_hash + canonical_row(event)).encode()).hexdigest()


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def record_event(
    event: str,
    *,
    agency,
    actor=None,
    request=None,
    target: object = "",
    outcome: str = "ok",
    details: dict | None = None,
) -> AuditEvent:
    """Appends one event to the chain of `agency` (None: the platform's), in the caller's transaction."""
    key = chain_key(agency)
    agency_id = agency.pk if agency is not None else None
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT seq, hash FROM audit_chain_tip(%s, %s)", [key, agency_id])
        head_seq, head_hash = cursor.fetchone()
        row = AuditEvent(
            chain=key,
            seq=head_seq + 1,
            agency_id=agency_id,
            agency_code=agency.code if agency is not None else None,
            at=timezone.now(),
            actor_code=actor.code if actor is not None and actor.pk else None,
            actor_email=actor.email if actor is not None and actor.pk else "",
            actor_ip=client_ip(request),
            event=event,
            target=str(target or ""),
            outcome=outcome,
            # A JSON round trip, so the hash covers exactly what the database will return.
            details=json.loads(json.dumps(details or {}, default=str)),
            prev_hash=head_hash,
        )
        row.hash = compute_hash(head_hash, row)
        row.leaf_hash = leaf_of(row).hex()
        cursor.execute(
            "SELECT audit_append(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s)",
            [row.chain, row.seq, row.agency_id, row.agency_code, row.at, row.actor_code, row.actor_email,
             row.actor_ip, row.event, row.target, row.outcome, json.dumps(row.details), row.prev_hash, row.hash,
             row.leaf_hash],
        )
        row.pk = cursor.fetchone()[0]
    row._state.adding = False
    return row


@dataclass(frozen=True)
class ChainReport:
    chain: str
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    message: str = ""


def verify_chain(chain: str) -> ChainReport:
    """Recomputes one chain from its first row and checks it against its head and checkpoints.
    Names the first sequence number at which the record stops being what was written."""
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    for row in AuditEvent.objects.filter(chain=chain).order_by("seq").iterator(chunk_size=2000):
        problem = _row_problem(row, expected_seq, prev_hash)
        if problem:
            return ChainReport(chain, False, checked, *problem)
        expected_seq, prev_hash, checked = row.seq + 1, row.hash, checked + 1
    last_seq = expected_seq - 1
    hashes = dict(AuditEvent.objects.filter(chain=chain).values_list("seq", "hash"))
    for checkpoint in AuditCheckpoint.objects.filter(chain=chain).order_by("seq"):
        if checkpoint.seq > last_seq:
            return ChainReport(chain, False, checked, last_seq + 1,
                               f"events {last_seq + 1} to {checkpoint.seq} are missing: the tail was truncated "
                               f"below checkpoint {checkpoint.seq}")
        if hashes.get(checkpoint.seq) != checkpoint.hash:
            return ChainReport(chain, False, checked, checkpoint.seq,
                               f"event {checkpoint.seq} differs from its checkpoint")
    head = AuditChainHead.objects.filter(chain=chain).first()
    if head is not None and (head.seq, head.hash) != (last_seq, prev_hash):
        return ChainReport(chain, False, checked, min(head.seq, last_seq) + 1,
                           f"the chain ends at {last_seq} but its head says {head.seq}: events were removed")
    return ChainReport(chain, True, checked, None, f"{checked} events verified")


def _row_problem(row: AuditEvent, expected_seq: int, prev_hash: str) -> tuple[int, str] | None:
    if row.seq != expected_seq:
        return expected_seq, f"event {expected_seq} is missing (deleted or renumbered)"
    if row.prev_hash != prev_hash:
        return row.seq, f"event {row.seq} does not follow event {row.seq - 1} (reordered or replaced)"
    if compute_hash(row.prev_hash, row) != row.hash or leaf_of(row).hex() != row.leaf_hash:
        return row.seq, f"event {row.seq} was edited after it was written"
    return None


def all_chains() -> list[str]:
    return list(AuditChainHead.objects.order_by("chain").values_list("chain", flat=True))


def record_checkpoint(chain: str):
    head = AuditChainHead.objects.filter(chain=chain).first()
    if head is None or head.seq == 0:
        return None
    latest = AuditCheckpoint.objects.filter(chain=chain).order_by("-seq").first()
    if latest is not None and latest.seq == head.seq:
        return latest
    return AuditCheckpoint.objects.create(chain=chain, agency_id=head.agency_id, seq=head.seq, hash=head.hash)


@dataclass(frozen=True)
class ChainOwner:
    """What the log knows of the agency a chain belongs to: its code (the chain's key) and its id."""

    code: str
    pk: int | None


def owner_of_chain(chain: str) -> ChainOwner | None:
    if chain == PLATFORM_CHAIN:
        return None
    return ChainOwner(code=chain, pk=AuditChainHead.objects.filter(chain=chain).values_list("agency_id", flat=True)
                      .first())


def newest_checkpoint_at() -> datetime | None:
    """When the newest signed tree head was signed, in any log: the age the /metrics endpoint reports."""
    with cross_agency(CrossAgency.AUDIT_VERIFICATION):
        return AuditTreeHead.objects.aggregate(newest=Max("signed_at"))["newest"]
