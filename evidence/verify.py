"""Verifying a document against its receipt — pure, offline, trust given explicitly.

**Verification-critical.** ``verify_receipt(receipt, document, trust)`` fetches nothing: the
caller supplies the document's digest and the trusted chain (validators, contract). Each step
is recorded as a named check; success is a :class:`VerificationResult`, failure a
:class:`VerificationFailed` listing every check with the failed ones explained.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from evidence.errors import EvidenceError
from evidence.receipt import Receipt
from ledger.anchor_proof import AnchorVerification, ChainTrust, verify_anchor_proof
from ledger.errors import LedgerError
from ledger.merkle import hash_leaf, root_from_inclusion_proof


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


class VerificationFailed(EvidenceError):
    """At least one check failed; ``checks`` lists them all."""

    def __init__(self, checks: tuple[Check, ...]) -> None:
        self.checks = checks
        failed = [c for c in checks if not c.ok]
        super().__init__("; ".join(f"{c.name}: {c.detail}" for c in failed))

    @property
    def altered(self) -> bool:
        """The document is not the deposited one (its digest differs from the entry's)."""
        return any(c.name == "document digest" and not c.ok for c in self.checks)


@dataclass(frozen=True)
class VerificationResult:
    document_id: str
    receipt: Receipt
    anchor: AnchorVerification
    checks: tuple[Check, ...]

    @property
    def deposited_at(self) -> datetime:
        return self.receipt.entry.deposited_at


def verify_receipt(
    receipt: Receipt,
    sha256: bytes,
    trust: ChainTrust,
    *,
    sm3: bytes | None = None,
    size: int | None = None,
) -> VerificationResult:
    """Check the document digest, the entry, the inclusion proof and the anchor proof."""
    checks: list[Check] = []
    entry = receipt.entry
    same = (
        sha256 == entry.sha256
        and (sm3 is None or sm3 == entry.sm3)
        and (size is None or size == entry.size)
    )
    checks.append(
        Check(
            "document digest",
            same,
            "SHA-256" + (", SM3" if sm3 is not None else "") + " match the deposited entry"
            if same
            else f"document SHA-256 {sha256.hex()} is not the deposited {entry.sha256.hex()}",
        )
    )
    leaf = hash_leaf(receipt.entry_bytes)
    try:
        root = root_from_inclusion_proof(
            receipt.leaf_index, receipt.tree_size, leaf, receipt.inclusion.hashes
        )
        included = root == receipt.root_hash
        detail = (
            f"entry {receipt.leaf_index} is in the log of {receipt.tree_size} entries"
            if included
            else f"proof leads to root {root.hex()}, not {receipt.root_hash.hex()}"
        )
    except LedgerError as exc:
        included, detail = False, str(exc)
    checks.append(Check("inclusion proof", included, detail))
    anchored: AnchorVerification | None = None
    try:
        anchored = verify_anchor_proof(receipt.anchor, trust)
        seal = (
            f"sealed by 0x{anchored.seal.signer.hex()}"
            if anchored.seal.is_sealed and anchored.seal.signer
            else "UNSEALED"
        )
        checks.append(
            Check(
                "anchor proof",
                True,
                f"block {anchored.block_number} on chain {anchored.chain_id}, {seal}",
            )
        )
        same_head = (anchored.tree_size, anchored.root_hash) == (
            receipt.tree_size,
            receipt.root_hash,
        )
        checks.append(
            Check(
                "anchored tree head",
                same_head,
                f"the chain anchors head {anchored.tree_size}"
                if same_head
                else f"the chain anchors ({anchored.tree_size}, {anchored.root_hash.hex()}), "
                f"the receipt claims ({receipt.tree_size}, {receipt.root_hash.hex()})",
            )
        )
    except LedgerError as exc:
        checks.append(Check("anchor proof", False, str(exc)))
    final = tuple(checks)
    if anchored is None or not all(c.ok for c in final):
        raise VerificationFailed(final)
    return VerificationResult(receipt.document_id, receipt, anchored, final)
