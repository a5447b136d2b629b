"""Detached institution signatures (CAdES-T): made with pyHanko (certs.signing), checked by
the pure deposit check (evidence.verify.document_signature), with every refusal named."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.api import TimeStamper

from certs.formats.credit_code import parse_credit_code
from certs.formats.institution_profile import (
    InstitutionSubject,
    InstitutionType,
    IssuanceRequest,
    build_institution_certificate,
    build_root_certificate,
)
from certs.formats.revocation_list import (
    CrlContent,
    RevocationReason,
    RevokedEntry,
    build_crl,
)
from certs.signing.document_signer import (
    SigningError,
    SigningIdentity,
    load_signing_identity,
    sign_detached,
)
from certs.verify.cms_signature import MAX_SIGNATURE_BYTES, read_detached_signature
from evidence.formats.log_entry import LogEntry, new_entry
from evidence.verify.document_signature import (
    SignatureRefused,
    SignatureTrust,
    check_detached_signature,
)
from tests.support.tsa import LocalTimeStampAuthority

CODE = "11110000000029209E"
DOCUMENT = "公证书正文 — notarial certificate body\n".encode() * 50
PASSPHRASE = b"institution passphrase"


class LocalTimeStamper(TimeStamper):
    """pyHanko's TimeStamper answered by the real ``openssl ts`` authority of the tests."""

    def __init__(self, authority: LocalTimeStampAuthority) -> None:
        super().__init__()
        self.authority = authority

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return tsp.TimeStampResp.load(self.authority.reply(req.dump()))


@dataclass
class Pki:
    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    now: datetime
    serial: int = 100

    def issue(
        self,
        *,
        valid_from: datetime | None = None,
        valid_for: timedelta = timedelta(days=365),
        root_key: ec.EllipticCurvePrivateKey | None = None,
        root: x509.Certificate | None = None,
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        self.serial += 1
        since = valid_from or self.now - timedelta(days=30)
        request = IssuanceRequest(
            subject=InstitutionSubject(
                "北京市某公证处", parse_credit_code(CODE), InstitutionType.NOTARY_OFFICE
            ),
            public_key_der=key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            serial=self.serial,
            not_before=since,
            not_after=since + valid_for,
        )
        certificate = build_institution_certificate(
            request, root_key=root_key or self.root_key, root=root or self.root
        )
        return key, certificate

    def crl(self, *entries: RevokedEntry) -> x509.CertificateRevocationList:
        content = CrlContent(1, self.now - timedelta(hours=1), tuple(entries))
        return build_crl(content, root_key=self.root_key, root=self.root)


def make_pki(now: datetime, name: str = "某市司法局机构证书根") -> Pki:
    key = ec.generate_private_key(ec.SECP256R1())
    root = build_root_certificate(
        key,
        name,
        serial=1,
        not_before=now - timedelta(days=400),
        not_after=now + timedelta(days=3650),
    )
    return Pki(key, root, now)


def identity(key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> SigningIdentity:
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE),
    )
    return load_signing_identity(
        key_pem, certificate.public_bytes(serialization.Encoding.PEM), PASSPHRASE
    )


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> LocalTimeStampAuthority:
    return LocalTimeStampAuthority.create(tmp_path_factory.mktemp("tsa"))


@pytest.fixture(scope="module")
def other_authority(tmp_path_factory: pytest.TempPathFactory) -> LocalTimeStampAuthority:
    return LocalTimeStampAuthority.create(tmp_path_factory.mktemp("tsa2"), name="Stranger TSA")


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki(datetime.now(UTC))


@pytest.fixture(scope="module")
def signer(pki: Pki) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    return pki.issue()


@pytest.fixture(scope="module")
def stamped(
    signer: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    authority: LocalTimeStampAuthority,
) -> bytes:
    return sign_detached(DOCUMENT, identity(*signer), time_stamper=LocalTimeStamper(authority))


def digests(data: bytes = DOCUMENT) -> dict[str, bytes]:
    return {"sha256": hashlib.sha256(data).digest()}


def trust_of(
    pki: Pki,
    authority: LocalTimeStampAuthority | None,
    crl: x509.CertificateRevocationList | None = None,
) -> SignatureTrust:
    return SignatureTrust(
        pki.root,
        crl if crl is not None else pki.crl(),
        (authority.root_der,) if authority is not None else (),
    )


def refusal(signature: bytes, trust: SignatureTrust, data: bytes = DOCUMENT) -> str:
    with pytest.raises(SignatureRefused) as caught:
        check_detached_signature(signature, digests(data), trust, now=datetime.now(UTC))
    return caught.value.reason


# --- what holds ----------------------------------------------------------------------------


