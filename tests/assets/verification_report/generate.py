"""Verification report vectors: the JSON reports the model makes from the receipt vectors
(``tests/assets/receipts``), pinned byte for byte.

Run ``python tests/assets/verification_report/generate.py`` from the repository root to
rewrite ``document-*.json``; ``tests/unit/test_verification_report.py`` regenerates them in
memory and requires the committed files unchanged, validates each against
``verification-report-v1.schema.json``, and applies the mutations of ``corrupted.json`` (each
must be refused by the schema). ``verdicts.json`` lists the failed checks' verdicts and the
report verdict the precedence gives (docs/report.md §6.2).

Each report is the verifier's outcome for one receipt vector and one document, checked at
:data:`NOW` under the receipt vectors' trust (no signature in these version 1 entries).
"""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
RECEIPTS = ROOT / "tests" / "assets" / "receipts"

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
"""The ``checked_at`` of every vector."""

REPORTS = {
    "document-intact": ("valid.json", "deposited"),
    "document-altered": ("valid.json", "altered"),
    "document-receipt-invalid": ("modified-tree-head-root.json", "deposited"),
    "document-untrusted": ("untrusted-validator.json", "deposited"),
}
"""Vector name: (receipt vector, document of ``receipts/cases.json``)."""


def reports() -> dict[str, bytes]:
    """Every vector's bytes, by file name."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from eth_utils.address import to_canonical_address

    from evidence.digest import digest_stream
    from evidence.formats.receipt_format import Receipt
    from evidence.verify.receipt_verifier import VerificationFailed, verify_receipt
    from evidence.verify.verification_report import document_report
    from ledger.anchor_proof import ChainTrust

    manifest = json.loads((RECEIPTS / "cases.json").read_text(encoding="utf-8"))
    pinned = manifest["trust"]
    trust = ChainTrust.sealed(
        pinned["chainId"],
        [bytes(to_canonical_address(v)) for v in pinned["validators"]],
        contract=bytes(to_canonical_address(pinned["contract"])),
    )
    out = {}
    for name, (receipt_file, document) in REPORTS.items():
        receipt = Receipt.from_json_bytes((RECEIPTS / receipt_file).read_bytes())
        text = manifest["documents"][document]["text"].encode("utf-8")
        digest = digest_stream(io.BytesIO(text))
        outcome: Any
        try:
            outcome = verify_receipt(
                receipt, digest.sha256, trust, sm3=digest.sm3, size=digest.size
            )
        except VerificationFailed as exc:
            outcome = exc
        report = document_report(receipt=receipt, outcome=outcome, document=digest, now=NOW)
        body = json.dumps(report.to_json(), ensure_ascii=False, indent=2, sort_keys=True)
        out[f"{name}.json"] = (body + "\n").encode("utf-8")
    return out


def main() -> None:
    for name, data in reports().items():
        (HERE / name).write_bytes(data)
        print(f"wrote {name}")


if __name__ == "__main__":
    main()
