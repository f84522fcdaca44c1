"""The RFC 9162 (RFC 6962) Merkle tree the audit sync server keeps per workstation, and the
client's proof verifiers.

The server appends each workstation's audit events as leaves and signs checkpoints ``(size,
root)``. An acknowledgement carries an inclusion proof for each event of the batch; at each sync
the client checks a consistency proof from the checkpoint it stored last time to the new one, so
a server that forks its copy of the log, rewrites history or rolls it back is caught.

Hashing (RFC 9162 section 2.1.1), SHA-256 throughout
    ``leaf_hash(d) = SHA-256(0x00 || d)``, ``node_hash(l, r) = SHA-256(0x01 || l || r)``, and the
    root of the empty tree is ``SHA-256("")``. The prefixes keep a leaf from passing for an
    inner node (the second-preimage attack on plain Merkle trees).

Proofs are lists of 32-byte hashes in the order RFC 9162 sections 2.1.3.1 (PATH) and 2.1.4.1
(SUBPROOF) define: from the bottom of the tree up. The verifiers are free functions, independent
of ``MerkleTree``, and raise ``MerkleProofError`` with the reason, so the sync client can tell
the operator why it stopped trusting a server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class MerkleProofError(ValueError):
    """A proof, or the checkpoint it is checked against, does not hold; the text says why."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def inclusion_proof_length(index: int, size: int) -> int:
    """How many hashes the inclusion proof for leaf ``index`` of a tree of ``size`` has.

    Below the level where the paths to ``index`` and to the last leaf part, every level gives
    one sibling (``inner``); above it the path runs along the tree's right edge, where a level
    gives a sibling only if ``index`` is a right child there (``border``).
    """
    _require_index(index, size)
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner + border


def consistency_proof_length(old_size: int, new_size: int) -> int:
    """How many hashes the consistency proof from ``old_size`` to ``new_size`` has.

    It is the inclusion proof of the old tree's last leaf in the new tree, less the levels
    below the old tree's largest complete subtree on the right (whose root stands in for
    them), plus that root unless it is the whole old tree, which the verifier already has.
    """
    _require_sizes(old_size, new_size)
    if old_size in (0, new_size):
        return 0
    skipped_levels = (old_size & -old_size).bit_length() - 1
    seed = 0 if _is_power_of_two(old_size) else 1
    return seed + inclusion_proof_length(old_size - 1, new_size) - skipped_levels


