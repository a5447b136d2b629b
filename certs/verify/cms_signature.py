"""A detached CMS signature (RFC 5652 SignedData, CAdES baseline), read and its cryptography
checked. Pure: the signature's bytes and the content's digests are arguments.

**Verification-critical.** Deposits are refused or accepted, and the log entry's signer
fields are written, from what this module reads. It answers one question — *does this
SignedData carry a signature by this certificate over content with these digests?* — and
leaves *whether the certificate counts* (root, validity, revocation, usage) to
:mod:`certs.verify.institution_check` and the signing time's proof to the caller, who holds
the time-stamp roots.

What is read and checked (:func:`read_detached_signature`, then :meth:`CmsSignature.verify`):

1. size: at most :data:`MAX_SIGNATURE_BYTES`, before parsing; one DER ContentInfo, nothing
   after it, of type id-signedData;
2. detached: the encapsulated content is id-data and absent;
3. exactly one SignerInfo, identified by issuer and serial number; its certificate among the
   SignedData's certificates (at most :data:`MAX_CERTIFICATES`);
4. signed attributes present, with content-type id-data and one message-digest; if an ESS
   signing-certificate-v2 attribute is present (CAdES), its first hash names this certificate;
5. the digest algorithm is one the caller has the content's digest for (SHA-256 for the
   server, which hashes uploads as they stream; SM3 is the SM2 seam), and the
   message-digest equals it;
6. the signature over the DER SET of signed attributes verifies under the certificate's key,
   by the :class:`SignatureScheme` the signature algorithm names (:data:`SCHEMES`: ECDSA
   with SHA-256/384/512).

An SM2 signature (GM/T 0010 content types signedData 1.2.156.10197.6.1.4.2.2 / data
1.2.156.10197.6.1.4.2.1, or id-signedData with the SM2 OIDs) is *read* here too — structure,
signer certificate (``cryptography`` parses an SM2 certificate, it cannot use its key), signed
attributes, time-stamp token — so that a report can name its signer; its signature is verified
by :mod:`certs.verify.sm2_signature` (SM2 needs the signer ID and an engine), and
:meth:`CmsSignature.verify` refuses it as ``signature-algorithm``.

The claimed signing time (signed attribute signingTime) and the signature time-stamp token
(unsigned attribute id-aa-signatureTimeStampToken, RFC 3161 over the signature value, CAdES-T)
are returned unchecked: a time-stamp is checked against the time-stamp authority roots by the
caller.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from certs.errors import CertsInputError

__all__ = [
    "DIGEST_ALGORITHMS",
    "MAX_CERTIFICATES",
    "MAX_SIGNATURE_BYTES",
    "SCHEMES",
    "CmsSignature",
    "EcdsaScheme",
    "SignatureFormatError",
    "SignatureScheme",
    "read_detached_signature",
]

MAX_SIGNATURE_BYTES: Final = 64 * 1024
"""Largest detached signature read (checked before parsing). A CAdES-T signature with the
signer's certificate and a time-stamp token with its authority's chain is 3 to 10 KiB."""

MAX_CERTIFICATES: Final = 8
"""Most certificates a SignedData may carry (the signer's, and at most a short chain: this
PKI certifies institutions directly under the root, so one is enough)."""

DIGEST_ALGORITHMS: Final[Mapping[str, str]] = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    "1.2.156.10197.1.401": "sm3",
}
"""Digest algorithms by OID, named as the caller's content digests are keyed."""

_ID_DATA: Final = "1.2.840.113549.1.7.1"
_ID_SIGNED_DATA: Final = "1.2.840.113549.1.7.2"
_GM_DATA: Final = "1.2.156.10197.6.1.4.2.1"
_GM_SIGNED_DATA: Final = "1.2.156.10197.6.1.4.2.2"
_CONTENT_TYPE: Final = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST: Final = "1.2.840.113549.1.9.4"
_SIGNING_TIME: Final = "1.2.840.113549.1.9.5"
_SIGNING_CERTIFICATE_V2: Final = "1.2.840.113549.1.9.16.2.47"
_SIGNATURE_TIME_STAMP: Final = "1.2.840.113549.1.9.16.2.14"


