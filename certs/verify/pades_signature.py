"""The signature inside a signed PDF (PAdES), located and its coverage checked with pyHanko.
Pure: the PDF's bytes are the argument; nothing is fetched or written.

**Verification-critical.** A PAdES signature is a detached CMS SignedData (``/Contents``)
over the bytes its ``/ByteRange`` names. This module answers *which* SignedData, over
*which* digest, and whether it covers the document as deposited; the SignedData itself is then
checked exactly as a detached signature (:mod:`certs.verify.cms_signature`), so both forms
share one verifier. Checked here, in order (:class:`PdfSignatureError` names the first
failure):

1. the file parses as a PDF and holds exactly one approval signature (``/Sig``;
   :data:`MAX_PDF_SIGNATURES`) — document time stamps (``/DocTimeStamp``) may follow it;
2. the signature uses SubFilter ``ETSI.CAdES.detached`` or ``adbe.pkcs7.detached`` and
   SHA-256 over its byte range;
3. coverage: the byte range starts at 0, skips only the ``/Contents`` hex string and covers its
   whole revision (pyHanko's *entire revision* or *entire file*);
4. what was added after the signed revision is only long-term validation data and document
   time stamps (pyHanko's difference analysis, level ``LTA_UPDATES``): any other incremental
   update — a changed page, an annotation, a form value — refuses the PDF
   (``modified-after-signing``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

from asn1crypto import cms

from certs.errors import CertsInputError

__all__ = [
    "MAX_PDF_SIGNATURES",
    "MAX_SIGNED_PDF_BYTES",
    "PdfSignatureError",
    "PdfSignedContent",
    "read_pdf_signature",
]

MAX_SIGNED_PDF_BYTES: Final = 64 * 1024 * 1024
"""Largest signed PDF checked (it is read whole, in memory, by the PDF parser)."""

MAX_PDF_SIGNATURES: Final = 1
"""Approval signatures per PDF (more are refused for now: the log entry names one signer)."""

_SUBFILTERS: Final = frozenset({"/ETSI.CAdES.detached", "/adbe.pkcs7.detached"})


class PdfSignatureError(CertsInputError):
    """A signed PDF whose signature cannot be accepted; ``reason`` names the check."""

    REASONS: Final = (
        "too-large",
        "malformed",
        "not-signed",
        "multiple-signatures",
        "digest-algorithm",
        "coverage",
        "modified-after-signing",
    )

    def __init__(self, reason: str, message: str) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown PDF signature failure reason {reason!r}")
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class PdfSignedContent:
    """The one approval signature of a PDF: its SignedData and what it signs."""

    field_name: str
    signed_data: bytes
    """DER of the CMS ContentInfo in ``/Contents`` (without the zero padding)."""
    byte_range_sha256: bytes
    """SHA-256 of the bytes the ``/ByteRange`` covers (what messageDigest must equal)."""
    document_time_stamps: int
    """How many document time stamps follow the signature (1 for PAdES-B-LTA)."""
    has_dss: bool
    """Whether the PDF carries a Document Security Store (long-term validation data)."""


def read_pdf_signature(pdf: bytes) -> PdfSignedContent:
    """Locate and check the coverage of the PDF's one approval signature (checks 1–4).

    :raises PdfSignatureError: the first check that failed.
    """
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    if len(pdf) > MAX_SIGNED_PDF_BYTES:
        raise PdfSignatureError(
            "too-large", f"a signed PDF is checked up to {MAX_SIGNED_PDF_BYTES} bytes"
        )
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = list(reader.embedded_signatures)
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise PdfSignatureError("malformed", f"the PDF cannot be read: {exc}") from exc
    approvals = [s for s in embedded if s.sig_object_type == "/Sig"]
    stamps = [s for s in embedded if s.sig_object_type == "/DocTimeStamp"]
    if not approvals:
        raise PdfSignatureError("not-signed", "the PDF has no signature")
    if len(approvals) > MAX_PDF_SIGNATURES:
        raise PdfSignatureError(
            "multiple-signatures",
            f"the PDF has {len(approvals)} signatures; one signer per document is accepted",
        )
    signature = approvals[0]
    try:
        subfilter = str(signature.sig_object.get("/SubFilter"))
        if subfilter not in _SUBFILTERS:
            raise PdfSignatureError("malformed", f"SubFilter {subfilter} is not a CAdES one")
        if signature.external_md_algorithm != "sha256":
            raise PdfSignatureError(
                "digest-algorithm",
                f"the byte range is digested with {signature.external_md_algorithm}, not SHA-256",
            )
        # pyHanko's integrity pass: the hybrid-xref policy, the byte range digest, the
        # coverage, and the difference analysis of every later revision.
        signature.compute_integrity_info(DEFAULT_DIFF_POLICY)
        coverage = signature.coverage
        if coverage is None or coverage < SignatureCoverageLevel.ENTIRE_REVISION:
            name = coverage.name if coverage is not None else "unknown"
            raise PdfSignatureError(
                "coverage", f"the signature does not cover its whole revision ({name})"
            )
        diff = signature.diff_result
        level = getattr(diff, "modification_level", None)
        if level is None or level > ModificationLevel.LTA_UPDATES:
            raise PdfSignatureError(
                "modified-after-signing",
                "the PDF was changed by an incremental update after it was signed "
                f"({level.name if level is not None else diff})",
            )
        digest = signature.compute_digest("sha256")
        signed_data = cms.ContentInfo.load(bytes(signature.pkcs7_content)).dump()
    except PdfSignatureError:
        raise
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise PdfSignatureError("malformed", f"the PDF's signature cannot be read: {exc}") from exc
    return PdfSignedContent(
        field_name=str(signature.field_name),
        signed_data=signed_data,
        byte_range_sha256=digest,
        document_time_stamps=len(stamps),
        has_dss="/DSS" in reader.root,
    )
