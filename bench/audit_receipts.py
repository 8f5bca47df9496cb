"""Receipts at scale: a Merkle tree over N synthetic audit events of one agency (default 1,000,000), without the
database; the size of a receipt and the time to verify it, and how the inclusion proof grows with the log.

    .venv/bin/python -m bench.audit_receipts [--events 1000000]

The leaves are RFC 6962 leaf hashes of canonical event rows shaped like the portal's (audit.log.canonical_row);
the tree, the proofs, the signed head and the verifier are the portal's own (audit.merkle, audit.treehead,
audit.receipt). Generating a proof reads every leaf hash once (the portal reads them from the leaf_hash column).
"""
import argparse
import json
import statistics
import time
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import merkle, receipt
from audit.treehead import TreeHead

AGENCY = str(uuid.UUID(int=7))


def canonical(seq: int) -> str:
    return json.dumps({"actor": str(uuid.UUID(int=seq % 50)), "actor_email": f"user{seq % 50}@agency.example",
                       "agency": AGENCY, "at": f"2026-01-01T00:00:00.{seq % 1000000:06d}+00:00", "chain": AGENCY,
                       "details": {"case_number": f"C-{seq}", "purpose": "criminal_investigation"},
                       "event": "search.created", "ip": "10.0.0.1", "outcome": "ok", "seq": seq,
                       "target": str(uuid.UUID(int=seq))}, sort_keys=True, separators=(",", ":"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    size = parser.parse_args().events
    started = time.perf_counter()
    leaves = [merkle.leaf_hash(canonical(seq).encode()) for seq in range(1, size + 1)]
    hashed = time.perf_counter()
    root = merkle.root(leaves)
    rooted = time.perf_counter()
    key = Ed25519PrivateKey.generate()
    head = TreeHead(AGENCY, size, root.hex(), "2026-01-01T00:05:00.000000+00:00").signed(key)
    print(f"{size:,} events: leaf hashes {hashed - started:.2f} s, root {rooted - hashed:.2f} s")
    print("proof length by log size (levels = ceil(log2 n)):")
    for n in (1_000, 10_000, 100_000, size):
        if n <= size:
            print(f"  {n:>9,} events: {len(merkle.inclusion_proof(leaves, n // 3, n)):>2} hashes")
    index = size // 2 + 12345 if size > 30000 else size // 2
    proof_started = time.perf_counter()
    proof = merkle.inclusion_proof(leaves, index, size)
    proof_seconds = time.perf_counter() - proof_started
    document = receipt.build(canonical(index + 1), index, proof, head)
    body = json.dumps(document, indent=2)
    public = key.public_key()
    timings = []
    for _ in range(200):
        tick = time.perf_counter()
        assert receipt.problems(json.loads(body), public) == []
        timings.append(time.perf_counter() - tick)
    print(f"receipt of event {index + 1}: {len(proof)} proof hashes, {len(body):,} bytes of JSON "
          f"({len(json.dumps(document, separators=(',', ':'))):,} compact); proof generated in {proof_seconds:.2f} s")
    print(f"offline verification (parse + leaf + {len(proof)}-step inclusion + Ed25519): median "
          f"{statistics.median(timings) * 1000:.3f} ms, max {max(timings) * 1000:.3f} ms over {len(timings)} runs")


if __name__ == "__main__":
    main()
