"""audit.merkle against RFC 6962's reference vectors (the Certificate Transparency test data), and every
proof of every small tree against its own verifier, with tampered proofs refused."""
import pytest

from audit import merkle

ENTRIES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                      "606162636465666768696a6b6c6d6e6f")]
LEAVES = [merkle.leaf_hash(entry) for entry in ENTRIES]
ROOTS = [  # MTH of the first n entries, n = 0..8
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (index, size, proof)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (0, 1, []),
]
CONSISTENCY = [  # (first, second, proof)
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (8, 8, []),
]


def hexes(nodes) -> list[str]:
    return [node.hex() for node in nodes]


def test_roots_match_the_rfc_vectors():
    assert [merkle.root(LEAVES[:n]).hex() for n in range(9)] == ROOTS


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_the_rfc_vectors_and_verify(index, size, proof):
    assert hexes(merkle.inclusion_proof(LEAVES, index, size)) == proof
    nodes = [bytes.fromhex(node) for node in proof]
    assert merkle.verify_inclusion(LEAVES[index], index, size, nodes, bytes.fromhex(ROOTS[size]))


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_consistency_proofs_match_the_rfc_vectors_and_verify(first, second, proof):
    assert hexes(merkle.consistency_proof(LEAVES, first, second)) == proof
    nodes = [bytes.fromhex(node) for node in proof]
    assert merkle.verify_consistency(first, second, bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second]), nodes)


def flipped(node: bytes) -> bytes:
    return bytes([node[0] ^ 1]) + node[1:]


def test_every_proof_of_every_small_tree_verifies_and_no_tampered_one_does():
    leaves = [merkle.leaf_hash(bytes([i, i * 7 % 256])) for i in range(33)]
    for size in range(1, len(leaves) + 1):
        tree_root = merkle.root(leaves[:size])
        for index in range(size):
            proof = merkle.inclusion_proof(leaves, index, size)
            assert merkle.verify_inclusion(leaves[index], index, size, proof, tree_root)
            assert not merkle.verify_inclusion(flipped(leaves[index]), index, size, proof, tree_root)
            if size > 1:
                assert not merkle.verify_inclusion(leaves[index], (index + 1) % size, size, proof, tree_root)
                assert not merkle.verify_inclusion(leaves[index], index, size, [flipped(proof[0]), *proof[1:]],
                                                   tree_root)
        for first in range(1, size + 1):
            proof = merkle.consistency_proof(leaves, first, size)
            first_root = merkle.root(leaves[:first])
            assert merkle.verify_consistency(first, size, first_root, tree_root, proof)
            if first < size:
                assert not merkle.verify_consistency(first, size, flipped(first_root), tree_root, proof)
                assert not merkle.verify_consistency(first, size, first_root, tree_root,
                                                     [*proof[:-1], flipped(proof[-1])])


def test_proofs_are_logarithmic():
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(1025)]
    assert max(len(merkle.inclusion_proof(leaves, i)) for i in range(0, 1025, 97)) <= 11
