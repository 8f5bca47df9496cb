"""Signed tree heads over each audit log's Merkle tree (RFC 6962), and the platform's signing key.

A head is signed at most every AUDIT_HEAD_INTERVAL_SECONDS for a log that grew (the beat task looks every
minute), and on demand when a receipt needs one that covers its event. Each head is stored in the database
(append-only) and, once the transaction commits, written to the external sink too.
"""
import os
from datetime import timedelta
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit import merkle, receipt
from audit.log import canonical_row, utc_iso
from audit.models import AuditChainHead, AuditEvent, AuditTreeHead
from audit.sink import head_sink
from audit.treehead import TreeHead, public_pem
from core.tenancy import CrossAgency, cross_agency, tenant_transaction


def signing_key() -> Ed25519PrivateKey:
    # An environment file (systemd's EnvironmentFile) holds one line per variable: the PEM's newlines as \n.
    pem = settings.AUDIT_SIGNING_KEY.replace("\\n", "\n") if settings.AUDIT_SIGNING_KEY else _development_key_file()
    return _load_private(pem)


@lru_cache(maxsize=4)
def _load_private(pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured("AUDIT_SIGNING_KEY is not an Ed25519 private key")
    return key


def _development_key_file() -> str:
    """Development only (production requires AUDIT_SIGNING_KEY): a key generated once into var/."""
    path = settings.AUDIT_SIGNING_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process generated it first
        else:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(pem)
    return path.read_text()


def public_key_pem() -> str:
    return public_pem(signing_key().public_key())


def as_tree_head(row: AuditTreeHead) -> TreeHead:
    return TreeHead(row.chain, row.tree_size, row.root_hash, utc_iso(row.signed_at), row.key_id, row.signature)


def stored_leaves(chain: str, size: int) -> list[bytes]:
    rows = AuditEvent.objects.filter(chain=chain, seq__lte=size).order_by("seq").values_list("leaf_hash", flat=True)
    return [bytes.fromhex(leaf) for leaf in rows.iterator(chunk_size=20000)]


def sign_head(chain: str) -> AuditTreeHead | None:
    """A head over the log as it stands, unless the newest head already covers it. Runs in a transaction
    that sees the chain (its agency's, or the verification path for the platform's)."""
    with transaction.atomic():
        tip = AuditChainHead.objects.filter(chain=chain).first()
        if tip is None or tip.seq == 0:
            return None
        latest = AuditTreeHead.objects.filter(chain=chain).order_by("-tree_size").first()
        if latest is not None and latest.tree_size >= tip.seq:
            return latest
        leaves = stored_leaves(chain, tip.seq)
        if len(leaves) != tip.seq:
            raise RuntimeError(f"audit log {chain} has {len(leaves)} events below its head {tip.seq}: not signing")
        signed_at = timezone.now()
        head = TreeHead(chain, tip.seq, merkle.root(leaves).hex(), utc_iso(signed_at)).signed(signing_key())
        row = AuditTreeHead.objects.create(chain=chain, agency_id=tip.agency_id, tree_size=head.tree_size,
                                           root_hash=head.root_hash, signed_at=signed_at, key_id=head.key_id,
                                           signature=head.signature)
        transaction.on_commit(lambda: head_sink().write(head))
    return row


def in_chain_transaction(agency_id: int | None):
    return tenant_transaction(agency_id) if agency_id else cross_agency(CrossAgency.AUDIT_VERIFICATION)


def sign_due_heads(now=None) -> list[str]:
    """Signs a head for every log that grew since its newest head, if that head is old enough."""
    now = now or timezone.now()
    due_before = now - timedelta(seconds=settings.AUDIT_HEAD_INTERVAL_SECONDS)
    with cross_agency(CrossAgency.AUDIT_VERIFICATION):
        tips = list(AuditChainHead.objects.filter(seq__gt=0).values_list("chain", "agency_id", "seq"))
        newest = {row["chain"]: row for row in AuditTreeHead.objects.values("chain").annotate(
            size=Max("tree_size"), at=Max("signed_at"))}
    signed = []
    for chain, agency_id, seq in tips:
        last = newest.get(chain)
        if last is None or (seq > last["size"] and last["at"] <= due_before):
            with in_chain_transaction(agency_id):
                sign_head(chain)
            signed.append(chain)
    return signed


def receipt_for(event: AuditEvent) -> dict:
    """The receipt of one event: a head that covers it (signed now if none does yet) and the proof to it."""
    head = (AuditTreeHead.objects.filter(chain=event.chain, tree_size__gte=event.seq).order_by("tree_size").first()
            or sign_head(event.chain))
    leaves = stored_leaves(event.chain, head.tree_size)
    return receipt.build(canonical_row(event), event.seq - 1, merkle.inclusion_proof(leaves, event.seq - 1),
                         as_tree_head(head))
