"""RFC 6962 / RFC 9162 §2.1 Merkle log: hashing, proof verification and proof generation.

**Consensus / verification-critical code.** Every receipt this system has ever issued is
checked with the functions in this module, by us and by third parties re-implementing them.
A change to how a leaf or node is hashed, how a proof is laid out or which proofs are
accepted can make old receipts unverifiable or, worse, make forged ones verify. Change it
only together with new test vectors, never for style. Like python-opentimestamps' ``core``
and sigstore's ``_internal/merkle.py`` it imports the standard library only: no disk, no
network, no chain client, no database.

Hashing (RFC 9162 §2.1.1): ``leaf = SHA-256(0x00 || data)``,
``node = SHA-256(0x01 || left || right)``, and the root of an empty tree is
``SHA-256("")``. The tree of ``n > 1`` leaves splits at the largest power of two below ``n``.

Verifying (RFC 9162 §2.1.3.2 and §2.1.4.2) follows transparency-dev/merkle's ``proof``
package, computing split from comparing: ``root_from_inclusion_proof`` and
``root_from_consistency_proof`` compute, ``verify_inclusion`` and ``verify_consistency``
compare and raise :class:`~ledger.errors.RootMismatchError` with both roots. Conventions,
kept deliberately identical to transparency-dev (and pinned by the RFC 6962 vector tests):

* ``leaf_index >= tree_size`` is an error, so no inclusion proof exists for an empty tree;
* a consistency proof from ``size1 == 0`` is an error, also when ``size2 == 0`` (the empty
  tree is trivially a prefix of every tree; a proof of that says nothing). The RFC 6962
  vectors we test against require this; some transparency-dev versions accept ``0 == 0``;
* ``size1 == size2`` needs an empty proof and equal roots, and the roots are then compared
  as plain bytes: any length is accepted, as in transparency-dev (a root that is not 32
  bytes can only equal another such root, so nothing false is accepted);
* otherwise every root, leaf hash and proof node must be exactly :data:`HASH_SIZE` bytes
  (stricter than transparency-dev, which hashes proof nodes of any length), every size must
  lie in ``[0, MAX_TREE_SIZE]`` and a proof longer than :data:`MAX_PROOF_NODES` is rejected
  before any hashing. Every failure is a :class:`~ledger.errors.MerkleError`.

Note that an inclusion proof binds the tree size only through the root: a proof for
``(index, size)`` also verifies for another size in which the leaf has the same path (for
example index 0 in sizes 3 and 4). The size a verifier uses must therefore come from the
same trusted source as the root (the anchored tree head), never from the proof alone.

Storage layout (proof generation)
---------------------------------
A log of ``n`` leaves is stored as the hashes of its *complete* subtrees only. Node
``(level, index)`` is the root of the perfect subtree over the leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes. A node is
written once, when the log first reaches ``(index + 1) * 2**level`` leaves, and never
changes, so a store of size ``n`` holds exactly ``n >> level`` nodes on each level (about
``2n`` in all), and appending ``k`` leaves writes one contiguous run of new nodes per level
(amortised O(1) hashes and writes per leaf; see :meth:`NodeStore.append_nodes`).

The nodes on the right edge of a tree whose size is not a power of two are not stored:
the hash of such a partial subtree over ``[start, size)`` is recomputed from the at most
``log2(n)`` complete subtrees that tile it. Complete subtrees never change, so the same
stored nodes serve every earlier tree size: a root, an inclusion proof or a consistency
proof for any size ``<= n`` needs at most ``2 * 64`` node reads (O(log n), fetched in one
:meth:`NodeStore.get_nodes` batch) and as many hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, Self

from ledger.errors import IndexOutOfRangeError, MerkleError, ProofShapeError, RootMismatchError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_PREFIX",
    "MAX_PROOF_NODES",
    "MAX_TREE_SIZE",
    "NODE_PREFIX",
    "ConsistencyProof",
    "InMemoryNodeStore",
    "InclusionProof",
    "MerkleLog",
    "NodeStore",
    "hash_children",
    "hash_leaf",
    "hash_leaves",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

_sha256 = hashlib.sha256

HASH_SIZE = 32
"""Length in bytes of every leaf hash, node hash and root (SHA-256)."""

LEAF_PREFIX = b"\x00"
"""Domain-separation prefix of a leaf hash (RFC 9162 §2.1.1)."""

NODE_PREFIX = b"\x01"
"""Domain-separation prefix of an interior node hash (RFC 9162 §2.1.1)."""

EMPTY_ROOT = _sha256(b"").digest()
"""Root of the tree with no leaves: ``SHA-256("")``."""

MAX_TREE_SIZE = 2**63 - 1
"""Largest tree size (and so leaf index + 1) accepted anywhere in this module.

