"""PAdES: a PDF signed by certs.signing (B-LTA: signature time stamp, DSS, document time
stamp), checked by pyHanko's own validator and by the deposit check, with the ways a signed
PDF goes wrong refused by name."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext

from certs.signing.document_signer import sign_pdf
from certs.verify.pades_signature import PdfSignatureError, read_pdf_signature
from evidence.services.signature_checking import SignatureChecking
from evidence.store.blob_store import LocalBlobStore
from evidence.verify.document_signature import SignatureRefused, check_pdf_signature
from tests.support.tsa import LocalTimeStampAuthority
from tests.unit.test_document_signature import (
    CODE,
    LocalTimeStamper,
    Pki,
    authority,  # noqa: F401 - fixture
    identity,
    pki,  # noqa: F401 - fixture
    signer,  # noqa: F401 - fixture
    trust_of,
)


def a_pdf(text: str = "公证书 notarial certificate") -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, text)
    page.showPage()
    page.save()
    return out.getvalue()


@pytest.fixture(scope="module")
def signed_pdf(
    pki: Pki,  # noqa: F811
    signer: tuple,  # type: ignore[type-arg]  # noqa: F811
    authority: LocalTimeStampAuthority,  # noqa: F811
) -> bytes:
    return sign_pdf(
        io.BytesIO(a_pdf()),
        identity(*signer),
        time_stamper=LocalTimeStamper(authority),
        root=pki.root,
        crl=pki.crl().public_bytes(Encoding.DER),
        time_stamp_roots=[authority.root_der],
    )


def test_pyhankos_own_validator_accepts_the_pades_b_lta_output(
    pki: Pki,  # noqa: F811
    authority: LocalTimeStampAuthority,  # noqa: F811
    signed_pdf: bytes,
) -> None:
    roots = [
        asn1_x509.Certificate.load(pki.root.public_bytes(Encoding.DER)),
        asn1_x509.Certificate.load(authority.root_der),
    ]
    reader = PdfFileReader(io.BytesIO(signed_pdf))
    kinds = [s.sig_object_type for s in reader.embedded_signatures]
    assert kinds == ["/Sig", "/DocTimeStamp"]
    status = validate_pdf_signature(
        reader.embedded_signatures[0],
        signer_validation_context=ValidationContext(
            trust_roots=roots, crls=[pki.crl().public_bytes(Encoding.DER)], allow_fetching=False
        ),
        ts_validation_context=ValidationContext(trust_roots=roots, allow_fetching=False),
    )
    assert status.bottom_line, status.pretty_print_details()
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    stamp = validate_pdf_timestamp(
        reader.embedded_signatures[1],
        validation_context=ValidationContext(trust_roots=roots, allow_fetching=False),
    )
    assert stamp.valid and stamp.trusted
    dss = reader.root["/DSS"]
    assert "/Certs" in dss and "/CRLs" in dss


def test_the_deposit_check_accepts_it_with_a_proven_time(
    pki: Pki,  # noqa: F811
    authority: LocalTimeStampAuthority,  # noqa: F811
    signed_pdf: bytes,
) -> None:
    facts = check_pdf_signature(signed_pdf, trust_of(pki, authority), now=datetime.now(UTC))
    assert facts.form == "pades-embedded" and facts.signature_sha256 is None
    assert facts.credit_code == CODE and facts.time_proof == "time-stamp"
    content = read_pdf_signature(signed_pdf)
    assert content.document_time_stamps == 1 and content.has_dss


def test_an_incremental_update_after_signing_is_refused(
    pki: Pki,  # noqa: F811
    authority: LocalTimeStampAuthority,  # noqa: F811
    signed_pdf: bytes,
) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(signed_pdf))
    writer.root["/Lang"] = generic.TextStringObject("en")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(SignatureRefused) as caught:
        check_pdf_signature(out.getvalue(), trust_of(pki, authority), now=datetime.now(UTC))
    assert caught.value.reason == "modified-after-signing"


def test_a_flipped_byte_in_the_signed_range_is_refused(
    pki: Pki,  # noqa: F811
    authority: LocalTimeStampAuthority,  # noqa: F811
    signed_pdf: bytes,
) -> None:
    at = signed_pdf.index(b"notarial certificate") if b"notarial" in signed_pdf else 200
    altered = signed_pdf[:at] + bytes([signed_pdf[at] ^ 0x20]) + signed_pdf[at + 1 :]
    with pytest.raises(SignatureRefused) as caught:
        check_pdf_signature(altered, trust_of(pki, authority), now=datetime.now(UTC))
    assert caught.value.reason in ("content-mismatch", "malformed")


def test_an_unsigned_pdf_is_not_signed() -> None:
    with pytest.raises(PdfSignatureError) as caught:
        read_pdf_signature(a_pdf())
    assert caught.value.reason == "not-signed"


def test_deposits_watch_pdfs_only_and_refuse_before_the_last_piece(
    pki: Pki,  # noqa: F811
    authority: LocalTimeStampAuthority,  # noqa: F811
    signed_pdf: bytes,
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    (data / "pki").mkdir(parents=True)
    (data / "pki" / "ca.pem").write_bytes(pki.root.public_bytes(Encoding.PEM))
    (data / "pki" / "crl.der").write_bytes(pki.crl().public_bytes(Encoding.DER))
    checking = SignatureChecking(
        data, LocalBlobStore(tmp_path / "sigs"), time_stamp_roots=(authority.root_der,)
    )
    # Not a PDF, an unsigned PDF: passed through, no signature.
    for content in (b"plain text /ByteRange", a_pdf()):
        chunks, result = checking.embedded(iter([content[:10], content[10:]]))
        assert b"".join(chunks) == content and result() is None
    # The signed PDF, split so that /ByteRange straddles two pieces.
    at = signed_pdf.index(b"/ByteRange") + 4
    chunks, result = checking.embedded(iter([signed_pdf[:at], signed_pdf[at:]]))
    assert b"".join(chunks) == signed_pdf
    signature = result()
    assert signature is not None and signature.form == "pades-embedded"
    # Altered: the refusal comes before the last piece is handed over.
    writer = IncrementalPdfFileWriter(io.BytesIO(signed_pdf))
    writer.root["/Lang"] = generic.TextStringObject("en")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    altered = out.getvalue()
    chunks, result = checking.embedded(iter([altered[:100], altered[100:]]))
    handed = [next(chunks)]
    with pytest.raises(SignatureRefused):
        handed.extend(chunks)
    assert handed == [altered[:100]]
