"""Custody exports: every custody event about one object, with proofs; and their offline check.

**Verification-critical.** Courts check exports with :func:`verify_custody_export` (or a
re-implementation of ``docs/custody.md``) years later. Change the layout, a limit or what the
parser accepts only with a new version and new test vectors (``tests/assets/custody``).
Pure: the standard library, :mod:`ledger.merkle`, :mod:`ledger.anchor_proof` and the pure
evidence modules; nothing is fetched.

An export (JSON, ``evidence/formats/schema/custody-export-v1.schema.json``) holds the object, the
latest anchored head of the custody log with its offline anchor proof, and the object's
events in log order, each with its exact leaf bytes, its leaf index and — when the head
covers it — its inclusion proof. Events past the head are ``pending``: listed, not proven.

:meth:`CustodyExport.from_json_bytes` checks the structure once (size, nesting, duplicate
keys, every field) and yields a frozen value; :func:`verify_custody_export` checks what it
proves: each inclusion proof, the anchor proof under an explicit :class:`ChainTrust`, that
the chain anchors the export's head, that every event is about the object, and both hash
links: ``object_prev`` between consecutive events of the object (so none was left out) and
``prev`` where two listed events are neighbours in the log.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from evidence.errors import InputError
from evidence.formats.canonical_json import unique_keys
from evidence.formats.custody_event import (
    GENESIS_HASH,
    MAX_CUSTODY_EVENT_BYTES,
    CustodyEvent,
    CustodyEventError,
    CustodyObject,
)
from evidence.formats.log_entry import EntryError, format_time, parse_time
from evidence.verify.receipt_verifier import Check, VerificationError, VerificationFailed
from ledger.anchor_proof import AnchorProof, AnchorVerification, ChainTrust, verify_anchor_proof
from ledger.errors import AnchorProofError, LedgerError, RootMismatchError
from ledger.merkle import (
    HASH_SIZE,
    MAX_PROOF_NODES,
    MAX_TREE_SIZE,
    InclusionProof,
    hash_leaf,
    root_from_inclusion_proof,
)

__all__ = [
    "CHECK_ANCHOR_PROOF",
    "CHECK_TREE_HEAD",
    "EXPORT_TYPE",
    "EXPORT_VERSION",
    "MAX_EXPORT_BYTES",
    "MAX_EXPORT_EVENTS",
    "MAX_EXPORT_JSON_DEPTH",
    "CustodyExport",
    "CustodyExportError",
    "CustodyVerification",
    "CustodyVerificationFailed",
    "ExportedEvent",
    "HashLinkError",
    "verify_custody_export",
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

CHECK_ANCHOR_PROOF: Final = "anchor proof"
CHECK_TREE_HEAD: Final = "anchored tree head"

_JSON_SPECIAL: Final = re.compile(rb'[\\"\[\]{}]')
_KEYS: Final = ("type", "version", "object", "exported_at", "tree_head", "anchor", "events")
_OBJECT_KEYS: Final = ("type", "id")
_HEAD_KEYS: Final = ("tree_size", "root_hash")
_ANCHOR_KEYS: Final = ("chain_id", "contract", "tx_hash", "block_number", "proof")
_EVENT_KEYS: Final = ("leaf_index", "status", "event", "fields", "inclusion_proof")


class CustodyExportError(InputError):
    """An export is malformed (not a verification failure: it cannot even be read)."""


class HashLinkError(VerificationError):
    """An event's ``prev`` / ``object_prev`` is not the leaf hash of the event it must follow."""

    def __init__(self, what: str, leaf_index: int, expected: bytes, actual: bytes) -> None:
        self.leaf_index = leaf_index
        self.expected = expected
        self.actual = actual
        super().__init__(f"event {leaf_index}: {what} is {actual.hex()}, expected {expected.hex()}")


