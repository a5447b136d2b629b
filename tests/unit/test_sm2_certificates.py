"""SM2 certificates (GM/T 0015 profile): a self-signed root, an institution certificate issued by
it, the check at a time, and OpenSSL 3.0 (parsing, and verifying with -vfyopt distid) and
GmSSL's message-level verification as independent checks."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gmssl_pyx
import pytest
from asn1crypto import algos, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509 as cx509

from certs.errors import CertsError
from certs.sm2 import oids
from certs.sm2.algorithm import DEFAULT_SIGNER_ID, sm3
from certs.sm2.certificates import (
    CertificateExtension,
    SM2Certificate,
    basic_constraints,
    build_certificate,
    check_certificate,
    key_identifier,
    key_usage,
)
from certs.sm2.errors import MalformedSM2Data
from certs.sm2.gmssl_engine import GmsslEngine
from certs.sm2.keys import SM2PrivateKey, generate_private_key

ENGINE = GmsslEngine()
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")

ROOT_NAME = [("2.5.4.6", "CN"), ("2.5.4.10", "某市司法局"), ("2.5.4.3", "证链 SM2 根证书")]
NOTARY_NAME = [
    ("2.5.4.6", "CN"),
    ("2.5.4.10", "某市公证处"),
    ("2.5.4.97", "12350100MB0000000X"),  # organizationIdentifier
    ("2.5.4.3", "某市公证处"),
]


def _root(key: SM2PrivateKey, *, days: int = 3650) -> SM2Certificate:
    return build_certificate(
        subject=ROOT_NAME,
        public_key=key.public_key,
        serial_number=1,
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=days),
        extensions=[
            basic_constraints(ca=True, path_length=0),
            key_usage(key_cert_sign=True, crl_sign=True),
        ],
        issuer_key=key,
        issuer_certificate=None,
        engine=ENGINE,
    )


@pytest.fixture(scope="module")
def root_key() -> SM2PrivateKey:
    return generate_private_key(ENGINE)


@pytest.fixture(scope="module")
def notary_key() -> SM2PrivateKey:
    return generate_private_key(ENGINE)


@pytest.fixture(scope="module")
def root(root_key: SM2PrivateKey) -> SM2Certificate:
    return _root(root_key)


@pytest.fixture(scope="module")
def notary(
    root: SM2Certificate, root_key: SM2PrivateKey, notary_key: SM2PrivateKey
) -> SM2Certificate:
    return build_certificate(
        subject=NOTARY_NAME,
        public_key=notary_key.public_key,
        serial_number=0x5EED_0001_2345_6789,
        not_before=NOW - timedelta(hours=1),
        not_after=NOW + timedelta(days=365),
        extensions=[
            basic_constraints(ca=False),
            key_usage(digital_signature=True, content_commitment=True),
        ],
        issuer_key=root_key,
        issuer_certificate=root,
        engine=ENGINE,
    )


def test_profile_fields(root: SM2Certificate, notary: SM2Certificate) -> None:
    cert = asn1_x509.Certificate.load(notary.der)
    assert cert["signature_algorithm"]["algorithm"].dotted == oids.SM2_WITH_SM3
    assert cert["signature_algorithm"]["parameters"].native is None
    spki = cert["tbs_certificate"]["subject_public_key_info"]["algorithm"]
    assert spki["algorithm"].dotted == oids.ID_EC_PUBLIC_KEY
    assert spki["parameters"].chosen.dotted == oids.SM2P256V1
    assert notary.subject == tuple(NOTARY_NAME)
    assert notary.subject_key_identifier == sm3(notary.public_key.uncompressed)
    assert notary.authority_key_identifier == root.subject_key_identifier
    assert (
        root.subject_key_identifier
        == root.authority_key_identifier
        == key_identifier(root.public_key)
    )
    assert root.is_self_issued and not notary.is_self_issued
    # the names' string types: PrintableString for C, UTF8String for the others
    rdns = cert["tbs_certificate"]["subject"].chosen
    assert rdns[0][0]["value"].chosen.__class__.__name__ == "PrintableString"
    assert rdns[1][0]["value"].chosen.__class__.__name__ == "UTF8String"
    # cryptography parses it too (it cannot verify SM2, but reads the structure)
    parsed = cx509.load_der_x509_certificate(notary.der)
    assert parsed.serial_number == 0x5EED_0001_2345_6789
    assert parsed.extensions.get_extension_for_class(cx509.KeyUsage).value.content_commitment


def test_checks_pass_at_a_time_within_validity(
    root: SM2Certificate, notary: SM2Certificate
) -> None:
    assert check_certificate(root, root, at=NOW, engine=ENGINE).ok
    result = check_certificate(notary, root, at=NOW, engine=ENGINE)
    assert result.ok and result.at == NOW


def test_checks_fail_outside_validity(notary: SM2Certificate, root: SM2Certificate) -> None:
    later = check_certificate(notary, root, at=NOW + timedelta(days=400), engine=ENGINE)
    assert later.signature_valid and not later.within_validity and not later.ok
    earlier = check_certificate(notary, root, at=NOW - timedelta(days=1), engine=ENGINE)
    assert not earlier.within_validity


def test_another_issuer_fails(notary: SM2Certificate) -> None:
    stranger = _root(generate_private_key(ENGINE))  # same name, another key
    result = check_certificate(notary, stranger, at=NOW, engine=ENGINE)
    assert result.issuer_name_matches
    assert not result.signature_valid and not result.key_identifier_matches and not result.ok
    assert not check_certificate(notary, notary, at=NOW, engine=ENGINE).ok


def test_wrong_signer_id_fails(notary: SM2Certificate, root: SM2Certificate) -> None:
    result = check_certificate(notary, root, at=NOW, engine=ENGINE, signer_id=b"1234567812345679")
    assert not result.signature_valid


def test_tampered_certificate_fails(notary: SM2Certificate, root: SM2Certificate) -> None:
    # change one byte of the subject's organizationIdentifier inside the signed TBS
    marker = b"12350100MB0000000X"
    tampered = SM2Certificate.from_der(notary.der.replace(marker, marker[:-1] + b"Y"))
    assert tampered.tbs_der != notary.tbs_der
    assert not check_certificate(tampered, root, at=NOW, engine=ENGINE).signature_valid


def test_gmssl_verifies_the_certificate_signature(
    root: SM2Certificate, notary: SM2Certificate
) -> None:
    """GmSSL's own Z/ID handling over the TBS: independent of our Z code."""
    assert gmssl_pyx.sm2_verify(
        root.public_key.raw, notary.tbs_der, notary.signature, DEFAULT_SIGNER_ID
    )
    assert gmssl_pyx.sm2_verify(
        root.public_key.raw, root.tbs_der, root.signature, DEFAULT_SIGNER_ID
    )


