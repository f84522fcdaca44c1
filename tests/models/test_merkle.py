"""The audit sync server's Merkle tree and the client's proof verifiers.

Three sources of truth, none of them the code under test:

* Known answers from Certificate Transparency's reference code, transparency-dev/merkle
  (the successor of google/certificate-transparency-go's ``merkle`` package):
  ``testonly/constants.go`` at 582a6ad190b6848f1d26f8bf08ddef29955d9db1 (leaf inputs, node
  hashes, roots for sizes 0..8), ``testonly/reference_test.go`` at
  141d627eab770a7e9a2514f46a8b6338e6d90874 (inclusion and consistency proofs) and
  ``proof/verify_test.go`` at 02194e9afb6c1d95b5381350007963aa70fff472 (more proofs, among them
  6 -> 7). Their indices are 0-based here; verify_test.go counts leaves from 1.
* A reference written here straight from RFC 9162 section 2.1 (MTH, PATH, SUBPROOF as
  recursions over lists, with hashlib and its own prefixes), checked against those answers and
  then against the tree for every size 0..64 and for random sizes up to ``SHARED_SIZE``.
* The RFC's verification algorithms, which must accept every honest proof and reject any
  change to one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.models.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MerkleProofError,
    MerkleTree,
    consistency_proof_length,
    inclusion_proof_length,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

# --- known answers (transparency-dev/merkle, see the module docstring) -----------------------

LEAF_INPUTS = [
    bytes.fromhex(""),
    bytes.fromhex("00"),
    bytes.fromhex("10"),
    bytes.fromhex("2021"),
    bytes.fromhex("3031"),
    bytes.fromhex("40414243"),
    bytes.fromhex("5051525354555657"),
    bytes.fromhex("606162636465666768696a6b6c6d6e6f"),
]

# NodeHashes(): [level][index], the hash of the complete subtree of 2**level leaves at index.
NODE_HASHES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]

# RootHashes(): the root of the tree of the first ``size`` leaf inputs, by size.
ROOTS = [
    bytes.fromhex(h)
    for h in [
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
]

# (index, size, proof): TestRefInclusionProof, and verify_test.go's inclusionProofs.
INCLUSION_VECTORS: list[tuple[int, int, list[str]]] = [
    (0, 1, []),
    (0, 2, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (1, 2, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

# (old_size, new_size, proof): TestRefConsistencyProof, and verify_test.go's consistencyProofs.
CONSISTENCY_VECTORS: list[tuple[int, int, list[str]]] = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def hashes(hexes: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


# --- reference: RFC 9162 section 2.1, literally ----------------------------------------------


def ref_split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(entries: Sequence[bytes]) -> bytes:
    if not entries:
        return hashlib.sha256(b"").digest()
    if len(entries) == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = ref_split(len(entries))
    return hashlib.sha256(b"\x01" + ref_mth(entries[:k]) + ref_mth(entries[k:])).digest()


def ref_path(m: int, entries: Sequence[bytes]) -> list[bytes]:
    if len(entries) == 1:
        return []
    k = ref_split(len(entries))
    if m < k:
        return [*ref_path(m, entries[:k]), ref_mth(entries[k:])]
    return [*ref_path(m - k, entries[k:]), ref_mth(entries[:k])]


def ref_path_sides(m: int, n: int) -> list[str]:
    """Which side of the path each hash of PATH(m, D[n]) hangs on, bottom up."""
    if n == 1:
        return []
    k = ref_split(n)
    if m < k:
        return [*ref_path_sides(m, k), "right"]
    return [*ref_path_sides(m - k, n - k), "left"]


def ref_subproof(m: int, entries: Sequence[bytes], b: bool) -> list[bytes]:
    if m == len(entries):
        return [] if b else [ref_mth(entries)]
    k = ref_split(len(entries))
    if m <= k:
        return [*ref_subproof(m, entries[:k], b), ref_mth(entries[k:])]
    return [*ref_subproof(m - k, entries[k:], False), ref_mth(entries[:k])]


def ref_proof(m: int, entries: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]); the RFC defines it for 0 < m < n, and it is empty for m == n."""
    return ref_subproof(m, entries, True)