Tree sizes are anchored on chain as ``uint64`` by the LogAnchor contract and stored as
signed 64-bit integers in SQL, so every size must fit both; a larger size in a proof is
malformed input, not a big tree.
"""

MAX_PROOF_NODES = 128
"""Longest proof (number of hashes) accepted, checked before any hashing.

An inclusion proof in a tree of at most :data:`MAX_TREE_SIZE` leaves has at most 63 nodes
and a consistency proof at most 64, so this bound only ever rejects garbage, and it caps
the work an untrusted proof can cause.
"""

_HEX_DIGITS = frozenset("0123456789abcdef")


# --- Hashing -----------------------------------------------------------------------


def hash_leaf(data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash ``SHA-256(0x00 || data)``."""
    return _sha256(LEAF_PREFIX + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash ``SHA-256(0x01 || left || right)``.

    The operands are not length-checked here (this is the inner loop); every public entry
    point checks hashes from outside before they get here.
    """
    return _sha256(NODE_PREFIX + left + right).digest()


def hash_leaves(leaf_data: Iterable[bytes]) -> list[bytes]:
    """Return ``[hash_leaf(data) for data in leaf_data]``, faster (the bulk form).

    Each leaf is hashed on a copy of a SHA-256 state that has already absorbed
    :data:`LEAF_PREFIX` (exactly the bytes ``0x00 || data``, so exactly :func:`hash_leaf`),
    which skips building the prefixed input and OpenSSL's per-hash initialisation.
    """
    new_leaf = _sha256(LEAF_PREFIX).copy
    out: list[bytes] = []
    append = out.append
    for data in leaf_data:
        h = new_leaf()
        h.update(data)
        append(h.digest())
    return out


def _hash_pairs(nodes: Iterable[bytes], left: bytes | None = None) -> list[bytes]:
    """Hash consecutive pairs of ``nodes`` into their parents (``hash_children`` of each).

    With ``left`` given, the first parent is ``hash_children(left, <first node>)`` and the
    pairing continues from the second node. An odd last node is dropped (the callers carry
    or store it). The inner loop of every build: each parent is hashed on a copy of a state
    that has already absorbed :data:`NODE_PREFIX` (the same bytes ``0x01 || left || right``),
    which saves concatenating the input and OpenSSL's per-hash initialisation.
    """
    new_node = _sha256(NODE_PREFIX).copy
    it = iter(nodes)
    out: list[bytes] = []
    append = out.append
    if left is not None:
        h = new_node()
        h.update(left)
        h.update(next(it))
        append(h.digest())
    for a, b in zip(it, it, strict=False):
        h = new_node()
        h.update(a)
        h.update(b)
        append(h.digest())
    return out


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash (MTH) of the given leaf hashes; EMPTY_ROOT for none.

    Raises MerkleError if a leaf hash is not a 32-byte ``bytes``.
    """
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    _check_leaf_hashes(level)
    # Pairing neighbours level by level and carrying an odd last node up unchanged builds
    # exactly the RFC tree (split at the largest power of two below the size).
    while len(level) > 1:
        odd = level[-1] if len(level) & 1 else None
        level = _hash_pairs(level)
        if odd is not None:
            level.append(odd)
    return level[0]


# --- Verification ------------------------------------------------------------------


def root_from_inclusion_proof(
    leaf_index: int, tree_size: int, leaf_hash: bytes, hashes: Sequence[bytes]
) -> bytes:
    """Compute the root of a ``tree_size`` tree from a leaf hash and its inclusion proof.

    Requires ``0 <= leaf_index < tree_size``; raises ProofShapeError (IndexOutOfRangeError
    for the index) if the sizes, the leaf hash or the proof are malformed or the proof has
    the wrong length for the sizes. Compares nothing: see :func:`verify_inclusion`.
    """
    _check_size(tree_size, "tree_size")
    _check_index(leaf_index, tree_size)
    _check_hash(leaf_hash, "leaf hash")
    _check_proof_nodes(hashes)
    inner, border = _decompose_inclusion(leaf_index, tree_size)
    if len(hashes) != inner + border:
        raise ProofShapeError(
            f"inclusion proof for leaf {leaf_index} in a tree of size {tree_size} needs "
            f"{inner + border} hashes, got {len(hashes)}"
        )
    sha = _sha256
    prefix = NODE_PREFIX
    node = leaf_hash
    for level in range(inner):
        if (leaf_index >> level) & 1:
            node = sha(prefix + hashes[level] + node).digest()
        else:
            node = sha(prefix + node + hashes[level]).digest()
    for level in range(inner, inner + border):
        node = sha(prefix + hashes[level] + node).digest()
    return node


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash: bytes, hashes: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is at ``leaf_index`` in the ``tree_size`` tree with ``root``.

    Raises ProofShapeError for malformed input (including a root that is not 32 bytes) and
    RootMismatchError(expected_root=root, calculated_root=...) if the proof computes
    another root.
    """
    _check_hash(root, "root")
    calculated = root_from_inclusion_proof(leaf_index, tree_size, leaf_hash, hashes)
    if calculated != root:
        raise RootMismatchError(expected_root=root, calculated_root=calculated)


def root_from_consistency_proof(
    size1: int, size2: int, root1: bytes, hashes: Sequence[bytes]
) -> bytes:
    """Compute the ``size2`` root from the ``size1`` root and a consistency proof.

    Requires ``0 < size1 <= size2``. If ``size1 == size2`` the proof must be empty and
    ``root1`` is returned as given (any length: see the module docstring). Otherwise the
    proof is first checked to reproduce ``root1`` (RootMismatchError with expected root1
    if not), exactly as transparency-dev's ``RootFromConsistencyProof`` does.
    """
    _check_size(size1, "size1")
    _check_size(size2, "size2")
    _check_proof_nodes(hashes)
    if size2 < size1:
        raise IndexOutOfRangeError(size1, size2, what="size1")
    if size1 == 0:
        raise ProofShapeError("a consistency proof from the empty tree (size1 = 0) is meaningless")
    if size1 == size2:
        if hashes:
            raise ProofShapeError(f"size1 = size2 = {size1}, but the proof is not empty")
        if not isinstance(root1, bytes):
            raise ProofShapeError("root1 must be bytes")
        return root1
    _check_hash(root1, "root1")
    if not hashes:
        raise ProofShapeError(f"empty consistency proof from size {size1} to size {size2}")

    inner, border = _decompose_inclusion(size1 - 1, size2)
    shift = _trailing_zeros(size1)
    inner -= shift  # shift < inner because size1 < size2
    # The proof starts with the hash of the complete subtree of 2**shift leaves that ends
    # at size1, unless size1 is that very 2**shift: then that subtree is root1 itself.
    if size1 == 1 << shift:
        seed, start = root1, 0
    else:
        seed, start = hashes[0], 1
    if len(hashes) != start + inner + border:
        raise ProofShapeError(
            f"consistency proof from size {size1} to size {size2} needs "
            f"{start + inner + border} hashes, got {len(hashes)}"
        )
    sha = _sha256
    prefix = NODE_PREFIX
    mask = (size1 - 1) >> shift  # the path of leaf size1 - 1, from level `shift` up
    hash1 = seed
    hash2 = seed
    for i in range(inner):
        node = hashes[start + i]
        if (mask >> i) & 1:
            hash1 = sha(prefix + node + hash1).digest()
            hash2 = sha(prefix + node + hash2).digest()
        else:
            # A right sibling: part of the new tree only.
            hash2 = sha(prefix + hash2 + node).digest()
    for i in range(start + inner, len(hashes)):
        node = hashes[i]
        hash1 = sha(prefix + node + hash1).digest()
        hash2 = sha(prefix + node + hash2).digest()
    if hash1 != root1:
        raise RootMismatchError(expected_root=root1, calculated_root=hash1)
    return hash2


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, hashes: Sequence[bytes]
) -> None:
    """Check that the ``size1`` tree (``root1``) is a prefix of the ``size2`` tree (``root2``).

    Requires ``0 < size1 <= size2``. Raises ProofShapeError for malformed input and
    RootMismatchError if the proof does not reproduce ``root1`` (expected root1) or computes
    another root than ``root2`` (expected root2). With ``size1 == size2`` the roots are
    compared as bytes of any length.
    """
    calculated = root_from_consistency_proof(size1, size2, root1, hashes)
    if size1 == size2:
        if not isinstance(root2, bytes):
            raise ProofShapeError("root2 must be bytes")
    else:
        _check_hash(root2, "root2")
    if calculated != root2:
        raise RootMismatchError(expected_root=root2, calculated_root=calculated)


# --- Proof records -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """The audit path of leaf ``leaf_index`` in the tree of ``tree_size`` leaves.

    Construction checks the shape (types, ``0 <= leaf_index < tree_size <= MAX_TREE_SIZE``,
    the exact number of 32-byte hashes the sizes call for) and raises ProofShapeError; a
    constructed proof is well-formed, though of course not yet verified.
    """

    leaf_index: int
    tree_size: int
    hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _check_size(self.tree_size, "tree_size")
        _check_index(self.leaf_index, self.tree_size)
        if not isinstance(self.hashes, tuple):
            raise ProofShapeError("hashes must be a tuple")
        _check_proof_nodes(self.hashes)
        want = sum(_decompose_inclusion(self.leaf_index, self.tree_size))
        if len(self.hashes) != want:
            raise ProofShapeError(
                f"inclusion proof for leaf {self.leaf_index} in a tree of size "
                f"{self.tree_size} needs {want} hashes, got {len(self.hashes)}"
            )

    def verify(self, leaf_hash: bytes, root: bytes) -> None:
        """Check this proof for ``leaf_hash`` against a trusted ``root``: see verify_inclusion."""
        verify_inclusion(self.leaf_index, self.tree_size, leaf_hash, self.hashes, root)

    def to_json(self) -> dict[str, int | list[str]]:
        """Return ``{"leaf_index", "tree_size", "hashes": [lowercase hex, no 0x]}``."""
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "hashes": [h.hex() for h in self.hashes],
        }

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Parse the output of :meth:`to_json` strictly; raise ProofShapeError on anything else."""
        fields = _json_fields(obj, ("leaf_index", "tree_size", "hashes"))
        return cls(
            leaf_index=_json_size(fields["leaf_index"], "leaf_index"),
            tree_size=_json_size(fields["tree_size"], "tree_size"),
            hashes=_json_hashes(fields["hashes"]),
        )


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """Proof that the tree of ``size1`` leaves is a prefix of the tree of ``size2`` leaves.

    Construction checks the shape (types, ``0 < size1 <= size2 <= MAX_TREE_SIZE``, the exact
    number of 32-byte hashes the sizes call for) and raises ProofShapeError.
    """

    size1: int
    size2: int
    hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _check_size(self.size1, "size1")
        _check_size(self.size2, "size2")
        if self.size1 == 0:
            raise ProofShapeError("a consistency proof from the empty tree is meaningless")
        if self.size1 > self.size2:
            raise IndexOutOfRangeError(self.size1, self.size2, what="size1")
        if not isinstance(self.hashes, tuple):
            raise ProofShapeError("hashes must be a tuple")
        _check_proof_nodes(self.hashes)
        want = _consistency_proof_length(self.size1, self.size2)
        if len(self.hashes) != want:
            raise ProofShapeError(
                f"consistency proof from size {self.size1} to size {self.size2} needs "
                f"{want} hashes, got {len(self.hashes)}"
            )

    def verify(self, root1: bytes, root2: bytes) -> None:
        """Check this proof between two trusted roots: see verify_consistency."""
        verify_consistency(self.size1, self.size2, root1, root2, self.hashes)

    def to_json(self) -> dict[str, int | list[str]]:
        """Return ``{"size1", "size2", "hashes": [lowercase hex, no 0x]}``."""
        return {
            "size1": self.size1,
            "size2": self.size2,
            "hashes": [h.hex() for h in self.hashes],
        }

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Parse the output of :meth:`to_json` strictly; raise ProofShapeError on anything else."""
        fields = _json_fields(obj, ("size1", "size2", "hashes"))
        return cls(
            size1=_json_size(fields["size1"], "size1"),
            size2=_json_size(fields["size2"], "size2"),
            hashes=_json_hashes(fields["hashes"]),
        )


# --- Storage and proof generation --------------------------------------------------


class NodeStore(Protocol):
    """Persistence of a log's complete-subtree hashes (layout in the module docstring).

    Node ``(level, index)`` is the hash of leaves ``[index << level, (index + 1) << level)``;
    a store of size ``n`` holds exactly the nodes with ``index < n >> level``. Reading a node
    that is not stored raises MerkleError (a real store wraps its driver's errors in it).
    """

    def size(self) -> int:
        """Number of leaves stored (= number of level-0 nodes)."""
        ...

    def get_node(self, level: int, index: int) -> bytes:
        """Return the stored hash of node ``(level, index)``."""
        ...

    def get_nodes(self, coordinates: Sequence[tuple[int, int]]) -> list[bytes]:
        """Return the stored hashes of the ``(level, index)`` nodes, in order (one batch)."""
        ...

    def append_nodes(self, start_size: int, levels: Sequence[Sequence[bytes]]) -> None:
        """Atomically store the nodes completed by growing the log from ``start_size``.

        ``levels[level]`` holds the new nodes of that level, which take the indices from
        ``start_size >> level`` on; ``levels[0]`` are the new leaf hashes, so the size
        becomes ``start_size + len(levels[0])``, and ``levels`` ends with the highest level
        that gains a node. Either everything is stored or nothing is. Raises MerkleError
        if ``start_size`` is not the current size (another writer got there first) or the
        run lengths do not fit the sizes.
        """
        ...


class InMemoryNodeStore:
    """A :class:`NodeStore` in lists, one per level: for tests, benchmarks and tools."""

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]

    def size(self) -> int:
        return len(self._levels[0])

    def get_node(self, level: int, index: int) -> bytes:
        levels = self._levels
        if 0 <= level < len(levels) and 0 <= index < len(levels[level]):
            return levels[level][index]
        raise MerkleError(f"node ({level}, {index}) is not stored (log size {self.size()})")

    def get_nodes(self, coordinates: Sequence[tuple[int, int]]) -> list[bytes]:
        get = self.get_node
        return [get(level, index) for level, index in coordinates]

    def append_nodes(self, start_size: int, levels: Sequence[Sequence[bytes]]) -> None:
        stored = self._levels
        current = len(stored[0])
        if start_size != current:
            raise MerkleError(f"append from size {start_size}, but the store has {current}")
        end_size = start_size + (len(levels[0]) if levels else 0)
        level = 0
        for run in levels:  # check everything before storing anything
            if len(run) != (end_size >> level) - (start_size >> level):
                raise MerkleError(f"wrong number of new nodes on level {level}")
            level += 1
        if (end_size >> level) != (start_size >> level):
            raise MerkleError(f"the new nodes on level {level} are missing")
        for new_level, run in enumerate(levels):
            if new_level == len(stored):
                stored.append([])
            stored[new_level].extend(run)


class MerkleLog:
    """An append-only RFC 6962 log over a :class:`NodeStore`.

    Appending stores every newly completed subtree (amortised O(1) hashes per leaf); roots
    and proofs can be produced for any size up to the current one with O(log n) node reads.
    Not thread-safe: serialise writers (the store's ``append_nodes`` detects a lost race).
    """

    __slots__ = ("_store",)

    def __init__(self, store: NodeStore | None = None) -> None:
        self._store: NodeStore = InMemoryNodeStore() if store is None else store

    @property
    def store(self) -> NodeStore:
        return self._store

    def size(self) -> int:
        """Number of leaves in the log."""
        return self._store.size()

    def append(self, leaf_hash: bytes) -> int:
        """Append one leaf hash and return its index."""
        if type(leaf_hash) is not bytes or len(leaf_hash) != HASH_SIZE:
            _check_leaf_hashes([leaf_hash])  # raises with the message
        store = self._store
        index = store.size()
        if index >= MAX_TREE_SIZE:
            raise MerkleError(f"the log is full ({MAX_TREE_SIZE} leaves)")
        levels = [[leaf_hash]]
        if index & 1:  # a right child completes its parent, and maybe more ancestors
            sha = _sha256
            prefix = NODE_PREFIX
            get_node = store.get_node
            node = leaf_hash
            position = index
            level = 0
            while position & 1:
                node = sha(prefix + get_node(level, position - 1) + node).digest()
                level += 1
                position >>= 1
                levels.append([node])
        store.append_nodes(index, levels)
        return index

    def append_many(self, leaf_hashes: Sequence[bytes]) -> int:
        """Append leaf hashes in order and return the index of the first (the old size)."""
        run = list(leaf_hashes)
        store = self._store
        start = store.size()
        if not run:
            return start
        _check_leaf_hashes(run)
        if len(run) > MAX_TREE_SIZE - start:
            raise MerkleError(f"the log would exceed {MAX_TREE_SIZE} leaves")
        levels = [run]
        first = start  # index of run[0] on its level: always start >> level
        level = 0
        while True:
            # If run[0] is a right child, its left sibling was stored by an earlier append.
            parents = _hash_pairs(run, store.get_node(level, first - 1) if first & 1 else None)
            if not parents:
                break
            levels.append(parents)
            run = parents
            first >>= 1
            level += 1
        store.append_nodes(start, levels)
        return start

    def root(self, size: int | None = None) -> bytes:
        """Return the root of the tree of the first ``size`` leaves (default: all of them)."""
        size = self._checked_size(size)
        if size == 0:
            return EMPTY_ROOT
        return self._resolve([_subtree_tiling(0, size)])[0]

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> InclusionProof:
        """Return the inclusion proof of leaf ``leaf_index`` in the tree of ``tree_size`` leaves."""
        tree_size = self._checked_size(tree_size)
        _check_index(leaf_index, tree_size)
        plan: list[list[tuple[int, int]]] = []
        _plan_path(leaf_index, tree_size, 0, plan)
        return InclusionProof(leaf_index, tree_size, self._resolve(plan))

    def consistency_proof(self, size1: int, size2: int) -> ConsistencyProof:
        """Return the proof that the first ``size1`` leaves are a prefix of the first ``size2``.

        Requires ``0 < size1 <= size2 <= size()``.
        """
        size2 = self._checked_size(size2)
        _check_size(size1, "size1")
        if size1 > size2:
            raise IndexOutOfRangeError(size1, size2, what="size1")
        if size1 == 0:
            raise ProofShapeError("a consistency proof from the empty tree is meaningless")
        plan: list[list[tuple[int, int]]] = []
        if size1 < size2:
            # RFC 9162 SUBPROOF in transparency-dev's layout: the complete subtree ending at
            # size1 (unless it is the whole size1 tree), then the path of leaf size1 - 1
            # from that subtree's level up.
            shift = _trailing_zeros(size1)
            if size1 != 1 << shift:
                plan.append([(shift, (size1 - 1) >> shift)])
            _plan_path(size1 - 1, size2, shift, plan)
        return ConsistencyProof(size1, size2, self._resolve(plan))

    def _checked_size(self, size: int | None) -> int:
        current = self._store.size()
        if size is None:
            return current
        _check_size(size, "tree size")
        if size > current:
            raise IndexOutOfRangeError(size, current, what="tree size")
        return size

    def _resolve(self, plan: list[list[tuple[int, int]]]) -> tuple[bytes, ...]:
        """Fetch every node of ``plan`` in one batch; fold each group right to left."""
        coordinates = [c for group in plan for c in group]
        nodes = self._store.get_nodes(coordinates)
        if len(nodes) != len(coordinates):
            raise MerkleError(f"store returned {len(nodes)} nodes for {len(coordinates)}")
        sha = _sha256
        prefix = NODE_PREFIX
        out: list[bytes] = []
        end = 0
        for group in plan:
            first = end
            end += len(group)
            node = nodes[end - 1]
            for i in range(end - 2, first - 1, -1):
                node = sha(prefix + nodes[i] + node).digest()
            out.append(node)
        return tuple(out)


# --- Internals ---------------------------------------------------------------------


def _plan_path(index: int, size: int, from_level: int, plan: list[list[tuple[int, int]]]) -> None:
    """Append to ``plan`` the siblings on leaf ``index``'s path in the ``size`` tree.

    One group of stored nodes per sibling, from level ``from_level`` up; a sibling on the
    right edge that is not complete in this tree is a group of the complete subtrees that
    tile it. Levels where the path has no sibling (the RFC tree promotes the node) are
    skipped.
    """
    for level in range(from_level, (size - 1).bit_length()):
        sibling = (index >> level) ^ 1
        start = sibling << level
        if start + (1 << level) <= size:
            plan.append([(level, sibling)])
        elif start < size:
            plan.append(_subtree_tiling(start, size))


def _subtree_tiling(start: int, end: int) -> list[tuple[int, int]]:
    """The complete subtrees tiling leaves ``[start, end)``, largest first.

    ``start`` must be a multiple of a power of two ``>= end - start`` (true for every node
    range in the tree), so the MTH of the range is these nodes folded right to left.
    """
    tiles: list[tuple[int, int]] = []
    while start < end:
        level = (end - start).bit_length() - 1
        tiles.append((level, start >> level))
        start += 1 << level
    return tiles


def _decompose_inclusion(index: int, size: int) -> tuple[int, int]:
    """Split an inclusion proof's length: (levels below, levels above) where the paths
    to leaves ``index`` and ``size - 1`` meet (transparency-dev's ``decompInclProof``)."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _consistency_proof_length(size1: int, size2: int) -> int:
    if size1 == size2:
        return 0
    inner, border = _decompose_inclusion(size1 - 1, size2)
    shift = _trailing_zeros(size1)
    return (0 if size1 == 1 << shift else 1) + inner - shift + border


def _trailing_zeros(value: int) -> int:
    return (value & -value).bit_length() - 1


def _check_size(value: int, name: str) -> None:
    if type(value) is not int or not 0 <= value <= MAX_TREE_SIZE:
        raise ProofShapeError(f"{name} must be an int in [0, {MAX_TREE_SIZE}], got {value!r}")


def _check_index(leaf_index: int, tree_size: int) -> None:
    if type(leaf_index) is not int or leaf_index < 0:
        raise ProofShapeError(f"leaf_index must be a non-negative int, got {leaf_index!r}")
    if leaf_index >= tree_size:
        raise IndexOutOfRangeError(leaf_index, tree_size)


def _check_hash(value: bytes, name: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        shown = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
        raise ProofShapeError(f"{name} must be {HASH_SIZE} bytes, got {shown}")


def _check_proof_nodes(hashes: Sequence[bytes]) -> None:
    if len(hashes) > MAX_PROOF_NODES:
        raise ProofShapeError(f"proof has {len(hashes)} hashes, the limit is {MAX_PROOF_NODES}")
    for i, node in enumerate(hashes):
        _check_hash(node, f"proof hash [{i}]")


def _check_leaf_hashes(leaf_hashes: list[bytes]) -> None:
    # Two C-speed passes instead of a Python loop: this guards the append hot path.
    if set(map(type, leaf_hashes)) == {bytes} and set(map(len, leaf_hashes)) == {HASH_SIZE}:
        return
    for i, leaf_hash in enumerate(leaf_hashes):
        if type(leaf_hash) is not bytes or len(leaf_hash) != HASH_SIZE:
            raise MerkleError(f"leaf hash [{i}] must be {HASH_SIZE} bytes, got {leaf_hash!r:.80}")


def _json_fields(obj: object, names: tuple[str, ...]) -> dict[str, object]:
    if not isinstance(obj, dict):
        raise ProofShapeError(f"proof must be a JSON object, got {type(obj).__name__}")
    if set(obj) != set(names):
        raise ProofShapeError(
            f"proof must have exactly the fields {sorted(names)}, got {sorted(map(str, obj))}"
        )
    return {name: obj[name] for name in names}


def _json_size(value: object, name: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_TREE_SIZE:
        raise ProofShapeError(f"{name} must be an integer in [0, {MAX_TREE_SIZE}], got {value!r}")
    return value


def _json_hashes(value: object) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        raise ProofShapeError(f"hashes must be a JSON array, got {type(value).__name__}")
    if len(value) > MAX_PROOF_NODES:
        raise ProofShapeError(f"proof has {len(value)} hashes, the limit is {MAX_PROOF_NODES}")
    out: list[bytes] = []
    for i, item in enumerate(value):
        if not (
            isinstance(item, str) and len(item) == 2 * HASH_SIZE and _HEX_DIGITS.issuperset(item)
        ):
            raise ProofShapeError(
                f"hashes[{i}] must be {2 * HASH_SIZE} lowercase hex digits, got {item!r:.80}"
            )
        out.append(bytes.fromhex(item))
    return tuple(out)
