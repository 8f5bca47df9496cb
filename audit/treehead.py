"""A signed tree head: one audit log's size and Merkle root at a moment, signed with the platform's Ed25519 key.

Pure Python with `cryptography` only (no Django), so that the offline receipt verifier shares the exact bytes
that are signed. The signed text is line-based, like a transparency log's checkpoint:
    faceportal-audit-tree-head/v1, the log (agency code or "platform"), the size, the root (hex), the time.
"""
import base64
import hashlib
from dataclasses import asdict, dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "faceportal-audit-tree-head/v1"


@dataclass(frozen=True)
class TreeHead:
    log: str
    tree_size: int
    root_hash: str  # hex
    timestamp: str  # ISO 8601, UTC
    key_id: str = ""
    signature: str = ""  # base64

    def message(self) -> bytes:
        return f"{FORMAT}\n{self.log}\n{self.tree_size}\n{self.root_hash}\n{self.timestamp}\n".encode()

    def signed(self, key: Ed25519PrivateKey) -> "TreeHead":
        signature = base64.b64encode(key.sign(self.message())).decode()
        return TreeHead(self.log, self.tree_size, self.root_hash, self.timestamp, key_id(key.public_key()), signature)

    def verifies(self, public_key: Ed25519PublicKey) -> bool:
        if self.key_id != key_id(public_key):
            return False
        try:
            public_key.verify(base64.b64decode(self.signature, validate=True), self.message())
        except (InvalidSignature, ValueError):
            return False
        return True

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TreeHead":
        return cls(log=str(data["log"]), tree_size=int(data["tree_size"]), root_hash=str(data["root_hash"]),
                   timestamp=str(data["timestamp"]), key_id=str(data["key_id"]), signature=str(data["signature"]))


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_pem(text: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(text)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]