# --- helpers -------------------------------------------------------------------------------


def event(i: int) -> bytes:
    return f'{{"seq":{i},"event_type":"feed_allowed","workstation":"ws-{i % 7}"}}'.encode()


SHARED_SIZE = 1100


@cache
def shared_events() -> tuple[bytes, ...]:
    return tuple(event(i) for i in range(SHARED_SIZE))


@cache
def shared_tree() -> MerkleTree:
    """A tree past 2**10 leaves, asked about its past sizes; the tests only read it."""
    tree = MerkleTree()
    for data in shared_events():
        tree.append(data)
    return tree


def vector_tree() -> MerkleTree:
    tree = MerkleTree()
    for data in LEAF_INPUTS:
        tree.append(data)
    return tree


def flip(value: bytes, position: int, mask: int) -> bytes:
    changed = bytearray(value)
    changed[position % len(changed)] ^= mask
    return bytes(changed)


def accepts(verify: Callable[..., None], *args: object) -> bool:
    try:
        verify(*args)
    except MerkleProofError:
        return False
    return True


byte_positions = st.integers(0, HASH_SIZE - 1)
masks = st.integers(1, 255)


# --- hashing -------------------------------------------------------------------------------


def test_leaf_and_node_hashes_match_the_published_node_hashes() -> None:
    assert [leaf_hash(d).hex() for d in LEAF_INPUTS] == NODE_HASHES[0]
    for level in range(1, len(NODE_HASHES)):
        below = hashes(NODE_HASHES[level - 1])
        parents = [node_hash(below[i], below[i + 1]).hex() for i in range(0, len(below), 2)]
        assert parents == NODE_HASHES[level]


def test_the_empty_tree_root_is_sha256_of_nothing() -> None:
    assert ROOTS[0] == EMPTY_ROOT
    assert MerkleTree().root(0) == EMPTY_ROOT
    assert ref_mth([]) == EMPTY_ROOT


def test_a_leaf_cannot_pass_for_an_inner_node() -> None:
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    assert leaf_hash(left + right) != node_hash(left, right)


# --- the reference against the known answers ---------------------------------------------------


def test_reference_matches_the_published_answers() -> None:
    assert [ref_mth(LEAF_INPUTS[:size]) for size in range(9)] == ROOTS
    for level, row in enumerate(NODE_HASHES):
        width = 2**level
        for index, expected in enumerate(row):
            assert ref_mth(LEAF_INPUTS[index * width : (index + 1) * width]).hex() == expected
    for index, size, proof in INCLUSION_VECTORS:
        assert ref_path(index, LEAF_INPUTS[:size]) == hashes(proof)
    for old_size, new_size, proof in CONSISTENCY_VECTORS:
        assert ref_proof(old_size, LEAF_INPUTS[:new_size]) == hashes(proof)


# --- the tree against the known answers ------------------------------------------------------


def test_roots_match_the_published_roots_after_every_append_and_for_past_sizes() -> None:
    tree = MerkleTree()
    assert tree.size == 0
    for count, data in enumerate(LEAF_INPUTS, start=1):
        assert tree.append(data) == count - 1
        assert len(tree) == count
        assert [tree.root(size) for size in range(count + 1)] == ROOTS[: count + 1]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_inclusion_proofs_match_the_published_proofs(
    index: int, size: int, proof: list[str]
) -> None:
    tree = vector_tree()
    assert tree.inclusion_proof(index, size) == hashes(proof)
    verify_inclusion(leaf_hash(LEAF_INPUTS[index]), index, size, hashes(proof), ROOTS[size])


@pytest.mark.parametrize(("old_size", "new_size", "proof"), CONSISTENCY_VECTORS)
def test_consistency_proofs_match_the_published_proofs(
    old_size: int, new_size: int, proof: list[str]
) -> None:
    tree = vector_tree()
    assert tree.consistency_proof(old_size, new_size) == hashes(proof)
    verify_consistency(old_size, new_size, ROOTS[old_size], ROOTS[new_size], hashes(proof))


