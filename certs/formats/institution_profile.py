"""The X.509 v3 profile of the justice bureau's PKI: its root and institution certificates.

**Verification-critical.** Signatures on deposit and the verification report decide *who
signed* from what this module reads out of a certificate. Pure: the standard library and
``cryptography``; keys, serial numbers and times are arguments. The profile, field by field,
is in docs/pki.md §3.

Institution certificate (end entity):

* subject ``C=CN, O=<name>, CN=<name>, businessCategory=<type>,
  organizationIdentifier=NTRCN-<统一社会信用代码>`` — the type is a key of
  :data:`INSTITUTION_TYPES`, the identifier follows the ETSI EN 319 412-1 §5.1.4 semantics
  (``NTR`` national trade register, country ``CN``) for X.520's organizationIdentifier;
* keyUsage digitalSignature + contentCommitment (critical); extendedKeyUsage
  id-kp-documentSigning (RFC 9336) only; basicConstraints CA:FALSE (critical); subject and
  authority key identifiers; a CRL distribution point when the authority knows the server's
  public URL;
* ECDSA P-256 keys under the ECDSA root; SM2 keys under the SM2 root (GM/T 0015, built by
  :mod:`certs.formats.root_signer` with :mod:`certs.sm2`) — both read back here.

Root: self-signed, basicConstraints CA:TRUE pathlen 0 (critical), keyUsage keyCertSign +
cRLSign (critical), subject key identifier.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm as UnreadableAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, load_der_public_key
from cryptography.x509.oid import NameOID

from certs.errors import CreditCodeError, ProfileError, UnsupportedAlgorithm
from certs.formats.credit_code import CreditCode, parse_credit_code

__all__ = [
    "CREDIT_CODE_PREFIX",
    "DOCUMENT_SIGNING",
    "INSTITUTION_CERTIFICATE_DAYS",
    "INSTITUTION_KEY_USAGE",
    "INSTITUTION_TYPES",
    "MAX_CERTIFICATE_BYTES",
    "MAX_CRL_URL_CHARS",
    "MAX_NAME_CHARS",
    "ROOT_CERTIFICATE_DAYS",
    "SERIAL_BITS",
    "SM2_CURVE_DER",
    "SM2_CURVE_OID",
    "SM2_NOT_YET",
    "InstitutionCertificate",
    "InstitutionSubject",
    "InstitutionType",
    "IssuanceRequest",
    "build_institution_certificate",
    "build_root_certificate",
    "certified_key_algorithm",
    "check_name",
    "check_p256_public_key",
    "institution_type",
    "load_certificate",
    "parse_institution_certificate",
    "root_subject",
]

DOCUMENT_SIGNING: Final = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
"""id-kp-documentSigning (RFC 9336)."""
CREDIT_CODE_PREFIX: Final = "NTRCN-"
"""How the credit code is written in organizationIdentifier (ETSI EN 319 412-1 §5.1.4)."""
MAX_NAME_CHARS: Final = 64
"""Longest institution or root name: X.520's upper bound for organizationName and
commonName (ub-organization-name, ub-common-name)."""
MAX_CRL_URL_CHARS: Final = 200
"""Longest CRL distribution point URL (the server's public URL is at most 200 characters)."""
MAX_CERTIFICATE_BYTES: Final = 16 * 1024
"""Largest certificate (PEM or DER) read."""
INSTITUTION_CERTIFICATE_DAYS: Final = 730
"""Validity of an institution certificate: two years, then a new key and certificate."""
ROOT_CERTIFICATE_DAYS: Final = 20 * 365
"""Validity of the root: twenty years (it signs the CRLs for as long as institution
certificates and the signatures they made are checked)."""
SERIAL_BITS: Final = 159
"""Serial numbers are random positive integers of at most 159 bits (RFC 5280: ≤ 20 octets;
CA/Browser Forum: ≥ 64 bits of randomness)."""


SM2_CURVE_OID: Final = "1.2.156.10197.1.301"
"""The SM2 curve sm2p256v1 (GB/T 32918.5)."""
SM2_CURVE_DER: Final = bytes.fromhex("06082a811ccf5501822d")
"""The DER encoding of the SM2 curve's OID (1.2.156.10197.1.301, GB/T 32918): how an SM2
key is recognised (``cryptography`` cannot read one) to be refused with a clear message."""
SM2_NOT_YET: Final = (
    "the key is an SM2 key: the ECDSA root certifies ECDSA P-256 keys only; issue it with "
    "--algorithm sm2 (the SM2 root, an all-SM2 chain)"
)
"""Why an SM2 key is refused on the ECDSA path (the name is historical)."""


class InstitutionType(enum.StrEnum):
    """The kinds of institution the bureau certifies (the same catalogue as the access
    policy's institution types)."""

    NOTARY_OFFICE = "notary_office"
    FORENSIC_INSTITUTION = "forensic_institution"
    LEGAL_AID_CENTRE = "legal_aid_centre"
    COURT = "court"
    LAW_FIRM = "law_firm"
    JUSTICE_BUREAU = "justice_bureau"

    @property
    def chinese_name(self) -> str:
        return INSTITUTION_TYPES[self]


INSTITUTION_TYPES: Final[dict[InstitutionType, str]] = {
    InstitutionType.NOTARY_OFFICE: "公证处",
    InstitutionType.FORENSIC_INSTITUTION: "司法鉴定机构",
    InstitutionType.LEGAL_AID_CENTRE: "法律援助中心",
    InstitutionType.COURT: "人民法院",
    InstitutionType.LAW_FIRM: "律师事务所",
    InstitutionType.JUSTICE_BUREAU: "司法局",
}
"""Each type with its Chinese name, in documentation order."""


def institution_type(text: str) -> InstitutionType:
    """The catalogue entry named ``text``.

    :raises ProfileError: not a type of the catalogue (the message lists them)."""
    try:
        return InstitutionType(text)
    except ValueError:
        names = ", ".join(t.value for t in InstitutionType)
        raise ProfileError(f"unknown institution type {text!r}: one of {names}") from None


def check_name(name: str, what: str = "institution name") -> str:
    """``name`` stripped, if it is a usable X.500 name: 1 to :data:`MAX_NAME_CHARS`
    characters, no control characters.

    :raises ProfileError: otherwise."""
    stripped = name.strip()
    if not stripped:
        raise ProfileError(f"the {what} is empty")
    if len(stripped) > MAX_NAME_CHARS:
        raise ProfileError(
            f"the {what} has {len(stripped)} characters; at most {MAX_NAME_CHARS} (X.520)"
        )
    if any(not c.isprintable() for c in stripped):
        raise ProfileError(f"the {what} contains a control character")
    return stripped


@dataclass(frozen=True)
class InstitutionSubject:
    """Who an institution certificate is for."""

    name: str
    credit_code: CreditCode
    type: InstitutionType

    def __post_init__(self) -> None:
        if check_name(self.name) != self.name:
            raise ProfileError("the institution name has surrounding spaces")

    def x509_name(self) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.name),
                x509.NameAttribute(NameOID.COMMON_NAME, self.name),
                x509.NameAttribute(NameOID.BUSINESS_CATEGORY, self.type.value),
                x509.NameAttribute(
                    NameOID.ORGANIZATION_IDENTIFIER, CREDIT_CODE_PREFIX + self.credit_code.text
                ),
            ]
        )


