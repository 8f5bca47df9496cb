"""RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs, written once.

Pure Python with no Django: the offline receipt verifier (audit.receipt) imports it. Leaves are given as
their leaf hashes (leaf_hash of the entry), in log order; indexes are 0-based.
"""
import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(size: int) -> int:
    """The largest power of two smaller than size (RFC 6962's k), for size > 1."""
    return 1 << ((size - 1).bit_length() - 1)


def root(leaves: Sequence[bytes], start: int = 0, end: int | None = None) -> bytes:
    """MTH(D[start:end]). Bottom-up, pairing neighbours and carrying an odd last node up a level, which
    builds exactly RFC 6962's left-balanced tree in linear time."""
    end = len(leaves) if end is None else end
    if end == start:
        return EMPTY_ROOT
    level = list(leaves[start:end])
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 section 2.1.3.1."""
    size = len(leaves) if size is None else size
    if not 0 <= index < size <= len(leaves):
        raise ValueError(f"no leaf {index} in a tree of {size}")

    def path(index: int, start: int, end: int) -> list[bytes]:
        if end - start == 1:
            return []
        k = split(end - start)
        if index < k:
            return path(index, start, start + k) + [root(leaves, start + k, end)]
        return path(index - k, start + k, end) + [root(leaves, start, start + k)]

    return path(index, 0, size)


def consistency_proof(leaves: Sequence[bytes], first: int, second: int | None = None) -> list[bytes]:
    """PROOF(first, D[0:second]) of RFC 9162 section 2.1.4.1."""
    second = len(leaves) if second is None else second
    if not 0 < first <= second <= len(leaves):
        raise ValueError(f"no consistency proof from {first} to {second}")

    def subproof(m: int, start: int, end: int, whole: bool) -> list[bytes]:
        if m == end - start:
            return [] if whole else [root(leaves, start, end)]
        k = split(end - start)
        if m <= k:
            return subproof(m, start, start + k, whole) + [root(leaves, start + k, end)]
        return subproof(m - k, start + k, end, False) + [root(leaves, start, start + k)]

    return subproof(first, 0, second, True)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and result == expected_root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if not 0 < first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    proof = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first tree is a subtree of the second
        proof = [first_root, *proof]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first_result = second_result = proof[0]
    for node in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first_result = node_hash(node, first_result)
            second_result = node_hash(node, second_result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            second_result = node_hash(second_result, node)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and first_result == first_root and second_result == second_root


def roots_at(leaves: Sequence[bytes], sizes) -> dict[int, bytes]:
    """MTH(D[0:n]) for every n in sizes (1 <= n <= len(leaves)) in one pass, keeping the right edge of the tree
    (its perfect subtrees, largest first) as leaves arrive."""
    wanted = iter(sorted(set(sizes)))
    target, found, edge = next(wanted, None), {}, []  # edge: (width, hash) of the perfect subtrees
    for count, leaf in enumerate(leaves, 1):
        if target is None:
            break
        node, width = leaf, 1
        while edge and edge[-1][0] == width:
            node, width = node_hash(edge.pop()[1], node), width * 2
        edge.append((width, node))
        while target == count:
            result = edge[-1][1]
            for _width, left in reversed(edge[:-1]):
                result = node_hash(left, result)
            found[count], target = result, next(wanted, None)
    return found
