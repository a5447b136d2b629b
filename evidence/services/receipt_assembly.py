"""Assembling receipts and public views of documents from stored metadata and log nodes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from evidence.errors import EvidenceError, TamperingDetected
from evidence.formats.log_entry import LogEntry
from evidence.formats.receipt_format import Receipt, ReceiptError
from evidence.formats.signed_note import Note, NoteError
from evidence.formats.tlog_proof import TlogProof
from evidence.store.repository import (
    AnchorRecord,
    DocumentRecord,
    SqlNodeStore,
    anchor_covering,
    anchor_of_size,
)
from evidence.store.witnessed_heads import (
    CheckpointRecord,
    cosignatures_of,
    first_witnessed_checkpoint,
)
from ledger.anchor_proof import AnchorProof
from ledger.errors import AnchorProofError
from ledger.merkle import MerkleLog


def anchor_view(anchor: AnchorRecord, chain_info: dict[str, Any]) -> dict[str, Any]:
    return {
        "tree_size": anchor.tree_size,
        "root_hash": anchor.root_hash.hex(),
        "chain_id": chain_info.get("chain_id", 0),
        "contract": chain_info.get("contract") or "",
        "tx_hash": (anchor.tx_hash or b"").hex(),
        "block_number": anchor.block_number or 0,
        "block_time": anchor.block_time,
    }


def document_view(
    session: Session, record: DocumentRecord, chain_info: dict[str, Any]
) -> dict[str, Any]:
    """The public view of a document: its metadata and whether (and where) it is anchored."""
    return document_fields(record, anchor_covering(session, record.leaf_index), chain_info)


ANCHORED_FIELDS = ("sha256", "sm3", "size", "kind", "institution", "case_code", "deposited_at")
"""The fields of a document's view that its log entry proves: they are read from the entry,
never from a column that could disagree. ``title`` and ``filename`` are not in the entry:
they are the depositor's unanchored metadata, and the view says so."""


def document_fields(
    record: DocumentRecord, anchor: AnchorRecord | None, chain_info: dict[str, Any]
) -> dict[str, Any]:
    """The view of ``record`` given the anchor covering it (None: not anchored yet).

    What the entry proves comes from the entry bytes (:data:`ANCHORED_FIELDS`); a row whose
    entry no longer decodes is refused as tampered. A deposit answers with
    ``document_fields(record, None, ...)``: its entry was committed a moment ago and is
    anchored only after the anchoring worker has seen it, so there is nothing to look up.

    Raises:
        TamperingDetected: the stored entry no longer decodes.
    """
    try:
        entry = LogEntry.decode(record.entry)
    except EvidenceError as exc:
        raise TamperingDetected(
            f"document {record.id}: its stored log entry no longer decodes ({exc})"
        ) from exc
    return {
        "id": record.id,
        "sha256": entry.sha256.hex(),
        "sm3": entry.sm3.hex(),
        "size": entry.size,
        "kind": entry.kind,
        "title": record.title,
        "case_code": entry.case_code,
        "institution": entry.institution,
        "filename": record.filename,
        "deposited_at": entry.deposited_at,
        "leaf_index": record.leaf_index,
        "status": "anchored" if anchor else "pending",
        "anchor": anchor_view(anchor, chain_info) if anchor else None,
        "anchored_fields": list(ANCHORED_FIELDS),
        "unanchored_fields": ["title", "filename"],
    }


@dataclass(frozen=True)
class ReceiptPolicy:
    """Which receipts serve issues: version 2, proven by the first checkpoint covering the
    document that ``quorum`` of ``witnesses`` (verifier keys) cosigned and, with
    ``time_stamped``, that an authority stamped. Until one exists the receipt is pending."""

    witnesses: tuple[str, ...] = ()
    quorum: int = 0
    time_stamped: bool = False


def receipt_for(
    session: Session, record: DocumentRecord, policy: ReceiptPolicy | None = None
) -> Receipt | None:
    """The receipt of a document, or None while its entry is not anchored (and, with a
    ``policy``, witnessed and time-stamped) yet. Without a policy: version 1.

    Built from the stored entry bytes and log nodes — never from the metadata columns — so an
    altered row yields a receipt that fails verification rather than a false one. The receipt
    is dated when its anchor was confirmed, so fetching it twice gives the same bytes.

    Raises:
        TamperingDetected: the stored entry or anchor proof no longer forms a well-formed
            receipt (the row was altered).
    """
    checkpoint: CheckpointRecord | None = None
    if policy is None:
        anchor = anchor_covering(session, record.leaf_index)
    else:
        checkpoint = first_witnessed_checkpoint(
            session,
            covering=record.leaf_index,
            witnesses=policy.witnesses,
            quorum=policy.quorum,
            time_stamped=policy.time_stamped,
        )
        if checkpoint is None:
            return None
        anchor = anchor_of_size(session, tree_size=checkpoint.tree_size)
    if anchor is None or anchor.proof is None:
        return None
    merkle = MerkleLog(SqlNodeStore(session))
    inclusion = merkle.inclusion_proof(record.leaf_index, anchor.tree_size)
    tlog_proof = None
    if checkpoint is not None:
        lines = "".join(f"{c.line}\n" for c in cosignatures_of(session, checkpoint.tree_size))
        try:
            note = Note.parse((checkpoint.note + lines).encode("utf-8"))
        except NoteError as exc:
            raise TamperingDetected(
                f"checkpoint {checkpoint.tree_size}: its stored note no longer parses ({exc})"
            ) from exc
        tlog_proof = TlogProof(record.leaf_index, inclusion.hashes, note)
    try:
        return Receipt(
            document_id=record.id,
            entry=LogEntry.decode(record.entry) if _decodes(record.entry) else _fallback(record),
            entry_bytes=record.entry,
            leaf_index=record.leaf_index,
            tree_size=anchor.tree_size,
            root_hash=anchor.root_hash,
            inclusion=inclusion,
            anchor=_anchor_proof(anchor.proof, witnessed=checkpoint is not None),
            issued_at=(
                checkpoint.created_at if checkpoint else anchor.confirmed_at or anchor.created_at
            ).replace(microsecond=0),
            tlog_proof=tlog_proof,
            time_stamp=checkpoint.time_stamp if checkpoint else None,
        )
    except (ReceiptError, AnchorProofError) as exc:
        raise TamperingDetected(
            f"document {record.id}: the stored entry or anchor proof no longer forms a receipt "
            f"({exc})"
        ) from exc


def _anchor_proof(stored: str, *, witnessed: bool) -> AnchorProof:
    """The stored anchor proof as a receipt of that version carries it: version 1 receipts
    never carry the anchoring transaction (their schema and older readers refuse it)."""
    proof = AnchorProof.from_json(json.loads(stored))
    return proof if witnessed else proof.without_transaction()


def _decodes(data: bytes) -> bool:
    try:
        LogEntry.decode(data)
    except Exception:
        return False
    return True


def _fallback(record: DocumentRecord) -> LogEntry:
    """Fields from the columns when the stored entry bytes no longer decode (tampering)."""
    return LogEntry(
        sha256=record.sha256,
        sm3=record.sm3,
        size=record.size,
        salt=record.salt,
        kind=record.kind,
        institution=record.institution,
        case_code=record.case_code,
        deposited_at=record.deposited_at.replace(microsecond=0),
    )
