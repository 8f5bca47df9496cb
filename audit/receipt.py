"""Search receipts: one audit event, its Merkle leaf, an inclusion proof and the signed tree head it leads to.

This module imports neither Django nor the database, so anyone holding a receipt and the platform's public key
(published at /.well-known/audit-public-key) can check it offline:

    python -m audit.receipt verify receipt.json --public-key audit-public-key.pem

It says the event is in the agency's audit log as signed, unchanged; a changed byte anywhere makes it fail.
"""
import argparse
import json
import sys
from pathlib import Path

from audit import merkle
from audit.treehead import TreeHead, load_public_pem

FORMAT = "faceportal-audit-receipt/v1"


def build(canonical_event: str, leaf_index: int, proof: list[bytes], head: TreeHead) -> dict:
    return {
        "format": FORMAT,
        "event": json.loads(canonical_event),
        "canonical_event": canonical_event,
        "leaf_index": leaf_index,
        "leaf_hash": merkle.leaf_hash(canonical_event.encode()).hex(),
        "inclusion_proof": [node.hex() for node in proof],
        "tree_head": head.as_dict(),
    }


def problems(receipt: dict, public_key) -> list[str]:
    """Why the receipt does not prove its event (empty: it does)."""
    try:
        canonical = receipt["canonical_event"]
        head = TreeHead.from_dict(receipt["tree_head"])
        index, proof = int(receipt["leaf_index"]), [bytes.fromhex(node) for node in receipt["inclusion_proof"]]
        leaf = bytes.fromhex(receipt["leaf_hash"])
        event = json.loads(canonical)
    except (KeyError, TypeError, ValueError) as error:
        return [f"the receipt is malformed: {error!r}"]
    found = []
    if receipt.get("format") != FORMAT:
        found.append(f"unknown receipt format {receipt.get('format')!r}")
    if receipt.get("event") != event:
        found.append("the readable event differs from the canonical event that was hashed")
    if merkle.leaf_hash(canonical.encode()) != leaf:
        found.append("the event does not hash to the receipt's leaf")
    if event.get("chain") != head.log or event.get("seq") != index + 1:
        found.append("the event's log or sequence is not the leaf's")
    if not merkle.verify_inclusion(leaf, index, head.tree_size, proof, bytes.fromhex(head.root_hash)):
        found.append("the inclusion proof does not lead to the tree head's root")
    if not head.verifies(public_key):
        found.append("the tree head does not carry a valid signature by this key")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit.receipt", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="check a receipt offline")
    verify.add_argument("file", type=Path)
    verify.add_argument("--public-key", type=Path, required=True, help="the platform's public key (PEM)")
    arguments = parser.parse_args(argv)
    try:
        receipt = json.loads(arguments.file.read_text())
        public_key = load_public_pem(arguments.public_key.read_bytes())
    except (OSError, ValueError) as error:
        print(f"FAILED: {error}")
        return 2
    found = problems(receipt, public_key)
    if found:
        print("FAILED: " + "; ".join(found))
        return 1
    event, head = receipt["event"], receipt["tree_head"]
    print(f"OK: event {event['seq']} ({event['event']}, {event['target']}) of log {head['log']} is in its signed "
          f"tree of {head['tree_size']} events (root {head['root_hash']}, signed {head['timestamp']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