def test_null_algorithm_parameters_are_read(notary: SM2Certificate) -> None:
    cert = asn1_x509.Certificate.load(notary.der)
    with_null = algos.SignedDigestAlgorithm(
        {"algorithm": oids.SM2_WITH_SM3, "parameters": core.Null()}
    )
    cert["signature_algorithm"] = with_null
    cert["tbs_certificate"]["signature"] = with_null
    parsed = SM2Certificate.from_der(bytes(cert.dump(force=True)))
    assert parsed.public_key == notary.public_key
    with_int = algos.SignedDigestAlgorithm(
        {"algorithm": oids.SM2_WITH_SM3, "parameters": core.Integer(1)}
    )
    cert["signature_algorithm"] = with_int
    with pytest.raises(MalformedSM2Data, match="parameters"):
        SM2Certificate.from_der(bytes(cert.dump(force=True)))


def test_pem_round_trip(notary: SM2Certificate) -> None:
    assert SM2Certificate.from_pem(notary.to_pem()) == notary


def test_build_refuses_mismatched_keys(
    root: SM2Certificate, root_key: SM2PrivateKey, notary_key: SM2PrivateKey
) -> None:
    with pytest.raises(MalformedSM2Data, match="issuer key"):
        build_certificate(
            subject=NOTARY_NAME,
            public_key=notary_key.public_key,
            serial_number=2,
            not_before=NOW,
            not_after=NOW + timedelta(days=1),
            extensions=[],
            issuer_key=notary_key,
            issuer_certificate=root,
            engine=ENGINE,
        )
    with pytest.raises(MalformedSM2Data, match="self-signed"):
        build_certificate(
            subject=ROOT_NAME,
            public_key=notary_key.public_key,
            serial_number=2,
            not_before=NOW,
            not_after=NOW + timedelta(days=1),
            extensions=[],
            issuer_key=root_key,
            issuer_certificate=None,
            engine=ENGINE,
        )
    with pytest.raises(MalformedSM2Data, match="twice"):
        build_certificate(
            subject=ROOT_NAME,
            public_key=root_key.public_key,
            serial_number=2,
            not_before=NOW,
            not_after=NOW + timedelta(days=1),
            extensions=[basic_constraints(ca=True), basic_constraints(ca=True)],
            issuer_key=root_key,
            issuer_certificate=None,
            engine=ENGINE,
        )


def test_extensions_from_cryptography_are_carried(root_key: SM2PrivateKey) -> None:
    eku = CertificateExtension.from_cryptography(
        cx509.ExtendedKeyUsage([cx509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")]), critical=False
    )
    cert = build_certificate(
        subject=ROOT_NAME,
        public_key=root_key.public_key,
        serial_number=9,
        not_before=NOW,
        not_after=NOW + timedelta(days=1),
        extensions=[eku],
        issuer_key=root_key,
        issuer_certificate=None,
        engine=ENGINE,
    )
    assert eku in cert.extensions


@pytest.mark.parametrize("data", [b"", b"\x30\x03\x02\x01\x01", b"x" * 100])
def test_malformed_certificates_raise_the_package_error(data: bytes) -> None:
    with pytest.raises(CertsError):
        SM2Certificate.from_der(data)


def test_an_ecdsa_certificate_is_not_an_sm2_certificate() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding

    key = ec.generate_private_key(ec.SECP256R1())
    name = cx509.Name([cx509.NameAttribute(cx509.NameOID.COMMON_NAME, "p256")])
    cert = (
        cx509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(MalformedSM2Data, match="SM2-with-SM3"):
        SM2Certificate.from_der(cert.public_bytes(Encoding.DER))


@needs_openssl
def test_openssl_parses_and_verifies_with_the_default_id(
    root: SM2Certificate, notary: SM2Certificate, tmp_path: Path
) -> None:
    root_pem, notary_pem = tmp_path / "root.pem", tmp_path / "notary.pem"
    root_pem.write_bytes(root.to_pem())
    notary_pem.write_bytes(notary.to_pem())
    text = subprocess.run(
        ["openssl", "x509", "-in", str(notary_pem), "-text", "-noout"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "Signature Algorithm: SM2-with-SM3" in text and "ASN1 OID: SM2" in text
    assert "organizationIdentifier = 12350100MB0000000X" in text

    def openssl_verify(distid: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "openssl",
                "verify",
                "-attime",
                str(int(NOW.timestamp())),
                "-vfyopt",
                f"distid:{distid}",
                "-CAfile",
                str(root_pem),
                str(notary_pem),
            ],
            capture_output=True,
            text=True,
        )

    assert openssl_verify("1234567812345678").returncode == 0
    assert openssl_verify("1234567812345679").returncode != 0