# --- the tree against the reference ----------------------------------------------------------


def test_every_root_and_proof_up_to_64_leaves_matches_the_reference() -> None:
    entries = [event(i) for i in range(64)]
    tree = MerkleTree()
    for size in range(65):
        assert tree.size == size
        assert tree.root(size) == ref_mth(entries[:size])
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == ref_path(index, entries[:size]), (index, size)
            assert len(proof) == inclusion_proof_length(index, size)
            verify_inclusion(leaf_hash(entries[index]), index, size, proof, tree.root(size))
        for old_size in range(size + 1):
            proof = tree.consistency_proof(old_size, size)
            expected = ref_proof(old_size, entries[:size]) if old_size else []
            assert proof == expected, (old_size, size)
            assert len(proof) == consistency_proof_length(old_size, size)
            verify_consistency(old_size, size, tree.root(old_size), tree.root(size), proof)
        if size < 64:
            tree.append(entries[size])


@given(data=st.data())
def test_roots_and_proofs_of_larger_trees_match_the_reference(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, SHARED_SIZE), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    old_size = data.draw(st.integers(1, size), label="old_size")
    entries = shared_events()[:size]
    tree = shared_tree()
    assert tree.root(size) == ref_mth(entries)
    assert tree.inclusion_proof(index, size) == ref_path(index, entries)
    assert tree.consistency_proof(old_size, size) == ref_proof(old_size, entries)


@given(leaves=st.lists(st.binary(max_size=40), max_size=70))
def test_any_leaf_contents_give_the_reference_root(leaves: list[bytes]) -> None:
    tree = MerkleTree()
    for data in leaves:
        tree.append(data)
    assert tree.root(len(leaves)) == ref_mth(leaves)


def test_a_tree_rebuilt_from_stored_leaf_hashes_is_the_same_tree() -> None:
    rebuilt = MerkleTree(leaf_hash(data) for data in shared_events()[:300])
    tree = shared_tree()
    assert rebuilt.size == 300
    assert rebuilt.leaf_hash_at(299) == tree.leaf_hash_at(299) == leaf_hash(event(299))
    assert rebuilt.root(300) == tree.root(300)
    assert rebuilt.inclusion_proof(77, 300) == tree.inclusion_proof(77, 300)
    assert rebuilt.consistency_proof(123, 300) == tree.consistency_proof(123, 300)


# --- honest proofs verify; any change to one does not --------------------------------------