class SignatureFormatError(CertsInputError):
    """A signature is not a detached CMS signature this module can check, or does not verify.
    ``reason`` names the check: one of :data:`REASONS`."""

    REASONS: Final = (
        "too-large",
        "malformed",
        "not-detached",
        "signer-certificate",
        "digest-algorithm",
        "signature-algorithm",
        "content-mismatch",
        "signature-invalid",
    )

    def __init__(self, reason: str, message: str) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown signature failure reason {reason!r}")
        self.reason = reason
        super().__init__(message)


class SignatureScheme(Protocol):
    """Verifies one signature algorithm: the seam where SM2 joins ECDSA."""

    @property
    def name(self) -> str: ...

    def verify(self, public_key_info: bytes, signature: bytes, message: bytes, digest: str) -> None:
        """Check ``signature`` over ``message`` under the DER SubjectPublicKeyInfo.
        ``digest`` is the SignerInfo's digest algorithm name (for schemes whose OID does not
        name one). :raises SignatureFormatError: ``signature-invalid`` or
        ``signature-algorithm``."""
        ...


_HASHES: Final[Mapping[str, type[hashes.HashAlgorithm]]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True)
class EcdsaScheme:
    """ECDSA (X9.62, DER signature) with the hash its OID names (or the digest algorithm)."""

    name: str
    hash_name: str | None

    def verify(self, public_key_info: bytes, signature: bytes, message: bytes, digest: str) -> None:
        hash_name = self.hash_name or digest
        algorithm = _HASHES.get(hash_name)
        if algorithm is None:
            raise SignatureFormatError("signature-algorithm", f"ECDSA with {hash_name}")
        try:
            key = load_der_public_key(public_key_info)
        except ValueError as exc:
            raise SignatureFormatError(
                "signature-algorithm", f"the certified key is unreadable: {exc}"
            ) from exc
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise SignatureFormatError(
                "signature-algorithm", "an ECDSA signature by a certificate without an EC key"
            )
        try:
            key.verify(signature, message, ec.ECDSA(algorithm()))
        except InvalidSignature:
            raise SignatureFormatError(
                "signature-invalid",
                "the signature does not verify under the signer's key: the signed "
                "attributes or the signature were altered",
            ) from None


SCHEMES: Final[dict[str, SignatureScheme]] = {
    "1.2.840.10045.4.3.2": EcdsaScheme("ecdsa-with-SHA256", "sha256"),
    "1.2.840.10045.4.3.3": EcdsaScheme("ecdsa-with-SHA384", "sha384"),
    "1.2.840.10045.4.3.4": EcdsaScheme("ecdsa-with-SHA512", "sha512"),
    "1.2.840.10045.2.1": EcdsaScheme("ecdsa (hash of the digest algorithm)", None),
}
"""Signature schemes by the SignerInfo's signatureAlgorithm OID. RSA is not among them:
the institution profile certifies ECDSA P-256 (and SM2) keys only."""


@dataclass(frozen=True)
class CmsSignature:
    """A detached SignedData, read (structure checked) but not yet verified."""

    der: bytes
    """The signature exactly as given."""
    certificate: x509.Certificate
    """The signer's certificate (found by the SignerInfo's issuer and serial)."""
    certificate_der: bytes
    public_key_info: bytes
    """DER SubjectPublicKeyInfo of the signer's certificate (what a scheme verifies with)."""
    digest_algorithm: str
    """The SignerInfo's digest algorithm name (a key of :data:`DIGEST_ALGORITHMS`'s values)."""
    message_digest: bytes
    signed_attributes: bytes
    """DER of the signed attributes as a SET: what the signature is over."""
    signature_algorithm: str
    """OID of the signature algorithm."""
    signature_value: bytes
    claimed_time: datetime | None
    """The signingTime attribute: the signer's word only (aware, UTC)."""
    time_stamp_token: bytes | None
    """DER of the signature time-stamp token (CAdES-T), not checked here."""

    @property
    def sha256(self) -> bytes:
        """SHA-256 of the signature's bytes (what a version 2 log entry commits to)."""
        return hashlib.sha256(self.der).digest()

    def verify(self, content_digests: Mapping[str, bytes]) -> None:
        """Check the message digest against the content's and the signature under the
        certificate's key.

        :raises SignatureFormatError: ``digest-algorithm`` (no digest of the content by that
            algorithm), ``content-mismatch``, ``signature-algorithm`` or
            ``signature-invalid``.
        """
        expected = content_digests.get(self.digest_algorithm)
        if expected is None:
            raise SignatureFormatError(
                "digest-algorithm",
                f"the signature digests the content with {self.digest_algorithm}; only "
                f"{', '.join(sorted(content_digests))} can be checked here",
            )
        if expected != self.message_digest:
            raise SignatureFormatError(
                "content-mismatch",
                f"the signature is over other content: its {self.digest_algorithm} is "
                f"{self.message_digest.hex()}, the document's is {expected.hex()}",
            )
        scheme = SCHEMES.get(self.signature_algorithm)
        if scheme is None:
            raise SignatureFormatError(
                "signature-algorithm",
                f"signature algorithm {self.signature_algorithm} is not supported",
            )
        scheme.verify(
            self.public_key_info,
            self.signature_value,
            self.signed_attributes,
            self.digest_algorithm,
        )


