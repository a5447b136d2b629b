"""SM2 document signatures wired into the deposit check and the offline check: made by
certs.signing.sm2_signer (GM/T 0010, SM3, default signer ID, CAdES-T token from a real
``openssl ts`` authority), certified by the SM2 root (certs.formats.root_signer), checked by the
pure evidence.verify.document_signature — every refusal named, including another signer ID,
a revoked signer, a stale SM2 CRL and an SM2 key certified by the ECDSA root."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import algos
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from certs.formats.credit_code import parse_credit_code
from certs.formats.institution_profile import (
    InstitutionSubject,
    InstitutionType,
    IssuanceRequest,
    build_root_certificate,
)
from certs.formats.revocation_list import CrlContent, RevocationReason, RevokedEntry
from certs.formats.root_signer import Sm2RootSigner, build_sm2_root_certificate
from certs.signing.document_signer import SigningError
from certs.signing.sm2_signer import (
    Sm2SigningIdentity,
    certificate_is_sm2,
    load_sm2_signing_identity,
    sign_sm2_detached,
)
from certs.sm2 import keys as sm2_keys
from certs.sm2.certificates import SM2Certificate
from certs.sm2.detached_signature import sign_detached
from certs.sm2.gmssl_engine import GmsslEngine
from certs.verify.institution_check import FailureKind, check_sm2_institution_certificate
from certs.verify.sm2_signature import is_sm2_signature
from evidence.formats.log_entry import LogEntry, new_entry
from evidence.verify.document_signature import (
    SignatureRefused,
    SignatureTrust,
    check_committed_signature,
    check_detached_signature,
)
from tests.support.tsa import LocalTimeStampAuthority
from tests.unit.test_document_signature import LocalTimeStamper

ENGINE = GmsslEngine()
CODE = "11110000000029209E"
DOCUMENT = "公证书正文（SM2 签名）\n".encode() * 64
PASSPHRASE = b"institution passphrase"
SUBJECT = InstitutionSubject(
    "北京市某公证处", parse_credit_code(CODE), InstitutionType.NOTARY_OFFICE
)


EcdsaRoot = tuple[ec.EllipticCurvePrivateKey, x509.Certificate]


@dataclass
class Sm2Pki:
    signer: Sm2RootSigner
    root: x509.Certificate
    now: datetime
    serial: int = 500

    def issue(
        self, *, valid_from: datetime | None = None, valid_for: timedelta = timedelta(days=365)
    ) -> Sm2SigningIdentity:
        key = sm2_keys.generate_private_key(ENGINE)
        self.serial += 1
        since = valid_from or self.now - timedelta(days=30)
        der = self.signer.issue(
            IssuanceRequest(
                subject=SUBJECT,
                public_key_der=sm2_keys.public_key_info_der(key.public_key),
                serial=self.serial,
                not_before=since,
                not_after=since + valid_for,
                crl_url="https://zl.example.cn/v1/pki/crl?algorithm=sm2",
            )
        )
        return Sm2SigningIdentity(key, SM2Certificate.from_der(der))

    def crl(self, *entries: RevokedEntry, this_update: datetime | None = None) -> bytes:
        when = this_update or self.now - timedelta(hours=1)
        return self.signer.sign_crl(CrlContent(1, when, tuple(entries)))


def make_pki(now: datetime) -> Sm2Pki:
    key = sm2_keys.generate_private_key(ENGINE)
    root = build_sm2_root_certificate(
        key,
        "某市司法局SM2根",
        serial=7,
        not_before=now - timedelta(days=400),
        not_after=now + timedelta(days=3650),
        engine=ENGINE,
    )
    return Sm2Pki(Sm2RootSigner(key, root, ENGINE), x509.load_der_x509_certificate(root.der), now)


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> LocalTimeStampAuthority:
    return LocalTimeStampAuthority.create(tmp_path_factory.mktemp("tsa"))


@pytest.fixture(scope="module")
def pki() -> Sm2Pki:
    return make_pki(datetime.now(UTC))


@pytest.fixture(scope="module")
def ecdsa_root() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    root = build_root_certificate(
        key,
        "某市司法局机构证书根",
        serial=1,
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=3650),
    )
    return key, root


def digests(data: bytes = DOCUMENT) -> dict[str, bytes]:
    sm3 = hashes.Hash(hashes.SM3())
    sm3.update(data)
    return {"sha256": hashlib.sha256(data).digest(), "sm3": sm3.finalize()}


def trust_of(
    pki: Sm2Pki,
    authority: LocalTimeStampAuthority,
    ecdsa_root: EcdsaRoot,
    crl: bytes | None = None,
) -> SignatureTrust:
    return SignatureTrust(
        ecdsa_root[1],
        None,
        (authority.root_der,),
        sm2_root=pki.root,
        sm2_crl=crl if crl is not None else pki.crl(),
        sm2_engine=ENGINE,
    )


def sign(
    identity: Sm2SigningIdentity, authority: LocalTimeStampAuthority | None, data: bytes = DOCUMENT
) -> bytes:
    stamper = LocalTimeStamper(authority) if authority is not None else None
    return sign_sm2_detached(io.BytesIO(data), identity, engine=ENGINE, time_stamper=stamper)


def refusal(signature: bytes, trust: SignatureTrust, data: bytes = DOCUMENT) -> str:
    with pytest.raises(SignatureRefused) as caught:
        check_detached_signature(signature, digests(data), trust, now=datetime.now(UTC))
    return caught.value.reason


def test_an_sm2_signature_names_its_signer_and_proven_time(
    pki: Sm2Pki, authority: LocalTimeStampAuthority, ecdsa_root: EcdsaRoot
) -> None:
    identity = pki.issue()
    signature = sign(identity, authority)
    assert is_sm2_signature(signature)
    checked = check_detached_signature(
        signature, digests(), trust_of(pki, authority, ecdsa_root), now=datetime.now(UTC)
    )
    assert checked.form == "cms-detached" and checked.time_proof == "time-stamp"
    assert checked.institution == SUBJECT.name and checked.credit_code == CODE
    assert checked.certificate == identity.certificate.der
    assert checked.signature_sha256 == hashlib.sha256(signature).digest()
    assert abs(checked.signed_at - datetime.now(UTC)) < timedelta(minutes=1)
    # The version 2 entry commits to it like to an ECDSA signature, and decodes back.
    entry = new_entry(
        b"\x01" * 32,
        b"\x02" * 32,
        1,
        "notary",
        "北京市某公证处",
        None,
        datetime.now(UTC),
        signature=checked.entry_signature(),
    )
    assert LogEntry.decode(entry.encode()).signature == checked.entry_signature()


def test_without_a_time_stamp_the_time_is_claimed(
    pki: Sm2Pki, authority: LocalTimeStampAuthority, ecdsa_root: EcdsaRoot
) -> None:
    checked = check_detached_signature(
        sign(pki.issue(), None),
        digests(),
        trust_of(pki, authority, ecdsa_root),
        now=datetime.now(UTC),
    )
    assert checked.time_proof == "claimed" and checked.time_stamp_authority is None


def test_another_signer_id_is_refused_as_an_invalid_signature(
    pki: Sm2Pki, authority: LocalTimeStampAuthority, ecdsa_root: EcdsaRoot
) -> None:
    identity = pki.issue()
    trust = trust_of(pki, authority, ecdsa_root)
    for signer_id in (b"", b"1234567812345679", b"ALICE123@YAHOO.COM"):
        signature = sign_detached(
            digests()["sm3"],
            key=identity.key,
            certificate=identity.certificate,
            signing_time=datetime.now(UTC),
            engine=ENGINE,
            signer_id=signer_id,
        )
        assert refusal(signature, trust) == "signature-invalid", signer_id


def test_other_content_and_flipped_bytes_are_refused(
    pki: Sm2Pki, authority: LocalTimeStampAuthority, ecdsa_root: EcdsaRoot
) -> None:
    trust = trust_of(pki, authority, ecdsa_root)
    signature = sign(pki.issue(), None)
    changed = bytearray(DOCUMENT)
    changed[3] ^= 1
    assert refusal(signature, trust, bytes(changed)) == "content-mismatch"
    flipped = bytearray(signature)
    flipped[-5] ^= 0x01  # inside the signature value (last field of the SignerInfo)
    assert refusal(bytes(flipped), trust) in ("signature-invalid", "malformed")
    assert refusal(signature[:-3], trust) == "malformed"


def test_a_revoked_sm2_signer_is_refused_only_after_the_revocation_takes_effect(
    pki: Sm2Pki, authority: LocalTimeStampAuthority, ecdsa_root: EcdsaRoot
) -> None:
    identity = pki.issue()
    signature = sign(identity, authority)
    now = datetime.now(UTC)
    before = RevokedEntry(pki.serial, now - timedelta(minutes=30), RevocationReason.KEY_COMPROMISE)
    trust = trust_of(pki, authority, ecdsa_root, pki.crl(before))
    assert refusal(signature, trust) == "revoked"
    later = RevokedEntry(
        pki.serial,
        now - timedelta(minutes=30),
        RevocationReason.SUPERSEDED,
        invalid_since=None,
    )
    # A revocation recorded before the signing refuses; one effective later leaves it good.
    signed_earlier = sign_detached(
        digests()["sm3"],
        key=identity.key,
        certificate=identity.certificate,
        signing_time=now - timedelta(hours=2),
        engine=ENGINE,
    )
    checked = check_detached_signature(
        signed_earlier, digests(), trust_of(pki, authority, ecdsa_root, pki.crl(later)), now=now
    )
    assert checked.revoked_later is not None and checked.revoked_later.serial == pki.serial


def test_a_stale_or_foreign_sm2_crl_and_no_sm2_root_are_refused(
    pki: Sm2Pki, authority: LocalTimeStampAuthority, ecdsa_root: EcdsaRoot
) -> None:
    signature = sign(pki.issue(), authority)
    stale = pki.crl(this_update=datetime.now(UTC) - timedelta(days=8))
    assert refusal(signature, trust_of(pki, authority, ecdsa_root, stale)) == "crl-stale"
    other = make_pki(datetime.now(UTC))
    assert refusal(signature, trust_of(pki, authority, ecdsa_root, other.crl())) == (
        "crl-not-by-root"
    )
    assert refusal(signature, trust_of(other, authority, ecdsa_root, other.crl())) == (
        "wrong-issuer"
    )
    without = replace(trust_of(pki, authority, ecdsa_root), sm2_root=None, sm2_engine=None)
    assert refusal(signature, without) == "no-sm2-root"
    no_crl = replace(trust_of(pki, authority, ecdsa_root), sm2_crl=None)
    assert refusal(signature, no_crl) == "crl-missing"


def test_an_expired_sm2_certificate_is_refused(
    pki: Sm2Pki, authority: LocalTimeStampAuthority, ecdsa_root: EcdsaRoot
) -> None:
    identity = pki.issue(
        valid_from=datetime.now(UTC) - timedelta(days=10), valid_for=timedelta(days=2)
    )
    assert refusal(sign(identity, authority), trust_of(pki, authority, ecdsa_root)) == "expired"


def _mixed_chain(ecdsa_root: EcdsaRoot, key: sm2_keys.SM2PrivateKey) -> bytes:
    """An institution certificate for an SM2 key signed ECDSA-with-SHA256 by the ECDSA root
    (a mixed chain, which this PKI never issues)."""
    root_key, root = ecdsa_root
    now = datetime.now(UTC)
    algorithm = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"})
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": 4242,
            "signature": algorithm,
            "issuer": asn1_x509.Name.load(root.subject.public_bytes()),
            "validity": {
                "not_before": asn1_x509.Time(name="utc_time", value=now - timedelta(days=1)),
                "not_after": asn1_x509.Time(name="utc_time", value=now + timedelta(days=30)),
            },
            "subject": asn1_x509.Name.build(
                {
                    "country_name": "CN",
                    "organization_name": SUBJECT.name,
                    "common_name": SUBJECT.name,
                }
            ),
            "subject_public_key_info": sm2_keys.public_key_info(key.public_key),
        }
    )
    signature = root_key.sign(tbs.dump(), ec.ECDSA(hashes.SHA256()))
    return bytes(
        asn1_x509.Certificate(
            {"tbs_certificate": tbs, "signature_algorithm": algorithm, "signature_value": signature}
        ).dump()
    )


def test_an_sm2_key_certified_by_the_ecdsa_root_is_refused(
    pki: Sm2Pki, authority: LocalTimeStampAuthority, ecdsa_root: EcdsaRoot
) -> None:
    key = sm2_keys.generate_private_key(ENGINE)
    mixed = _mixed_chain(ecdsa_root, key)
    parsed = x509.load_der_x509_certificate(mixed)
    # sign_detached takes an SM2Certificate; this one only carries the bytes and the key.
    carrier = SM2Certificate(
        der=mixed,
        tbs_der=b"",
        serial_number=4242,
        issuer_der=bytes(asn1_x509.Name.load(parsed.issuer.public_bytes()).dump()),
        subject_der=b"",
        subject=(),
        not_before=parsed.not_valid_before_utc,
        not_after=parsed.not_valid_after_utc,
        public_key=key.public_key,
        signature=b"",
        subject_key_identifier=None,
        authority_key_identifier=None,
        extensions=(),
    )
    signature = sign_detached(
        digests()["sm3"],
        key=key,
        certificate=carrier,
        signing_time=datetime.now(UTC),
        engine=ENGINE,
    )
    with pytest.raises(SignatureRefused) as caught:
        check_detached_signature(
            signature, digests(), trust_of(pki, authority, ecdsa_root), now=datetime.now(UTC)
        )
    assert caught.value.reason == "signer-certificate"
    assert "all-SM2 chain" in str(caught.value)
    # And the institution check itself, given that certificate and the SM2 root: wrong issuer.
    check = check_sm2_institution_certificate(
        parsed,
        root=pki.root,
        crl=pki.crl(),
        at=datetime.now(UTC),
        now=datetime.now(UTC),
        engine=ENGINE,
    )
    assert FailureKind.WRONG_ISSUER in check.kinds()


def test_the_offline_check_takes_the_sm2_root_from_the_pinned_roots(
    pki: Sm2Pki, authority: LocalTimeStampAuthority, ecdsa_root: EcdsaRoot
) -> None:
    signature = sign(pki.issue(), authority)
    checked = check_detached_signature(
        signature, digests(), trust_of(pki, authority, ecdsa_root), now=datetime.now(UTC)
    )
    committed = checked.entry_signature()
    both = [ecdsa_root[1], pki.root]
    results = check_committed_signature(committed, signature, digests(), both, sm2_engine=ENGINE)
    assert [c.name for c in results if not c.ok] == [], results
    assert "SM2" in next(c.detail for c in results if c.name == "signature-valid")
    # Only the ECDSA root pinned: the SM2 signer chains to none.
    ecdsa_only = check_committed_signature(
        committed, signature, digests(), [ecdsa_root[1]], sm2_engine=ENGINE
    )
    chain = next(c for c in ecdsa_only if c.name == "signer-chain")
    assert not chain.ok and "no SM2 root pinned" in chain.detail
    # Another SM2 root pinned: wrong issuer.
    other = check_committed_signature(
        committed, signature, digests(), [make_pki(datetime.now(UTC)).root], sm2_engine=ENGINE
    )
    assert not next(c for c in other if c.name == "signer-chain").ok
    # No engine: said, not crashed.
    blind = check_committed_signature(committed, signature, digests(), both)
    assert not next(c for c in blind if c.name == "signature-valid").ok


def test_the_sm2_signing_identity_refuses_a_wrong_passphrase_and_another_key(
    pki: Sm2Pki,
) -> None:
    identity = pki.issue()
    key_pem = sm2_keys.private_key_to_pem(identity.key, PASSPHRASE, iterations=1000)
    cert_pem = identity.certificate.to_pem()
    assert certificate_is_sm2(cert_pem)
    loaded = load_sm2_signing_identity(key_pem, cert_pem, PASSPHRASE, engine=ENGINE)
    assert loaded.key.public_key == identity.key.public_key
    with pytest.raises(SigningError, match="wrong ZHENGLIAN_SIGNING_PASSPHRASE"):
        load_sm2_signing_identity(key_pem, cert_pem, b"not the passphrase", engine=ENGINE)
    with pytest.raises(SigningError, match="set ZHENGLIAN_SIGNING_PASSPHRASE"):
        load_sm2_signing_identity(key_pem, cert_pem, None, engine=ENGINE)
    other = pki.issue()
    with pytest.raises(SigningError, match="another key"):
        load_sm2_signing_identity(key_pem, other.certificate.to_pem(), PASSPHRASE, engine=ENGINE)
