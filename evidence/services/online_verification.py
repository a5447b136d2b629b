"""Online verification for the API: by digest, by file, or by file and receipt.

Every answer goes through the full offline check
(:func:`evidence.verify.receipt_verifier.verify_receipt`) on a receipt rebuilt from the log,
so a row altered in the database or an original altered in storage shows up as "altered",
never as "intact".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509

from evidence.digest import DocumentDigest
from evidence.errors import EvidenceError, TamperingDetected
from evidence.formats.receipt_format import Receipt
from evidence.services.receipt_assembly import ReceiptPolicy, anchor_view, receipt_for
from evidence.store.blob_store import BlobStore
from evidence.store.repository import (
    Database,
    anchor_covering,
    find_by_sha256,
    get_document_by_leaf,
)
from evidence.verify.document_signature import SignatureTrust
from evidence.verify.receipt_verifier import (
    Check,
    IndependenceTrust,
    VerificationFailed,
    VerificationResult,
    verify_receipt,
)
from evidence.verify.verification_report import (
    VerificationReport,
    document_report,
    signature_evidence,
)
from ledger.anchor_proof import ChainTrust


@dataclass(frozen=True)
class ServerTrust:
    """What the server verifies against: its chain trust and, for version 2 receipts, its
    log key, witnesses, quorum and time-stamp roots; which receipts it issues."""

    chain: ChainTrust
    chain_info: dict[str, Any] = field(default_factory=dict)
    independence: IndependenceTrust | None = None
    receipts: ReceiptPolicy | None = None


def _checks(checks: tuple[Check, ...]) -> list[dict[str, Any]]:
    return [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks]


def _intact(
    result: VerificationResult, chain_info: dict[str, Any], extra: list[Check]
) -> dict[str, Any]:
    r, a = result.receipt, result.anchor
    proven = result.proven_time
    return {
        "result": result.verdict,
        "receipt_version": r.version,
        "proven_time": proven,
        "witnesses": [c.witness.name for c in result.cosignatures],
        "sha256": r.entry.sha256.hex(),
        "document_id": r.document_id,
        "institution": r.entry.institution,
        "kind": r.entry.kind,
        "case_code": r.entry.case_code,
        "deposited_at": r.entry.deposited_at,
        "anchor": {
            "tree_size": r.tree_size,
            "root_hash": r.root_hash.hex(),
            "chain_id": a.chain_id,
            "contract": "0x" + a.contract.hex(),
            "tx_hash": a.tx_hash.hex(),
            "block_number": a.block_number,
            "block_time": result.block_time,
        },
        "seal": (
            ", ".join(f"0x{s.hex()}" for s in a.seal.signers) if a.seal.is_sealed else "unsealed"
        ),
        "seal_kind": a.seal.kind,
        "checks": _checks(result.checks + tuple(extra)),
        "matches": 1,
    }


def verify_with_receipt(
    database: Database,
    blobs: BlobStore,
    trust: ServerTrust,
    document: DocumentDigest,
    receipt: Receipt,
) -> dict[str, Any]:
    chain_info = trust.chain_info
    try:
        result = verify_receipt(
            receipt,
            document.sha256,
            trust.chain,
            sm3=document.sm3,
            size=document.size,
            independence=trust.independence,
        )
    except VerificationFailed as exc:
        return {
            "result": exc.verdict,
            "sha256": document.sha256.hex(),
            "document_id": receipt.document_id,
            "checks": _checks(exc.checks),
        }
    # The document id is a label outside the proven entry: answer the log's own id for the
    # proven leaf, and say so when the receipt names another (a receipt edited by hand).
    with database.session() as session:
        record = get_document_by_leaf(session, receipt.leaf_index)
    answer = _intact(result, chain_info, [])
    if record is not None and record.id != receipt.document_id:
        answer["document_id"] = record.id
        answer["checks"].append(
            {
                "name": "document id",
                "ok": False,
                "detail": f"the receipt names document {receipt.document_id!r:.60}; leaf "
                f"{receipt.leaf_index} of the log is document {record.id}",
            }
        )
    return answer


def verify_digest(
    database: Database,
    blobs: BlobStore,
    trust: ServerTrust,
    sha256: bytes,
    document: DocumentDigest | None,
) -> dict[str, Any]:
    chain_info = trust.chain_info
    with database.session() as session:
        records = find_by_sha256(session, sha256)
        if not records:
            return {"result": "unknown", "sha256": sha256.hex(), "matches": 0}
        record = records[0]
        pending = {
            "result": "pending",
            "sha256": sha256.hex(),
            "document_id": record.id,
            "matches": len(records),
        }
        if anchor_covering(session, record.leaf_index) is None:
            return pending
        try:
            receipt = receipt_for(session, record, trust.receipts)
        except EvidenceError as exc:  # the stored entry or proof no longer forms a receipt
            return {
                "result": "receipt-invalid",
                "sha256": sha256.hex(),
                "document_id": record.id,
                "checks": [{"name": "stored entry", "ok": False, "detail": str(exc)}],
            }
    if receipt is None:  # anchored, not yet witnessed (or time-stamped)
        return pending
    extra: list[Check] = []
    try:
        stored = blobs.verify(sha256)
        extra.append(Check("stored original", True, "the kept original still has this digest"))
        del stored
    except TamperingDetected as exc:
        extra.append(Check("stored original", False, str(exc)))
    try:
        result = verify_receipt(
            receipt,
            sha256,
            trust.chain,
            sm3=document.sm3 if document else None,
            size=document.size if document else None,
            independence=trust.independence,
        )
    except VerificationFailed as exc:
        return {
            "result": exc.verdict,
            "sha256": sha256.hex(),
            "document_id": record.id,
            "checks": _checks(exc.checks + tuple(extra)),
            "matches": len(records),
        }
    out = _intact(result, chain_info, extra)
    out["matches"] = len(records)
    if not all(c.ok for c in extra):
        out["result"] = "altered"
    return out


def proven_document_id(database: Database, receipt: Receipt) -> str | None:
    """The log's own document id at the receipt's leaf (a receipt's ``document_id`` is a
    label no hash covers); None if the log has no such leaf."""
    with database.session() as session:
        record = get_document_by_leaf(session, receipt.leaf_index)
    return record.id if record is not None else None


def report_with_receipt(
    trust: ServerTrust,
    signatures: SignatureTrust | None,
    document: DocumentDigest,
    receipt: Receipt,
    *,
    signature: bytes | None,
    pdf: bytes | None,
    now: datetime,
) -> VerificationReport:
    """The verification report (docs/report.md §6) of a file against its receipt under the
    server's trust — the same report ``zhenglian verify`` makes under a bundle pinning the
    same values: its chain, log key, witnesses and time-stamp roots; its PKI root and current
    CRL (``signatures``: None when this server has no PKI) for the signature. ``signature``:
    the detached signature sent; ``pdf``: the file's bytes when the entry records a signature
    inside the PDF. Reads nothing: the caller hashed the upload."""
    try:
        outcome: VerificationResult | VerificationFailed = verify_receipt(
            receipt,
            document.sha256,
            trust.chain,
            sm3=document.sm3,
            size=document.size,
            independence=trust.independence,
        )
    except VerificationFailed as exc:
        outcome = exc
    committed = receipt.entry.signature
    roots: tuple[x509.Certificate, ...] = ()
    if signatures is not None:
        roots = (signatures.root,)
        if signatures.sm2_root is not None:
            roots += (signatures.sm2_root,)
    evidence = None
    missing = None
    if committed is not None:
        if signatures is None:
            missing = "this server has no institution PKI to check it against"
        elif signature is None and pdf is None:
            missing = "send the detached signature (multipart field signature)"
        else:
            evidence = signature_evidence(
                committed,
                detached=signature,
                pdf=pdf if signature is None else None,
                content_digests={"sha256": document.sha256, "sm3": document.sm3},
                roots=roots,
                sm2_engine=signatures.sm2_engine,
            )
    return document_report(
        receipt=receipt,
        outcome=outcome,
        document=document,
        now=now,
        signature=evidence,
        signature_missing=missing,
        pki_roots=roots,
        crl=signatures.crl if signatures is not None else None,
        crl_missing="this server has no CRL",
        sm2_crl=_sm2_crl(signatures),
        sm2_engine=signatures.sm2_engine if signatures is not None else None,
    )


def _sm2_crl(signatures: SignatureTrust | None) -> x509.CertificateRevocationList | None:
    """The SM2 root's current CRL as served (None: no SM2 root, or no CRL of it)."""
    if signatures is None or signatures.sm2_crl is None:
        return None
    return x509.load_der_x509_crl(signatures.sm2_crl)


__all__ = [
    "ServerTrust",
    "anchor_view",
    "proven_document_id",
    "report_with_receipt",
    "verify_digest",
    "verify_with_receipt",
]
