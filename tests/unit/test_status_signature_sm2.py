"""SM2 institutions' signatures over certificate status statements (docs/certificate-registry.md
§3): SM2 with SM3 and the default signer ID over the statement bytes, DER ``SEQUENCE {r, s}``,
checked by certs.verify.status_signature with the GmSSL engine — valid for every action and
independently by the plain GB/T 32918.2 reimplementation; a wrong key, another signer ID, a
flipped bit, an ECDSA signature for an SM2 signer (and the reverse), oversize signatures, an
issue naming another institution and a missing engine refused by name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from asn1crypto import algos
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certs.errors import StatusSignatureError, StatusSignerMismatch, UnsupportedAlgorithm
from certs.formats.status_statement import CertificateRevocationReason
from certs.signing.sm2_signer import Sm2SigningIdentity
from certs.sm2 import keys as sm2_keys
from certs.sm2.signing import sign_message
from certs.store.authority import CertificateAuthority
from certs.verify.status_signature import (
    MAX_SM2_STATUS_SIGNATURE_BYTES,
    MAX_STATUS_SIGNATURE_BYTES,
    check_status_signature,
)
from tests.support import sm2_reference
from tests.unit.test_sm2_document_signature import ENGINE, Sm2Pki, make_pki
from tests.unit.test_status_statement import KEY, NOTARY, OTHER_CODE, _statement

STATEMENTS = {
    "issue": _statement(),
    "revoke": _statement(
        action="revoke",
        issuer=None,
        certificate_hash=None,
        reason=CertificateRevocationReason.PRIVILEGE_WITHDRAWN,
        effective_time=1_780_000_000,
    ),
    "supersede": _statement(
        action="supersede", issuer=None, certificate_hash=None, successor=bytes(31) + b"\x01"
    ),
}


@pytest.fixture(scope="module")
def pki() -> Sm2Pki:
    return make_pki(datetime.now(UTC))


@pytest.fixture(scope="module")
def sm2_notary(pki: Sm2Pki) -> Sm2SigningIdentity:
    return pki.issue()


@pytest.fixture(scope="module")
def ecdsa_notary(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    authority = CertificateAuthority.init(
        tmp_path_factory.mktemp("pki") / "data",
        "某市司法局机构证书根",
        passphrase=b"correct horse battery staple",
        public_url="https://zl.example.cn/",
    )
    key = ec.generate_private_key(ec.SECP256R1())
    spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return key, authority.issue(NOTARY, spki).certificate_der


@pytest.mark.parametrize("action", sorted(STATEMENTS))
def test_a_valid_sm2_signature(sm2_notary: Sm2SigningIdentity, action: str) -> None:
    statement = STATEMENTS[action]
    signature = sign_message(sm2_notary.key, statement, engine=ENGINE)
    signed = check_status_signature(
        statement, signature, sm2_notary.certificate.der, sm2_engine=ENGINE
    )
    assert signed.statement.action.value == action and signed.statement.certificate == KEY
    assert signed.signer_code == NOTARY.credit_code.text and signed.signer.algorithm == "sm2"
    # Independently of GmSSL and certs.sm2 (GB/T 32918.2 §7.1, default ID).
    parsed = algos.DSASignature.load(signature)
    public = sm2_notary.key.public_key
    assert sm2_reference.verify(
        sm2_reference.SM2P256V1,
        (public.x, public.y),
        b"1234567812345678",
        statement,
        int(parsed["r"].native),
        int(parsed["s"].native),
    )


def test_what_is_not_the_sm2_institutions_signature_is_refused(
    sm2_notary: Sm2SigningIdentity, ecdsa_notary: tuple[ec.EllipticCurvePrivateKey, bytes]
) -> None:
    statement = STATEMENTS["revoke"]
    key = sm2_notary.key
    signature = sign_message(key, statement, engine=ENGINE)
    flipped = bytearray(signature)
    flipped[-1] ^= 0x01
    cases = {
        "wrong key": sign_message(sm2_keys.generate_private_key(ENGINE), statement, engine=ENGINE),
        "another signer ID": sign_message(key, statement, engine=ENGINE, signer_id=b"ALICE123"),
        "the empty signer ID": sign_message(key, statement, engine=ENGINE, signer_id=b""),
        "a flipped bit": bytes(flipped),
        "over another statement": sign_message(key, STATEMENTS["supersede"], engine=ENGINE),
        "ECDSA for an SM2 signer": ecdsa_notary[0].sign(statement, ec.ECDSA(hashes.SHA256())),
        "zeros": b"\x30" + bytes(69),
    }
    for bad in cases.values():
        with pytest.raises(StatusSignatureError, match="signer ID 1234567812345678"):
            check_status_signature(statement, bad, sm2_notary.certificate.der, sm2_engine=ENGINE)
    # An SM2 signature presented for the institution's ECDSA certificate.
    with pytest.raises(StatusSignatureError, match="is not"):
        check_status_signature(statement, signature, ecdsa_notary[1], sm2_engine=ENGINE)


def test_oversize_another_issuer_and_no_engine(sm2_notary: Sm2SigningIdentity) -> None:
    statement = STATEMENTS["issue"]
    signature = sign_message(sm2_notary.key, statement, engine=ENGINE)
    der = sm2_notary.certificate.der
    padded = signature + bytes(MAX_SM2_STATUS_SIGNATURE_BYTES + 1 - len(signature))
    with pytest.raises(StatusSignatureError, match="at most 72"):
        check_status_signature(statement, padded, der, sm2_engine=ENGINE)
    with pytest.raises(StatusSignatureError, match="1 to 512"):
        check_status_signature(
            statement, bytes(MAX_STATUS_SIGNATURE_BYTES + 1), der, sm2_engine=ENGINE
        )
    other = _statement(issuer=OTHER_CODE)
    with pytest.raises(StatusSignerMismatch):
        check_status_signature(
            other, sign_message(sm2_notary.key, other, engine=ENGINE), der, sm2_engine=ENGINE
        )
    with pytest.raises(UnsupportedAlgorithm, match="SM2 engine is needed"):
        check_status_signature(statement, signature, der)
