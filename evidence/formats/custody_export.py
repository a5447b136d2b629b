"""Custody exports: every custody event about one object, with proofs.

**Verification-critical.** Courts check exports with
:func:`evidence.verify.custody_verifier.verify_custody_export` (or a re-implementation of
``docs/custody.md``) years later. Change the layout, a limit or what the
parser accepts only with a new version and new test vectors (``tests/assets/custody``).
Pure: the standard library, :mod:`ledger.merkle`, :mod:`ledger.anchor_proof` and the pure
evidence modules; nothing is fetched.

An export (JSON, ``evidence/formats/schema/custody-export-v1.schema.json``) holds the object, the
latest anchored head of the custody log with its offline anchor proof, and the object's
events in log order, each with its exact leaf bytes, its leaf index and — when the head
covers it — its inclusion proof. Events past the head are ``pending``: listed, not proven.

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
    MAX_CUSTODY_EVENT_BYTES,
    CustodyEvent,
    CustodyEventError,
    CustodyObject,
)
from evidence.formats.log_entry import EntryError, format_time, parse_time
from ledger.anchor_proof import AnchorProof
from ledger.errors import AnchorProofError, LedgerError
from ledger.merkle import HASH_SIZE, MAX_PROOF_NODES, MAX_TREE_SIZE, InclusionProof, hash_leaf

__all__ = [
    "EXPORT_TYPE",
    "EXPORT_VERSION",
    "MAX_EXPORT_BYTES",
    "MAX_EXPORT_EVENTS",
    "MAX_EXPORT_JSON_DEPTH",
    "CustodyExport",
    "CustodyExportError",
    "ExportedEvent",
]

EXPORT_TYPE: Final = "zhenglian-custody-export"
"""Value of the JSON ``"type"`` field."""

EXPORT_VERSION: Final = 1
"""Value of the JSON ``"version"`` field this module reads and writes."""

MAX_EXPORT_EVENTS: Final = 5000
"""Most events in one export (the server lists the first this many of an object)."""

MAX_EXPORT_BYTES: Final = 32 * 1024 * 1024
"""Largest export file accepted, checked before parsing: :data:`MAX_EXPORT_EVENTS` events
of at most about 6 KB each (event bytes, fields, a 64-node proof in hex)."""

MAX_EXPORT_JSON_DEPTH: Final = 8
"""Deepest nesting of JSON objects and arrays accepted (an export nests 5 deep)."""

_KEYS: Final = ("type", "version", "object", "exported_at", "tree_head", "anchor", "events")
_OBJECT_KEYS: Final = ("type", "id")
_HEAD_KEYS: Final = ("tree_size", "root_hash")
_ANCHOR_KEYS: Final = ("chain_id", "contract", "tx_hash", "block_number", "proof")
_EVENT_KEYS: Final = ("leaf_index", "status", "event", "fields", "inclusion_proof")


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

    @property
    def leaf_hash(self) -> bytes:
        return hash_leaf(self.event_bytes)

    def to_json(self) -> dict[str, object]:
        return {
            "leaf_index": self.leaf_index,
            "status": "pending" if self.inclusion is None else "anchored",
            "event": self.event_bytes.hex(),
            "fields": self.event.to_json(),
            "inclusion_proof": None
            if self.inclusion is None
            else [node.hex() for node in self.inclusion.hashes],
        }


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class CustodyExport:
    """A parsed custody export. Construction checks that the parts agree: events in
    strictly increasing log order, an inclusion proof exactly for the events the head
    covers, and a head and anchor given together."""

    subject: CustodyObject
    """The object every event is about."""
    tree_size: int
    """Size of the anchored custody head (0: nothing anchored yet)."""
    root_hash: bytes | None
    anchor: AnchorProof | None
    events: tuple[ExportedEvent, ...]
    exported_at: datetime = field(default_factory=_now)

    def __post_init__(self) -> None:
        if (self.root_hash is None) != (self.anchor is None) or (
            (self.root_hash is None) != (self.tree_size == 0)
        ):
            raise CustodyExportError("tree_head and anchor are given together, or neither")
        if self.root_hash is not None and len(self.root_hash) != HASH_SIZE:
            raise CustodyExportError(f"tree_head.root_hash must be {HASH_SIZE} bytes")
        if len(self.events) > MAX_EXPORT_EVENTS:
            raise CustodyExportError(
                f"{len(self.events)} events, more than the limit of {MAX_EXPORT_EVENTS}"
            )
        last = -1
        for event in self.events:
            if event.leaf_index <= last:
                raise CustodyExportError(
                    f"events must be in increasing log order: {event.leaf_index} after {last}"
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
        return {
            "type": EXPORT_TYPE,
            "version": EXPORT_VERSION,
            "object": {"type": self.subject.type, "id": self.subject.id},
            "exported_at": format_time(self.exported_at),
            "tree_head": None
            if self.root_hash is None
            else {"tree_size": self.tree_size, "root_hash": self.root_hash.hex()},
            "anchor": anchor,
            "events": [event.to_json() for event in self.events],
        }

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
        fields = _FIELDS.exact_object(obj, "$", _KEYS)
        if fields["type"] != EXPORT_TYPE:
            raise CustodyExportError(f"type must be {EXPORT_TYPE!r}")
        if type(fields["version"]) is not int or fields["version"] != EXPORT_VERSION:
            raise CustodyExportError(
                f"unsupported version {fields['version']!r:.20}, only {EXPORT_VERSION}"
            )
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
        events = tuple(_event(raw, f"events[{i}]", tree_size) for i, raw in enumerate(raw_events))
        return cls(the_object, tree_size, root_hash, anchor, events, exported_at)


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


def _event(raw: object, path: str, tree_size: int) -> ExportedEvent:
    fields = _FIELDS.exact_object(raw, path, _EVENT_KEYS)
    leaf_index = _FIELDS.uint(fields["leaf_index"], f"{path}.leaf_index", MAX_TREE_SIZE - 1)
    event_bytes = _FIELDS.hex(fields["event"], f"{path}.event", MAX_CUSTODY_EVENT_BYTES)
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
        if not isinstance(nodes, list) or len(nodes) > MAX_PROOF_NODES:
            raise CustodyExportError(
                f"{path}.inclusion_proof must be an array of at most {MAX_PROOF_NODES} hashes"
            )
        hashes = tuple(
            _FIELDS.hex(node, f"{path}.inclusion_proof[{i}]", HASH_SIZE, exact=True)
            for i, node in enumerate(nodes)
        )
        try:
            inclusion = InclusionProof(leaf_index, tree_size, hashes)
        except LedgerError as exc:
            raise CustodyExportError(f"{path}.inclusion_proof: {exc}") from None
    elif nodes is not None:
        raise CustodyExportError(f"{path}.inclusion_proof must be null for a pending event")
    return ExportedEvent(leaf_index, event_bytes, event, inclusion)


# --- Parsing helpers -----------------------------------------------------------------------


def _field_error(path: str, reason: str) -> CustodyExportError:
    return CustodyExportError(f"{path}: {reason}")


_FIELDS: Final = JsonFields(_field_error)
