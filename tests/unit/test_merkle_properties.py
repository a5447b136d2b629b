"""Properties of ledger.merkle against reference implementations written from the RFCs.

References (deliberately naive, independent of ledger.merkle's algorithms):

* RFC 6962 §2.1 MTH, §2.1.1 PATH and §2.1.2 SUBPROOF, recursive over leaf-hash lists, for
  roots and for the exact proofs a log must produce;
* RFC 9162 §2.1.3.2 and §2.1.4.2 verification (the ``fn``/``sn`` bit-shifting algorithms),
  to decide which *altered* claims must still verify: an RFC 6962 proof binds the tree sizes
  only through the roots, so e.g. the proof of leaf 0 in a tree of 3 also proves leaf 0 in a
  tree of 4 with the same root. Our verifier must agree with the RFC's on every such case.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import (
    IndexOutOfRangeError,
    MerkleError,
    ProofShapeError,
    RootMismatchError,
)
from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MAX_PROOF_NODES,
    MAX_TREE_SIZE,
    ConsistencyProof,
    InclusionProof,
    InMemoryNodeStore,
    MerkleLog,
    hash_children,
    hash_leaf,
    hash_leaves,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

#: Largest generated log: all-pairs properties are O(n^2) proofs, keep them fast.
MAX_LEAVES = 33

SETTINGS = settings(max_examples=30, deadline=None)


def _distinct_leaves(count: int, salt: bytes) -> list[bytes]:
    return [hash_leaf(salt + i.to_bytes(4, "big")) for i in range(count)]


# The size is drawn directly (uniform over the range, not biased to short lists) and the
# leaves are distinct: with duplicate leaves a proof for one copy is (correctly) also a
# proof for the other, which would muddle the rejection properties.
leaf_lists = st.builds(_distinct_leaves, st.integers(1, MAX_LEAVES), st.binary(max_size=4))


# --- References --------------------------------------------------------------------


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _split(n: int) -> int:
    """Largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaf_hashes: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH over leaf hashes (MTH of one entry is its leaf hash)."""
    n = len(leaf_hashes)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return _sha256(b"\x01" + ref_mth(leaf_hashes[:k]) + ref_mth(leaf_hashes[k:]))


def ref_path(m: int, leaf_hashes: list[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(m, D[n])."""
    n = len(leaf_hashes)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*ref_path(m, leaf_hashes[:k]), ref_mth(leaf_hashes[k:])]
    return [*ref_path(m - k, leaf_hashes[k:]), ref_mth(leaf_hashes[:k])]


def ref_subproof(m: int, leaf_hashes: list[bytes], b: bool) -> list[bytes]:
    """RFC 6962 §2.1.2 SUBPROOF(m, D[n], b)."""
    n = len(leaf_hashes)
    if m == n:
        return [] if b else [ref_mth(leaf_hashes)]
    k = _split(n)
    if m <= k:
        return [*ref_subproof(m, leaf_hashes[:k], b), ref_mth(leaf_hashes[k:])]
    return [*ref_subproof(m - k, leaf_hashes[k:], False), ref_mth(leaf_hashes[:k])]


