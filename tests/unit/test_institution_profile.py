"""The institution certificate profile: what is built, what is read back, signing requests,
and the pure check "issued by this root, valid at T, not revoked, right key usage"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

from certs.errors import ProfileError, UnsupportedAlgorithm
from certs.formats.credit_code import parse_credit_code
from certs.formats.institution_profile import (
    DOCUMENT_SIGNING,
    INSTITUTION_TYPES,
    MAX_NAME_CHARS,
    InstitutionSubject,
    InstitutionType,
    IssuanceRequest,
    build_root_certificate,
    institution_type,
    parse_institution_certificate,
)
from certs.formats.revocation_list import CrlContent, RevocationReason, RevokedEntry
from certs.formats.root_signer import EcdsaRootSigner
from certs.formats.signing_request import MAX_CSR_BYTES, public_key_of_request
from certs.verify.institution_check import FailureKind, check_institution_certificate
from evidence.access.policy import INSTITUTION_TYPES as POLICY_INSTITUTION_TYPES

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
SUBJECT = InstitutionSubject(
    "北京市司法局", parse_credit_code("11110000000029209E"), InstitutionType.JUSTICE_BUREAU
)


def spki(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


@dataclass
class Pki:
    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    signer: EcdsaRootSigner

    def issue(
        self, key: ec.EllipticCurvePrivateKey, serial: int = 0x1234, **kw: object
    ) -> x509.Certificate:
        request = IssuanceRequest(
            subject=kw.get("subject", SUBJECT),  # type: ignore[arg-type]
            public_key_der=spki(key),
            serial=serial,
            not_before=T0,
            not_after=T0 + timedelta(days=730),
            crl_url="https://zl.example.cn/v1/pki/crl",
        )
        return x509.load_der_x509_certificate(self.signer.issue(request))

    def crl(
        self, *entries: RevokedEntry, number: int = 1, at: datetime = T0
    ) -> x509.CertificateRevocationList:
        return x509.load_der_x509_crl(self.signer.sign_crl(CrlContent(number, at, entries)))


def make_pki(name: str = "某市司法局机构证书根") -> Pki:
    key = ec.generate_private_key(ec.SECP256R1())
    root = build_root_certificate(
        key, name, serial=1, not_before=T0 - timedelta(days=1), not_after=T0 + timedelta(days=7300)
    )
    return Pki(key, root, EcdsaRootSigner(key, root))


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="module")
def institution_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def test_the_type_catalogue_is_the_access_policys() -> None:
    assert tuple(t.value for t in InstitutionType) == POLICY_INSTITUTION_TYPES
    assert INSTITUTION_TYPES[InstitutionType.NOTARY_OFFICE] == "公证处"
    with pytest.raises(ProfileError, match="notary_office, forensic_institution"):
        institution_type("notary")


def test_root_profile(pki: Pki) -> None:
    root = pki.root
    constraints = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = root.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    assert root.issuer == root.subject
    root.verify_directly_issued_by(root)


def test_institution_profile(pki: Pki, institution_key: ec.EllipticCurvePrivateKey) -> None:
    certificate = pki.issue(institution_key)
    subject = certificate.subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value == (
        "NTRCN-11110000000029209E"
    )
    assert subject.get_attributes_for_oid(NameOID.BUSINESS_CATEGORY)[0].value == "justice_bureau"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "北京市司法局"
    extensions = certificate.extensions
    usage = extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign and not usage.value.key_encipherment
    assert list(extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        DOCUMENT_SIGNING
    ]
    constraints = extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    ski = pki.root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value == (
        x509.SubjectKeyIdentifier.from_public_key(institution_key.public_key())
    )
    read = parse_institution_certificate(certificate)
    assert read.subject == SUBJECT
    assert read.crl_url == "https://zl.example.cn/v1/pki/crl"
    assert read.serial_hex == "1234"
    assert read.algorithm == "ecdsa-p256"


def test_random_serials_are_positive_159_bits() -> None:
    serials = {x509.random_serial_number() for _ in range(64)}
    assert len(serials) == 64 and all(0 < s < 1 << 159 for s in serials)
    with pytest.raises(ProfileError, match="positive"):
        IssuanceRequest(SUBJECT, b"", 1 << 159, T0, T0 + timedelta(days=1))


def test_names_are_bounded_and_checked() -> None:
    code = parse_credit_code("914403001922038216")
    with pytest.raises(ProfileError, match=f"at most {MAX_NAME_CHARS}"):
        InstitutionSubject("华" * (MAX_NAME_CHARS + 1), code, InstitutionType.LAW_FIRM)
    with pytest.raises(ProfileError, match="empty"):
        InstitutionSubject("", code, InstitutionType.LAW_FIRM)
    with pytest.raises(ProfileError, match="control"):
        InstitutionSubject("a\nb", code, InstitutionType.LAW_FIRM)


def test_only_p256_keys_are_certified(pki: Pki) -> None:
    with pytest.raises(UnsupportedAlgorithm, match="RSA"):
        pki.issue(rsa.generate_private_key(public_exponent=65537, key_size=2048))  # type: ignore[arg-type]
    with pytest.raises(UnsupportedAlgorithm, match="secp384r1"):
        pki.issue(ec.generate_private_key(ec.SECP384R1()))


# --- signing requests ---------------------------------------------------------------------


def csr(key: object, name: str = "whatever") -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    )
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm).public_bytes(Encoding.PEM)  # type: ignore[arg-type]


def test_a_request_gives_only_its_key(
    pki: Pki, institution_key: ec.EllipticCurvePrivateKey
) -> None:
    request = csr(institution_key, "CN the institution chose, ignored")
    assert public_key_of_request(request) == spki(institution_key)
    der = x509.load_pem_x509_csr(request).public_bytes(Encoding.DER)
    assert public_key_of_request(der) == spki(institution_key)


def test_a_request_whose_signature_fails_is_refused(
    institution_key: ec.EllipticCurvePrivateKey,
) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    genuine = x509.load_pem_x509_csr(csr(institution_key)).public_bytes(Encoding.DER)
    # Graft another key's public key into the request: the self-signature no longer holds.
    forged = genuine.replace(spki(institution_key), spki(other))
    assert forged != genuine
    with pytest.raises(ProfileError, match="self-signature does not verify"):
        public_key_of_request(forged)


def test_requests_with_other_keys_or_too_large_are_refused() -> None:
    with pytest.raises(UnsupportedAlgorithm, match="RSA"):
        public_key_of_request(csr(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    with pytest.raises(UnsupportedAlgorithm, match="Ed25519"):
        public_key_of_request(csr(ed25519.Ed25519PrivateKey.generate()))
    with pytest.raises(ProfileError, match=f"over {MAX_CSR_BYTES}"):
        public_key_of_request(b"-" * (MAX_CSR_BYTES + 1))
    with pytest.raises(ProfileError, match="not a PKCS #10"):
        public_key_of_request(
            b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
        )


def test_an_sm2_request_is_refused_as_not_yet_issued() -> None:
    # A request for an SM2 key (curve 1.2.156.10197.1.301): cryptography cannot read the key,
    # and the refusal says SM2 by name. Made by OpenSSL 3 (`openssl genpkey -algorithm SM2`,
    # `openssl req -new -sm3`), kept as a vector.
    from pathlib import Path

    sm2 = (Path(__file__).resolve().parents[1] / "assets" / "pki" / "sm2-request.pem").read_bytes()
    with pytest.raises(UnsupportedAlgorithm, match="SM2"):
        public_key_of_request(sm2)


# --- the check ------------------------------------------------------------------------------


def test_a_good_certificate_passes(pki: Pki, institution_key: ec.EllipticCurvePrivateKey) -> None:
    certificate = pki.issue(institution_key)
    check = check_institution_certificate(
        certificate,
        root=pki.root,
        crl=pki.crl(),
        at=T0 + timedelta(days=1),
        now=T0 + timedelta(days=2),
    )
    assert check.ok, check.failures
    assert check.institution is not None and check.institution.subject == SUBJECT
    assert check.revocation is None


def test_another_roots_certificate_fails(
    institution_key: ec.EllipticCurvePrivateKey, pki: Pki
) -> None:
    stranger = make_pki()  # same name, another key
    certificate = stranger.issue(institution_key)
    check = check_institution_certificate(certificate, root=pki.root, crl=pki.crl(), at=T0, now=T0)
    assert check.kinds() == {FailureKind.WRONG_ISSUER}
    other_name = make_pki("另一个根").issue(institution_key)
    check = check_institution_certificate(other_name, root=pki.root, crl=pki.crl(), at=T0, now=T0)
    assert check.kinds() == {FailureKind.WRONG_ISSUER}
    assert "另一个根" in str(check.failures[0])


def test_validity_window(pki: Pki, institution_key: ec.EllipticCurvePrivateKey) -> None:
    certificate = pki.issue(institution_key)
    early = check_institution_certificate(
        certificate, root=pki.root, crl=pki.crl(), at=T0 - timedelta(seconds=1), now=T0
    )
    assert early.kinds() == {FailureKind.NOT_YET_VALID}
    late = T0 + timedelta(days=731)
    crl = pki.crl(at=late)
    expired = check_institution_certificate(certificate, root=pki.root, crl=crl, at=late, now=late)
    assert expired.kinds() == {FailureKind.EXPIRED}


def test_revocation_counts_from_its_effective_time(
    pki: Pki, institution_key: ec.EllipticCurvePrivateKey
) -> None:
    certificate = pki.issue(institution_key, serial=0xABC)
    recorded = T0 + timedelta(days=10)
    compromised = T0 + timedelta(days=3)
    entry = RevokedEntry(0xABC, recorded, RevocationReason.KEY_COMPROMISE, compromised)
    crl = pki.crl(entry, number=2, at=recorded)
    now = recorded + timedelta(hours=1)
    before = check_institution_certificate(
        certificate, root=pki.root, crl=crl, at=compromised - timedelta(seconds=1), now=now
    )
    assert before.ok and before.revoked_later
    assert before.revocation is not None
    assert before.revocation.reason is RevocationReason.KEY_COMPROMISE
    after = check_institution_certificate(
        certificate, root=pki.root, crl=crl, at=compromised, now=now
    )
    assert after.kinds() == {FailureKind.REVOKED}
    assert "keyCompromise" in str(after.failures[0])
    # Without an invalidity date, the revocation date counts.
    plain = pki.crl(
        RevokedEntry(0xABC, recorded, RevocationReason.SUPERSEDED), number=3, at=recorded
    )
    assert check_institution_certificate(
        certificate, root=pki.root, crl=plain, at=compromised, now=now
    ).ok
    assert not check_institution_certificate(
        certificate, root=pki.root, crl=plain, at=recorded, now=now
    ).ok


def test_crl_problems(pki: Pki, institution_key: ec.EllipticCurvePrivateKey) -> None:
    certificate = pki.issue(institution_key)
    stale = check_institution_certificate(
        certificate, root=pki.root, crl=pki.crl(at=T0), at=T0, now=T0 + timedelta(days=7, seconds=1)
    )
    assert stale.kinds() == {FailureKind.CRL_STALE}
    assert "nextUpdate" in str(stale.failures[0])
    foreign = check_institution_certificate(
        certificate, root=pki.root, crl=make_pki().crl(), at=T0, now=T0
    )
    assert foreign.kinds() == {FailureKind.CRL_NOT_BY_ROOT}
    missing = check_institution_certificate(certificate, root=pki.root, crl=None, at=T0, now=T0)
    assert missing.kinds() == {FailureKind.CRL_MISSING}


def test_wrong_key_usage_is_named(pki: Pki, institution_key: ec.EllipticCurvePrivateKey) -> None:
    # A certificate from the right root but outside the profile: TLS client usage.
    builder = (
        x509.CertificateBuilder()
        .subject_name(SUBJECT.x509_name())
        .issuer_name(pki.root.subject)
        .public_key(institution_key.public_key())
        .serial_number(99)
        .not_valid_before(T0)
        .not_valid_after(T0 + timedelta(days=30))
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    )
    certificate = builder.sign(pki.root_key, hashes.SHA256())
    check = check_institution_certificate(certificate, root=pki.root, crl=pki.crl(), at=T0, now=T0)
    assert check.kinds() == {FailureKind.KEY_USAGE}
    details = " ".join(f.detail for f in check.failures)
    assert "no keyUsage" in details and "documentSigning" in details


def test_a_subject_outside_the_profile_is_named(
    pki: Pki, institution_key: ec.EllipticCurvePrivateKey
) -> None:
    bad = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "某律所"),
            x509.NameAttribute(NameOID.BUSINESS_CATEGORY, "law_firm"),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, "NTRCN-914403001922038217"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(bad)
        .issuer_name(pki.root.subject)
        .public_key(institution_key.public_key())
        .serial_number(98)
        .not_valid_before(T0)
        .not_valid_after(T0 + timedelta(days=30))
        .sign(pki.root_key, hashes.SHA256())
    )
    with pytest.raises(ProfileError, match="position 18"):
        parse_institution_certificate(certificate)
    check = check_institution_certificate(certificate, root=pki.root, crl=pki.crl(), at=T0, now=T0)
    assert FailureKind.PROFILE in check.kinds() and check.institution is None


def test_a_root_that_is_no_ca_is_named(
    pki: Pki, institution_key: ec.EllipticCurvePrivateKey
) -> None:
    certificate = pki.issue(institution_key)
    check = check_institution_certificate(certificate, root=certificate, crl=None, at=T0, now=T0)
    assert FailureKind.ROOT_NOT_CA in check.kinds()
    with pytest.raises(ProfileError, match="timezone"):
        check_institution_certificate(
            certificate, root=pki.root, crl=None, at=T0.replace(tzinfo=None), now=T0
        )
