"""``zhenglian report``: the admissibility report (电子证据核验报告) on a receipt, as PDF or
Markdown (docs/report.md).

It verifies exactly as ``zhenglian verify FILE --receipt RECEIPT --trust BUNDLE`` does (the
same pinning, the same verifier), then writes what was found for a court: the verdict first,
every check in Chinese and English with its evidence and what it does and does not prove,
the legal points each answers, the trust it rests on. The report is written whatever the
verdict.

Exit status (as ``verify``): 0 intact; 1 a check failed (altered, receipt-invalid,
untrusted: the report says which); 2 bad input or usage; 3 could not check or write the
report (the PDF's font is not installed).
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

import click

from evidence.digest import DocumentDigest, digest_file
from evidence.errors import InputError
from evidence.formats.receipt_format import MAX_RECEIPT_BYTES, Receipt
from evidence.formats.trust_bundle import MAX_TRUST_BUNDLE_BYTES, TrustBundle
from evidence.verify.admissibility import Provenance, build_report
from evidence.verify.receipt_verifier import (
    CHECK_DOCUMENT_DIGEST,
    VERDICT_INTACT,
    VerificationFailed,
    VerificationResult,
    verify_receipt,
)
from zhenglian.commands.verify import pinned_trust, verify_document
from zhenglian.common import EXIT_BAD_INPUT, EXIT_CANNOT_CHECK, EXIT_FAILED, fail

#: The forms ``-o`` may name, by suffix.
FORMATS = {".pdf": "pdf", ".md": "markdown"}


def _tool_version() -> str:
    try:
        return package_version("zhenglian")
    except PackageNotFoundError:
        return "unknown"


def _generation_time(raw: str | None) -> datetime:
    if raw is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        fail(f"--generated-at: not an ISO 8601 time: {raw!r}", EXIT_BAD_INPUT)
    if value.tzinfo is None:
        fail("--generated-at: give the offset (Z or +08:00)", EXIT_BAD_INPUT)
    return value.astimezone(UTC)


def _read(path: Path, limit: int) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(limit + 1)
    except OSError as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)


def _write(path: Path, data: bytes) -> None:
    """Write the report whole or not at all (a temporary file renamed over ``path``)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        fail(f"cannot write {path}: {exc.strerror}", EXIT_BAD_INPUT)