@given(data=st.data(), position=byte_positions, mask=masks)
def test_every_inclusion_proof_verifies_and_any_change_breaks_it(
    data: st.DataObject, position: int, mask: int
) -> None:
    tree = shared_tree()
    size = data.draw(st.integers(1, SHARED_SIZE - 1), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = tree.inclusion_proof(index, size)
    leaf, root = tree.leaf_hash_at(index), tree.root(size)
    verify_inclusion(leaf, index, size, proof, root)

    for i in range(len(proof)):
        tampered = list(proof)
        tampered[i] = flip(proof[i], position, mask)
        assert not accepts(verify_inclusion, leaf, index, size, tampered, root)
    assert not accepts(verify_inclusion, leaf, index, size, proof, flip(root, position, mask))
    assert not accepts(verify_inclusion, flip(leaf, position, mask), index, size, proof, root)

    # The same leaf claimed at a neighbouring position.
    for other in (index - 1, index + 1):
        assert not accepts(verify_inclusion, leaf, other, size, proof, root)

    for other_size in (size - 1, size + 1):
        # Against the checkpoint of a neighbouring size: only that size's own proof will do.
        other_root = tree.root(other_size)
        honest = index < other_size and tree.inclusion_proof(index, other_size) == proof
        assert accepts(verify_inclusion, leaf, index, other_size, proof, other_root) == (honest)
        # With the size alone changed, the verifier reads the proof for a tree of a different
        # shape; it can only succeed where the two shapes agree hash for hash, and then it has
        # proved nothing false (the root, not the size, is what binds the leaves).
        same_shape = index < other_size and ref_path_sides(index, other_size) == ref_path_sides(
            index, size
        )
        assert accepts(verify_inclusion, leaf, index, other_size, proof, root) == (same_shape)


@given(data=st.data(), position=byte_positions, mask=masks)
def test_every_consistency_proof_verifies_and_any_change_breaks_it(
    data: st.DataObject, position: int, mask: int
) -> None:
    tree = shared_tree()
    new_size = data.draw(st.integers(0, SHARED_SIZE - 1), label="new_size")
    old_size = data.draw(st.integers(0, new_size), label="old_size")
    proof = tree.consistency_proof(old_size, new_size)
    old_root, new_root = tree.root(old_size), tree.root(new_size)
    verify_consistency(old_size, new_size, old_root, new_root, proof)

    for i in range(len(proof)):
        tampered = list(proof)
        tampered[i] = flip(proof[i], position, mask)
        assert not accepts(verify_consistency, old_size, new_size, old_root, new_root, tampered)
    bad_old = flip(old_root, position, mask)
    assert not accepts(verify_consistency, old_size, new_size, bad_old, new_root, proof)
    bad_new = flip(new_root, position, mask)
    # Every tree extends the empty one, so from size 0 any larger tree's root is consistent.
    assert accepts(verify_consistency, old_size, new_size, old_root, bad_new, proof) == (
        old_size == 0 < new_size
    )

    # Against the checkpoints of neighbouring sizes: only those sizes' own proof will do.
    for other_old, other_new in [
        (old_size - 1, new_size),
        (old_size + 1, new_size),
        (old_size, new_size - 1),
        (old_size, new_size + 1),
    ]:
        if not 0 <= other_old <= other_new:
            continue
        other_old_root, other_new_root = tree.root(other_old), tree.root(other_new)
        honest = tree.consistency_proof(other_old, other_new) == proof
        verdict = accepts(
            verify_consistency, other_old, other_new, other_old_root, other_new_root, proof
        )
        assert verdict == honest, (other_old, other_new)


# --- the classic verifier bugs, each rejected ------------------------------------------------


def test_inclusion_proof_for_the_wrong_tree_size_is_rejected() -> None:
    tree = vector_tree()
    proof_in_8 = tree.inclusion_proof(5, 8)
    # The server answers with a proof in the tree of 8; the client's checkpoint is of 7.
    with pytest.raises(MerkleProofError, match="does not lead to the root"):
        verify_inclusion(leaf_hash(LEAF_INPUTS[5]), 5, 7, proof_in_8, ROOTS[7])
    # Same proof with the size of another tree: a different number of hashes is expected.
    with pytest.raises(MerkleProofError, match="too long: 3 hashes, not 2"):
        verify_inclusion(leaf_hash(LEAF_INPUTS[5]), 5, 6, proof_in_8, ROOTS[6])


def test_consistency_proof_for_the_wrong_tree_size_is_rejected() -> None:
    tree = vector_tree()
    proof = tree.consistency_proof(6, 8)
    with pytest.raises(MerkleProofError, match="does not lead to the new root"):
        verify_consistency(6, 7, ROOTS[6], ROOTS[7], proof)
    # A proof from 3 to 8 has as many hashes as one from 5 to 8, but not the same ones.
    with pytest.raises(MerkleProofError, match="does not lead to the old root"):
        verify_consistency(5, 8, ROOTS[5], ROOTS[8], tree.consistency_proof(3, 8))
    with pytest.raises(MerkleProofError, match="too short: 3 hashes, not 4"):
        verify_consistency(5, 8, ROOTS[5], ROOTS[8], proof)


def test_overlong_inclusion_proof_is_rejected() -> None:
    tree = vector_tree()
    proof = tree.inclusion_proof(5, 8)
    for extra in ([*proof, ROOTS[8]], [*proof, proof[-1]], [ROOTS[8], *proof]):
        with pytest.raises(MerkleProofError, match="too long: 4 hashes, not 3"):
            verify_inclusion(leaf_hash(LEAF_INPUTS[5]), 5, 8, extra, ROOTS[8])
    with pytest.raises(MerkleProofError, match="too long: 1 hashes, not 0"):
        verify_inclusion(ROOTS[1], 0, 1, [ROOTS[1]], ROOTS[1])


def test_overlong_consistency_proof_is_rejected() -> None:
    tree = vector_tree()
    for old_size in (2, 6):  # a power of two (the old root is implied) and not
        proof = tree.consistency_proof(old_size, 8)
        too_long = f"too long: {len(proof) + 1} hashes, not {len(proof)}"
        for extra in ([*proof, ROOTS[8]], [*proof, ROOTS[old_size]], [proof[0], *proof]):
            with pytest.raises(MerkleProofError, match=too_long):
                verify_consistency(old_size, 8, ROOTS[old_size], ROOTS[8], extra)


def test_truncated_inclusion_proof_is_rejected() -> None:
    tree = vector_tree()
    proof = tree.inclusion_proof(1, 5)
    for short in (proof[:-1], proof[1:], []):
        with pytest.raises(MerkleProofError, match=f"too short: {len(short)} hashes, not 3"):
            verify_inclusion(leaf_hash(LEAF_INPUTS[1]), 1, 5, short, ROOTS[5])


def test_truncated_consistency_proof_is_rejected() -> None:
    tree = vector_tree()
    proof = tree.consistency_proof(6, 8)
    for short in (proof[:-1], proof[1:], []):
        with pytest.raises(MerkleProofError, match=f"too short: {len(short)} hashes, not 3"):
            verify_consistency(6, 8, ROOTS[6], ROOTS[8], short)
    # Sizes the RFC's own algorithm is for; its step 1 refuses an empty proof even where the
    # old root alone would seem to be enough (a power of two).
    with pytest.raises(MerkleProofError, match="too short: 0 hashes, not 1"):
        verify_consistency(4, 8, ROOTS[4], ROOTS[8], [])


def test_first_size_larger_than_the_second_is_rejected() -> None:
    tree = vector_tree()
    proof = tree.consistency_proof(6, 8)
    with pytest.raises(MerkleProofError, match="old tree size 8 is larger than the new size 6"):
        verify_consistency(8, 6, ROOTS[8], ROOTS[6], proof)
    with pytest.raises(MerkleProofError, match="larger than the new size"):
        verify_consistency(1, 0, ROOTS[1], ROOTS[0], [])


def test_consistency_proof_between_equal_sizes_must_be_empty() -> None:
    verify_consistency(5, 5, ROOTS[5], ROOTS[5], [])
    with pytest.raises(MerkleProofError, match="from size 5 to 5 must be empty, not 1 hashes"):
        verify_consistency(5, 5, ROOTS[5], ROOTS[5], [ROOTS[5]])


def test_two_roots_for_the_same_size_are_a_fork() -> None:
    with pytest.raises(MerkleProofError, match="two different roots for size 5: it has forked"):
        verify_consistency(5, 5, ROOTS[5], ROOTS[6], [])


def test_consistency_from_the_empty_tree_needs_an_empty_proof_and_the_empty_root() -> None:
    verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [])
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(MerkleProofError, match="from size 0 to 8 must be empty, not 1 hashes"):
        verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [EMPTY_ROOT])
    with pytest.raises(MerkleProofError, match="empty tree is not SHA-256 of nothing"):
        verify_consistency(0, 8, ROOTS[1], ROOTS[8], [])
    with pytest.raises(MerkleProofError, match="two different roots for size 0"):
        verify_consistency(0, 0, EMPTY_ROOT, ROOTS[1], [])


