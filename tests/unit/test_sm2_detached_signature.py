"""Detached SM2 document signatures (CMS SignedData, GM/T 0010 and RFC 5652 OIDs)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509

from certs.errors import CertsError
from certs.sm2 import oids
from certs.sm2.certificates import (
    SM2Certificate,
    basic_constraints,
    build_certificate,
    check_certificate,
    key_usage,
)
from certs.sm2.detached_signature import (
    CmsProfile,
    document_digest,
    sign_detached,
    signature_value,
    verify_detached,
    with_time_stamp_token,
)
from certs.sm2.errors import MalformedSM2Data
from certs.sm2.gmssl_engine import GmsslEngine
from certs.sm2.keys import SM2PrivateKey, generate_private_key
from tests.support.servers import REPO_ROOT

ENGINE = GmsslEngine()
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
DOCUMENT = "公证书 (2026) 某证字第 1 号\n".encode() * 200
TOKEN = (REPO_ROOT / "tests" / "assets" / "time_stamps" / "valid-sha256-chain.tst").read_bytes()
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")


@pytest.fixture(scope="module")
def pki() -> tuple[SM2Certificate, SM2Certificate, SM2PrivateKey]:
    root_key, key = generate_private_key(ENGINE), generate_private_key(ENGINE)
    root = build_certificate(
        subject=[("2.5.4.6", "CN"), ("2.5.4.3", "SM2 root")],
        public_key=root_key.public_key,
        serial_number=1,
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=900),
        extensions=[basic_constraints(ca=True), key_usage(key_cert_sign=True, crl_sign=True)],
        issuer_key=root_key,
        issuer_certificate=None,
        engine=ENGINE,
    )
    signer = build_certificate(
        subject=[("2.5.4.6", "CN"), ("2.5.4.3", "某市公证处")],
        public_key=key.public_key,
        serial_number=4242,
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=300),
        extensions=[
            basic_constraints(ca=False),
            key_usage(digital_signature=True, content_commitment=True),
        ],
        issuer_key=root_key,
        issuer_certificate=root,
        engine=ENGINE,
    )
    return root, signer, key


def _sign(pki: tuple[SM2Certificate, SM2Certificate, SM2PrivateKey], **kw: object) -> bytes:
    root, signer, key = pki
    return sign_detached(
        document_digest(DOCUMENT),
        key=key,
        certificate=signer,
        signing_time=NOW,
        engine=ENGINE,
        extra_certificates=[root],
        **kw,
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("profile", list(CmsProfile))
def test_round_trip(
    pki: tuple[SM2Certificate, SM2Certificate, SM2PrivateKey], profile: CmsProfile
) -> None:
    root, signer, _key = pki
    result = verify_detached(_sign(pki, profile=profile), document_digest(DOCUMENT), engine=ENGINE)
    assert result.ok and result.profile is profile
    assert result.signer_certificate == signer
    assert result.other_certificates == (root.der,)
    assert result.signing_time == NOW
    assert result.time_stamp_tokens == ()
    # the caller's next step: the signer's certificate under the trusted root at signing time
    assert check_certificate(result.signer_certificate, root, at=NOW, engine=ENGINE).ok


class _AnyContentInfo(core.Sequence):
    """ContentInfo whose [0] content is read as SignedData whatever the content type."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("content_type", core.ObjectIdentifier),
        ("content", cms.SignedData, {"explicit": 0}),
    ]


def test_gm_t_0010_oids_by_default(
    pki: tuple[SM2Certificate, SM2Certificate, SM2PrivateKey],
) -> None:
    info = _AnyContentInfo.load(_sign(pki))
    assert info["content_type"].dotted == oids.GM_SIGNED_DATA
    signed_data = info["content"]
    signer_info = signed_data["signer_infos"][0]
    assert signer_info["digest_algorithm"]["algorithm"].dotted == oids.SM3
    assert signer_info["signature_algorithm"]["algorithm"].dotted == oids.SM2_SIGN
    assert signed_data["encap_content_info"]["content_type"].dotted == oids.GM_DATA
    assert signed_data["encap_content_info"]["content"].native is None
    types = {a["type"].dotted for a in signer_info["signed_attrs"]}
    assert types == {oids.ATTR_CONTENT_TYPE, oids.ATTR_MESSAGE_DIGEST, oids.ATTR_SIGNING_TIME}


def test_rfc5652_oids_on_request(
    pki: tuple[SM2Certificate, SM2Certificate, SM2PrivateKey],
) -> None:
    info = cms.ContentInfo.load(_sign(pki, profile=CmsProfile.RFC_5652))
    assert info["content_type"].native == "signed_data"
    signer_info = info["content"]["signer_infos"][0]
    assert signer_info["signature_algorithm"]["algorithm"].dotted == oids.SM2_WITH_SM3


def test_another_document_fails(pki: tuple[SM2Certificate, SM2Certificate, SM2PrivateKey]) -> None:
    result = verify_detached(_sign(pki), document_digest(DOCUMENT + b"!"), engine=ENGINE)
    assert result.signature_valid and not result.digest_matches and not result.ok


