"""SM2 issuers' e-certificate signatures (docs/e-certificates.md §5.1): SM2 with SM3 and the
default signer ID over the whole ID.json, DER ``SEQUENCE {r, s}``, made and checked by
evidence.verify.e_certificate_signature with the GmSSL engine and checked independently by the
plain reimplementation of GB/T 32918.2 (tests/support/sm2_reference.py); every way a signature
can fail to be the issuer's is refused, and the ECDSA path is unchanged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asn1crypto import algos
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certs.formats.institution_profile import (
    InstitutionType,
    IssuanceRequest,
    build_institution_certificate,
    build_root_certificate,
)
from certs.signing.sm2_signer import Sm2SigningIdentity
from certs.sm2 import keys as sm2_keys
from certs.sm2.signing import sign_message
from evidence.formats.e_certificate import ECertificate, IssueFields
from evidence.verify.e_certificate_signature import (
    MAX_ECDSA_SIGNATURE_BYTES,
    MAX_SIGNATURE_BYTES,
    MAX_SM2_SIGNATURE_BYTES,
    ECertificateSignatureError,
    certificate_fingerprint,
    sign_e_certificate,
    verify_e_certificate_signature,
)
from tests.support import sm2_reference
from tests.unit.test_sm2_document_signature import ENGINE, SUBJECT, Sm2Pki, make_pki

NOW = datetime.now(UTC)


@dataclass(frozen=True)
class Sm2Issuer:
    identity: Sm2SigningIdentity

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.identity.certificate.der)


def fields(number: str = "(2026)京某证字第1号") -> dict[str, Any]:
    return {
        "type": "notarial_certificate",
        "number": number,
        "issued": "2026-03-02",
        "valid_from": "2026-03-02",
        "valid_until": None,
        "holder": {"name": "王小红", "id_type": "resident_id", "id_number": "11010519491231002X"},
        "issuer": {"name": SUBJECT.name, "credit_code": SUBJECT.credit_code.text},
        "details": {"matter": "学历公证", "notary": "李明", "purpose": None},
    }


def certificate_for(signer: x509.Certificate, number: str = "(2026)京某证字第1号") -> ECertificate:
    issue = IssueFields.from_json_bytes(json.dumps(fields(number), ensure_ascii=False).encode())
    return issue.certificate(
        issuer_type=InstitutionType.NOTARY_OFFICE,
        certificate_sha256=certificate_fingerprint(signer),
    )


@pytest.fixture(scope="module")
def pki() -> Sm2Pki:
    return make_pki(NOW)


@pytest.fixture(scope="module")
def issuer(pki: Sm2Pki) -> Sm2Issuer:
    return Sm2Issuer(pki.issue())


@pytest.fixture(scope="module")
def ecdsa_issuer() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = build_root_certificate(
        root_key,
        "某市司法局机构证书根",
        serial=1,
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=3650),
    )
    key = ec.generate_private_key(ec.SECP256R1())
    spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    certificate = build_institution_certificate(
        IssuanceRequest(SUBJECT, spki, 2, NOW - timedelta(days=1), NOW + timedelta(days=365)),
        root_key=root_key,
        root=root,
    )
    return key, certificate


def test_an_sm2_issuer_signs_and_anyone_checks_it(issuer: Sm2Issuer) -> None:
    cert = certificate_for(issuer.certificate)
    signature = sign_e_certificate(cert, issuer.identity.key, engine=ENGINE)
    assert len(signature) <= MAX_SM2_SIGNATURE_BYTES
    signed = verify_e_certificate_signature(
        cert.encode(), signature, issuer.certificate, sm2_engine=ENGINE
    )
    assert signed.certificate == cert and signed.algorithm == "sm2-sm3"
    assert signed.signer.algorithm == "sm2" and signed.signer.subject == SUBJECT
    # Independently of GmSSL and of certs.sm2: GB/T 32918.2 §7.1 over Z ‖ ID.json with the
    # default ID, the signature read as DER SEQUENCE {r, s}.
    parsed = algos.DSASignature.load(signature)
    public = issuer.identity.key.public_key
    assert sm2_reference.verify(
        sm2_reference.SM2P256V1,
        (public.x, public.y),
        b"1234567812345678",
        cert.encode(),
        int(parsed["r"].native),
        int(parsed["s"].native),
    )
    assert not sm2_reference.verify(
        sm2_reference.SM2P256V1,
        (public.x, public.y),
        b"",
        cert.encode(),
        int(parsed["r"].native),
        int(parsed["s"].native),
    )


def _refused(encoded: bytes, signature: bytes, signer: x509.Certificate, words: str) -> None:
    with pytest.raises(ECertificateSignatureError, match=words):
        verify_e_certificate_signature(encoded, signature, signer, sm2_engine=ENGINE)


def test_what_is_not_the_sm2_issuers_signature_is_refused(
    pki: Sm2Pki,
    issuer: Sm2Issuer,
    ecdsa_issuer: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    cert = certificate_for(issuer.certificate)
    encoded = cert.encode()
    key = issuer.identity.key
    signature = sign_e_certificate(cert, key, engine=ENGINE)
    stranger = sm2_keys.generate_private_key(ENGINE)
    flipped = bytearray(signature)
    flipped[-1] ^= 0x01
    other = certificate_for(issuer.certificate, "(2026)京某证字第2号")
    cases = {
        "wrong key": sign_message(stranger, encoded, engine=ENGINE),
        "another signer ID": sign_message(
            key, encoded, engine=ENGINE, signer_id=b"ALICE123@YAHOO.COM"
        ),
        "the empty signer ID": sign_message(key, encoded, engine=ENGINE, signer_id=b""),
        "a flipped bit": bytes(flipped),
        "over another certificate": sign_e_certificate(other, key, engine=ENGINE),
        "ECDSA for an SM2 signer": ecdsa_issuer[0].sign(encoded, ec.ECDSA(hashes.SHA256())),
        "not DER": b"\x30\x03\x02\x01",
    }
    for case, bad in cases.items():
        with pytest.raises(ECertificateSignatureError, match="SM3 and signer ID") as excinfo:
            verify_e_certificate_signature(encoded, bad, issuer.certificate, sm2_engine=ENGINE)
        assert "does not verify" in str(excinfo.value), case
    # Another SM2 certificate of the same institution (another key): not the one named.
    again = Sm2Issuer(pki.issue())
    _refused(encoded, signature, again.certificate, "SHA-256")


def test_oversize_and_engineless_are_refused_by_name(issuer: Sm2Issuer) -> None:
    cert = certificate_for(issuer.certificate)
    encoded = cert.encode()
    signature = sign_e_certificate(cert, issuer.identity.key, engine=ENGINE)
    oversize = signature + bytes(MAX_SM2_SIGNATURE_BYTES + 1 - len(signature))
    _refused(encoded, oversize, issuer.certificate, "limit of 72 for SM2")
    _refused(encoded, bytes(MAX_SIGNATURE_BYTES + 1), issuer.certificate, "over the limit")
    with pytest.raises(ECertificateSignatureError, match="SM2 engine is needed"):
        verify_e_certificate_signature(encoded, signature, issuer.certificate)
    with pytest.raises(ECertificateSignatureError, match="SM2 engine"):
        sign_e_certificate(cert, issuer.identity.key)


def test_the_ecdsa_path_is_unchanged_and_refuses_sm2(
    issuer: Sm2Issuer, ecdsa_issuer: tuple[ec.EllipticCurvePrivateKey, x509.Certificate]
) -> None:
    key, signer = ecdsa_issuer
    cert = certificate_for(signer)
    encoded = cert.encode()
    signature = sign_e_certificate(cert, key)
    signed = verify_e_certificate_signature(encoded, signature, signer)  # no engine needed
    assert signed.algorithm == "ecdsa-p256-sha256"
    # An SM2 signature by the institution's SM2 key, presented for its ECDSA certificate.
    sm2 = sign_message(issuer.identity.key, encoded, engine=ENGINE)
    _refused(encoded, sm2, signer, "does not verify")
    _refused(encoded, bytes(MAX_ECDSA_SIGNATURE_BYTES + 1), signer, "limit of 80 for ECDSA")
