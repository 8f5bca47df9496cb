"""Issue 11, part 2: the audit log as a Merkle tree with signed tree heads, verified by verify_audit against
the database's heads and the external sink's, and tampering named by its first sequence."""
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from audit import merkle
from audit.heads import public_key_pem, sign_due_heads, sign_head, signing_key
from audit.log import canonical_row, compute_hash, leaf_of, record_event
from audit.models import AuditEvent, AuditTreeHead
from audit.sink import DirectorySink
from audit.treehead import load_public_pem
from tests.conftest import tamper

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sink(settings, tmp_path):
    settings.AUDIT_HEAD_SINK_DIR = tmp_path / "heads"
    return DirectorySink(tmp_path / "heads")


def events(people, count: int, start: int = 0) -> str:
    for index in range(start, start + count):
        record_event("test.event", agency=people.agency, actor=people.admin, details={"n": index})
    return str(people.agency.code)


def verify_output(chain: str, capsys, ok: bool) -> str:
    if ok:
        call_command("verify_audit", "--agency", chain)
    else:
        with pytest.raises(CommandError):
            call_command("verify_audit", "--agency", chain)
    return capsys.readouterr().out


def test_a_head_is_signed_stored_and_written_outside_and_its_root_is_the_rows_tree(people, sink):
    chain = events(people, 5)
    row = sign_head(chain)
    leaves = [leaf_of(event) for event in AuditEvent.objects.filter(chain=chain).order_by("seq")]
    assert row.tree_size == 5 and row.root_hash == merkle.root(leaves).hex()
    assert [event.leaf_hash for event in AuditEvent.objects.filter(chain=chain).order_by("seq")] == [
        leaf.hex() for leaf in leaves]
    [external] = sink.heads(chain)
    assert external.root_hash == row.root_hash and external.verifies(signing_key().public_key())
    assert sign_head(chain) == row  # nothing new: the same head


def test_the_beat_signs_at_most_every_interval_while_events_arrive(people, sink, settings):
    settings.AUDIT_HEAD_INTERVAL_SECONDS = 300
    chain = events(people, 2)
    assert chain in sign_due_heads()  # the first head comes at once
    events(people, 1, start=2)
    assert chain not in sign_due_heads()  # grew, but the last head is younger than five minutes
    first = AuditTreeHead.objects.get(chain=chain)
    assert chain in sign_due_heads(now=first.signed_at + timedelta(seconds=301))
    assert list(AuditTreeHead.objects.filter(chain=chain).values_list("tree_size", flat=True)) == [2, 3]
    assert chain not in sign_due_heads(now=first.signed_at + timedelta(hours=1))  # no growth, no head


def test_an_intact_log_verifies_with_consistency_between_heads(people, sink, capsys):
    chain = events(people, 3)
    sign_head(chain)
    events(people, 6, start=3)
    sign_head(chain)
    assert "ok, 9 events verified against 2 signed tree heads" in verify_output(chain, capsys, ok=True)


def test_a_truncated_tail_below_a_signed_head_is_named(people, sink, capsys):
    chain = events(people, 10)
    sign_head(chain)
    tamper("DELETE FROM audit_auditevent WHERE chain = %s AND seq > 7", chain)
    tamper("UPDATE audit_auditchainhead SET seq = 7, hash = (SELECT hash FROM audit_auditevent "
           "WHERE chain = %s AND seq = 7) WHERE chain = %s", chain, chain)
    output = verify_output(chain, capsys, ok=False)
    assert "TAMPERED at sequence 8" in output and "signed tree head of size 10" in output


def rewrite_history_from(chain: str, seq: int) -> None:
    """What a rogue database superuser would do: edit an event and recompute every hash after it, so that
    the chain verifies again, and drop the heads the database holds. The key they do not have."""
    rows = list(AuditEvent.objects.filter(chain=chain).order_by("seq"))
    prev = rows[seq - 2].hash if seq > 1 else "0" * 64
    for row in rows[seq - 1:]:
        if row.seq == seq:
            row.details = {"n": "rewritten"}
        row.prev_hash, row.hash = prev, compute_hash(prev, row)
        tamper("UPDATE audit_auditevent SET details = %s::jsonb, prev_hash = %s, hash = %s, leaf_hash = %s "
               "WHERE chain = %s AND seq = %s", json.dumps(row.details), row.prev_hash, row.hash,
               leaf_of(row).hex(), chain, row.seq)
        prev = row.hash
    tamper("UPDATE audit_auditchainhead SET hash = %s WHERE chain = %s", prev, chain)
    tamper("DELETE FROM audit_audittreehead WHERE chain = %s", chain)


def test_a_rewritten_history_that_re_signs_nothing_fails_against_the_external_heads(people, sink, capsys):
    chain = events(people, 3)
    sign_head(chain)
    events(people, 7, start=3)
    sign_head(chain)
    rewrite_history_from(chain, 4)
    assert canonical_row(AuditEvent.objects.get(chain=chain, seq=4)).count("rewritten") == 1
    output = verify_output(chain, capsys, ok=False)
    assert "TAMPERED at sequence 4" in output and "tree head of size 10" in output


def test_a_forged_head_in_the_database_is_refused(people, sink, capsys):
    chain = events(people, 4)
    head = sign_head(chain)
    tamper("UPDATE audit_audittreehead SET root_hash = %s WHERE id = %s", "ab" * 32, head.pk)
    assert "differs from its external copy" in verify_output(chain, capsys, ok=False)


def test_the_public_key_is_published_at_a_well_known_url():
    response = Client().get("/.well-known/audit-public-key")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert load_public_pem(response.content) is not None
    assert response.content.decode() == public_key_pem()
    assert Client().post("/.well-known/audit-public-key").status_code == 405