def test_a_time_stamped_signature_names_its_signer_and_proven_time(
    pki: Pki, authority: LocalTimeStampAuthority, stamped: bytes
) -> None:
    now = datetime.now(UTC)
    facts = check_detached_signature(stamped, digests(), trust_of(pki, authority), now=now)
    assert facts.time_proof == "time-stamp"
    assert facts.institution == "北京市某公证处" and facts.credit_code == CODE
    assert abs(facts.signed_at - now) < timedelta(minutes=1)
    assert facts.signature_sha256 == hashlib.sha256(stamped).digest()
    assert facts.time_stamp_authority is not None and "Zhenglian test TSA" in (
        facts.time_stamp_authority
    )
    # The token is a real one over the signature value: OpenSSL agrees.
    read = read_detached_signature(stamped)
    assert read.time_stamp_token is not None
    ok, output = authority.openssl_verifies(read.time_stamp_token, read.signature_value)
    assert ok, output


def test_the_version_2_entry_commits_to_the_signature_and_decodes_back(
    pki: Pki, authority: LocalTimeStampAuthority, stamped: bytes
) -> None:
    facts = check_detached_signature(
        stamped, digests(), trust_of(pki, authority), now=datetime.now(UTC)
    )
    entry = new_entry(
        hashlib.sha256(DOCUMENT).digest(),
        bytes(32),
        len(DOCUMENT),
        "notary",
        "北京市某公证处",
        None,
        datetime.now(UTC),
        signature=facts.entry_signature(),
    )
    encoded = entry.encode()
    assert encoded.startswith(b"zhenglian/entry/v2\n") and entry.version == 2
    assert LogEntry.decode(encoded) == entry
    fields = entry.to_json()
    assert fields["signature_sha256"] == hashlib.sha256(stamped).hexdigest()
    assert fields["signer_certificate"] == facts.certificate_sha256.hex()
    assert fields["signed_at_proof"] == "time-stamp"


def test_without_a_time_stamp_the_time_is_the_signers_claim(
    pki: Pki, signer: tuple[ec.EllipticCurvePrivateKey, x509.Certificate]
) -> None:
    signature = sign_detached(DOCUMENT, identity(*signer), time_stamper=None)
    facts = check_detached_signature(
        signature, digests(), trust_of(pki, None), now=datetime.now(UTC)
    )
    assert facts.time_proof == "claimed" and facts.time_stamp_authority is None


def test_a_time_stamp_from_an_untrusted_authority_leaves_the_time_claimed(
    pki: Pki,
    signer: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    other_authority: LocalTimeStampAuthority,
    authority: LocalTimeStampAuthority,
) -> None:
    signature = sign_detached(
        DOCUMENT, identity(*signer), time_stamper=LocalTimeStamper(other_authority)
    )
    facts = check_detached_signature(
        signature, digests(), trust_of(pki, authority), now=datetime.now(UTC)
    )
    assert facts.time_proof == "claimed"


# --- what is refused -----------------------------------------------------------------------


def test_a_flipped_byte_in_the_content_is_refused(
    pki: Pki, authority: LocalTimeStampAuthority, stamped: bytes
) -> None:
    altered = bytearray(DOCUMENT)
    altered[100] ^= 0x01
    assert refusal(stamped, trust_of(pki, authority), bytes(altered)) == "content-mismatch"


def _flip_in(signature: bytes, part: bytes) -> bytes:
    at = signature.index(part) + len(part) // 2
    return signature[:at] + bytes([signature[at] ^ 0x01]) + signature[at + 1 :]


def test_a_flipped_signature_value_or_signed_attribute_is_refused(
    pki: Pki, authority: LocalTimeStampAuthority, stamped: bytes
) -> None:
    read = read_detached_signature(stamped)
    # The time stamp is over the signature value: altering it breaks both; the signature is
    # checked first.
    reason = refusal(_flip_in(stamped, read.signature_value), trust_of(pki, authority))
    assert reason in ("signature-invalid", "malformed")
    # The claimed signing time is a signed attribute.
    signed = cms.ContentInfo.load(stamped)["content"]["signer_infos"][0]["signed_attrs"]
    time_value = next(a for a in signed if a["type"].native == "signing_time")["values"][0]
    assert refusal(_flip_in(stamped, time_value.dump()), trust_of(pki, authority)) in (
        "signature-invalid",
        "malformed",
    )