def read_detached_signature(der: bytes) -> CmsSignature:
    """Read a detached CMS signature (checks 1–5 of the module's list, but the content).

    :raises SignatureFormatError: the first check that failed.
    """
    if not isinstance(der, bytes):
        raise SignatureFormatError("malformed", "a signature is bytes (DER)")
    if len(der) > MAX_SIGNATURE_BYTES:
        raise SignatureFormatError(
            "too-large",
            f"the signature is {len(der)} bytes, over the limit of {MAX_SIGNATURE_BYTES}",
        )
    try:
        return _read(der)
    except SignatureFormatError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise SignatureFormatError("malformed", f"not a CMS signature: {exc}") from exc


class _GmContentInfo(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """A ContentInfo of GM/T 0010 type signedData, whose content asn1crypto cannot map."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("content_type", core.ObjectIdentifier),
        ("content", cms.SignedData, {"explicit": 0}),
    ]


def _read(der: bytes) -> CmsSignature:
    info: Any = cms.ContentInfo.load(der, strict=True)
    data_type = _ID_DATA
    if info["content_type"].dotted == _GM_SIGNED_DATA:
        info, data_type = _GmContentInfo.load(der, strict=True), _GM_DATA
    elif info["content_type"].dotted != _ID_SIGNED_DATA:
        raise SignatureFormatError(
            "malformed", f"a ContentInfo of type {info['content_type'].dotted}, not SignedData"
        )
    signed = info["content"]
    encapsulated = signed["encap_content_info"]
    if encapsulated["content_type"].dotted not in (_ID_DATA, data_type):
        raise SignatureFormatError("not-detached", "the signed content is not of type id-data")
    if encapsulated["content"].native is not None:
        raise SignatureFormatError(
            "not-detached", "the signature encapsulates its content: give a detached one"
        )
    certificates = [c for c in signed["certificates"]] if signed["certificates"] else []
    if len(certificates) > MAX_CERTIFICATES:
        raise SignatureFormatError(
            "too-large",
            f"the signature carries {len(certificates)} certificates, over the limit of "
            f"{MAX_CERTIFICATES}",
        )
    signers = list(signed["signer_infos"])
    if len(signers) != 1:
        raise SignatureFormatError(
            "malformed", f"{len(signers)} signers; a document signature has exactly one"
        )
    signer = signers[0]
    certificate, certificate_der, public_key_info = _signer_certificate(signer, certificates)

    digest_oid = signer["digest_algorithm"]["algorithm"].dotted
    digest = DIGEST_ALGORITHMS.get(digest_oid)
    if digest is None:
        raise SignatureFormatError(
            "digest-algorithm", f"digest algorithm {digest_oid} is not accepted"
        )
    attributes = signer["signed_attrs"]
    if not attributes:
        raise SignatureFormatError("malformed", "the signature has no signed attributes")
    values = _attributes(attributes)
    content_type = _one(values, _CONTENT_TYPE, "content-type")
    if content_type.dotted != encapsulated["content_type"].dotted:
        raise SignatureFormatError(
            "malformed", "the content-type attribute is not the encapsulated content's type"
        )
    message_digest = bytes(_one(values, _MESSAGE_DIGEST, "message-digest").native)
    claimed_time = None
    if _SIGNING_TIME in values:
        claimed = _one(values, _SIGNING_TIME, "signing-time").native
        claimed_time = claimed.astimezone(UTC) if claimed.tzinfo else claimed.replace(tzinfo=UTC)
    if _SIGNING_CERTIFICATE_V2 in values:
        _check_signing_certificate(
            _one(values, _SIGNING_CERTIFICATE_V2, "signing-certificate-v2"), certificate_der
        )
    # What is signed is the DER SET OF the attributes: the [0] IMPLICIT tag replaced by SET.
    tagged = attributes.dump()
    signed_attributes = b"\x31" + tagged[1:]

    token = None
    unsigned = signer["unsigned_attrs"]
    if unsigned:
        unsigned_values = _attributes(unsigned)
        if _SIGNATURE_TIME_STAMP in unsigned_values:
            token = _one(unsigned_values, _SIGNATURE_TIME_STAMP, "signature-time-stamp").dump()
    return CmsSignature(
        der=der,
        certificate=certificate,
        certificate_der=certificate_der,
        public_key_info=public_key_info,
        digest_algorithm=digest,
        message_digest=message_digest,
        signed_attributes=signed_attributes,
        signature_algorithm=signer["signature_algorithm"]["algorithm"].dotted,
        signature_value=bytes(signer["signature"].native),
        claimed_time=claimed_time,
        time_stamp_token=token,
    )


def _signer_certificate(
    signer: Any, certificates: list[Any]
) -> tuple[x509.Certificate, bytes, bytes]:
    sid = signer["sid"]
    if sid.name != "issuer_and_serial_number":
        raise SignatureFormatError(
            "signer-certificate", "the signer is named by key identifier; name it by issuer"
        )
    issuer = sid.chosen["issuer"].dump()
    serial = sid.chosen["serial_number"].native
    for choice in certificates:
        if choice.name != "certificate":
            continue
        candidate = choice.chosen
        tbs = candidate["tbs_certificate"]
        if tbs["issuer"].dump() == issuer and tbs["serial_number"].native == serial:
            der = candidate.dump()
            public_key_info = tbs["subject_public_key_info"].dump()
            try:
                return x509.load_der_x509_certificate(der), der, public_key_info
            except ValueError as exc:
                raise SignatureFormatError(
                    "signer-certificate", f"the signer's certificate is unreadable: {exc}"
                ) from exc
    raise SignatureFormatError(
        "signer-certificate",
        f"the signature does not carry its signer's certificate (serial {serial:#x})",
    )


def _attributes(attributes: Any) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for attribute in attributes:
        oid = attribute["type"].dotted
        if oid in found:
            raise SignatureFormatError("malformed", f"attribute {oid} appears twice")
        found[oid] = list(attribute["values"])
    return found


def _one(values: dict[str, list[Any]], oid: str, what: str) -> Any:
    found = values.get(oid)
    if found is None:
        raise SignatureFormatError("malformed", f"the signature has no {what} attribute")
    if len(found) != 1:
        raise SignatureFormatError("malformed", f"the {what} attribute has {len(found)} values")
    return found[0]


class _EssCertIdV2(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("hash_algorithm", algos.DigestAlgorithm, {"default": {"algorithm": "sha256"}}),
        ("cert_hash", core.OctetString),
        ("issuer_serial", core.Any, {"optional": True}),
    ]


class _EssCertIdsV2(core.SequenceOf):  # type: ignore[misc]
    _child_spec = _EssCertIdV2


class _SigningCertificateV2(core.Sequence):  # type: ignore[misc]
    """RFC 5035 SigningCertificateV2, read here: asn1crypto knows the attribute's OID only
    once another library (pyHanko) registered it, and the server does not import those."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("certs", _EssCertIdsV2),
        ("policies", core.Any, {"optional": True}),
    ]


def _check_signing_certificate(value: Any, certificate_der: bytes) -> None:
    """ESS signing-certificate-v2 (RFC 5035): the first ESSCertIDv2 hashes the signer's
    certificate (SHA-256 unless named)."""
    certs = _SigningCertificateV2.load(value.dump(), strict=True)["certs"]
    if len(certs) < 1:
        raise SignatureFormatError("malformed", "signing-certificate-v2 names no certificate")
    first = certs[0]
    oid = first["hash_algorithm"]["algorithm"].dotted
    name = DIGEST_ALGORITHMS.get(oid)
    if name not in ("sha256", "sha384", "sha512"):
        raise SignatureFormatError(
            "digest-algorithm", f"signing-certificate-v2 hashes with {oid}, not accepted"
        )
    if hashlib.new(name, certificate_der).digest() != bytes(first["cert_hash"].native):
        raise SignatureFormatError(
            "signer-certificate",
            "the signed signing-certificate-v2 attribute names another certificate than "
            "the one carried: the certificate was substituted",
        )
