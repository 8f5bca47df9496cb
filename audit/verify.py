"""The whole verification of one audit log: its hash chain (audit.log.verify_chain), then its Merkle tree
against every signed tree head, in the database and in the external sink.

Each head must carry the platform's signature, agree with its external copy, cover no more events than the log
holds, hash to the root recomputed from the rows, and be consistent (RFC 9162 consistency proof) with the head
before it. A history rewritten to be self-consistent passes the chain but not the heads: the first sequence
it names is the first one no matching head covers.
"""
from audit import merkle
from audit.heads import as_tree_head, signing_key
from audit.log import ChainReport, leaf_of, verify_chain
from audit.models import AuditEvent, AuditTreeHead
from audit.sink import head_sink
from audit.treehead import TreeHead


def verify_log(chain: str) -> ChainReport:
    report = verify_chain(chain)
    if not report.ok:
        return report
    leaves = [leaf_of(row) for row in AuditEvent.objects.filter(chain=chain).order_by("seq").iterator(chunk_size=2000)]
    heads, problem = _all_heads(chain)
    problem = problem or _tree_problem(leaves, heads)
    if problem:
        return ChainReport(chain, False, report.checked, *problem)
    return ChainReport(chain, True, report.checked, None,
                       f"{report.checked} events verified against {len(heads)} signed tree heads")


def _all_heads(chain: str) -> tuple[list[TreeHead], tuple[int, str] | None]:
    stored = {row.tree_size: as_tree_head(row) for row in AuditTreeHead.objects.filter(chain=chain)}
    external = {head.tree_size: head for head in head_sink().heads(chain)}
    for size in sorted(stored.keys() & external.keys()):
        if stored[size] != external[size]:
            return [], (1, f"the database's tree head of size {size} differs from its external copy")
    return [{**stored, **external}[size] for size in sorted(stored.keys() | external.keys())], None


def _tree_problem(leaves: list[bytes], heads: list[TreeHead]) -> tuple[int, str] | None:
    public_key = signing_key().public_key()
    roots = merkle.roots_at(leaves, [head.tree_size for head in heads if 0 < head.tree_size <= len(leaves)])
    previous = None
    for head in heads:
        first_unproven = (previous.tree_size if previous else 0) + 1
        if not head.verifies(public_key):
            return first_unproven, f"the tree head of size {head.tree_size} does not carry the platform's signature"
        if head.tree_size > len(leaves):
            return len(leaves) + 1, (f"events {len(leaves) + 1} to {head.tree_size} are missing: the log is shorter "
                                     f"than its signed tree head of size {head.tree_size}")
        if roots[head.tree_size].hex() != head.root_hash:
            return first_unproven, (f"events {first_unproven} to {head.tree_size} no longer hash to the signed tree "
                                    f"head of size {head.tree_size}: the history was rewritten")
        if previous is not None and not merkle.verify_consistency(
                previous.tree_size, head.tree_size, bytes.fromhex(previous.root_hash), bytes.fromhex(head.root_hash),
                merkle.consistency_proof(leaves, previous.tree_size, head.tree_size)):
            return first_unproven, f"the tree heads of size {previous.tree_size} and {head.tree_size} are inconsistent"
        previous = head
    return None