def test_a_time_stamp_altered_or_over_another_signature_is_refused(
    pki: Pki,
    signer: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    authority: LocalTimeStampAuthority,
    stamped: bytes,
) -> None:
    other = sign_detached(
        b"another document", identity(*signer), time_stamper=LocalTimeStamper(authority)
    )
    token = read_detached_signature(other).time_stamp_token
    mine = read_detached_signature(stamped).time_stamp_token
    assert token is not None and mine is not None
    swapped = stamped.replace(mine, token) if len(mine) == len(token) else None
    if swapped is not None:
        assert refusal(swapped, trust_of(pki, authority)) == "time-stamp-invalid"
    tst = mine.index(b"\x04\x20", len(mine) // 3)  # an OCTET STRING of 32 bytes inside
    altered = stamped.replace(mine, mine[: tst + 5] + bytes([mine[tst + 5] ^ 1]) + mine[tst + 6 :])
    assert refusal(altered, trust_of(pki, authority)) == "time-stamp-invalid"


def test_a_certificate_from_another_root_is_refused(
    pki: Pki, authority: LocalTimeStampAuthority
) -> None:
    stranger = make_pki(pki.now, "另一个根")
    signature = sign_detached(
        DOCUMENT, identity(*stranger.issue()), time_stamper=LocalTimeStamper(authority)
    )
    assert refusal(signature, trust_of(pki, authority)) == "wrong-issuer"


def test_an_expired_certificate_is_refused(pki: Pki, authority: LocalTimeStampAuthority) -> None:
    key, certificate = pki.issue(
        valid_from=pki.now - timedelta(days=40), valid_for=timedelta(days=10)
    )
    signature = sign_detached(
        DOCUMENT, identity(key, certificate), time_stamper=LocalTimeStamper(authority)
    )
    assert refusal(signature, trust_of(pki, authority)) == "expired"


def test_a_revoked_signer_is_refused_after_the_revocation_takes_effect_only(
    pki: Pki,
    signer: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    authority: LocalTimeStampAuthority,
    stamped: bytes,
) -> None:
    serial = signer[1].serial_number
    now = datetime.now(UTC)
    before = pki.crl(
        RevokedEntry(serial, now - timedelta(hours=2), RevocationReason.KEY_COMPROMISE)
    )
    assert refusal(stamped, trust_of(pki, authority, before)) == "revoked"
    # Revoked, effective only after the time-stamped signing time: the signature held then,
    # and the record says it was revoked later.
    after = pki.crl(RevokedEntry(serial, now + timedelta(minutes=1), RevocationReason.SUPERSEDED))
    facts = check_detached_signature(
        stamped,
        digests(),
        trust_of(pki, authority, after),
        now=datetime.now(UTC) + timedelta(minutes=2),
    )
    assert facts.revoked_later is not None and facts.time_proof == "time-stamp"


def test_a_certificate_without_document_signing_is_refused(
    pki: Pki, authority: LocalTimeStampAuthority
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = InstitutionSubject(
        "北京市某公证处", parse_credit_code(CODE), InstitutionType.NOTARY_OFFICE
    ).x509_name()
    ski = pki.root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(pki.root.subject)
        .public_key(key.public_key())
        .serial_number(4242)
        .not_valid_before(pki.now - timedelta(days=1))
        .not_valid_after(pki.now + timedelta(days=100))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(pki.root_key, hashes.SHA256())
    )
    assert certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    signature = sign_detached(
        DOCUMENT, identity(key, certificate), time_stamper=LocalTimeStamper(authority)
    )
    assert refusal(signature, trust_of(pki, authority)) == "key-usage"


def test_no_crl_means_revocation_cannot_be_checked_and_is_refused(
    pki: Pki, authority: LocalTimeStampAuthority, stamped: bytes
) -> None:
    trust = SignatureTrust(pki.root, None, (authority.root_der,))
    assert refusal(stamped, trust) == "crl-missing"


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (b"", "malformed"),
        (b"\x30\x03\x02\x01\x01", "malformed"),
        (b"\x30" * (MAX_SIGNATURE_BYTES + 1), "too-large"),
    ],
)
def test_garbage_is_refused_by_name(
    pki: Pki, authority: LocalTimeStampAuthority, signature: bytes, reason: str
) -> None:
    assert refusal(signature, trust_of(pki, authority)) == reason


def test_a_truncated_or_extended_signature_is_malformed(
    pki: Pki, authority: LocalTimeStampAuthority, stamped: bytes
) -> None:
    assert refusal(stamped[:-1], trust_of(pki, authority)) == "malformed"
    assert refusal(stamped + b"\x00", trust_of(pki, authority)) == "malformed"


def test_a_wrong_passphrase_is_one_clear_error(
    signer: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    key, certificate = signer
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE),
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    with pytest.raises(SigningError, match="wrong ZHENGLIAN_SIGNING_PASSPHRASE"):
        load_signing_identity(key_pem, cert_pem, b"wrong")
    with pytest.raises(SigningError, match="ZHENGLIAN_SIGNING_PASSPHRASE"):
        load_signing_identity(key_pem, cert_pem, None)


def test_the_check_does_not_rely_on_pyhanko_being_imported(
    pki: Pki, authority: LocalTimeStampAuthority, stamped: bytes, tmp_path: Path
) -> None:
    """The server never imports pyHanko, which registers CAdES attributes with asn1crypto on
    import: the check must read them on its own."""
    (tmp_path / "s.p7s").write_bytes(stamped)
    script = (
        "import sys\n"
        "from certs.verify.cms_signature import read_detached_signature\n"
        f"s = read_detached_signature(open({str(tmp_path / 's.p7s')!r}, 'rb').read())\n"
        "assert s.time_stamp_token is not None\n"
        "assert not any(m.startswith('pyhanko') for m in sys.modules), 'pyhanko imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