class MerkleTree:
    """An append-only RFC 9162 Merkle tree that answers for its current size and every past one.

    It keeps the hash of every complete subtree: level 0 holds the leaf hashes, level ``k``
    the hash of each aligned run of ``2**k`` leaves once the run is complete. A complete
    subtree never changes, so the stored hashes hold for every past size too, and any root or
    proof needs only O(log n) hashes computed beyond them (along the tree's right edge).

    Memory: each level is one ``bytearray`` of 32-byte hashes; level ``k`` has
    ``n // 2**k`` of them, so the tree takes under ``64 * n`` bytes (plus up to about an
    eighth more while a ``bytearray`` grows): 6.4 MB for 100,000 leaves, 640 MB for ten
    million. An append costs two hash computations on average (one leaf, one parent).

    Not safe for concurrent use: the server appends and reads one workstation's tree from a
    single worker (or under its own lock).
    """

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        for hashed in leaf_hashes:
            self.append_leaf_hash(hashed)

    @property
    def size(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    def __len__(self) -> int:
        return self.size

    def append(self, data: bytes) -> int:
        """Add ``data`` as the next leaf; return its index."""
        return self.append_leaf_hash(leaf_hash(data))

    def append_leaf_hash(self, hashed: bytes) -> int:
        """Add a leaf by its leaf hash (a tree rebuilt from stored hashes); return its index."""
        if len(hashed) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, not {len(hashed)}")
        index = self.size
        node, position, level = hashed, index, 0
        while True:
            if level == len(self._levels):
                self._levels.append(bytearray())
            row = self._levels[level]
            row += node
            if position % 2 == 0:
                return index
            # This node completed a pair: its parent is now a complete subtree as well.
            node = node_hash(bytes(row[-2 * HASH_SIZE : -HASH_SIZE]), node)
            position //= 2
            level += 1

    def leaf_hash_at(self, index: int) -> bytes:
        _require_index(index, self.size)
        return self._stored(0, index)

    def root(self, size: int) -> bytes:
        """MTH(D[0:size]) for the current size or any past one."""
        self._require_size(size)
        if size == 0:
            return EMPTY_ROOT
        return self._subtree_hash(0, size, {})

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[0:size]) (RFC 9162 section 2.1.3.1)."""
        self._require_size(size)
        _require_index(index, size)
        proof: list[bytes] = []
        self._path(index, 0, size, proof, {})
        return proof

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]) (RFC 9162 section 2.1.4.1).

        Empty when ``old_size`` is 0 or equals ``new_size``: there is nothing to prove, and the
        verifier wants an empty proof then.
        """
        _require_sizes(old_size, new_size)
        self._require_size(new_size)
        proof: list[bytes] = []
        if 0 < old_size < new_size:
            self._subproof(old_size, 0, new_size, True, proof, {})
        return proof

    # --- RFC 9162 section 2.1 over the stored complete subtrees ---------------------------------
    #
    # Ranges are [start, end) of leaves. The RFC's recursion only ever reaches ranges whose start
    # is a multiple of the smallest power of two not below their width (a left half keeps its
    # parent's start, a right half starts at the parent's start plus a power of two at least its
    # own width), so a range whose width is a power of two is always a stored complete subtree.
    # The other ranges the recursion reaches all end at the tree's size: they are the nested
    # right-edge subtrees, O(log n) of them, computed once per call through ``memo``.

    def _stored(self, level: int, index: int) -> bytes:
        offset = index * HASH_SIZE
        return bytes(self._levels[level][offset : offset + HASH_SIZE])

    def _subtree_hash(self, start: int, end: int, memo: dict[tuple[int, int], bytes]) -> bytes:
        """MTH(D[start:end])."""
        width = end - start
        if _is_power_of_two(width):
            level = width.bit_length() - 1
            return self._stored(level, start >> level)
        known = memo.get((start, end))
        if known is None:
            split = start + _largest_power_of_two_below(width)
            known = node_hash(
                self._subtree_hash(start, split, memo), self._subtree_hash(split, end, memo)
            )
            memo[(start, end)] = known
        return known

    def _path(
        self,
        index: int,
        start: int,
        end: int,
        proof: list[bytes],
        memo: dict[tuple[int, int], bytes],
    ) -> None:
        """Append PATH(index, D[start:end]) to ``proof``; ``index`` counts from ``start``."""
        width = end - start
        if width == 1:
            return
        k = _largest_power_of_two_below(width)
        if index < k:
            self._path(index, start, start + k, proof, memo)
            proof.append(self._subtree_hash(start + k, end, memo))
        else:
            self._path(index - k, start + k, end, proof, memo)
            proof.append(self._subtree_hash(start, start + k, memo))

    def _subproof(
        self,
        old_size: int,
        start: int,
        end: int,
        old_root_known: bool,
        proof: list[bytes],
        memo: dict[tuple[int, int], bytes],
    ) -> None:
        """Append SUBPROOF(old_size, D[start:end], old_root_known) to ``proof``."""
        width = end - start
        if old_size == width:
            if not old_root_known:
                proof.append(self._subtree_hash(start, end, memo))
            return
        k = _largest_power_of_two_below(width)
        if old_size <= k:
            self._subproof(old_size, start, start + k, old_root_known, proof, memo)
            proof.append(self._subtree_hash(start + k, end, memo))
        else:
            self._subproof(old_size - k, start + k, end, False, proof, memo)
            proof.append(self._subtree_hash(start, start + k, memo))

    def _require_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is outside this tree's 0..{self.size}")


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``.

    RFC 9162 section 2.1.3.2, step by step. Raises ``MerkleProofError`` saying why it fails.
    """
    _require_hash(leaf_hash, "leaf hash")
    _require_hash(root, "root")
    _require_proof_hashes(proof)
    if size < 0 or index < 0:
        raise MerkleProofError(f"leaf index {index} and tree size {size} must not be negative")
    # Step 1.
    if index >= size:
        raise MerkleProofError(f"leaf index {index} is not in a tree of size {size}")
    expected = inclusion_proof_length(index, size)
    leaf = f"leaf {index} of a tree of size {size}"
    # Steps 2 and 3.
    fn, sn = index, size - 1
    r = leaf_hash
    # Step 4.
    for p in proof:
        if sn == 0:
            raise _wrong_length("inclusion", proof, expected, leaf)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    # Step 5.
    if sn != 0:
        raise _wrong_length("inclusion", proof, expected, leaf)
    if r != root:
        raise MerkleProofError(
            f"the inclusion proof for leaf {index} does not lead to the root of the tree of "
            f"size {size}: the leaf is not there, or the proof or root is wrong"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``new_size`` with ``new_root`` extends the one of ``old_size``.

    RFC 9162 section 2.1.4.2, step by step, for ``0 < old_size < new_size``. The RFC leaves the
    other sizes to the caller; here they are settled as a log would have it: a log never
    shrinks; two roots for the same size must be equal (else the log has forked); every tree
    extends the empty one, whose root must be ``SHA-256("")``. Nothing is left to prove in
    those cases, so the proof must be empty. Raises ``MerkleProofError`` saying why it fails.
    """
    _require_hash(old_root, "old root")
    _require_hash(new_root, "new root")
    _require_proof_hashes(proof)
    if old_size < 0 or new_size < 0:
        raise MerkleProofError(f"tree sizes {old_size} and {new_size} must not be negative")
    if old_size > new_size:
        raise MerkleProofError(
            f"the old tree size {old_size} is larger than the new size {new_size}: a log never "
            f"shrinks, so the server has rolled back or lost events"
        )
    if old_size == 0 and old_root != EMPTY_ROOT:
        raise MerkleProofError("the root given for the empty tree is not SHA-256 of nothing")
    if old_size in (0, new_size):
        if proof:
            raise MerkleProofError(
                f"the consistency proof from size {old_size} to {new_size} must be empty, "
                f"not {len(proof)} hashes"
            )
        if old_size == new_size and old_root != new_root:
            raise MerkleProofError(
                f"the log has two different roots for size {new_size}: it has forked"
            )
        return

    expected = consistency_proof_length(old_size, new_size)
    between = f"sizes {old_size} to {new_size}"
    # Step 1.
    if not proof:
        raise _wrong_length("consistency", proof, expected, between)
    # Step 2.
    path = [old_root, *proof] if _is_power_of_two(old_size) else list(proof)
    # Step 3.
    fn, sn = old_size - 1, new_size - 1
    # Step 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            raise _wrong_length("consistency", proof, expected, between)
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise _wrong_length("consistency", proof, expected, between)
    if fr != old_root:
        raise MerkleProofError(
            f"the consistency proof for {between} does not lead to the old root: the "
            f"new tree does not extend the old one (a fork or rewritten history)"
        )
    if sr != new_root:
        raise MerkleProofError(
            f"the consistency proof for {between} does not lead to the new root: the "
            f"new tree does not extend the old one (a fork or rewritten history)"
        )


def _wrong_length(kind: str, proof: Sequence[bytes], expected: int, what: str) -> MerkleProofError:
    adjective = "long" if len(proof) > expected else "short"
    return MerkleProofError(
        f"the {kind} proof for {what} is too {adjective}: {len(proof)} hashes, not {expected}"
    )


def _require_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise MerkleProofError(f"the {what} is {len(value)} bytes, not {HASH_SIZE}")


def _require_proof_hashes(proof: Sequence[bytes]) -> None:
    for position, value in enumerate(proof):
        _require_hash(value, f"proof hash {position}")


def _require_index(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")


def _require_sizes(old_size: int, new_size: int) -> None:
    if not 0 <= old_size <= new_size:
        raise ValueError(f"tree sizes {old_size} to {new_size} do not go from smaller to larger")


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


def _largest_power_of_two_below(value: int) -> int:
    """The k of RFC 9162's split: the largest power of two smaller than ``value`` (at least 2)."""
    return 1 << ((value - 1).bit_length() - 1)
