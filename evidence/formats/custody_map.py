"""The custody map: every object's latest custody state, committed in the custody log.

**Verification-critical.** Custody exports prove with this map that they list *every* event
about their object up to an anchored head (``docs/custody.md`` §4): an event's ``object_prev``
links only backwards, so without it the newest events could be cut off unnoticed. Change a
hash, a prefix or a limit only with a new version and new vectors (``tests/assets/custody``).
Pure: the standard library, :mod:`ledger.merkle` and the pure formats.

**The map** holds, for every object the custody log has events about, its
:class:`ObjectState`: how many events there are about it and the leaf hash of the latest. It is
a sparse Merkle tree of 256-bit keys (:func:`object_key`) with single-key subtrees shortened to
their leaf, so each tree has exactly one shape and proofs are about as long as ``log2`` of the
number of objects:

- the hash of an empty subtree is 32 zero bytes (:data:`EMPTY`);
- the hash of a subtree holding one key is its leaf hash,
  ``SHA-256(0x00 || key || events as 8 bytes big-endian || last)``, wherever it sits;
- the hash of a subtree holding more is ``SHA-256(0x01 || left || right)``, where the left
  child holds the keys whose next bit (most significant first) is 0.

**The checkpoint.** When the custody log is anchored, the server first appends a checkpoint
leaf that commits to the map of all events before it, and anchors the log exactly up to that
leaf (:class:`CustodyCheckpoint`)::

    b"zhenglian/custody-map/v1\\n" || UTF-8(canonical JSON object)
    {"leaf_index":<its own leaf index>,"objects":<keys in the map>,"prev":<64 hex>,
     "root":<64 hex>,"time":"YYYY-MM-DDTHH:MM:SS.mmmZ"}

``prev`` is the leaf hash of the leaf before it, as for events. A checkpoint is not an event: it
is about no object and no object's chain links to it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Final

from evidence.errors import InputError
from evidence.formats.canonical_json import (
    CanonicalLeaf,
    JsonFields,
    PrefixedFormat,
    canonical_json,
    check_utc_time,
    format_utc_millis,
    hex32,
    parse_utc_time,
)
from evidence.formats.custody_event import CustodyObject
from ledger.merkle import HASH_SIZE, MAX_TREE_SIZE

__all__ = [
    "CHECKPOINT_PREFIX",
    "EMPTY",
    "KEY_BITS",
    "MAP_KEY_PREFIX",
    "MAX_CHECKPOINT_BYTES",
    "MAX_OBJECT_EVENTS",
    "CustodyCheckpoint",
    "CustodyMapError",
    "MapProof",
    "ObjectState",
    "key_bit",
    "key_range",
    "map_root",
    "node_hash",
    "object_key",
    "state_leaf_hash",
]

MAP_KEY_PREFIX: Final = b"zhenglian/custody-map/key\n"
"""Domain-separation prefix of an object's key: ``SHA-256(prefix || canonical JSON
{"id":…,"type":…})``."""

CHECKPOINT_PREFIX: Final = b"zhenglian/custody-map/v1\n"
"""Domain-separation prefix of a checkpoint leaf (25 bytes, ends with a newline)."""

KEY_BITS: Final = 256
"""Bits of a key: the deepest a proof can go."""

EMPTY: Final = bytes(HASH_SIZE)
"""The hash of an empty subtree."""

MAX_OBJECT_EVENTS: Final = MAX_TREE_SIZE
"""Most events about one object (no more than the log holds)."""

MAX_CHECKPOINT_BYTES: Final = 512
"""Largest checkpoint leaf accepted, checked before parsing (a real one is about 230 bytes)."""

_LEAF: Final = b"\x00"
_NODE: Final = b"\x01"


class CustodyMapError(InputError):
    """A checkpoint, state or map proof is malformed."""


class NonCanonicalCheckpointError(CustodyMapError):
    """A checkpoint parses but is not in its one canonical form."""


# --- Keys and hashes ------------------------------------------------------------------------


def object_key(obj: CustodyObject) -> bytes:
    """The map key of ``obj``: ``SHA-256(MAP_KEY_PREFIX || {"id":…,"type":…})``."""
    body = canonical_json({"id": obj.id, "type": obj.type}).encode("utf-8")
    return hashlib.sha256(MAP_KEY_PREFIX + body).digest()


def key_bit(key: bytes, depth: int) -> int:
    """Bit ``depth`` of ``key`` (0: the most significant bit of the first byte)."""
    return (key[depth >> 3] >> (7 - (depth & 7))) & 1


def key_range(key: bytes, depth: int) -> tuple[bytes, bytes]:
    """The least and greatest keys sharing the first ``depth`` bits of ``key``."""
    value = int.from_bytes(key, "big")
    free = KEY_BITS - depth
    low = (value >> free) << free
    high = low | ((1 << free) - 1)
    return low.to_bytes(HASH_SIZE, "big"), high.to_bytes(HASH_SIZE, "big")


@dataclass(frozen=True)
class ObjectState:
    """What the map holds about one object: its number of events and the latest's leaf hash."""

    events: int
    last: bytes

    def __post_init__(self) -> None:
        if type(self.events) is not int or not 1 <= self.events <= MAX_OBJECT_EVENTS:
            raise CustodyMapError(f"events must be an integer 1..{MAX_OBJECT_EVENTS}")
        if not isinstance(self.last, bytes) or len(self.last) != HASH_SIZE:
            raise CustodyMapError(f"last must be {HASH_SIZE} bytes")

    def to_json(self) -> dict[str, object]:
        return {"events": self.events, "last": self.last.hex()}