class CustodyVerificationFailed(VerificationFailed):
    """At least one check of a custody export failed (``failed`` lists them, one line each)."""


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
        if len(data) > MAX_EXPORT_BYTES:
            raise CustodyExportError(
                f"export is {len(data)} bytes, larger than the limit of {MAX_EXPORT_BYTES}"
            )
        if _nesting_depth(data) > MAX_EXPORT_JSON_DEPTH:
            raise CustodyExportError(
                f"export nests deeper than the limit of {MAX_EXPORT_JSON_DEPTH} levels"
            )
        try:
            obj = json.loads(
                data.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant
            )
        except CustodyExportError:
            raise
        except UnicodeDecodeError as exc:
            raise CustodyExportError(f"export is not UTF-8: {exc.reason}") from None
        except (ValueError, RecursionError) as exc:
            raise CustodyExportError(f"export is not JSON: {exc}") from None
        return cls.from_json(obj)

    @classmethod
    def from_json(cls, obj: object) -> CustodyExport:
        fields = _object(obj, "$", _KEYS)
        if fields["type"] != EXPORT_TYPE:
            raise CustodyExportError(f"type must be {EXPORT_TYPE!r}")
        if type(fields["version"]) is not int or fields["version"] != EXPORT_VERSION:
            raise CustodyExportError(
                f"unsupported version {fields['version']!r:.20}, only {EXPORT_VERSION}"
            )
        target = _object(fields["object"], "object", _OBJECT_KEYS)
        try:
            the_object = CustodyObject(str(target["type"]), target["id"])  # type: ignore[arg-type]
            exported_at = parse_time(fields["exported_at"], "exported_at")
        except (CustodyEventError, EntryError) as exc:
            raise CustodyExportError(str(exc)) from None
        tree_size, root_hash, anchor = 0, None, None
        if fields["tree_head"] is not None or fields["anchor"] is not None:
            head = _object(fields["tree_head"], "tree_head", _HEAD_KEYS)
            tree_size = _uint(head["tree_size"], "tree_head.tree_size", MAX_TREE_SIZE, 1)
            root_hash = _hex(head["root_hash"], "tree_head.root_hash", HASH_SIZE, exact=True)
            anchor = _anchor(_object(fields["anchor"], "anchor", _ANCHOR_KEYS))
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
    fields = _object(raw, path, _EVENT_KEYS)
    leaf_index = _uint(fields["leaf_index"], f"{path}.leaf_index", MAX_TREE_SIZE - 1)
    event_bytes = _hex(fields["event"], f"{path}.event", MAX_CUSTODY_EVENT_BYTES)
    try:
        event = CustodyEvent.decode(event_bytes)
    except CustodyEventError as exc:
        raise CustodyExportError(f"{path}.event: {exc}") from None
    if _canonical(fields["fields"]) != _canonical(event.to_json()):
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
            _hex(node, f"{path}.inclusion_proof[{i}]", HASH_SIZE, exact=True)
            for i, node in enumerate(nodes)
        )
        try:
            inclusion = InclusionProof(leaf_index, tree_size, hashes)
        except LedgerError as exc:
            raise CustodyExportError(f"{path}.inclusion_proof: {exc}") from None
    elif nodes is not None:
        raise CustodyExportError(f"{path}.inclusion_proof must be null for a pending event")
    return ExportedEvent(leaf_index, event_bytes, event, inclusion)


# --- Verification --------------------------------------------------------------------------


@dataclass(frozen=True)
class CustodyVerification:
    """What a verified export establishes: ``anchored`` events are proven in the custody
    log head anchored as ``anchor`` says; ``pending`` ones are listed but not yet proven."""

    subject: CustodyObject
    anchored: int
    pending: int
    tree_size: int
    anchor: AnchorVerification | None
    checks: tuple[Check, ...]