def root_subject(name: str) -> x509.Name:
    """The root's subject (and issuer): ``C=CN, O=<name>, CN=<name>``."""
    name = check_name(name, "root name")
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )


@dataclass(frozen=True)
class IssuanceRequest:
    """Everything an institution certificate says, before the root signs it."""

    subject: InstitutionSubject
    public_key_der: bytes
    """The institution's SubjectPublicKeyInfo (DER): only its key is certified."""
    serial: int
    not_before: datetime
    not_after: datetime
    crl_url: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.serial < 1 << SERIAL_BITS:
            raise ProfileError(f"a serial number is positive and below 2^{SERIAL_BITS}")
        if self.not_before.tzinfo is None or self.not_after.tzinfo is None:
            raise ProfileError("validity times must be timezone-aware")
        if self.not_after <= self.not_before:
            raise ProfileError("notAfter must be after notBefore")
        if self.crl_url is not None and (
            len(self.crl_url) > MAX_CRL_URL_CHARS
            or not self.crl_url.startswith(("http://", "https://"))
        ):
            raise ProfileError(f"the CRL URL must be http(s) and at most {MAX_CRL_URL_CHARS}")


def check_p256_public_key(public_key_der: bytes) -> ec.EllipticCurvePublicKey:
    """The ECDSA P-256 key of a SubjectPublicKeyInfo.

    :raises UnsupportedAlgorithm: another algorithm or curve (named in the message).
    :raises ProfileError: not a public key at all."""
    if SM2_CURVE_DER in public_key_der:
        raise UnsupportedAlgorithm(SM2_NOT_YET)
    try:
        key = load_der_public_key(public_key_der)
    except UnreadableAlgorithm as exc:
        raise UnsupportedAlgorithm(f"the key's algorithm is not ECDSA P-256: {exc}") from exc
    except ValueError as exc:
        raise ProfileError(f"not a public key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise UnsupportedAlgorithm(
            f"the key is {type(key).__name__.removesuffix('PublicKey')}, not ECDSA P-256: this "
            "PKI issues ECDSA P-256 "
            "certificates"
        )
    if not isinstance(key.curve, ec.SECP256R1):
        raise UnsupportedAlgorithm(f"the key is on curve {key.curve.name}, not P-256 (secp256r1)")
    return key


