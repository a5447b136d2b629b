"""SM2 certificate requests (PKCS#10) and CRLs: built, parsed, checked; OpenSSL 3.0 makes and
checks requests with the default ID (``-sigopt``/``-vfyopt distid:``) and parses our CRLs, and
GmSSL verifies the CRL's signature with its own Z."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gmssl_pyx
import pytest
from asn1crypto import crl as asn1_crl

from certs.errors import CertsError
from certs.sm2.algorithm import DEFAULT_SIGNER_ID
from certs.sm2.certificates import (
    SM2Certificate,
    basic_constraints,
    build_certificate,
    key_usage,
)
from certs.sm2.crl import SM2RevokedCertificate, build_crl, check_crl
from certs.sm2.csr import (
    SM2CertificateRequest,
    build_certificate_request,
    check_certificate_request,
)
from certs.sm2.errors import MalformedSM2Data
from certs.sm2.gmssl_engine import GmsslEngine
from certs.sm2.keys import SM2PrivateKey, generate_private_key, private_key_to_pem

ENGINE = GmsslEngine()
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")
SUBJECT = [("2.5.4.6", "CN"), ("2.5.4.10", "某市法律援助中心"), ("2.5.4.3", "某市法律援助中心")]


@pytest.fixture(scope="module")
def root_and_key() -> tuple[SM2Certificate, SM2PrivateKey]:
    key = generate_private_key(ENGINE)
    root = build_certificate(
        subject=[("2.5.4.6", "CN"), ("2.5.4.3", "SM2 root")],
        public_key=key.public_key,
        serial_number=1,
        not_before=NOW - timedelta(days=30),
        not_after=NOW + timedelta(days=900),
        extensions=[basic_constraints(ca=True), key_usage(key_cert_sign=True, crl_sign=True)],
        issuer_key=key,
        issuer_certificate=None,
        engine=ENGINE,
    )
    return root, key


def test_request_round_trip_and_proof_of_possession() -> None:
    key = generate_private_key(ENGINE)
    request = build_certificate_request(subject=SUBJECT, key=key, engine=ENGINE)
    assert request.subject == tuple(SUBJECT) and request.public_key == key.public_key
    assert check_certificate_request(request, engine=ENGINE)
    assert SM2CertificateRequest.from_pem(request.to_pem()) == request
    assert not check_certificate_request(request, engine=ENGINE, signer_id=b"another")
    # the signature of one key over a request naming another: no proof of possession
    other = build_certificate_request(
        subject=SUBJECT, key=generate_private_key(ENGINE), engine=ENGINE
    )
    forged = SM2CertificateRequest(
        request.der, request.info_der, request.subject, request.public_key, other.signature
    )
    assert not check_certificate_request(forged, engine=ENGINE)


@pytest.mark.parametrize("data", [b"", b"\x30\x00", b"junk" * 10])
def test_malformed_requests_raise_the_package_error(data: bytes) -> None:
    with pytest.raises(CertsError):
        SM2CertificateRequest.from_der(data)


@needs_openssl
def test_openssl_requests_and_ours_interoperate(tmp_path: Path) -> None:
    key = generate_private_key(ENGINE)
    key_path = tmp_path / "key.pem"
    key_path.write_bytes(private_key_to_pem(key, b"pw", iterations=1000))
    theirs = tmp_path / "theirs.csr"
    subprocess.run(
        [
            "openssl",
            "req",
            "-new",
            "-key",
            str(key_path),
            "-passin",
            "pass:pw",
            "-sm3",
            "-sigopt",
            "distid:1234567812345678",
            "-subj",
            "/C=CN/CN=notary",
            "-out",
            str(theirs),
        ],
        check=True,
        capture_output=True,
    )
    parsed = SM2CertificateRequest.from_pem(theirs.read_bytes())
    assert parsed.public_key == key.public_key
    assert check_certificate_request(parsed, engine=ENGINE)

    ours = tmp_path / "ours.csr"
    ours.write_bytes(build_certificate_request(subject=SUBJECT, key=key, engine=ENGINE).to_pem())

    def openssl_verifies(path: Path, distid: str) -> bool:
        # OpenSSL 3.0's req -verify exits 0 either way: read what it says
        run = subprocess.run(
            [
                "openssl",
                "req",
                "-in",
                str(path),
                "-verify",
                "-noout",
                "-vfyopt",
                f"distid:{distid}",
            ],
            capture_output=True,
            text=True,
        )
        said = run.stdout + run.stderr
        assert ("verify OK" in said) != ("verify failure" in said), said
        return "verify OK" in said

    assert openssl_verifies(ours, "1234567812345678")
    assert not openssl_verifies(ours, "1234567812345679")


def test_crl_round_trip(root_and_key: tuple[SM2Certificate, SM2PrivateKey]) -> None:
    root, key = root_and_key
    entries = [
        SM2RevokedCertificate(
            0x1234, NOW - timedelta(days=2), "keyCompromise", NOW - timedelta(days=10)
        ),
        SM2RevokedCertificate(0x99, NOW - timedelta(days=1)),
    ]
    der = build_crl(
        issuer_certificate=root,
        issuer_key=key,
        this_update=NOW,
        next_update=NOW + timedelta(days=7),
        crl_number=3,
        revoked=entries,
        engine=ENGINE,
    )
    result = check_crl(der, root, at=NOW + timedelta(days=1), engine=ENGINE)
    assert result.ok and result.crl_number == 3
    assert result.revoked == tuple(entries)
    first = result.entry(0x1234)
    assert first is not None and first.effective == NOW - timedelta(days=10)
    assert result.entry(0x5) is None
    # unspecified is written as no reasonCode (RFC 5280 §5.3.1)
    parsed = asn1_crl.CertificateList.load(der)
    second = parsed["tbs_cert_list"]["revoked_certificates"][1]
    assert second["crl_entry_extensions"].native is None
    # GmSSL's own Z over the TBS
    assert gmssl_pyx.sm2_verify(
        root.public_key.raw,
        bytes(parsed["tbs_cert_list"].dump()),
        bytes(parsed["signature"].native),
        DEFAULT_SIGNER_ID,
    )


def test_crl_checks_fail_as_they_should(root_and_key: tuple[SM2Certificate, SM2PrivateKey]) -> None:
    root, key = root_and_key
    der = build_crl(
        issuer_certificate=root,
        issuer_key=key,
        this_update=NOW,
        next_update=NOW + timedelta(days=7),
        crl_number=0x5A,
        revoked=[],
        engine=ENGINE,
    )
    stale = check_crl(der, root, at=NOW + timedelta(days=8), engine=ENGINE)
    assert stale.signature_valid and not stale.current and not stale.ok
    other_key = generate_private_key(ENGINE)
    other_root = build_certificate(
        subject=[("2.5.4.6", "CN"), ("2.5.4.3", "SM2 root")],
        public_key=other_key.public_key,
        serial_number=1,
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=9),
        extensions=[],
        issuer_key=other_key,
        issuer_certificate=None,
        engine=ENGINE,
    )
    assert not check_crl(der, other_root, at=NOW, engine=ENGINE).signature_valid
    tampered = bytearray(der)
    # CRLNumber 90 → 91 inside the TBS (the INTEGER after the cRLNumber OID 2.5.29.20)
    at = der.index(b"\x02\x01\x5a", der.index(bytes.fromhex("0603551d14")))
    tampered[at + 2] = 0x5B
    assert not check_crl(bytes(tampered), root, at=NOW, engine=ENGINE).signature_valid


def test_crl_input_errors(root_and_key: tuple[SM2Certificate, SM2PrivateKey]) -> None:
    root, key = root_and_key
    with pytest.raises(MalformedSM2Data):
        SM2RevokedCertificate(1, NOW, "certificateRevoked")
    with pytest.raises(MalformedSM2Data):
        build_crl(
            issuer_certificate=root,
            issuer_key=key,
            this_update=NOW,
            next_update=NOW,
            crl_number=1,
            revoked=[],
            engine=ENGINE,
        )
    with pytest.raises(CertsError):
        check_crl(b"\x30\x03\x02\x01\x01", root, at=NOW, engine=ENGINE)


@needs_openssl
def test_openssl_parses_our_crl(
    root_and_key: tuple[SM2Certificate, SM2PrivateKey], tmp_path: Path
) -> None:
    root, key = root_and_key
    path = tmp_path / "root.crl"
    path.write_bytes(
        build_crl(
            issuer_certificate=root,
            issuer_key=key,
            this_update=NOW,
            next_update=NOW + timedelta(days=7),
            crl_number=7,
            revoked=[SM2RevokedCertificate(0xABCDEF, NOW, "superseded")],
            engine=ENGINE,
        )
    )
    text = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(path), "-text", "-noout"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "Signature Algorithm: SM2-with-SM3" in text
    assert "Serial Number: ABCDEF" in text and "Superseded" in text
    assert re.search(r"CRL Number:\s*\n\s*7\n", text), text
