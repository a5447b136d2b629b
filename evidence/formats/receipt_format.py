"""Receipts: self-contained, versioned JSON proving a document's deposit. Parse, don't validate.

**Verification-critical.** Courts and notaries keep receipts for years and check them with
:mod:`evidence.verify.receipt_verifier` (or a re-implementation of ``docs/receipt.md``).
Changing the layout,
a limit or what the parser accepts can make issued receipts unreadable or, worse, let an
ambiguous one through. Change it only with a new version and new test vectors
(``tests/assets/receipts/generate.py``). Pure: the standard library, :mod:`ledger.merkle`,
:mod:`ledger.anchor_proof` and :mod:`evidence.formats.log_entry`; no disk, network, database
or web3.

A receipt holds the log entry (its exact bytes, and its fields for humans), the leaf index,
the tree head the entry is proven to be in, the inclusion proof, and the offline anchor proof
of that tree head (block header, Merkle-Patricia proof of the transaction receipt, event),
with the chain facts a human wants to read beside it. The JSON layout is in
``docs/receipt.md`` and, machine-readably, in ``evidence/formats/schema/receipt-v1.schema.json``.

Parsing (:meth:`Receipt.from_json_bytes`) checks the structure exactly once and yields a
frozen :class:`Receipt` whose fields agree with each other: the human fields equal what
they describe, the proof has exactly the nodes its sizes call for, ``leaf_index <
tree_size``. It proves nothing: that is :func:`evidence.verify.receipt_verifier.verify_receipt`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from evidence.errors import InputError
from evidence.formats.canonical_json import unique_keys
from evidence.formats.log_entry import (
    MAX_ENTRY_BYTES,
    EntryError,
    LogEntry,
    format_time,
    parse_time,
)
from ledger.anchor_proof import AnchorProof, header_timestamp
from ledger.errors import AnchorProofError, IndexOutOfRangeError, MerkleError
from ledger.merkle import HASH_SIZE, MAX_PROOF_NODES, MAX_TREE_SIZE, InclusionProof

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_RECEIPT_BYTES",
    "RECEIPT_TYPE",
    "RECEIPT_VERSION",
    "Receipt",
    "ReceiptAnchorError",
    "ReceiptDuplicateKeyError",
    "ReceiptEntryError",
    "ReceiptError",
    "ReceiptFieldError",
    "ReceiptInclusionProofError",
    "ReceiptIndexError",
    "ReceiptNestingError",
    "ReceiptSyntaxError",
    "ReceiptTooLargeError",
]

# --- Format and limits -------------------------------------------------------------

RECEIPT_TYPE: Final = "zhenglian-receipt"
"""Value of the JSON ``"type"`` field."""

RECEIPT_VERSION: Final = 1
"""Value of the JSON ``"version"`` field this module reads and writes."""

MAX_RECEIPT_BYTES: Final = 256 * 1024
"""Largest receipt accepted, checked before anything is parsed. A real receipt is about
10 KB (most of it the block header and the receipt proof)."""

MAX_JSON_DEPTH: Final = 8
"""Deepest nesting of JSON objects and arrays accepted, checked before ``json.loads`` runs.
A receipt nests 4 deep (receipt, anchor, proof, receiptProof)."""

MAX_DOCUMENT_ID_CHARS: Final = 36
"""Length of a document id: a UUID in its canonical lowercase text form."""

_DOCUMENT_ID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX_RE: Final = re.compile(r"(?:[0-9a-f]{2})*")
_JSON_SPECIAL: Final = re.compile(rb'[\\"\[\]{}]')

_RECEIPT_KEYS: Final = (
    "type",
    "version",
    "document_id",
    "issued_at",
    "entry_fields",
    "entry",
    "leaf_index",
    "tree_head",
    "inclusion_proof",
    "anchor",
)
_TREE_HEAD_KEYS: Final = ("tree_size", "root_hash")
_ANCHOR_KEYS: Final = ("chain_id", "contract", "tx_hash", "block_number", "block_time", "proof")


# --- Errors ---------------------------------------------------------------------------


class ReceiptError(InputError):
    """A receipt is malformed: not JSON, over a limit, a wrong field, inconsistent values."""


class ReceiptTooLargeError(ReceiptError):
    """The receipt is larger than :data:`MAX_RECEIPT_BYTES`."""


class ReceiptSyntaxError(ReceiptError):
    """The receipt is not UTF-8 JSON (or uses NaN, Infinity, or unreadable numbers)."""


class ReceiptDuplicateKeyError(ReceiptSyntaxError):
    """A JSON object in the receipt has the same key twice (parsers would disagree on it)."""


class ReceiptNestingError(ReceiptError):
    """The receipt nests objects and arrays deeper than :data:`MAX_JSON_DEPTH`."""


class ReceiptFieldError(ReceiptError):
    """A field is missing, unknown, of the wrong JSON type, or out of range.

    ``path`` names the field (``tree_head.root_hash``, ``inclusion_proof[2]``, ``$``).
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"receipt field {path}: {reason}")