def build_root_certificate(
    key: ec.EllipticCurvePrivateKey,
    name: str,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    """The self-signed root certificate of ``key`` (ECDSA P-256, SHA-256)."""
    if not isinstance(key.curve, ec.SECP256R1):
        raise UnsupportedAlgorithm("the root key must be ECDSA P-256")
    subject = root_subject(name)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


INSTITUTION_KEY_USAGE: Final = x509.KeyUsage(
    digital_signature=True,
    content_commitment=True,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def build_institution_certificate(
    request: IssuanceRequest,
    *,
    root_key: ec.EllipticCurvePrivateKey,
    root: x509.Certificate,
) -> x509.Certificate:
    """The institution certificate of ``request``, signed by the root (ECDSA, SHA-256).

    :raises UnsupportedAlgorithm: the institution's key is not ECDSA P-256."""
    public = check_p256_public_key(request.public_key_der)
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(request.subject.x509_name())
        .issuer_name(root.subject)
        .public_key(public)
        .serial_number(request.serial)
        .not_valid_before(request.not_before)
        .not_valid_after(request.not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(INSTITUTION_KEY_USAGE, critical=True)
        .add_extension(x509.ExtendedKeyUsage([DOCUMENT_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
    )
    if request.crl_url is not None:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(request.crl_url)],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
    return builder.sign(root_key, hashes.SHA256())


@dataclass(frozen=True)
class InstitutionCertificate:
    """An institution certificate, read back: who it names and when it is valid."""

    certificate: x509.Certificate
    serial: int
    subject: InstitutionSubject
    not_before: datetime
    not_after: datetime
    algorithm: str
    """``ecdsa-p256`` or ``sm2`` (the certified key's)."""
    crl_url: str | None

    @property
    def serial_hex(self) -> str:
        """The serial number as lowercase hexadecimal (what ``zhenglian pki revoke`` takes)."""
        return format(self.serial, "x")


def parse_institution_certificate(certificate: x509.Certificate) -> InstitutionCertificate:
    """Read who an institution certificate names.

    Checks the subject's form (one O, CN, businessCategory of the catalogue and an
    organizationIdentifier with a valid credit code); the extensions are checked by
    :func:`certs.verify.institution_check.check_institution_certificate`.

    :raises ProfileError: a subject that does not fit the profile (the message says how).
    """
    subject = certificate.subject

    def one(oid: x509.ObjectIdentifier, label: str) -> str:
        values = subject.get_attributes_for_oid(oid)
        if len(values) != 1:
            raise ProfileError(f"the subject has {len(values)} {label} attributes, not one")
        value = values[0].value
        if not isinstance(value, str):
            raise ProfileError(f"the subject's {label} is not text")
        return value

    identifier = one(NameOID.ORGANIZATION_IDENTIFIER, "organizationIdentifier")
    if not identifier.startswith(CREDIT_CODE_PREFIX):
        raise ProfileError(
            f"organizationIdentifier {identifier!r} does not start with {CREDIT_CODE_PREFIX}"
        )
    try:
        code = parse_credit_code(identifier.removeprefix(CREDIT_CODE_PREFIX))
    except CreditCodeError as exc:
        raise ProfileError(f"organizationIdentifier: {exc}") from exc
    try:
        name = check_name(one(NameOID.ORGANIZATION_NAME, "organizationName"))
        kind = institution_type(one(NameOID.BUSINESS_CATEGORY, "businessCategory"))
        parsed_subject = InstitutionSubject(name, code, kind)
    except ProfileError as exc:
        raise ProfileError(f"subject: {exc}") from exc
    algorithm = certified_key_algorithm(certificate)
    crl_url = None
    try:
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    except x509.ExtensionNotFound:
        points = None
    if points is not None:
        for point in points.value:
            for general_name in point.full_name or ():
                if isinstance(general_name, x509.UniformResourceIdentifier):
                    crl_url = general_name.value
    return InstitutionCertificate(
        certificate=certificate,
        serial=certificate.serial_number,
        subject=parsed_subject,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        algorithm=algorithm,
        crl_url=crl_url,
    )


def certified_key_algorithm(certificate: x509.Certificate) -> str:
    """``ecdsa-p256`` or ``sm2``: the algorithm of the key ``certificate`` certifies
    (``cryptography`` parses an SM2 certificate but cannot load its key: the curve is read
    from the SubjectPublicKeyInfo).

    :raises ProfileError: any other key."""
    try:
        key = certificate.public_key()
    except UnreadableAlgorithm:
        spki = asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))[
            "tbs_certificate"
        ]["subject_public_key_info"]["algorithm"]
        if (
            spki["algorithm"].dotted == "1.2.840.10045.2.1"
            and spki["parameters"].name == "named"
            and spki["parameters"].chosen.dotted == SM2_CURVE_OID
        ):
            return "sm2"
        raise ProfileError("the certified key is neither ECDSA P-256 nor SM2") from None
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ecdsa-p256"
    raise ProfileError("the certified key is neither ECDSA P-256 nor SM2")


def load_certificate(data: bytes) -> x509.Certificate:
    """A certificate from PEM or DER bytes (at most :data:`MAX_CERTIFICATE_BYTES`).

    :raises ProfileError: too large, or not a certificate."""
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise ProfileError(f"a certificate is at most {MAX_CERTIFICATE_BYTES} bytes")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise ProfileError(f"not a certificate: {exc}") from exc