def state_leaf_hash(key: bytes, state: ObjectState) -> bytes:
    """The hash of a subtree holding only ``key``."""
    return hashlib.sha256(_LEAF + key + state.events.to_bytes(8, "big") + state.last).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of a subtree holding two or more keys, from its children's."""
    return hashlib.sha256(_NODE + left + right).digest()


def map_root(entries: Mapping[bytes, ObjectState]) -> bytes:
    """The root of the map holding exactly ``entries`` (the reference definition; the server
    keeps the map incrementally in its database)."""
    for key in entries:
        if len(key) != HASH_SIZE:
            raise CustodyMapError(f"a key is {HASH_SIZE} bytes")
    keys = sorted(entries)

    def subtree(lo: int, hi: int, depth: int) -> bytes:
        if lo == hi:
            return EMPTY
        if hi - lo == 1:
            return state_leaf_hash(keys[lo], entries[keys[lo]])
        split = lo
        while split < hi and key_bit(keys[split], depth) == 0:
            split += 1
        return node_hash(subtree(lo, split, depth + 1), subtree(split, hi, depth + 1))

    return subtree(0, len(keys), 0)


# --- Proofs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MapProof:
    """What the map holds for ``key``: its ``state`` (None: the key is not in the map) and the
    hashes of the siblings on the way down from the root (``siblings[0]`` is the root's other
    child). A proof of absence ends at an empty subtree or at ``other``, the one key (with its
    state) of the subtree where ``key`` would be."""

    key: bytes
    state: ObjectState | None
    siblings: tuple[bytes, ...]
    other: tuple[bytes, ObjectState] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes) or len(self.key) != HASH_SIZE:
            raise CustodyMapError(f"key must be {HASH_SIZE} bytes")
        if len(self.siblings) > KEY_BITS:
            raise CustodyMapError(f"a map proof has at most {KEY_BITS} siblings")
        for sibling in self.siblings:
            if not isinstance(sibling, bytes) or len(sibling) != HASH_SIZE:
                raise CustodyMapError(f"a sibling is {HASH_SIZE} bytes")
        if self.other is not None:
            other_key, _ = self.other
            if self.state is not None:
                raise CustodyMapError("a proof of presence ends at the key itself, not another")
            if len(other_key) != HASH_SIZE or other_key == self.key:
                raise CustodyMapError("the other key must be another 32-byte key")
            if key_range(other_key, len(self.siblings)) != key_range(self.key, len(self.siblings)):
                raise CustodyMapError(
                    f"the other key does not share the first {len(self.siblings)} bits of the key"
                )

    def root(self) -> bytes:
        """The map root this proof gives: compare it with a checkpoint's."""
        if self.state is not None:
            current = state_leaf_hash(self.key, self.state)
        elif self.other is not None:
            current = state_leaf_hash(*self.other)
        else:
            current = EMPTY
        for depth in range(len(self.siblings) - 1, -1, -1):
            sibling = self.siblings[depth]
            if key_bit(self.key, depth):
                current = node_hash(sibling, current)
            else:
                current = node_hash(current, sibling)
        return current

    def to_json(self) -> dict[str, object]:
        return {
            "state": None if self.state is None else self.state.to_json(),
            "siblings": [sibling.hex() for sibling in self.siblings],
            "other": None
            if self.other is None
            else {"key": self.other[0].hex(), **self.other[1].to_json()},
        }

    @classmethod
    def from_json(cls, obj: object, key: bytes, path: str = "objects") -> MapProof:
        """Parse the JSON of a proof for ``key`` (the key is not in the JSON: the verifier
        derives it from the exported object)."""
        fields = _FIELDS.exact_object(obj, path, ("state", "siblings", "other"))
        state = None if fields["state"] is None else _state(fields["state"], f"{path}.state")
        raw = fields["siblings"]
        if not isinstance(raw, list) or len(raw) > KEY_BITS:
            raise CustodyMapError(f"{path}.siblings must be an array of at most {KEY_BITS}")
        siblings = tuple(
            _FIELDS.hex(node, f"{path}.siblings[{i}]", HASH_SIZE, exact=True)
            for i, node in enumerate(raw)
        )
        other = None
        if fields["other"] is not None:
            other_fields = _FIELDS.exact_object(
                fields["other"], f"{path}.other", ("key", "events", "last")
            )
            other_key = _FIELDS.hex(other_fields["key"], f"{path}.other.key", HASH_SIZE, exact=True)
            other = (
                other_key,
                _state({"events": other_fields["events"], "last": other_fields["last"]}, path),
            )
        return cls(key, state, siblings, other)