def test_leaf_index_equal_to_the_tree_size_is_rejected() -> None:
    # Leaf 8 of a tree of 8 does not exist; an empty proof and the root as "leaf" must not pass.
    with pytest.raises(MerkleProofError, match="leaf index 8 is not in a tree of size 8"):
        verify_inclusion(ROOTS[8], 8, 8, [], ROOTS[8])
    with pytest.raises(MerkleProofError, match="leaf index 0 is not in a tree of size 0"):
        verify_inclusion(EMPTY_ROOT, 0, 0, [], EMPTY_ROOT)
    with pytest.raises(MerkleProofError, match="must not be negative"):
        verify_inclusion(ROOTS[1], -1, 1, [], ROOTS[1])


def test_negative_sizes_are_rejected() -> None:
    with pytest.raises(MerkleProofError, match="must not be negative"):
        verify_consistency(-1, 1, EMPTY_ROOT, ROOTS[1], [])


def test_hashes_of_the_wrong_length_are_rejected() -> None:
    leaf, proof = leaf_hash(LEAF_INPUTS[0]), hashes(INCLUSION_VECTORS[1][2])
    with pytest.raises(MerkleProofError, match="proof hash 0 is 33 bytes, not 32"):
        verify_inclusion(leaf, 0, 2, [proof[0] + b"\x00"], ROOTS[2])
    with pytest.raises(MerkleProofError, match="leaf hash is 0 bytes"):
        verify_inclusion(b"", 0, 2, proof, ROOTS[2])
    with pytest.raises(MerkleProofError, match="root is 31 bytes"):
        verify_inclusion(leaf, 0, 2, proof, ROOTS[2][:-1])
    with pytest.raises(MerkleProofError, match="new root is 0 bytes"):
        verify_consistency(1, 1, ROOTS[1], b"", [])
    with pytest.raises(MerkleProofError, match="proof hash 1 is 0 bytes"):
        verify_consistency(6, 8, ROOTS[6], ROOTS[8], [ROOTS[1], b"", ROOTS[2]])


