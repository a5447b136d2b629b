"""Receipts: versioned, self-describing JSON proving a document's deposit. Parse, don't validate.

**Verification-critical** and pure (standard library, ``ledger.merkle``, ``ledger.anchor_proof``).
A receipt holds the log entry (exact bytes, plus its fields for humans), the leaf index, the
anchored tree head, the inclusion proof of the entry under that head, and the offline anchor
proof of the head (block header, receipt Merkle-Patricia proof, seal).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from evidence.entry import LogEntry
from evidence.errors import InputError
from ledger.anchor_proof import AnchorProof
from ledger.errors import LedgerError
from ledger.merkle import InclusionProof

RECEIPT_TYPE = "zhenglian-receipt"
RECEIPT_VERSION = 1
#: Largest receipt accepted (bytes of JSON).
MAX_RECEIPT_BYTES = 256 * 1024
#: Deepest JSON nesting accepted in a receipt.
MAX_JSON_DEPTH = 8
_FIELDS = {
    "type",
    "version",
    "document_id",
    "entry",
    "entry_fields",
    "leaf_index",
    "tree_head",
    "inclusion_proof",
    "anchor",
}


class ReceiptError(InputError):
    """A receipt is malformed: not JSON, over a limit, a wrong field, an inconsistent value."""


@dataclass(frozen=True)
class Receipt:
    document_id: str
    entry: LogEntry
    entry_bytes: bytes
    leaf_index: int
    tree_size: int
    root_hash: bytes
    inclusion: InclusionProof
    anchor: AnchorProof

    def to_json(self) -> dict[str, Any]:
        return {
            "type": RECEIPT_TYPE,
            "version": RECEIPT_VERSION,
            "document_id": self.document_id,
            "entry": self.entry_bytes.hex(),
            "entry_fields": self.entry.to_json(),
            "leaf_index": self.leaf_index,
            "tree_head": {"tree_size": self.tree_size, "root_hash": self.root_hash.hex()},
            "inclusion_proof": [h.hex() for h in self.inclusion.hashes],
            "anchor": self.anchor.to_json(),
        }

    @classmethod
    def from_json_bytes(cls, data: bytes) -> Receipt:
        if len(data) > MAX_RECEIPT_BYTES:
            raise ReceiptError(f"receipt larger than {MAX_RECEIPT_BYTES} bytes")
        try:
            obj = json.loads(data, object_pairs_hook=_no_duplicates)
        except ReceiptError:
            raise
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ReceiptError(f"receipt is not JSON: {exc}") from None
        if _depth(obj) > MAX_JSON_DEPTH:
            raise ReceiptError(f"receipt nested deeper than {MAX_JSON_DEPTH} levels")
        return cls.from_json(obj)

    @classmethod
    def from_json(cls, obj: Any) -> Receipt:
        if not isinstance(obj, dict):
            raise ReceiptError("receipt must be a JSON object")
        missing, unknown = _FIELDS - set(obj), set(obj) - _FIELDS
        if missing or unknown:
            raise ReceiptError(
                f"receipt fields: missing {sorted(missing)}, unknown {sorted(unknown)}"
            )
        if (
            obj["type"] != RECEIPT_TYPE
            or obj["version"] != RECEIPT_VERSION
            or isinstance(obj["version"], bool)
        ):
            raise ReceiptError(f"not a {RECEIPT_TYPE} version {RECEIPT_VERSION}")
        doc_id = obj["document_id"]
        if not isinstance(doc_id, str) or not 0 < len(doc_id) <= 64:
            raise ReceiptError("document_id must be a string of 1..64 characters")
        entry_bytes = _hex(obj["entry"], "entry")
        try:
            entry = LogEntry.decode(entry_bytes)
        except InputError as exc:
            raise ReceiptError(f"entry: {exc}") from None
        if obj["entry_fields"] != entry.to_json():
            raise ReceiptError("entry_fields do not match the entry bytes")
        head = obj["tree_head"]
        if not isinstance(head, dict) or set(head) != {"tree_size", "root_hash"}:
            raise ReceiptError("tree_head must be {tree_size, root_hash}")
        tree_size = _int(head["tree_size"], "tree_head.tree_size")
        root = _hex(head["root_hash"], "tree_head.root_hash")
        if len(root) != 32:
            raise ReceiptError("tree_head.root_hash must be 32 bytes")
        leaf_index = _int(obj["leaf_index"], "leaf_index")
        if leaf_index >= tree_size:
            raise ReceiptError(f"leaf_index {leaf_index} is not below tree_size {tree_size}")
        nodes = obj["inclusion_proof"]
        if not isinstance(nodes, list):
            raise ReceiptError("inclusion_proof must be a list")
        try:
            inclusion = InclusionProof(
                leaf_index, tree_size, tuple(_hex(n, "inclusion_proof node") for n in nodes)
            )
            anchor = AnchorProof.from_json(obj["anchor"])
        except LedgerError as exc:
            raise ReceiptError(str(exc)) from None
        return cls(doc_id, entry, entry_bytes, leaf_index, tree_size, root, inclusion, anchor)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ReceiptError(f"duplicate key {key!r} in receipt")
        out[key] = value
    return out


def _depth(obj: Any, level: int = 0) -> int:
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(obj, dict):
        return max((_depth(v, level + 1) for v in obj.values()), default=level + 1)
    if isinstance(obj, list):
        return max((_depth(v, level + 1) for v in obj), default=level + 1)
    return level


def _hex(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or len(value) % 2 or value != value.lower():
        raise ReceiptError(f"{what} must be lowercase hex")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ReceiptError(f"{what} must be lowercase hex") from None


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ReceiptError(f"{what} must be an integer in [0, 2**63)")
    return value