class ReceiptEntryError(ReceiptError):
    """The entry bytes do not decode, or the human-readable entry fields differ from them."""


class ReceiptIndexError(ReceiptError):
    """``leaf_index`` is not below the tree head's ``tree_size``."""

    def __init__(self, leaf_index: int, tree_size: int) -> None:
        self.leaf_index = leaf_index
        self.tree_size = tree_size
        super().__init__(f"leaf_index {leaf_index} is not below tree_size {tree_size}")


class ReceiptInclusionProofError(ReceiptError):
    """The inclusion proof has the wrong shape (extra or missing nodes, bad sizes)."""


class ReceiptAnchorError(ReceiptError):
    """The anchor proof is malformed, or a human-readable anchor field disagrees with it."""


# --- The receipt -----------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Receipt:
    """A parsed receipt: every field checked, the fields consistent with each other.

    ``entry_bytes`` are the exact leaf data (they must be ``entry.encode()``); ``inclusion``
    must be the proof of ``leaf_index`` in the tree of ``tree_size``. ``issued_at`` (when the
    receipt was put together; informational, not proven) defaults to now. ``block_time`` is
    read from the anchored block header. Construction raises :class:`ReceiptError`
    subclasses.
    """

    document_id: str
    entry: LogEntry
    entry_bytes: bytes
    leaf_index: int
    tree_size: int
    root_hash: bytes
    inclusion: InclusionProof
    anchor: AnchorProof
    issued_at: datetime = field(default_factory=_now)
    block_time: datetime = field(init=False)

    def __post_init__(self) -> None:
        if (
            not isinstance(self.document_id, str)
            or _DOCUMENT_ID.fullmatch(self.document_id) is None
        ):
            raise ReceiptFieldError(
                "document_id", f"must be a lowercase UUID, got {self.document_id!r:.80}"
            )
        if not isinstance(self.entry, LogEntry):
            raise ReceiptEntryError(f"entry must be a LogEntry, not {type(self.entry).__name__}")
        if not isinstance(self.entry_bytes, bytes) or self.entry.encode() != self.entry_bytes:
            raise ReceiptEntryError("the entry bytes are not the encoding of the entry")
        _json_uint(self.leaf_index, "leaf_index", MAX_TREE_SIZE - 1)
        _json_uint(self.tree_size, "tree_head.tree_size", MAX_TREE_SIZE, 1)
        if self.leaf_index >= self.tree_size:
            raise ReceiptIndexError(self.leaf_index, self.tree_size)
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise ReceiptFieldError("tree_head.root_hash", f"must be {HASH_SIZE} bytes")
        if not isinstance(self.inclusion, InclusionProof):
            raise ReceiptInclusionProofError("inclusion must be an InclusionProof")
        if (self.inclusion.leaf_index, self.inclusion.tree_size) != (
            self.leaf_index,
            self.tree_size,
        ):
            raise ReceiptInclusionProofError(
                f"the inclusion proof is for leaf {self.inclusion.leaf_index} of "
                f"{self.inclusion.tree_size}, the receipt for leaf {self.leaf_index} of "
                f"{self.tree_size}"
            )
        if not isinstance(self.anchor, AnchorProof):
            raise ReceiptAnchorError(f"anchor must be an AnchorProof, not {type(self.anchor)}")
        try:
            issued_at = _aware_utc_seconds(self.issued_at)
        except EntryError as exc:
            raise ReceiptFieldError("issued_at", str(exc)) from None
        object.__setattr__(self, "issued_at", issued_at)
        object.__setattr__(self, "block_time", _block_time(self.anchor))

    @property
    def leaf_hash(self) -> bytes:
        """The RFC 6962 leaf hash of the entry bytes."""
        return self.entry.leaf_hash()

    def to_json(self) -> dict[str, object]:
        """The receipt's JSON object (version 1); the same receipt always gives the same one."""
        anchor = self.anchor
        return {
            "type": RECEIPT_TYPE,
            "version": RECEIPT_VERSION,
            "document_id": self.document_id,
            "issued_at": format_time(self.issued_at),
            "entry_fields": self.entry.to_json(),
            "entry": self.entry_bytes.hex(),
            "leaf_index": self.leaf_index,
            "tree_head": {"tree_size": self.tree_size, "root_hash": self.root_hash.hex()},
            "inclusion_proof": [node.hex() for node in self.inclusion.hashes],
            "anchor": {
                "chain_id": anchor.chain_id,
                "contract": "0x" + anchor.contract.hex(),
                "tx_hash": "0x" + anchor.tx_hash.hex(),
                "block_number": anchor.block_number,
                "block_time": format_time(self.block_time),
                "proof": anchor.to_json(),
            },
        }

    def to_json_bytes(self) -> bytes:
        """The receipt as a file: UTF-8 JSON, 2-space indent, newline at the end."""
        return (json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_json_bytes(cls, data: bytes | bytearray | memoryview) -> Receipt:
        """Parse a receipt file strictly.

        Checked in this order: size (:data:`MAX_RECEIPT_BYTES`), nesting
        (:data:`MAX_JSON_DEPTH`), UTF-8 JSON without duplicate keys, NaN or Infinity, then
        everything :meth:`from_json` checks.

        :raises ReceiptError: a subclass naming what is wrong.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ReceiptSyntaxError(f"a receipt is bytes, not {type(data).__name__}")
        data = bytes(data)
        if len(data) > MAX_RECEIPT_BYTES:
            raise ReceiptTooLargeError(
                f"receipt is {len(data)} bytes, larger than the limit of {MAX_RECEIPT_BYTES}"
            )
        if _nesting_depth(data) > MAX_JSON_DEPTH:
            raise ReceiptNestingError(
                f"receipt nests objects and arrays deeper than the limit of {MAX_JSON_DEPTH} levels"
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ReceiptSyntaxError(
                f"receipt is not JSON: not UTF-8 ({exc.reason} at byte {exc.start})"
            ) from None
        try:
            obj = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
        except ReceiptError:
            raise
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, int digit limit
            raise ReceiptSyntaxError(f"receipt is not JSON: {exc}") from None
        return cls.from_json(obj)

    @classmethod
    def from_json(cls, obj: object) -> Receipt:
        """Build a receipt from an already parsed JSON value (as from ``json.loads``).

        Prefer :meth:`from_json_bytes`: only it can refuse duplicate keys and deep nesting.

        :raises ReceiptError: a subclass naming what is wrong.
        """
        fields = _object(obj, "$", _RECEIPT_KEYS)
        if type(fields["type"]) is not str or fields["type"] != RECEIPT_TYPE:
            raise ReceiptFieldError("type", f"must be {RECEIPT_TYPE!r}, got {fields['type']!r:.40}")
        if type(fields["version"]) is not int or fields["version"] != RECEIPT_VERSION:
            raise ReceiptFieldError(
                "version", f"unsupported version {fields['version']!r:.20}, only {RECEIPT_VERSION}"
            )
        document_id = fields["document_id"]
        if not isinstance(document_id, str):
            raise ReceiptFieldError("document_id", _type_reason("a string", document_id))
        try:
            issued_at = parse_time(fields["issued_at"], "issued_at")
        except EntryError as exc:
            raise ReceiptFieldError("issued_at", str(exc)) from None

        entry_bytes = _hex(fields["entry"], "entry", MAX_ENTRY_BYTES)
        try:
            entry = LogEntry.decode(entry_bytes)
        except EntryError as exc:
            raise ReceiptEntryError(f"entry: {exc}") from None
        _check_entry_fields(fields["entry_fields"], entry)

        head = _object(fields["tree_head"], "tree_head", _TREE_HEAD_KEYS)
        tree_size = _json_uint(head["tree_size"], "tree_head.tree_size", MAX_TREE_SIZE, 1)
        root_hash = _hex(head["root_hash"], "tree_head.root_hash", HASH_SIZE, exact=True)
        leaf_index = _json_uint(fields["leaf_index"], "leaf_index", MAX_TREE_SIZE)
        if leaf_index >= tree_size:
            raise ReceiptIndexError(leaf_index, tree_size)
        nodes = fields["inclusion_proof"]
        if not isinstance(nodes, list):
            raise ReceiptFieldError("inclusion_proof", _type_reason("an array", nodes))
        if len(nodes) > MAX_PROOF_NODES:
            raise ReceiptInclusionProofError(
                f"inclusion proof has {len(nodes)} hashes, the limit is {MAX_PROOF_NODES}"
            )
        hashes = tuple(
            _hex(node, f"inclusion_proof[{i}]", HASH_SIZE, exact=True)
            for i, node in enumerate(nodes)
        )
        try:
            inclusion = InclusionProof(leaf_index, tree_size, hashes)
        except IndexOutOfRangeError as exc:
            raise ReceiptIndexError(leaf_index, tree_size) from exc
        except MerkleError as exc:
            raise ReceiptInclusionProofError(f"inclusion_proof: {exc}") from None

        anchor_fields = _object(fields["anchor"], "anchor", _ANCHOR_KEYS)
        try:
            anchor = AnchorProof.from_json(anchor_fields["proof"])
        except AnchorProofError as exc:
            raise ReceiptAnchorError(f"anchor.proof: {exc}") from None
        receipt = cls(
            document_id=document_id,
            entry=entry,
            entry_bytes=entry_bytes,
            leaf_index=leaf_index,
            tree_size=tree_size,
            root_hash=root_hash,
            inclusion=inclusion,
            anchor=anchor,
            issued_at=issued_at,
        )
        _check_anchor_fields(anchor_fields, receipt)
        return receipt


# --- Parsing helpers ---------------------------------------------------------------------


def _check_anchor_fields(fields: dict[str, object], receipt: Receipt) -> None:
    """The human-readable anchor fields must say exactly what the proof says."""
    proof = receipt.anchor
    chain_id = _json_uint(fields["chain_id"], "anchor.chain_id", 2**64 - 1)
    contract = _prefixed_hex(fields["contract"], "anchor.contract", 20)
    tx_hash = _prefixed_hex(fields["tx_hash"], "anchor.tx_hash", 32)
    block_number = _json_uint(fields["block_number"], "anchor.block_number", 2**64 - 1)
    try:
        block_time = parse_time(fields["block_time"], "anchor.block_time")
    except EntryError as exc:
        raise ReceiptFieldError("anchor.block_time", str(exc)) from None
    claims = (
        ("chain_id", str(chain_id), str(proof.chain_id)),
        ("contract", _0x(contract), _0x(proof.contract)),
        ("tx_hash", _0x(tx_hash), _0x(proof.tx_hash)),
        ("block_number", str(block_number), str(proof.block_number)),
        ("block_time", format_time(block_time), format_time(receipt.block_time)),
    )
    for name, claimed, proven in claims:
        if claimed != proven:
            raise ReceiptAnchorError(
                f"anchor.{name} is {claimed}, but the anchor proof says {proven}"
            )


def _check_entry_fields(claimed: object, entry: LogEntry) -> None:
    """The human-readable entry fields must be exactly the decoded entry bytes."""
    if not isinstance(claimed, dict):
        raise ReceiptFieldError("entry_fields", _type_reason("an object", claimed))
    decoded = entry.to_json()
    if set(claimed) != set(decoded):
        missing = sorted(set(decoded) - set(claimed))
        unknown = sorted(str(key) for key in set(claimed) - set(decoded))
        raise ReceiptEntryError(f"entry_fields: missing fields {missing}, unknown fields {unknown}")
    for key, value in decoded.items():
        if _canonical(claimed[key]) != _canonical(value):
            raise ReceiptEntryError(
                f"entry_fields.{key} is {_canonical(claimed[key])[:100]}, "
                f"but the entry bytes say {_canonical(value)}"
            )


def _0x(value: bytes) -> str:
    return "0x" + value.hex()


def _block_time(anchor: AnchorProof) -> datetime:
    """The timestamp of the anchored block header (not yet verified: just read)."""
    try:
        timestamp = header_timestamp(anchor.header_rlp)
    except AnchorProofError as exc:
        raise ReceiptAnchorError(f"anchor.proof.header: {exc}") from None
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        raise ReceiptAnchorError(
            f"anchor.proof.header: block timestamp {timestamp} is not a representable time"
        ) from None


def _aware_utc_seconds(value: object) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise EntryError("must be a timezone-aware datetime")
    if value.utcoffset() != UTC.utcoffset(None) or value.microsecond:
        raise EntryError("must be UTC in whole seconds")
    return value.replace(tzinfo=UTC)


def _nesting_depth(data: bytes) -> int:
    """Deepest nesting of ``[``/``{`` outside JSON strings, without parsing.

    One linear pass over the special characters only (a regular expression that skips
    strings backtracks quadratically on an unterminated string full of escapes). Stops as
    soon as the nesting exceeds :data:`MAX_JSON_DEPTH`. Malformed JSON is left to the parser.
    """
    depth = deepest = 0
    in_string = False
    escaped_until = -1
    for match in _JSON_SPECIAL.finditer(data):
        position = match.start()
        if position < escaped_until:
            continue  # the character after a backslash inside a string
        char = data[position]
        if in_string:
            if char == 0x5C:  # backslash
                escaped_until = position + 2
            elif char == 0x22:  # closing quote
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char in b"[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    break
        elif char in b"]}":
            depth -= 1
    return deepest


_unique_keys = unique_keys("receipt", ReceiptDuplicateKeyError)


def _no_constant(name: str) -> object:
    raise ReceiptSyntaxError(f"receipt is not JSON: {name} is not a JSON number")


def _canonical(value: object) -> str:
    """A type-exact comparison key: ``10`` and ``10.0``, ``1`` and ``true`` differ."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _type_reason(wanted: str, value: object) -> str:
    return f"must be {wanted}, not {_json_type(value)}"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r:.40}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _object(value: object, path: str, keys: tuple[str, ...]) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ReceiptFieldError(path, _type_reason("an object", value))
    missing = [key for key in keys if key not in value]
    unknown = sorted(str(key)[:40] for key in value if key not in keys)
    if missing or unknown:
        problems = ([f"missing fields {missing}"] if missing else []) + (
            [f"unknown fields {unknown[:10]}"] if unknown else []
        )
        raise ReceiptFieldError(path, ", ".join(problems))
    return {key: value[key] for key in keys}


def _json_uint(value: object, path: str, maximum: int, minimum: int = 0) -> int:
    if type(value) is not int:
        raise ReceiptFieldError(path, _type_reason("an integer", value))
    if not minimum <= value <= maximum:
        raise ReceiptFieldError(path, f"{value} is outside [{minimum}, {maximum}]")
    return value


def _hex(value: object, path: str, limit: int, *, exact: bool = False) -> bytes:
    """Lowercase hex without ``0x`` of at most (or, with ``exact``, exactly) ``limit`` bytes."""
    if not isinstance(value, str):
        raise ReceiptFieldError(path, _type_reason("a hex string", value))
    if len(value) > 2 * limit or (exact and len(value) != 2 * limit):
        size = f"exactly {limit}" if exact else f"at most {limit}"
        raise ReceiptFieldError(path, f"must be {size} bytes, got {len(value) / 2:g}")
    if _HEX_RE.fullmatch(value) is None:
        raise ReceiptFieldError(path, "must be lowercase hex digits (no 0x), an even number")
    return bytes.fromhex(value)


def _prefixed_hex(value: object, path: str, length: int) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ReceiptFieldError(path, f"must be 0x and {2 * length} lowercase hex digits")
    return _hex(value[2:], path, length, exact=True)