# --- what the sync client sees when a server misbehaves ------------------------------------


def test_a_server_that_rewrites_an_acknowledged_event_is_caught() -> None:
    honest = MerkleTree()
    for i in range(7):
        honest.append(event(i))
    stored_root = honest.root(7)

    forked = MerkleTree()
    for i in range(12):
        forked.append(b"rewritten" if i == 3 else event(i))
    with pytest.raises(MerkleProofError, match="does not lead to the old root"):
        verify_consistency(7, 12, stored_root, forked.root(12), forked.consistency_proof(7, 12))
    # The honest server's growth passes.
    for i in range(7, 12):
        honest.append(event(i))
    verify_consistency(7, 12, stored_root, honest.root(12), honest.consistency_proof(7, 12))


def test_a_server_that_rolls_back_is_caught() -> None:
    tree = shared_tree()
    with pytest.raises(MerkleProofError, match="rolled back"):
        verify_consistency(700, 650, tree.root(700), tree.root(650), [])


# --- asking the tree for what it does not have -------------------------------------------------


def test_the_tree_refuses_sizes_and_indices_it_does_not_have() -> None:
    tree = vector_tree()
    with pytest.raises(ValueError, match=r"tree size 9 is outside this tree's 0\.\.8"):
        tree.root(9)
    with pytest.raises(ValueError, match="outside"):
        tree.root(-1)
    with pytest.raises(ValueError, match="leaf index 8 is not in a tree of size 8"):
        tree.inclusion_proof(8, 8)
    with pytest.raises(ValueError, match="leaf index 3 is not in a tree of size 3"):
        tree.inclusion_proof(3, 3)
    with pytest.raises(ValueError, match="outside"):
        tree.inclusion_proof(0, 9)
    with pytest.raises(ValueError, match="sizes 6 to 5 do not go from smaller to larger"):
        tree.consistency_proof(6, 5)
    with pytest.raises(ValueError, match="outside"):
        tree.consistency_proof(6, 9)
    with pytest.raises(ValueError, match="leaf index 8"):
        tree.leaf_hash_at(8)
    with pytest.raises(ValueError, match="a leaf hash is 32 bytes, not 31"):
        tree.append_leaf_hash(bytes(31))
    assert tree.size == 8