def verify_custody_export(export: CustodyExport, trust: ChainTrust) -> CustodyVerification:
    """Check everything an export proves, offline, under ``trust``.

    :raises CustodyVerificationFailed: with every check performed and the failed ones.
    """
    checks: list[Check] = []
    causes: dict[str, Exception] = {}

    def record(name: str, error: Exception | None, detail: str) -> None:
        checks.append(Check(name, error is None, detail if error is None else str(error)))
        if error is not None:
            causes[name] = error

    # 1. The anchor proof, and that it anchors the export's head.
    anchored: AnchorVerification | None = None
    if export.anchor is None:
        record(CHECK_ANCHOR_PROOF, None, "no custody head anchored yet: every event is pending")
    else:
        try:
            anchored = verify_anchor_proof(export.anchor, trust)
        except LedgerError as exc:
            record(CHECK_ANCHOR_PROOF, exc, "")
        if anchored is not None:
            signer = anchored.seal.signer
            record(
                CHECK_ANCHOR_PROOF,
                None,
                f"event {anchored.anchor_index} of contract 0x{anchored.contract.hex()} in block "
                f"{anchored.block_number} of chain {anchored.chain_id}, "
                + (
                    f"sealed by trusted validator 0x{signer.hex()}"
                    if signer is not None
                    else "UNSEALED (unsafe trust)"
                ),
            )
            head = (export.tree_size, export.root_hash)
            error: Exception | None = None
            if (anchored.tree_size, anchored.root_hash) != head:
                error = VerificationError(
                    f"the chain anchors size {anchored.tree_size} root "
                    f"{anchored.root_hash.hex()}, the export claims size {export.tree_size} "
                    f"root {(export.root_hash or b'').hex()}"
                )
            record(CHECK_TREE_HEAD, error, f"the chain anchors custody head {export.tree_size}")

    # 2. Per event: about the object, included in the head, linked to its predecessors.
    previous: ExportedEvent | None = None
    for item in export.events:
        name = f"event {item.leaf_index}"
        event = item.event
        leaf = item.leaf_hash
        about = None
        if event.object != export.subject:
            about = VerificationError(
                f"is about {event.object.type} {event.object.id!r}, not the exported object"
            )
        record(
            f"{name} object",
            about,
            f"{event.action} by {event.actor.role} at {event.to_json()['time']}",
        )
        if item.inclusion is not None and export.root_hash is not None:
            inclusion_error: Exception | None = None
            try:
                root = root_from_inclusion_proof(
                    item.leaf_index, export.tree_size, leaf, item.inclusion.hashes
                )
                if root != export.root_hash:
                    inclusion_error = RootMismatchError(export.root_hash, root)
            except LedgerError as exc:
                inclusion_error = exc
            record(
                f"{name} inclusion proof", inclusion_error, f"in custody head {export.tree_size}"
            )
        expected_object_prev = GENESIS_HASH if previous is None else previous.leaf_hash
        link = None
        if event.object_prev != expected_object_prev:
            link = HashLinkError(
                "object_prev", item.leaf_index, expected_object_prev, event.object_prev
            )
        record(
            f"{name} object link",
            link,
            "first event about the object"
            if previous is None
            else f"follows event {previous.leaf_index}",
        )
        if previous is not None and previous.leaf_index + 1 == item.leaf_index:
            log_link = None
            if event.prev != previous.leaf_hash:
                log_link = HashLinkError("prev", item.leaf_index, previous.leaf_hash, event.prev)
            record(f"{name} log link", log_link, f"follows log entry {previous.leaf_index}")
        elif item.leaf_index == 0:
            log_link = None
            if event.prev != GENESIS_HASH:
                log_link = HashLinkError("prev", 0, GENESIS_HASH, event.prev)
            record(f"{name} log link", log_link, "first entry of the custody log")
        previous = item

    final = tuple(checks)
    if causes:
        raise CustodyVerificationFailed(final, causes) from next(iter(causes.values()))
    pending = sum(1 for item in export.events if item.inclusion is None)
    return CustodyVerification(
        subject=export.subject,
        anchored=len(export.events) - pending,
        pending=pending,
        tree_size=export.tree_size,
        anchor=anchored,
        checks=final,
    )


# --- Parsing helpers -----------------------------------------------------------------------


def _object(value: object, path: str, keys: tuple[str, ...]) -> dict[str, object]:
    if not isinstance(value, dict):
        raise CustodyExportError(f"{path} must be an object")
    missing = [key for key in keys if key not in value]
    unknown = sorted(str(key)[:40] for key in value if key not in keys)
    if missing or unknown:
        raise CustodyExportError(f"{path}: missing fields {missing}, unknown fields {unknown[:10]}")
    return {key: value[key] for key in keys}


def _uint(value: object, path: str, maximum: int, minimum: int = 0) -> int:
    if type(value) is not int or not minimum <= value <= maximum:
        raise CustodyExportError(f"{path} must be an integer in [{minimum}, {maximum}]")
    return value


def _hex(value: object, path: str, limit: int, *, exact: bool = False) -> bytes:
    if not isinstance(value, str) or len(value) % 2 or len(value) > 2 * limit:
        raise CustodyExportError(f"{path} must be lowercase hex of at most {limit} bytes")
    if exact and len(value) != 2 * limit:
        raise CustodyExportError(f"{path} must be exactly {limit} bytes")
    if value != value.lower():
        raise CustodyExportError(f"{path} must be lowercase hex")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise CustodyExportError(f"{path} must be hex digits (no 0x)") from None


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_unique_keys = unique_keys("export", CustodyExportError)


def _no_constant(name: str) -> object:
    raise CustodyExportError(f"export is not JSON: {name} is not a JSON number")


def _nesting_depth(data: bytes) -> int:
    """Deepest ``[``/``{`` nesting outside strings: one pass over the special characters
    only (as for receipts), stopping past :data:`MAX_EXPORT_JSON_DEPTH`."""
    depth = deepest = 0
    in_string = False
    escaped_until = -1
    for match in _JSON_SPECIAL.finditer(data):
        position = match.start()
        if position < escaped_until:
            continue
        char = data[position]
        if in_string:
            if char == 0x5C:
                escaped_until = position + 2
            elif char == 0x22:
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char in b"[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_EXPORT_JSON_DEPTH:
                    break
        elif char in b"]}":
            depth -= 1
    return deepest
