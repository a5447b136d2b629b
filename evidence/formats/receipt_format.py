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

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from evidence.errors import InputError
from evidence.formats.canonical_json import (
    JsonFields,
    StrictJsonErrors,
    canonical_json,
    json_type,
    strict_loads,
)
from evidence.formats.checkpoint import Checkpoint
from evidence.formats.log_entry import (
    MAX_ENTRY_BYTES,
    EntryError,
    LogEntry,
    format_time,
    parse_time,
)
from evidence.formats.signed_note import Note, NoteError
from evidence.formats.tlog_proof import TlogProof
from ledger.anchor_proof import AnchorProof, header_timestamp
from ledger.errors import AnchorProofError, IndexOutOfRangeError, MerkleError
from ledger.merkle import HASH_SIZE, MAX_PROOF_NODES, MAX_TREE_SIZE, InclusionProof

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_RECEIPT_BYTES",
    "RECEIPT_TYPE",
    "RECEIPT_VERSION",
    "RECEIPT_VERSIONS",
    "RECEIPT_VERSION_WITNESSED",
    "Receipt",
    "ReceiptAnchorError",
    "ReceiptCheckpointError",
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
"""The first version: tree head, inclusion proof and anchor proof (still read)."""

RECEIPT_VERSION_WITNESSED: Final = 2
"""Version 2 adds the proof of independence: the log's checkpoint of the tree head with the
witnesses' cosignatures, as a C2SP tlog-proof (``tlog_proof``), and an RFC 3161 time-stamp
token over the signed checkpoint (``time_stamp``, base64 DER, or null)."""

RECEIPT_VERSIONS: Final = (RECEIPT_VERSION, RECEIPT_VERSION_WITNESSED)

MAX_TIME_STAMP_BYTES: Final = 64 * 1024
"""Largest time-stamp token a receipt carries."""

MAX_RECEIPT_BYTES: Final = 256 * 1024
"""Largest receipt accepted, checked before anything is parsed. A real receipt is about
10 KB (most of it the block header and the receipt proof)."""

MAX_JSON_DEPTH: Final = 8
"""Deepest nesting of JSON objects and arrays accepted, checked before ``json.loads`` runs.
A receipt nests 4 deep (receipt, anchor, proof, receiptProof)."""

MAX_DOCUMENT_ID_CHARS: Final = 36
"""Length of a document id: a UUID in its canonical lowercase text form."""

_DOCUMENT_ID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

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
_RECEIPT_V2_KEYS: Final = (*_RECEIPT_KEYS, "tlog_proof", "time_stamp")
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