@click.command()
@click.argument("receipt_path", metavar="RECEIPT", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--trust",
    "trust_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The trust bundle to verify against (GET /v1/trust, zhenglian trust export) — "
    "obtained from the justice bureau and the witnesses, not from whoever hands over the "
    "receipt.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the report: NAME.pdf (A4, font embedded) or NAME.md (Markdown).",
)
@click.option(
    "--generated-at",
    default=None,
    metavar="TIME",
    help="The generation time printed in the report, ISO 8601 with offset "
    "(default: now). The same inputs and time give the same bytes.",
)
@click.option(
    "--signature",
    "signature_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="FILE's detached signature (.p7s) for a signed deposit: the report adds the "
    "signature, signer chain, revocation and validity rows (a signed PDF needs none).",
)
@click.option(
    "--crl",
    "crl_paths",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The PKI root's CRL: the signer's revocation at signing time and now (twice for "
    "both roots, ECDSA and SM2).",
)
@click.option("--server", default=None, help="Without --crl: fetch the CRL from this server.")
def report(
    receipt_path: Path,
    file: Path | None,
    trust_path: Path,
    output: Path,
    generated_at: str | None,
    signature_path: Path | None = None,
    crl_paths: tuple[Path, ...] = (),
    server: str | None = None,
) -> None:
    """Write the admissibility report (电子证据核验报告) on RECEIPT, checking FILE against it.

    Without FILE the report covers the receipt only (the document digest check is not
    performed). The report is written whatever the verdict.

    For a signed deposit (a version 2 entry naming a signer) with FILE, the signature is
    checked as ``zhenglian verify`` checks it (--signature for a detached one, --crl or
    --server for revocation) and the report adds those rows.

    Exit status: 0 intact; 1 a check failed (altered, receipt-invalid, untrusted,
    signature-invalid, revoked); 2 bad input or usage; 3 the report could not be made (the
    PDF's font is missing, or the CRL's server is unreachable)."""
    form = FORMATS.get(output.suffix.lower())
    if form is None:
        fail(f"-o {output}: give a name ending in .pdf or .md", EXIT_BAD_INPUT)
    when = _generation_time(generated_at)
    if form == "pdf":
        from zhenglian.report_rendering import FontMissing, check_font

        try:
            check_font()
        except FontMissing as exc:
            fail(str(exc), EXIT_CANNOT_CHECK)

    receipt_bytes = _read(receipt_path, MAX_RECEIPT_BYTES)
    try:
        receipt = Receipt.from_json_bytes(receipt_bytes)
    except InputError as exc:
        fail(f"bad receipt: {exc}", EXIT_BAD_INPUT)
    pinned = pinned_trust(receipt, trust_path, None, None, None, (), None)
    trust_bytes = _read(trust_path, MAX_TRUST_BUNDLE_BYTES)
    try:
        bundle = TrustBundle.from_json_bytes(trust_bytes)
    except InputError as exc:
        fail(f"bad trust bundle {trust_path}: {exc}", EXIT_BAD_INPUT)
    document: DocumentDigest | None = None
    if file is not None:
        try:
            document = digest_file(file)
        except OSError as exc:
            fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)

    entry = receipt.entry
    # Without a file, the receipt is checked against its own entry (the document digest
    # check then compares the entry with itself; the report says it was not performed).
    own = DocumentDigest(entry.sha256, entry.sm3, entry.size)

    def check(digests: DocumentDigest) -> VerificationResult:
        return verify_receipt(receipt, digests, pinned.chain, independence=pinned.independence)

    outcome: VerificationResult | VerificationFailed
    receipt_alone: VerificationResult | None = None
    try:
        outcome = check(document or own)
    except VerificationFailed as exc:
        outcome = exc
        if {c.name for c in exc.failed} == {CHECK_DOCUMENT_DIGEST}:
            # Altered: the receipt holds on its own; show what it proves (seal, witnesses,
            # time stamp), which the failure does not carry.
            try:
                receipt_alone = check(own)
            except VerificationFailed:
                receipt_alone = None

    verification = None
    if receipt.entry.signature is not None and file is not None:
        verification = verify_document(
            file,
            receipt_path,
            trust_path=trust_path,
            signature_path=signature_path,
            crl_paths=crl_paths,
            server=server,
            now=when,
        )
    elif signature_path is not None:
        fail("--signature needs FILE and a receipt whose entry is signed", EXIT_BAD_INPUT)
    provenance = Provenance(
        generated_at=when,
        tool_version=_tool_version(),
        receipt_file_sha256=hashlib.sha256(receipt_bytes).digest(),
        trust_file_sha256=hashlib.sha256(trust_bytes).digest(),
        document_name=file.name if file is not None else None,
    )
    made = build_report(
        receipt=receipt,
        bundle=bundle,
        outcome=outcome,
        document=document,
        provenance=provenance,
        receipt_alone=receipt_alone,
        verification=verification,
    )
    if form == "pdf":
        from zhenglian.report_rendering import FontMissing, render_pdf

        try:
            data = render_pdf(made)
        except FontMissing as exc:
            fail(str(exc), EXIT_CANNOT_CHECK)
    else:
        from zhenglian.report_rendering import render_markdown

        data = render_markdown(made).encode("utf-8")
    _write(output, data)

    click.echo(f"verdict: {made.verdict}")
    click.echo(f"report: {output}")
    if made.verdict != VERDICT_INTACT:
        for row in made.failed:
            click.echo(f"zhenglian: {made.verdict}: {row.name}: {row.detail}", err=True)
        raise SystemExit(EXIT_FAILED)