def test_wrong_signer_id_fails(pki: tuple[SM2Certificate, SM2Certificate, SM2PrivateKey]) -> None:
    signature = _sign(pki, signer_id=b"ALICE123@YAHOO.COM")
    result = verify_detached(signature, document_digest(DOCUMENT), engine=ENGINE)
    assert result.digest_matches and not result.signature_valid and not result.ok
    assert verify_detached(
        signature, document_digest(DOCUMENT), engine=ENGINE, signer_id=b"ALICE123@YAHOO.COM"
    ).ok


def test_altered_signed_attribute_fails(
    pki: tuple[SM2Certificate, SM2Certificate, SM2PrivateKey],
) -> None:
    signature = _sign(pki)
    # the signing time is inside the signed attributes: 2026-12-01 08:00 → 2026-12-01 09:00
    altered = signature.replace(b"261201080000Z", b"261201090000Z")
    assert altered != signature
    result = verify_detached(altered, document_digest(DOCUMENT), engine=ENGINE)
    assert result.digest_matches and not result.signature_valid


def test_every_signature_byte_matters(
    pki: tuple[SM2Certificate, SM2Certificate, SM2PrivateKey],
) -> None:
    signature = _sign(pki)
    value = signature_value(signature)
    for position in range(0, len(value), 7):
        flipped = bytearray(value)
        flipped[position] ^= 0x10
        altered = signature.replace(value, bytes(flipped))
        try:
            result = verify_detached(altered, document_digest(DOCUMENT), engine=ENGINE)
        except MalformedSM2Data:
            continue  # a flip in a DER header of r or s: refused as malformed, also fine
        assert not result.ok


def test_time_stamp_token_is_returned(
    pki: tuple[SM2Certificate, SM2Certificate, SM2PrivateKey],
) -> None:
    for profile in CmsProfile:
        stamped = with_time_stamp_token(_sign(pki, profile=profile), TOKEN)
        assert TOKEN in stamped
        result = verify_detached(stamped, document_digest(DOCUMENT), engine=ENGINE)
        assert result.ok  # unsigned attributes are outside the signature
        assert result.time_stamp_tokens == (TOKEN,)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x30\x00", b"garbage" * 10, TOKEN],  # TOKEN: a SignedData, but not SM2
)
def test_malformed_signatures_raise_the_package_error(data: bytes) -> None:
    with pytest.raises(CertsError):
        verify_detached(data, document_digest(DOCUMENT), engine=ENGINE)


def test_signer_certificate_must_be_included(
    pki: tuple[SM2Certificate, SM2Certificate, SM2PrivateKey],
) -> None:
    root, signer, key = pki
    # signed with the signer's key but carrying only the root's certificate
    signature = sign_detached(
        document_digest(DOCUMENT), key=key, certificate=signer, signing_time=NOW, engine=ENGINE
    )
    info = _AnyContentInfo.load(signature)
    info["content"]["certificates"] = [asn1_x509.Certificate.load(root.der)]
    stripped = bytes(info.dump(force=True))
    with pytest.raises(MalformedSM2Data, match="not included"):
        verify_detached(stripped, document_digest(DOCUMENT), engine=ENGINE)


def test_sign_refuses_a_certificate_of_another_key(
    pki: tuple[SM2Certificate, SM2Certificate, SM2PrivateKey],
) -> None:
    root, _signer, key = pki
    with pytest.raises(MalformedSM2Data, match="does not certify"):
        sign_detached(
            document_digest(DOCUMENT), key=key, certificate=root, signing_time=NOW, engine=ENGINE
        )


@needs_openssl
def test_openssl_verifies_the_rfc5652_structure(
    pki: tuple[SM2Certificate, SM2Certificate, SM2PrivateKey], tmp_path: Path
) -> None:
    """OpenSSL 3.0 checks a CMS SM2 signature with the *empty* ID, not the default one: signed
    with the empty ID, our structure and signed attributes verify there; with the default ID
    (ours, GM/T 0009) they do not — an OpenSSL 3.0 limitation, documented in docs/sm2.md."""
    document = tmp_path / "document.txt"
    document.write_bytes(DOCUMENT)

    def openssl_verifies(signature: bytes) -> bool:
        path = tmp_path / "document.p7s"
        path.write_bytes(signature)
        run = subprocess.run(
            [
                "openssl",
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                str(path),
                "-content",
                str(document),
                "-noverify",
                "-out",
                "/dev/null",
            ],
            capture_output=True,
        )
        return run.returncode == 0

    assert openssl_verifies(_sign(pki, profile=CmsProfile.RFC_5652, signer_id=b""))
    assert not openssl_verifies(_sign(pki, profile=CmsProfile.RFC_5652))
    document.write_bytes(DOCUMENT + b"!")
    assert not openssl_verifies(_sign(pki, profile=CmsProfile.RFC_5652, signer_id=b""))