class ReceiptCheckpointError(ReceiptError):
    """A version 2 receipt's tlog-proof or time stamp is malformed, or disagrees with the
    receipt's leaf index, inclusion proof or tree head."""


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
    tlog_proof: TlogProof | None = None
    """The checkpoint of the tree head with its cosignatures (version 2; None: version 1)."""
    time_stamp: bytes | None = None
    """The RFC 3161 token (DER) over the log-signed checkpoint (version 2 only; may be None)."""
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
        _FIELDS.uint(self.leaf_index, "leaf_index", MAX_TREE_SIZE - 1)
        _FIELDS.uint(self.tree_size, "tree_head.tree_size", MAX_TREE_SIZE, 1)
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
        self._check_witnessed_parts()

    def _check_witnessed_parts(self) -> None:
        if self.tlog_proof is None:
            if self.time_stamp is not None:
                raise ReceiptCheckpointError("a time stamp comes only with a tlog-proof")
            if self.anchor.has_transaction:
                raise ReceiptAnchorError(
                    "a version 1 receipt's anchor proof carries no transaction (version 2 does)"
                )
            return
        if not self.anchor.has_transaction:
            raise ReceiptAnchorError(
                "a version 2 receipt's anchor proof carries the anchoring transaction"
            )
        proof = self.tlog_proof
        if proof.index != self.leaf_index or proof.hashes != self.inclusion.hashes:
            raise ReceiptCheckpointError(
                "tlog_proof: its index and hashes must be the receipt's leaf_index and "
                "inclusion_proof"
            )
        try:
            checkpoint = Checkpoint.from_text(proof.checkpoint.text)
        except NoteError as exc:
            raise ReceiptCheckpointError(f"tlog_proof checkpoint: {exc}") from None
        if (checkpoint.size, checkpoint.root) != (self.tree_size, self.root_hash):
            raise ReceiptCheckpointError(
                f"tlog_proof: the checkpoint is of size {checkpoint.size}, the tree head of "
                f"size {self.tree_size} (or their roots differ)"
            )
        if self.time_stamp is not None and (
            not isinstance(self.time_stamp, bytes)
            or not 0 < len(self.time_stamp) <= MAX_TIME_STAMP_BYTES
        ):
            raise ReceiptCheckpointError(f"time_stamp: 1 to {MAX_TIME_STAMP_BYTES} bytes")

    @property
    def version(self) -> int:
        return RECEIPT_VERSION if self.tlog_proof is None else RECEIPT_VERSION_WITNESSED

    @property
    def checkpoint(self) -> Checkpoint | None:
        """The checkpoint of the tree head (version 2), as the log signed it."""
        if self.tlog_proof is None:
            return None
        return Checkpoint.from_text(self.tlog_proof.checkpoint.text)

    def log_signed_checkpoint(self, log_key_name: str) -> bytes | None:
        """The checkpoint note with only the log's signature: what the time stamp is over."""
        if self.tlog_proof is None:
            return None
        note = self.tlog_proof.checkpoint
        mine = tuple(s for s in note.signatures if s.name == log_key_name)
        return Note(note.text, mine).to_bytes() if mine else None

    @property
    def leaf_hash(self) -> bytes:
        """The RFC 6962 leaf hash of the entry bytes."""
        return self.entry.leaf_hash()

    def to_json(self) -> dict[str, object]:
        """The receipt's JSON object; the same receipt always gives the same one."""
        anchor = self.anchor
        out: dict[str, object] = {
            "type": RECEIPT_TYPE,
            "version": self.version,
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
        if self.tlog_proof is not None:
            out["tlog_proof"] = self.tlog_proof.to_text()
            out["time_stamp"] = (
                base64.b64encode(self.time_stamp).decode() if self.time_stamp else None
            )
        return out

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
        obj = strict_loads(
            bytes(data),
            what="receipt",
            max_bytes=MAX_RECEIPT_BYTES,
            max_depth=MAX_JSON_DEPTH,
            errors=_JSON_ERRORS,
        )
        return cls.from_json(obj)

    @classmethod
    def from_json(cls, obj: object) -> Receipt:
        """Build a receipt from an already parsed JSON value (as from ``json.loads``).

        Prefer :meth:`from_json_bytes`: only it can refuse duplicate keys and deep nesting.

        :raises ReceiptError: a subclass naming what is wrong.
        """
        version = obj.get("version", RECEIPT_VERSION) if isinstance(obj, dict) else 1
        if type(version) is not int or version not in RECEIPT_VERSIONS:
            raise ReceiptFieldError(
                "version", f"unsupported version {version!r:.20}, only 1 and 2 are read"
            )
        keys = _RECEIPT_KEYS if version == RECEIPT_VERSION else _RECEIPT_V2_KEYS
        fields = _FIELDS.exact_object(obj, "$", keys)
        if type(fields["type"]) is not str or fields["type"] != RECEIPT_TYPE:
            raise ReceiptFieldError("type", f"must be {RECEIPT_TYPE!r}, got {fields['type']!r:.40}")
        tlog_proof, time_stamp = None, None
        if version == RECEIPT_VERSION_WITNESSED:
            tlog_proof, time_stamp = _witnessed_parts(fields["tlog_proof"], fields["time_stamp"])
        document_id = fields["document_id"]
        if not isinstance(document_id, str):
            raise ReceiptFieldError(
                "document_id", f"must be a string, not {json_type(document_id)}"
            )
        try:
            issued_at = parse_time(fields["issued_at"], "issued_at")
        except EntryError as exc:
            raise ReceiptFieldError("issued_at", str(exc)) from None

        entry_bytes = _FIELDS.hex(fields["entry"], "entry", MAX_ENTRY_BYTES)
        try:
            entry = LogEntry.decode(entry_bytes)
        except EntryError as exc:
            raise ReceiptEntryError(f"entry: {exc}") from None
        _check_entry_fields(fields["entry_fields"], entry)

        head = _FIELDS.exact_object(fields["tree_head"], "tree_head", _TREE_HEAD_KEYS)
        tree_size = _FIELDS.uint(head["tree_size"], "tree_head.tree_size", MAX_TREE_SIZE, 1)
        root_hash = _FIELDS.hex(head["root_hash"], "tree_head.root_hash", HASH_SIZE, exact=True)
        leaf_index = _FIELDS.uint(fields["leaf_index"], "leaf_index", MAX_TREE_SIZE)
        if leaf_index >= tree_size:
            raise ReceiptIndexError(leaf_index, tree_size)
        nodes = fields["inclusion_proof"]
        if not isinstance(nodes, list):
            raise ReceiptFieldError("inclusion_proof", f"must be an array, not {json_type(nodes)}")
        if len(nodes) > MAX_PROOF_NODES:
            raise ReceiptInclusionProofError(
                f"inclusion proof has {len(nodes)} hashes, the limit is {MAX_PROOF_NODES}"
            )
        hashes = tuple(
            _FIELDS.hex(node, f"inclusion_proof[{i}]", HASH_SIZE, exact=True)
            for i, node in enumerate(nodes)
        )
        try:
            inclusion = InclusionProof(leaf_index, tree_size, hashes)
        except IndexOutOfRangeError as exc:
            raise ReceiptIndexError(leaf_index, tree_size) from exc
        except MerkleError as exc:
            raise ReceiptInclusionProofError(f"inclusion_proof: {exc}") from None

        anchor_fields = _FIELDS.exact_object(fields["anchor"], "anchor", _ANCHOR_KEYS)
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
            tlog_proof=tlog_proof,
            time_stamp=time_stamp,
        )
        _check_anchor_fields(anchor_fields, receipt)
        return receipt