def _state(obj: object, path: str) -> ObjectState:
    fields = _FIELDS.exact_object(obj, path, ("events", "last"))
    events = _FIELDS.uint(fields["events"], f"{path}.events", MAX_OBJECT_EVENTS, 1)
    last = _FIELDS.hex(fields["last"], f"{path}.last", HASH_SIZE, exact=True)
    return ObjectState(events, last)


# --- The checkpoint leaf ----------------------------------------------------------------------

_CHECKPOINT_FORMAT: Final = PrefixedFormat(
    what="custody checkpoint",
    prefix=CHECKPOINT_PREFIX,
    keys=("leaf_index", "objects", "prev", "root", "time"),
    max_bytes=MAX_CHECKPOINT_BYTES,
    error=CustodyMapError,
    non_canonical=NonCanonicalCheckpointError,
)


@dataclass(frozen=True)
class CustodyCheckpoint(CanonicalLeaf):
    """A leaf of the custody log committing to the map of every event before it."""

    FORMAT: ClassVar[PrefixedFormat] = _CHECKPOINT_FORMAT

    leaf_index: int
    """Its own position in the custody log: the map covers leaves ``0 .. leaf_index - 1``."""
    objects: int
    """The number of keys in the map."""
    prev: bytes
    """Leaf hash of the leaf before it (32 zero bytes for leaf 0)."""
    root: bytes
    """The map's root."""
    time: datetime

    def __post_init__(self) -> None:
        for name, value in (("leaf_index", self.leaf_index), ("objects", self.objects)):
            if type(value) is not int or not 0 <= value < MAX_TREE_SIZE:
                raise CustodyMapError(f"{name} must be an integer 0..{MAX_TREE_SIZE - 1}")
        if self.objects > self.leaf_index:
            raise CustodyMapError("a map cannot hold more objects than the leaves before it")
        for name, digest in (("prev", self.prev), ("root", self.root)):
            if not isinstance(digest, bytes) or len(digest) != HASH_SIZE:
                raise CustodyMapError(f"{name} must be {HASH_SIZE} bytes")
        if (self.objects == 0) != (self.root == EMPTY):
            raise CustodyMapError("the root of an empty map is 32 zero bytes, and only of it")
        time = check_utc_time(self.time, "time", millis=True, error=CustodyMapError)
        object.__setattr__(self, "time", time)

    def to_json(self) -> dict[str, str | int | None]:
        return {
            "leaf_index": self.leaf_index,
            "objects": self.objects,
            "prev": self.prev.hex(),
            "root": self.root.hex(),
            "time": format_utc_millis(self.time),
        }

    @classmethod
    def decode(cls, data: bytes) -> CustodyCheckpoint:
        """Parse the canonical encoding; refuse every other byte string.

        :raises CustodyMapError: naming what is wrong (:class:`NonCanonicalCheckpointError`
            if it parses but is not canonical).
        """
        obj = _CHECKPOINT_FORMAT.decode_fields(data)
        checkpoint = cls(
            leaf_index=_FIELDS.uint(obj["leaf_index"], "leaf_index", MAX_TREE_SIZE - 1),
            objects=_FIELDS.uint(obj["objects"], "objects", MAX_TREE_SIZE - 1),
            prev=hex32(obj["prev"], "prev", CustodyMapError),
            root=hex32(obj["root"], "root", CustodyMapError),
            time=parse_utc_time(obj["time"], "time", millis=True, error=CustodyMapError),
        )
        assert isinstance(data, bytes)
        _CHECKPOINT_FORMAT.require_canonical(data, checkpoint.encode())
        return checkpoint

    @staticmethod
    def is_checkpoint(data: bytes) -> bool:
        """Whether a custody log leaf's bytes claim to be a checkpoint (by their prefix)."""
        return data.startswith(CHECKPOINT_PREFIX)


def _field_error(path: str, reason: str) -> CustodyMapError:
    return CustodyMapError(f"{path}: {reason}")


_FIELDS: Final = JsonFields(_field_error)