def ref_consistency(m: int, leaf_hashes: list[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.2 PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""
    return ref_subproof(m, leaf_hashes, True)


def rfc9162_verify_inclusion(
    index: int, size: int, leaf_hash: bytes, path: list[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2, step by step."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _sha256(b"\x01" + p + r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def rfc9162_verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, path: list[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2, step by step (for 0 < size1 < size2)."""
    assert 0 < size1 < size2
    if not path:
        return False
    if size1 & (size1 - 1) == 0:
        path = [root1, *path]
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _sha256(b"\x01" + c + fr)
            sr = _sha256(b"\x01" + c + sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(b"\x01" + sr + c)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0


def _accepts(verify: Callable[..., None], *args: object) -> bool:
    """True if ``verify(*args)`` passes, False if it raises a MerkleError (others propagate)."""
    try:
        verify(*args)
    except MerkleError:
        return False
    return True


@st.composite
def logs(draw: st.DrawFn) -> tuple[list[bytes], MerkleLog]:
    """Leaf hashes and a MerkleLog that received them in random append / append_many chunks."""
    leaves = draw(leaf_lists)
    log = MerkleLog()
    position = 0
    while position < len(leaves):
        chunk = draw(st.integers(min_value=1, max_value=len(leaves) - position))
        if chunk == 1 and draw(st.booleans()):
            assert log.append(leaves[position]) == position
        else:
            assert log.append_many(leaves[position : position + chunk]) == position
        position += chunk
    return leaves, log


# --- The log agrees with the references --------------------------------------------


@SETTINGS
@given(logs())
def test_root_at_every_size_is_the_reference_mth(built: tuple[list[bytes], MerkleLog]) -> None:
    leaves, log = built
    assert log.size() == len(leaves)
    assert log.root() == log.root(len(leaves))
    for k in range(len(leaves) + 1):
        expected = ref_mth(leaves[:k])
        assert log.root(k) == expected
        assert root_from_leaf_hashes(leaves[:k]) == expected


@SETTINGS
@given(logs())
def test_store_holds_exactly_the_complete_subtrees(built: tuple[list[bytes], MerkleLog]) -> None:
    leaves, log = built
    n = len(leaves)
    for level in range(n.bit_length() + 1):
        width = 1 << level
        for index in range(n >> level):
            node = log.store.get_node(level, index)
            assert node == ref_mth(leaves[index * width : (index + 1) * width])
        with pytest.raises(MerkleError):
            log.store.get_node(level, n >> level)


@SETTINGS
@given(logs())
def test_every_inclusion_proof_is_the_rfc_path_and_verifies(
    built: tuple[list[bytes], MerkleLog],
) -> None:
    leaves, log = built
    for size in range(1, len(leaves) + 1):
        root = ref_mth(leaves[:size])
        for index in range(size):
            proof = log.inclusion_proof(index, size)
            assert (proof.leaf_index, proof.tree_size) == (index, size)
            assert list(proof.hashes) == ref_path(index, leaves[:size])
            verify_inclusion(index, size, leaves[index], proof.hashes, root)
            assert rfc9162_verify_inclusion(index, size, leaves[index], list(proof.hashes), root)


@SETTINGS
@given(logs())
def test_every_consistency_proof_is_the_rfc_proof_and_verifies(
    built: tuple[list[bytes], MerkleLog],
) -> None:
    leaves, log = built
    for size2 in range(1, len(leaves) + 1):
        root2 = ref_mth(leaves[:size2])
        for size1 in range(1, size2 + 1):
            root1 = ref_mth(leaves[:size1])
            proof = log.consistency_proof(size1, size2)
            assert (proof.size1, proof.size2) == (size1, size2)
            assert list(proof.hashes) == ref_consistency(size1, leaves[:size2])
            verify_consistency(size1, size2, root1, root2, proof.hashes)
            if size1 < size2:
                assert rfc9162_verify_consistency(size1, size2, root1, root2, list(proof.hashes))


# --- Corrupted proofs are rejected ---------------------------------------------------


@SETTINGS
@given(leaf_lists, st.data())
def test_corrupted_inclusion_proof_is_rejected(leaves: list[bytes], data: st.DataObject) -> None:
    log = MerkleLog()
    log.append_many(leaves)
    size = data.draw(st.integers(1, len(leaves)), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    root = log.root(size)
    hashes = list(log.inclusion_proof(index, size).hashes)
    leaf = leaves[index]

    # Any flipped bit of any node: the proof computes another root.
    byte = data.draw(st.integers(0, HASH_SIZE - 1), label="byte")
    for position, node in enumerate(hashes):
        for bit in range(8):
            bad = hashes.copy()
            bad[position] = node[:byte] + bytes([node[byte] ^ (1 << bit)]) + node[byte + 1 :]
            with pytest.raises(RootMismatchError) as info:
                verify_inclusion(index, size, leaf, bad, root)
            assert info.value.expected_root == root
            assert info.value.calculated_root == root_from_inclusion_proof(index, size, leaf, bad)

    # A dropped or an added node: the proof has the wrong length for the sizes.
    if hashes:
        drop = data.draw(st.integers(0, len(hashes) - 1), label="drop")
        with pytest.raises(ProofShapeError):
            verify_inclusion(index, size, leaf, hashes[:drop] + hashes[drop + 1 :], root)
    insert = data.draw(st.integers(0, len(hashes)), label="insert")
    extra = data.draw(st.sampled_from([root, leaf, b"\x00" * HASH_SIZE, b""]), label="extra")
    with pytest.raises(ProofShapeError):
        verify_inclusion(index, size, leaf, [*hashes[:insert], extra, *hashes[insert:]], root)

    # Another leaf of the same tree: always rejected (every leaf has its own path).
    for other in range(size + 2):
        if other != index:
            with pytest.raises(MerkleError):
                verify_inclusion(other, size, leaf, hashes, root)

    # Any other (index, size) claim: rejected unless RFC 9162's own algorithm accepts it,
    # which happens only when the leaf's path is the same in both trees.
    for other_size in range(2 * size + 2):
        for other_index in range(other_size + 1):
            if (other_index, other_size) == (index, size):
                continue
            ours = _accepts(verify_inclusion, other_index, other_size, leaf, hashes, root)
            rfc = rfc9162_verify_inclusion(other_index, other_size, leaf, hashes, root)
            assert ours == rfc, (other_index, other_size)


@SETTINGS
@given(leaf_lists.filter(lambda leaves: len(leaves) >= 2), st.data())
def test_corrupted_consistency_proof_is_rejected(leaves: list[bytes], data: st.DataObject) -> None:
    log = MerkleLog()
    log.append_many(leaves)
    size2 = data.draw(st.integers(2, len(leaves)), label="size2")
    size1 = data.draw(st.integers(1, size2 - 1), label="size1")
    root1, root2 = log.root(size1), log.root(size2)
    hashes = list(log.consistency_proof(size1, size2).hashes)
    assert hashes  # size1 < size2 always needs at least one node

    byte = data.draw(st.integers(0, HASH_SIZE - 1), label="byte")
    for position, node in enumerate(hashes):
        for bit in range(8):
            bad = hashes.copy()
            bad[position] = node[:byte] + bytes([node[byte] ^ (1 << bit)]) + node[byte + 1 :]
            with pytest.raises(RootMismatchError):
                verify_consistency(size1, size2, root1, root2, bad)

    drop = data.draw(st.integers(0, len(hashes) - 1), label="drop")
    with pytest.raises(ProofShapeError):
        verify_consistency(size1, size2, root1, root2, hashes[:drop] + hashes[drop + 1 :])
    insert = data.draw(st.integers(0, len(hashes)), label="insert")
    extra = data.draw(st.sampled_from([root1, root2, hashes[0], b""]), label="extra")
    with pytest.raises(ProofShapeError):
        verify_consistency(size1, size2, root1, root2, [*hashes[:insert], extra, *hashes[insert:]])

    with pytest.raises(RootMismatchError):
        verify_consistency(size1, size2, root2, root1, hashes)  # swapped roots
    # A wrong root1 alone (same length) must fail too: the proof has to reproduce root1.
    flipped = data.draw(st.integers(0, 8 * HASH_SIZE - 1), label="root1 bit")
    bad_root1 = bytearray(root1)
    bad_root1[flipped // 8] ^= 1 << (flipped % 8)
    with pytest.raises(RootMismatchError):
        verify_consistency(size1, size2, bytes(bad_root1), root2, hashes)
    with pytest.raises(MerkleError):
        verify_consistency(size1, size2, root1, EMPTY_ROOT, hashes)

    # Other sizes: ours agrees with RFC 9162 wherever that is defined (0 < size1 < size2),
    # and rejects everything else (size1 = 0, size1 >= size2 with a non-empty proof).
    for other2 in range(2 * size2 + 2):
        for other1 in range(other2 + 2):
            if (other1, other2) == (size1, size2):
                continue
            ours = _accepts(verify_consistency, other1, other2, root1, root2, hashes)
            if 0 < other1 < other2:
                rfc = rfc9162_verify_consistency(other1, other2, root1, root2, hashes)
                assert ours == rfc, (other1, other2)
            else:
                assert not ours, (other1, other2)


def test_sizes_are_bound_only_through_the_roots() -> None:
    """Documents RFC 6962 behaviour the verifier must keep: the root, not the size, binds."""
    leaves = [hash_leaf(bytes([i])) for i in range(4)]
    log = MerkleLog()
    log.append_many(leaves)
    proof = log.inclusion_proof(0, 3)
    verify_inclusion(0, 4, leaves[0], proof.hashes, log.root(3))  # same path in both trees
    assert rfc9162_verify_inclusion(0, 4, leaves[0], list(proof.hashes), log.root(3))
    with pytest.raises(RootMismatchError):
        verify_inclusion(0, 4, leaves[0], proof.hashes, log.root(4))


@SETTINGS
@given(st.lists(st.binary(max_size=200), max_size=40))
def test_bulk_leaf_hashes_are_the_rfc_leaf_hashes(data: list[bytes]) -> None:
    expected = [_sha256(b"\x00" + d) for d in data]
    assert hash_leaves(data) == expected == [hash_leaf(d) for d in data]
    assert hash_leaves(iter(data)) == expected  # any iterable, consumed once
    assert root_from_leaf_hashes(hash_leaves(data)) == ref_mth(expected)


# --- Edge cases of the verifiers and the log ----------------------------------------


def test_single_leaf_and_empty_tree() -> None:
    leaf = hash_leaf(b"data")
    assert root_from_leaf_hashes([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert root_from_leaf_hashes([leaf]) == leaf
    assert hash_children(leaf, leaf) == hashlib.sha256(b"\x01" + leaf + leaf).digest()
    verify_inclusion(0, 1, leaf, [], leaf)
    log = MerkleLog()
    assert log.root() == EMPTY_ROOT
    with pytest.raises(IndexOutOfRangeError):
        log.inclusion_proof(0, 0)
    log.append(leaf)
    assert log.inclusion_proof(0, 1).hashes == ()
    assert log.consistency_proof(1, 1).hashes == ()


@pytest.mark.parametrize(
    ("size1", "size2"), [(0, 0), (0, 1), (2, 1), (-1, 1), (1, MAX_TREE_SIZE + 1), (True, 1)]
)
def test_consistency_sizes_out_of_range_are_rejected(size1: int, size2: int) -> None:
    root = hash_leaf(b"x")
    with pytest.raises(ProofShapeError):
        verify_consistency(size1, size2, root, root, [])


@pytest.mark.parametrize(
    ("index", "size"), [(0, 0), (1, 1), (-1, 1), (0, MAX_TREE_SIZE + 1), (2**64 - 1, 8), (0, True)]
)
def test_inclusion_sizes_out_of_range_are_rejected(index: int, size: int) -> None:
    leaf = hash_leaf(b"x")
    with pytest.raises(ProofShapeError):
        verify_inclusion(index, size, leaf, [], leaf)


def test_overlong_proof_is_rejected_before_hashing() -> None:
    leaf = hash_leaf(b"x")
    too_many = [leaf] * (MAX_PROOF_NODES + 1)
    with pytest.raises(ProofShapeError, match="limit"):
        root_from_inclusion_proof(0, MAX_TREE_SIZE, leaf, too_many)
    with pytest.raises(ProofShapeError, match="limit"):
        root_from_consistency_proof(1, MAX_TREE_SIZE, leaf, too_many)


def test_equal_sizes_compare_roots_as_bytes() -> None:
    # transparency-dev semantics: with size1 == size2 nothing is hashed, roots of any length.
    verify_consistency(1, 1, b"don't care 2", b"don't care 2", [])
    with pytest.raises(RootMismatchError):
        verify_consistency(1, 1, b"don't care 1", b"don't care 2", [])
    with pytest.raises(ProofShapeError):  # but with size1 < size2 a root must be 32 bytes
        verify_consistency(1, 2, b"don't care 1", b"don't care 2", [hash_leaf(b"")])


def test_log_rejects_bad_requests_and_bad_leaves() -> None:
    log = MerkleLog()
    log.append_many([hash_leaf(bytes([i])) for i in range(5)])
    with pytest.raises(IndexOutOfRangeError):
        log.root(6)
    with pytest.raises(IndexOutOfRangeError):
        log.inclusion_proof(5, 5)
    with pytest.raises(IndexOutOfRangeError):
        log.inclusion_proof(0, 6)
    with pytest.raises(IndexOutOfRangeError):
        log.consistency_proof(3, 2)
    with pytest.raises(IndexOutOfRangeError):
        log.consistency_proof(1, 6)
    with pytest.raises(ProofShapeError):
        log.consistency_proof(0, 3)
    before = log.root()
    for bad in (b"short", hash_leaf(b"") + b"!", bytearray(HASH_SIZE), "x" * HASH_SIZE):
        with pytest.raises(MerkleError):
            log.append(bad)  # type: ignore[arg-type]
        with pytest.raises(MerkleError):
            log.append_many([hash_leaf(b"ok"), bad])  # type: ignore[list-item]
    assert log.size() == 5 and log.root() == before  # nothing half-appended


def test_store_refuses_a_stale_or_inconsistent_append() -> None:
    store = InMemoryNodeStore()
    leaf = hash_leaf(b"a")
    store.append_nodes(0, [[leaf]])
    with pytest.raises(MerkleError):
        store.append_nodes(0, [[leaf]])  # another writer already appended
    with pytest.raises(MerkleError):
        store.append_nodes(1, [[leaf]])  # the completed parent (level 1) is missing
    with pytest.raises(MerkleError):
        store.append_nodes(1, [[leaf], [leaf, leaf]])  # too many level-1 nodes
    assert store.size() == 1
    store.append_nodes(1, [[leaf], [hash_children(leaf, leaf)]])
    assert store.size() == 2


# --- JSON --------------------------------------------------------------------------


@SETTINGS
@given(logs(), st.data())
def test_proofs_round_trip_through_json(
    built: tuple[list[bytes], MerkleLog], data: st.DataObject
) -> None:
    leaves, log = built
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    inclusion = log.inclusion_proof(index, size)
    as_json = inclusion.to_json()
    assert as_json["hashes"] == [h.hex() for h in inclusion.hashes]
    assert InclusionProof.from_json(as_json) == inclusion
    inclusion.verify(leaves[index], log.root(size))

    size1 = data.draw(st.integers(1, size))
    consistency = log.consistency_proof(size1, size)
    assert ConsistencyProof.from_json(consistency.to_json()) == consistency
    consistency.verify(log.root(size1), log.root(size))


_NODE = "ab" * HASH_SIZE
_GOOD_INCLUSION = {"leaf_index": 1, "tree_size": 2, "hashes": [_NODE]}
_GOOD_CONSISTENCY = {"size1": 1, "size2": 2, "hashes": [_NODE]}


def test_good_json_parses() -> None:
    assert InclusionProof.from_json(_GOOD_INCLUSION).hashes == (bytes.fromhex(_NODE),)
    assert ConsistencyProof.from_json(_GOOD_CONSISTENCY).to_json() == _GOOD_CONSISTENCY


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"hashes": ["zz" * HASH_SIZE]}, id="non-hex"),
        pytest.param({"hashes": [_NODE.upper()]}, id="uppercase-hex"),
        pytest.param({"hashes": ["0x" + _NODE[2:]]}, id="0x-prefix"),
        pytest.param({"hashes": [_NODE[:-2] + " a"]}, id="whitespace"),
        pytest.param({"hashes": [_NODE[:-2]]}, id="node-31-bytes"),
        pytest.param({"hashes": [_NODE + "ab"]}, id="node-33-bytes"),
        pytest.param({"hashes": [""]}, id="empty-node"),
        pytest.param({"hashes": [bytes.fromhex(_NODE)]}, id="node-not-a-string"),
        pytest.param({"hashes": _NODE}, id="hashes-not-a-list"),
        pytest.param({"hashes": [_NODE] * (MAX_PROOF_NODES + 1)}, id="too-many-nodes"),
        pytest.param({"hashes": []}, id="too-few-nodes-for-sizes"),
        pytest.param({"hashes": [_NODE, _NODE]}, id="too-many-nodes-for-sizes"),
        pytest.param({"tree_size": -1}, id="negative-size"),
        pytest.param({"leaf_index": -1}, id="negative-index"),
        pytest.param({"tree_size": MAX_TREE_SIZE + 1}, id="oversized-size"),
        pytest.param({"tree_size": 2**64}, id="size-beyond-uint64"),
        pytest.param({"leaf_index": True}, id="bool-index"),
        pytest.param({"tree_size": True}, id="bool-size"),
        pytest.param({"tree_size": 2.0}, id="float-size"),
        pytest.param({"tree_size": "2"}, id="string-size"),
        pytest.param({"leaf_index": 2}, id="index-equals-size"),
        pytest.param({"extra": 1}, id="unknown-field"),
        pytest.param({"hashes": None}, id="null-hashes"),
    ],
)
def test_inclusion_from_json_rejects(changes: dict[str, object]) -> None:
    with pytest.raises(ProofShapeError):
        InclusionProof.from_json({**_GOOD_INCLUSION, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"size1": 0, "hashes": []}, id="from-empty-tree"),
        pytest.param({"size1": 3}, id="size1-above-size2"),
        pytest.param({"size1": False}, id="bool-size1"),
        pytest.param({"size2": -2}, id="negative-size2"),
        pytest.param({"size2": MAX_TREE_SIZE + 1}, id="oversized-size2"),
        pytest.param({"size1": 2, "size2": 2}, id="equal-sizes-non-empty-proof"),
        pytest.param({"hashes": ["00" * (HASH_SIZE + 1)]}, id="node-33-bytes"),
        pytest.param({"hashes": [_NODE] * (MAX_PROOF_NODES + 1)}, id="too-many-nodes"),
    ],
)
def test_consistency_from_json_rejects(changes: dict[str, object]) -> None:
    with pytest.raises(ProofShapeError):
        ConsistencyProof.from_json({**_GOOD_CONSISTENCY, **changes})


@pytest.mark.parametrize("obj", [None, [], "proof", 1, {}])
def test_from_json_rejects_non_objects_and_missing_fields(obj: object) -> None:
    with pytest.raises(ProofShapeError):
        InclusionProof.from_json(obj)
    with pytest.raises(ProofShapeError):
        ConsistencyProof.from_json(obj)


def test_missing_field_is_rejected() -> None:
    with pytest.raises(ProofShapeError):
        InclusionProof.from_json({"leaf_index": 0, "tree_size": 1})


def test_constructed_proofs_are_checked() -> None:
    node = bytes.fromhex(_NODE)
    with pytest.raises(ProofShapeError):
        InclusionProof(0, 2, (node, node))
    with pytest.raises(ProofShapeError):
        InclusionProof(0, 2, [node])  # type: ignore[arg-type]
    with pytest.raises(ProofShapeError):
        InclusionProof(0, 2, (node[:-1],))
    with pytest.raises(ProofShapeError):
        ConsistencyProof(0, 2, ())
