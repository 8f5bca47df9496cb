"""The audit log's tables. No foreign keys: nothing may cascade into the record, and the log depends on no app.

Each row carries the agency's id (agency_id, null for the platform's chain), so row-level security shows an
agency its own chain only. The application's role reads them; events are appended only through the owner's
functions audit_chain_tip() and audit_append() (audit/migrations), which keep each chain gapless and linked.
"""
from django.db import models
from django.utils import timezone

from core.tenancy import Access, CrossAgency, Crossing

VERIFIERS_READ = {CrossAgency.AUDIT_VERIFICATION: Crossing(Access.READ)}
VERIFIERS_WRITE = {CrossAgency.AUDIT_VERIFICATION: Crossing(Access.WRITE)}


class AuditChainHead(models.Model):
    """The newest link of one agency's (or the platform's) audit chain, locked by every writer."""

    chain = models.CharField(max_length=40, unique=True)
    agency_id = models.BigIntegerField(null=True, blank=True)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    app_privileges = ("SELECT",)
    cross_agency = VERIFIERS_READ


class AuditEvent(models.Model):
    """Append-only, hash-chained record of who did what. No foreign keys: nothing may cascade into it."""

    chain = models.CharField(max_length=40)
    seq = models.BigIntegerField()
    agency_id = models.BigIntegerField(null=True, blank=True)
    agency_code = models.UUIDField(null=True, blank=True)
    at = models.DateTimeField()
    actor_code = models.UUIDField(null=True, blank=True)
    actor_email = models.CharField(max_length=254, blank=True)
    actor_ip = models.GenericIPAddressField(null=True, blank=True)
    event = models.CharField(max_length=50)
    target = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=20, default="ok")
    details = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    leaf_hash = models.CharField(max_length=64, default="")  # RFC 6962 leaf of canonical_row: the Merkle tree's

    app_privileges = ("SELECT",)
    cross_agency = VERIFIERS_READ

    class Meta:
        ordering = ["chain", "seq"]
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="audit_seq_unique_in_chain")]
        indexes = [
            models.Index(fields=["agency_code", "event", "-at"], name="audit_agency_event_idx"),
            models.Index(fields=["target"], name="audit_target_idx"),
        ]


class AuditCheckpoint(models.Model):
    """A chain head recorded (and e-mailed to the agency's admins) so that a truncated tail is caught."""

    chain = models.CharField(max_length=40)
    agency_id = models.BigIntegerField(null=True, blank=True)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    created = models.DateTimeField(default=timezone.now)

    app_privileges = ("SELECT", "INSERT")
    cross_agency = VERIFIERS_WRITE

    class Meta:
        ordering = ["chain", "seq"]


class AuditTreeHead(models.Model):
    """A signed tree head (audit/heads.py): one log's size and Merkle root, signed with the platform's key.
    Append-only like the events; a copy of each goes to the external sink (audit/sink.py)."""

    chain = models.CharField(max_length=40)
    agency_id = models.BigIntegerField(null=True, blank=True)
    tree_size = models.BigIntegerField()
    root_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=100)

    app_privileges = ("SELECT", "INSERT")
    cross_agency = VERIFIERS_WRITE

    class Meta:
        ordering = ["chain", "tree_size"]
        constraints = [models.UniqueConstraint(fields=["chain", "tree_size"], name="audit_one_head_per_size")]


class AuditVerification(models.Model):
    chain = models.CharField(max_length=40)
    agency_id = models.BigIntegerField(null=True, blank=True)
    ok = models.BooleanField()
    first_bad_seq = models.BigIntegerField(null=True, blank=True)
    message = models.CharField(max_length=500)
    checked_events = models.BigIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)

    app_privileges = ("SELECT", "INSERT")
    cross_agency = VERIFIERS_WRITE

    class Meta:
        ordering = ["-created"]
