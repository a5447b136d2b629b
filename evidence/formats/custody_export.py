"""Custody exports: every custody event about one object, with proofs.

**Verification-critical.** Courts check exports with
:func:`evidence.verify.custody_verifier.verify_custody_export` (or a re-implementation of
``docs/custody.md``) years later. Change the layout, a limit or what the
parser accepts only with a new version and new test vectors (``tests/assets/custody``).
Pure: the standard library, :mod:`ledger.merkle`, :mod:`ledger.anchor_proof` and the pure
evidence modules; nothing is fetched.

An export (JSON, ``evidence/formats/schema/custody-export-v2.schema.json``) holds the object, the
latest anchored head of the custody log with its offline anchor proof, and the object's
events in log order, each with its exact leaf bytes, its leaf index and — when the head
covers it — its inclusion proof. Events past the head are ``pending``: listed, not proven.

Version 2 adds what makes an export *complete or say it is not*: the custody log's checkpoint
in the anchored head (``evidence.formats.custody_map``) with its inclusion proof and the map's
proof of the object's state there (how many events, which is the latest), the number of events
the server holds about the object (``total``), and paging (``after``: the events start after
that leaf; ``next``: more follow, from that leaf on). Pages of one export are joined with
:meth:`CustodyExport.combine`. Version 1 files (no checkpoint, never paged) are still read.

:meth:`CustodyExport.from_json_bytes` checks the structure once (size, nesting, duplicate
keys, every field) and yields a frozen value; :mod:`evidence.verify.custody_verifier` checks
what it proves: each inclusion proof, the anchor proof under an explicit :class:`ChainTrust`, that
the chain anchors the export's head, that every event is about the object, and both hash
links: ``object_prev`` between consecutive events of the object (so none was left out) and
``prev`` where two listed events are neighbours in the log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from evidence.errors import InputError
from evidence.formats.canonical_json import (
    JsonFields,
    StrictJsonErrors,
    canonical_json,
    strict_loads,
)
from evidence.formats.custody_event import (
    MAX_CUSTODY_EVENT_V4_BYTES,
    ActorDetail,
    CustodyEvent,
    CustodyEventError,
    CustodyObject,
)
from evidence.formats.custody_map import (
    MAX_CHECKPOINT_BYTES,
    CustodyCheckpoint,
    CustodyMapError,
    MapProof,
    object_key,
)
from evidence.formats.log_entry import EntryError, format_time, parse_time
from ledger.anchor_proof import AnchorProof
from ledger.errors import AnchorProofError, LedgerError
from ledger.merkle import HASH_SIZE, MAX_PROOF_NODES, MAX_TREE_SIZE, InclusionProof, hash_leaf

__all__ = [
    "EXPORT_TYPE",
    "EXPORT_VERSION",
    "EXPORT_VERSIONS",
    "MAX_COMBINED_EVENTS",
    "MAX_EXPORT_BYTES",
    "MAX_EXPORT_EVENTS",
    "MAX_EXPORT_JSON_DEPTH",
    "CustodyExport",
    "CustodyExportError",
    "ExportedCheckpoint",
    "ExportedEvent",
]

EXPORT_TYPE: Final = "zhenglian-custody-export"
"""Value of the JSON ``"type"`` field."""

EXPORT_VERSION: Final = 2
"""Value of the JSON ``"version"`` field this module writes."""

EXPORT_VERSIONS: Final = (1, 2)
"""Versions this module reads."""

MAX_EXPORT_EVENTS: Final = 5000
"""Most events in one export file (one page: the server pages an object's events by this)."""

MAX_COMBINED_EVENTS: Final = 10_000_000
"""Most events in pages joined by :meth:`CustodyExport.combine`."""

MAX_EXPORT_BYTES: Final = 96 * 1024 * 1024
"""Largest export file accepted, checked before parsing: :data:`MAX_EXPORT_EVENTS` events of
at most about 19 KB each (a version 2 event of 8 KB in hex, its fields, a 64-node proof)."""

MAX_EXPORT_JSON_DEPTH: Final = 8
"""Deepest nesting of JSON objects and arrays accepted (an export nests 5 deep)."""

_KEYS: Final = ("type", "version", "object", "exported_at", "tree_head", "anchor", "events")
_KEYS_V2: Final = (*_KEYS[:6], "checkpoint", "total", "after", "next", "events")
_CHECKPOINT_KEYS: Final = ("leaf_index", "leaf", "inclusion_proof", "map_proof")
_OBJECT_KEYS: Final = ("type", "id")
_HEAD_KEYS: Final = ("tree_size", "root_hash")
_ANCHOR_KEYS: Final = ("chain_id", "contract", "tx_hash", "block_number", "proof")
_EVENT_KEYS: Final = ("leaf_index", "status", "event", "fields", "inclusion_proof")
_EVENT_KEYS_V2: Final = (*_EVENT_KEYS, "actor_detail")


class CustodyExportError(InputError):
    """An export is malformed (not a verification failure: it cannot even be read)."""


@dataclass(frozen=True)
class ExportedEvent:
    """One event of an export: its leaf index, exact bytes, decoded value and proof."""

    leaf_index: int
    event_bytes: bytes
    event: CustodyEvent
    inclusion: InclusionProof | None
    """None for a pending event (not covered by the export's tree head)."""
    disclosed: ActorDetail | None = None
    """(Version 2 exports) the opening of a version 3 or 4 event's actor detail: its token
    and client, given only to the actor's own institution."""

    def __post_init__(self) -> None:
        if self.disclosed is not None and self.event.actor_detail is None:
            raise CustodyExportError(
                f"event {self.leaf_index}: actor_detail is given for an event without one"
            )

    @property
    def leaf_hash(self) -> bytes:
        return hash_leaf(self.event_bytes)

    def to_json(self, version: int = EXPORT_VERSION) -> dict[str, object]:
        out: dict[str, object] = {
            "leaf_index": self.leaf_index,
            "status": "pending" if self.inclusion is None else "anchored",
            "event": self.event_bytes.hex(),
            "fields": self.event.to_json(),
            "inclusion_proof": None
            if self.inclusion is None
            else [node.hex() for node in self.inclusion.hashes],
        }
        if version >= 2:
            out["actor_detail"] = None if self.disclosed is None else self.disclosed.to_json()
        return out


@dataclass(frozen=True)
class ExportedCheckpoint:
    """The custody log's checkpoint in the export's head, with its inclusion proof, and the
    map's proof of what it holds about the exported object."""

    leaf_index: int
    leaf_bytes: bytes
    checkpoint: CustodyCheckpoint
    inclusion: InclusionProof
    map_proof: MapProof

    def __post_init__(self) -> None:
        if self.checkpoint.leaf_index != self.leaf_index:
            raise CustodyExportError(
                f"checkpoint: the leaf at {self.leaf_index} says it is leaf "
                f"{self.checkpoint.leaf_index}"
            )
        if self.inclusion.leaf_index != self.leaf_index:
            raise CustodyExportError("checkpoint: inclusion proof for another leaf")

    @property
    def leaf_hash(self) -> bytes:
        return hash_leaf(self.leaf_bytes)

    def to_json(self) -> dict[str, object]:
        return {
            "leaf_index": self.leaf_index,
            "leaf": self.leaf_bytes.hex(),
            "inclusion_proof": [node.hex() for node in self.inclusion.hashes],
            "map_proof": self.map_proof.to_json(),
        }


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class CustodyExport:
    """A parsed custody export (or a page of one). Construction checks that the parts agree:
    events in strictly increasing log order after ``after``, an inclusion proof exactly for the
    events the head covers, a head and anchor given together, and (version 2) a checkpoint in
    the head whose map proof is about the exported object."""

    subject: CustodyObject
    """The object every event is about."""
    tree_size: int
    """Size of the anchored custody head (0: nothing anchored yet)."""
    root_hash: bytes | None
    anchor: AnchorProof | None
    events: tuple[ExportedEvent, ...]
    exported_at: datetime = field(default_factory=_now)
    version: int = EXPORT_VERSION
    checkpoint: ExportedCheckpoint | None = None
    """(Version 2) the latest checkpoint in the head; None when nothing is anchored, or the
    head was anchored without one (by a server before custody maps)."""
    total: int | None = None
    """(Version 2) how many events about the object the server held when it exported."""
    after: int | None = None
    """(Version 2) the events listed start after this leaf: earlier ones are on other pages."""
    next: int | None = None
    """(Version 2) more events follow on another page: ask again with ``after`` = this."""

    def __post_init__(self) -> None:
        if self.version not in EXPORT_VERSIONS:
            raise CustodyExportError(f"unsupported export version {self.version!r:.20}")
        if (self.root_hash is None) != (self.anchor is None) or (
            (self.root_hash is None) != (self.tree_size == 0)
        ):
            raise CustodyExportError("tree_head and anchor are given together, or neither")
        if self.root_hash is not None and len(self.root_hash) != HASH_SIZE:
            raise CustodyExportError(f"tree_head.root_hash must be {HASH_SIZE} bytes")
        if len(self.events) > MAX_COMBINED_EVENTS:
            raise CustodyExportError(
                f"{len(self.events)} events, more than the limit of {MAX_COMBINED_EVENTS}"
            )
        if self.version == 1:
            if (self.checkpoint, self.total, self.after, self.next) != (None,) * 4:
                raise CustodyExportError("a version 1 export has no checkpoint and no pages")
        else:
            self._check_version_2()
        last = -1 if self.after is None else self.after
        for event in self.events:
            if event.leaf_index <= last:
                raise CustodyExportError(
                    f"events must be in increasing log order after leaf {last}: "
                    f"{event.leaf_index} is not"
                )
            last = event.leaf_index
            covered = event.leaf_index < self.tree_size
            if covered != (event.inclusion is not None):
                raise CustodyExportError(
                    f"event {event.leaf_index}: an inclusion proof is given exactly for the "
                    f"events below the tree head ({self.tree_size})"
                )
            if event.inclusion is not None and (
                event.inclusion.leaf_index,
                event.inclusion.tree_size,
            ) != (event.leaf_index, self.tree_size):
                raise CustodyExportError(f"event {event.leaf_index}: proof for another leaf")

    def _check_version_2(self) -> None:
        if type(self.total) is not int or not 0 <= self.total <= MAX_TREE_SIZE:
            raise CustodyExportError("total must be an integer, the events held about the object")
        if len(self.events) > self.total:
            raise CustodyExportError(
                f"{len(self.events)} events listed, more than the total of {self.total}"
            )
        for name, cursor in (("after", self.after), ("next", self.next)):
            if cursor is not None and (type(cursor) is not int or not 0 <= cursor < MAX_TREE_SIZE):
                raise CustodyExportError(f"{name} must be null or a leaf index")
        if self.next is not None and (not self.events or self.events[-1].leaf_index != self.next):
            raise CustodyExportError("next must be the leaf index of the last event listed")
        checkpoint = self.checkpoint
        if checkpoint is None:
            return
        if self.tree_size == 0:
            raise CustodyExportError("a checkpoint is given only with an anchored tree head")
        if checkpoint.leaf_index >= self.tree_size:
            raise CustodyExportError(
                f"checkpoint leaf {checkpoint.leaf_index} is not in the tree head "
                f"({self.tree_size})"
            )
        if checkpoint.inclusion.tree_size != self.tree_size:
            raise CustodyExportError("checkpoint: inclusion proof for another tree head")
        if checkpoint.map_proof.key != object_key(self.subject):
            raise CustodyExportError("checkpoint: the map proof is about another object")

    @property
    def complete_page_range(self) -> bool:
        """Whether this export starts at the object's first event and lists up to its last
        (version 2: neither ``after`` nor ``next``)."""
        return self.after is None and self.next is None

    @classmethod
    def combine(cls, pages: list[CustodyExport]) -> CustodyExport:
        """Join pages of one export (in any order) into one: same object, version, head,
        anchor and checkpoint; events merged in log order (an event on two pages must be the
        same bytes). Gaps between pages are not refused here: the verifier reports them.

        :raises CustodyExportError: the pages are not of one export.
        """
        if not pages:
            raise CustodyExportError("no export given")
        if len(pages) == 1:
            return pages[0]
        first = pages[0]
        for page in pages[1:]:
            for what, mine, theirs in (
                ("object", page.subject, first.subject),
                ("version", page.version, first.version),
                ("tree head", (page.tree_size, page.root_hash), (first.tree_size, first.root_hash)),
                (
                    "checkpoint",
                    None if page.checkpoint is None else page.checkpoint.to_json(),
                    None if first.checkpoint is None else first.checkpoint.to_json(),
                ),
            ):
                if mine != theirs:
                    raise CustodyExportError(
                        f"the pages are not of one export: their {what} differs (export every "
                        "page again, with the same tree head)"
                    )
        if first.version == 1:
            raise CustodyExportError("version 1 exports have no pages to join")
        ordered = sorted(pages, key=lambda page: -1 if page.after is None else page.after)
        merged: dict[int, ExportedEvent] = {}
        for page in ordered:
            for event in page.events:
                seen = merged.get(event.leaf_index)
                if seen is not None and seen.event_bytes != event.event_bytes:
                    raise CustodyExportError(
                        f"two pages give different events at leaf {event.leaf_index}"
                    )
                merged[event.leaf_index] = event
        last_page = max(ordered, key=lambda page: page.events[-1].leaf_index if page.events else -1)
        return cls(
            subject=first.subject,
            tree_size=first.tree_size,
            root_hash=first.root_hash,
            anchor=first.anchor,
            events=tuple(merged[index] for index in sorted(merged)),
            exported_at=max(page.exported_at for page in pages),
            version=first.version,
            checkpoint=first.checkpoint,
            total=max(page.total or 0 for page in pages),
            after=ordered[0].after,
            next=last_page.next,
        )

    def to_json(self) -> dict[str, object]:
        anchor: dict[str, object] | None = None
        if self.anchor is not None:
            anchor = {
                "chain_id": self.anchor.chain_id,
                "contract": "0x" + self.anchor.contract.hex(),
                "tx_hash": "0x" + self.anchor.tx_hash.hex(),
                "block_number": self.anchor.block_number,
                "proof": self.anchor.to_json(),
            }
        out: dict[str, object] = {
            "type": EXPORT_TYPE,
            "version": self.version,
            "object": {"type": self.subject.type, "id": self.subject.id},
            "exported_at": format_time(self.exported_at),
            "tree_head": None
            if self.root_hash is None
            else {"tree_size": self.tree_size, "root_hash": self.root_hash.hex()},
            "anchor": anchor,
        }
        if self.version >= 2:
            out["checkpoint"] = None if self.checkpoint is None else self.checkpoint.to_json()
            out["total"] = self.total
            out["after"] = self.after
            out["next"] = self.next
        out["events"] = [event.to_json(self.version) for event in self.events]
        return out

    def to_json_bytes(self) -> bytes:
        """The export as a file: UTF-8 JSON, 2-space indent, newline at the end."""
        return (json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_json_bytes(cls, data: bytes) -> CustodyExport:
        """Parse an export file strictly (size, nesting, duplicate keys, then every field).

        :raises CustodyExportError: naming what is wrong.
        """
        if not isinstance(data, bytes):
            raise CustodyExportError(f"an export is bytes, not {type(data).__name__}")
        obj = strict_loads(
            data,
            what="export",
            max_bytes=MAX_EXPORT_BYTES,
            max_depth=MAX_EXPORT_JSON_DEPTH,
            errors=StrictJsonErrors(syntax=CustodyExportError),
        )
        return cls.from_json(obj)

    @classmethod
    def from_json(cls, obj: object) -> CustodyExport:
        version = obj.get("version") if isinstance(obj, dict) else None
        if type(version) is not int or version not in EXPORT_VERSIONS:
            raise CustodyExportError(
                f"unsupported version {version!r:.20}, only "
                + " and ".join(map(str, EXPORT_VERSIONS))
            )
        fields = _FIELDS.exact_object(obj, "$", _KEYS if version == 1 else _KEYS_V2)
        if fields["type"] != EXPORT_TYPE:
            raise CustodyExportError(f"type must be {EXPORT_TYPE!r}")
        target = _FIELDS.exact_object(fields["object"], "object", _OBJECT_KEYS)
        try:
            the_object = CustodyObject(str(target["type"]), target["id"])  # type: ignore[arg-type]
            exported_at = parse_time(fields["exported_at"], "exported_at")
        except (CustodyEventError, EntryError) as exc:
            raise CustodyExportError(str(exc)) from None
        tree_size, root_hash, anchor = 0, None, None
        if fields["tree_head"] is not None or fields["anchor"] is not None:
            head = _FIELDS.exact_object(fields["tree_head"], "tree_head", _HEAD_KEYS)
            tree_size = _FIELDS.uint(head["tree_size"], "tree_head.tree_size", MAX_TREE_SIZE, 1)
            root_hash = _FIELDS.hex(head["root_hash"], "tree_head.root_hash", HASH_SIZE, exact=True)
            anchor = _anchor(_FIELDS.exact_object(fields["anchor"], "anchor", _ANCHOR_KEYS))
        raw_events = fields["events"]
        if not isinstance(raw_events, list):
            raise CustodyExportError("events must be an array")
        if len(raw_events) > MAX_EXPORT_EVENTS:
            raise CustodyExportError(
                f"{len(raw_events)} events, more than the limit of {MAX_EXPORT_EVENTS}"
            )
        events = tuple(
            _event(raw, f"events[{i}]", tree_size, version) for i, raw in enumerate(raw_events)
        )
        if version == 1:
            return cls(the_object, tree_size, root_hash, anchor, events, exported_at, version=1)
        checkpoint = None
        if fields["checkpoint"] is not None:
            checkpoint = _checkpoint(fields["checkpoint"], tree_size, object_key(the_object))
        total = _FIELDS.uint(fields["total"], "total", MAX_TREE_SIZE)
        after = None
        if fields["after"] is not None:
            after = _FIELDS.uint(fields["after"], "after", MAX_TREE_SIZE - 1)
        next_page = None
        if fields["next"] is not None:
            next_page = _FIELDS.uint(fields["next"], "next", MAX_TREE_SIZE - 1)
        return cls(
            the_object,
            tree_size,
            root_hash,
            anchor,
            events,
            exported_at,
            version=2,
            checkpoint=checkpoint,
            total=total,
            after=after,
            next=next_page,
        )


def _checkpoint(raw: object, tree_size: int, key: bytes) -> ExportedCheckpoint:
    fields = _FIELDS.exact_object(raw, "checkpoint", _CHECKPOINT_KEYS)
    leaf_index = _FIELDS.uint(fields["leaf_index"], "checkpoint.leaf_index", MAX_TREE_SIZE - 1)
    leaf = _FIELDS.hex(fields["leaf"], "checkpoint.leaf", MAX_CHECKPOINT_BYTES)
    try:
        checkpoint = CustodyCheckpoint.decode(leaf)
        map_proof = MapProof.from_json(fields["map_proof"], key, "checkpoint.map_proof")
    except CustodyMapError as exc:
        raise CustodyExportError(f"checkpoint: {exc}") from None
    if tree_size == 0 or leaf_index >= tree_size:
        raise CustodyExportError(
            f"checkpoint.leaf_index {leaf_index} is not in the tree head ({tree_size})"
        )
    inclusion = _inclusion(fields["inclusion_proof"], "checkpoint", leaf_index, tree_size)
    return ExportedCheckpoint(leaf_index, leaf, checkpoint, inclusion, map_proof)


def _inclusion(nodes: object, path: str, leaf_index: int, tree_size: int) -> InclusionProof:
    """``{path}.inclusion_proof``: the proof of leaf ``leaf_index`` in the head of ``tree_size``."""
    if not isinstance(nodes, list) or len(nodes) > MAX_PROOF_NODES:
        raise CustodyExportError(
            f"{path}.inclusion_proof must be an array of at most {MAX_PROOF_NODES} hashes"
        )
    hashes = tuple(
        _FIELDS.hex(node, f"{path}.inclusion_proof[{i}]", HASH_SIZE, exact=True)
        for i, node in enumerate(nodes)
    )
    try:
        return InclusionProof(leaf_index, tree_size, hashes)
    except LedgerError as exc:
        raise CustodyExportError(f"{path}.inclusion_proof: {exc}") from None


def _anchor(fields: dict[str, object]) -> AnchorProof:
    try:
        proof = AnchorProof.from_json(fields["proof"])
    except AnchorProofError as exc:
        raise CustodyExportError(f"anchor.proof: {exc}") from None
    claims = (
        ("chain_id", fields["chain_id"], proof.chain_id),
        ("contract", fields["contract"], "0x" + proof.contract.hex()),
        ("tx_hash", fields["tx_hash"], "0x" + proof.tx_hash.hex()),
        ("block_number", fields["block_number"], proof.block_number),
    )
    for name, claimed, proven in claims:
        if type(claimed) is not type(proven) or claimed != proven:
            raise CustodyExportError(
                f"anchor.{name} is {claimed!r:.80}, but the anchor proof says {proven!r}"
            )
    return proof


def _event(raw: object, path: str, tree_size: int, version: int) -> ExportedEvent:
    fields = _FIELDS.exact_object(raw, path, _EVENT_KEYS if version == 1 else _EVENT_KEYS_V2)
    leaf_index = _FIELDS.uint(fields["leaf_index"], f"{path}.leaf_index", MAX_TREE_SIZE - 1)
    event_bytes = _FIELDS.hex(fields["event"], f"{path}.event", MAX_CUSTODY_EVENT_V4_BYTES)
    try:
        event = CustodyEvent.decode(event_bytes)
    except CustodyEventError as exc:
        raise CustodyExportError(f"{path}.event: {exc}") from None
    if canonical_json(fields["fields"]) != canonical_json(event.to_json()):
        raise CustodyExportError(f"{path}.fields differ from what the event bytes say")
    covered = leaf_index < tree_size
    if fields["status"] != ("anchored" if covered else "pending"):
        raise CustodyExportError(
            f"{path}.status must be {'anchored' if covered else 'pending'} "
            f"(leaf {leaf_index}, tree head {tree_size})"
        )
    nodes = fields["inclusion_proof"]
    inclusion = None
    if covered:
        inclusion = _inclusion(nodes, path, leaf_index, tree_size)
    elif nodes is not None:
        raise CustodyExportError(f"{path}.inclusion_proof must be null for a pending event")
    disclosed = None
    if fields.get("actor_detail") is not None:
        try:
            disclosed = ActorDetail.from_json(fields["actor_detail"], f"{path}.actor_detail")
        except CustodyEventError as exc:
            raise CustodyExportError(str(exc)) from None
    return ExportedEvent(leaf_index, event_bytes, event, inclusion, disclosed)


# --- Parsing helpers -----------------------------------------------------------------------


def _field_error(path: str, reason: str) -> CustodyExportError:
    return CustodyExportError(f"{path}: {reason}")


_FIELDS: Final = JsonFields(_field_error)