# --- Parsing helpers ---------------------------------------------------------------------


def _witnessed_parts(proof: object, stamp: object) -> tuple[TlogProof, bytes | None]:
    if not isinstance(proof, str):
        raise ReceiptFieldError("tlog_proof", f"must be a string, not {json_type(proof)}")
    try:
        tlog_proof = TlogProof.parse(proof)
    except NoteError as exc:
        raise ReceiptCheckpointError(f"tlog_proof: {exc}") from None
    if stamp is None:
        return tlog_proof, None
    if not isinstance(stamp, str) or len(stamp) > (MAX_TIME_STAMP_BYTES * 4) // 3 + 4:
        raise ReceiptFieldError("time_stamp", "must be base64 (at most 64 KiB) or null")
    try:
        token = base64.b64decode(stamp, validate=True)
    except binascii.Error:
        raise ReceiptFieldError("time_stamp", "is not base64") from None
    if not token or base64.b64encode(token).decode() != stamp:
        raise ReceiptFieldError("time_stamp", "is not canonical base64 of a token")
    return tlog_proof, token


def _check_anchor_fields(fields: dict[str, object], receipt: Receipt) -> None:
    """The human-readable anchor fields must say exactly what the proof says."""
    proof = receipt.anchor
    chain_id = _FIELDS.uint(fields["chain_id"], "anchor.chain_id", 2**64 - 1)
    contract = _FIELDS.prefixed_hex(fields["contract"], "anchor.contract", 20)
    tx_hash = _FIELDS.prefixed_hex(fields["tx_hash"], "anchor.tx_hash", 32)
    block_number = _FIELDS.uint(fields["block_number"], "anchor.block_number", 2**64 - 1)
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
        raise ReceiptFieldError("entry_fields", f"must be an object, not {json_type(claimed)}")
    decoded = entry.to_json()
    if set(claimed) != set(decoded):
        missing = sorted(set(decoded) - set(claimed))
        unknown = sorted(str(key) for key in set(claimed) - set(decoded))
        raise ReceiptEntryError(f"entry_fields: missing fields {missing}, unknown fields {unknown}")
    for key, value in decoded.items():
        if canonical_json(claimed[key]) != canonical_json(value):
            raise ReceiptEntryError(
                f"entry_fields.{key} is {canonical_json(claimed[key])[:100]}, "
                f"but the entry bytes say {canonical_json(value)}"
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


_JSON_ERRORS: Final = StrictJsonErrors(
    syntax=ReceiptSyntaxError,
    too_large=ReceiptTooLargeError,
    nesting=ReceiptNestingError,
    duplicate_key=ReceiptDuplicateKeyError,
)
_FIELDS: Final = JsonFields(ReceiptFieldError)
