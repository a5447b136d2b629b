"""SM2 X.509 v3 certificates (GM/T 0015-2012 profile), built and checked with asn1crypto.

* signature algorithm SM2-with-SM3, 1.2.156.10197.1.501, parameters absent (read also with NULL);
  the signature is over the DER TBSCertificate with ``e = SM3(Z ‖ TBS)`` and the default signer
  ID (GM/T 0009-2012 §10), as GmSSL and OpenSSL do;
* subject public key on id-ecPublicKey with the named curve sm2p256v1 (1.2.156.10197.1.301);
* subjectKeyIdentifier = SM3 of the subject's uncompressed point ``04 ‖ x ‖ y`` (the value of
  the subjectPublicKey BIT STRING), 32 bytes; authorityKeyIdentifier = the issuer's
  subjectKeyIdentifier (or the same hash of the issuer's point). This is RFC 5280 §4.2.1.2
  method (1) with SM3 in place of SHA-1, GmSSL 3's choice (``x509_exts_add_default_*``);
  GM/T 0015 requires both extensions and leaves the method open.
* names: each (OID, value) pair is one RDN; UTF8String, except PrintableString for countryName,
  serialNumber and dnQualifier and IA5String for emailAddress (RFC 5280 §4.1.2.6, appendix A).

:func:`check_certificate` computes (signature, issuer name, validity at a time given by the
caller); chain building, key usage and revocation policy belong to the caller. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from asn1crypto import algos, core, pem, x509
from cryptography import x509 as cx509

from certs.sm2 import oids
from certs.sm2.algorithm import DEFAULT_SIGNER_ID, SM2PublicKey, sm3
from certs.sm2.engine import SM2Engine
from certs.sm2.errors import MalformedSM2Data
from certs.sm2.keys import SM2PrivateKey, public_key_from_info, public_key_info
from certs.sm2.signing import sign_message, verify_message

#: A certificate larger than this is refused before parsing.
MAX_CERTIFICATE_BYTES: Final = 64 * 1024
#: RFC 5280 §4.1.2.2: a serial number is positive and at most 20 octets.
MAX_SERIAL_BITS: Final = 159

_PRINTABLE_ATTRIBUTES: Final = frozenset({"2.5.4.6", "2.5.4.5", "2.5.4.46"})
_IA5_ATTRIBUTES: Final = frozenset({"1.2.840.113549.1.9.1"})

NameAttributes = Sequence[tuple[str, str]]
"""A distinguished name as (dotted OID, value) pairs, one RDN each, most significant first."""


@dataclass(frozen=True)
class CertificateExtension:
    """One X.509 extension: its OID, criticality and the DER of its value (``extnValue``)."""

    oid: str
    critical: bool
    value: bytes

    @classmethod
    def from_cryptography(
        cls, extension: cx509.ExtensionType, *, critical: bool
    ) -> CertificateExtension:
        """From a ``cryptography.x509`` extension value, e.g. ``x509.KeyUsage(...)``."""
        return cls(extension.oid.dotted_string, critical, extension.public_bytes())


def key_usage(
    *,
    digital_signature: bool = False,
    content_commitment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> CertificateExtension:
    """A critical keyUsage with the bits that signing keys and CAs use."""
    return CertificateExtension.from_cryptography(
        cx509.KeyUsage(
            digital_signature=digital_signature,
            content_commitment=content_commitment,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=key_cert_sign,
            crl_sign=crl_sign,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )


def basic_constraints(*, ca: bool, path_length: int | None = None) -> CertificateExtension:
    """A critical basicConstraints."""
    return CertificateExtension.from_cryptography(
        cx509.BasicConstraints(ca=ca, path_length=path_length), critical=True
    )


def key_identifier(public_key: SM2PublicKey) -> bytes:
    """SM3 of ``04 ‖ x ‖ y``: the subjectKeyIdentifier of an SM2 key (see module docstring)."""
    return sm3(public_key.uncompressed)


@dataclass(frozen=True)
class SM2Certificate:
    """A parsed SM2 certificate. Built only by :meth:`from_der`/:meth:`from_pem`, which check
    the structure, the algorithms and the key once."""

    der: bytes
    tbs_der: bytes
    serial_number: int
    issuer_der: bytes
    subject_der: bytes
    subject: tuple[tuple[str, str], ...]
    not_before: datetime
    not_after: datetime
    public_key: SM2PublicKey
    signature: bytes
    subject_key_identifier: bytes | None
    authority_key_identifier: bytes | None
    extensions: tuple[CertificateExtension, ...]

    @classmethod
    def from_der(cls, der: bytes) -> SM2Certificate:
        if len(der) > MAX_CERTIFICATE_BYTES:
            raise MalformedSM2Data("SM2 certificate", f"larger than {MAX_CERTIFICATE_BYTES} B")
        try:
            cert = x509.Certificate.load(der, strict=True)
            tbs = cert["tbs_certificate"]
            outer_algorithm = cert["signature_algorithm"]
            inner_algorithm = tbs["signature"]
            for algorithm in (outer_algorithm, inner_algorithm):
                if algorithm["algorithm"].dotted != oids.SM2_WITH_SM3:
                    raise MalformedSM2Data("SM2 certificate", "signature is not SM2-with-SM3")
                if algorithm["parameters"].native is not None:  # absent or NULL only
                    raise MalformedSM2Data("SM2 certificate", "SM2-with-SM3 has parameters")
            if tbs["version"].native != "v3":
                raise MalformedSM2Data("SM2 certificate", "not an X.509 v3 certificate")
            public_key = public_key_from_info(tbs["subject_public_key_info"])
            extensions = tuple(
                CertificateExtension(
                    e["extn_id"].dotted, bool(e["critical"].native), bytes(e["extn_value"].contents)
                )
                for e in (tbs["extensions"] if tbs["extensions"].native is not None else [])
            )
            ski = aki = None
            for ext in extensions:
                if ext.oid == oids.EXT_SUBJECT_KEY_IDENTIFIER:
                    ski = bytes(core.OctetString.load(ext.value, strict=True).native)
                elif ext.oid == oids.EXT_AUTHORITY_KEY_IDENTIFIER:
                    value = x509.AuthorityKeyIdentifier.load(ext.value, strict=True)
                    native = value["key_identifier"].native
                    aki = bytes(native) if native is not None else None
            if len({ext.oid for ext in extensions}) != len(extensions):
                raise MalformedSM2Data("SM2 certificate", "an extension appears twice")
            subject = tuple(
                (atv["type"].dotted, str(_attribute_text(atv["value"])))
                for rdn in tbs["subject"].chosen
                for atv in rdn
            )
            validity = tbs["validity"]
            signature = bytes(cert["signature_value"].native)
            parsed = cls(
                der=bytes(der),
                tbs_der=bytes(tbs.dump()),
                serial_number=int(tbs["serial_number"].native),
                issuer_der=bytes(tbs["issuer"].dump()),
                subject_der=bytes(tbs["subject"].dump()),
                subject=subject,
                not_before=validity["not_before"].native,
                not_after=validity["not_after"].native,
                public_key=public_key,
                signature=signature,
                subject_key_identifier=ski,
                authority_key_identifier=aki,
                extensions=extensions,
            )
        except MalformedSM2Data:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise MalformedSM2Data("SM2 certificate", f"not a certificate: {exc}") from exc
        return parsed

    @classmethod
    def from_pem(cls, data: bytes) -> SM2Certificate:
        if len(data) > 2 * MAX_CERTIFICATE_BYTES:
            raise MalformedSM2Data("SM2 certificate", "PEM too large")
        try:
            label, _headers, der = pem.unarmor(data)
        except (ValueError, TypeError) as exc:
            raise MalformedSM2Data("SM2 certificate", f"bad PEM: {exc}") from exc
        if label != "CERTIFICATE":
            raise MalformedSM2Data("SM2 certificate", f"PEM label {label!r}")
        return cls.from_der(bytes(der))

    def to_pem(self) -> bytes:
        return bytes(pem.armor("CERTIFICATE", self.der))

    @property
    def is_self_issued(self) -> bool:
        return bool(x509.Name.load(self.issuer_der) == x509.Name.load(self.subject_der))


def _attribute_text(value: core.Asn1Value) -> object:
    native = value.native
    return native if isinstance(native, str) else value.dump().hex()


def distinguished_name(attributes: NameAttributes) -> x509.Name:
    if not attributes:
        raise MalformedSM2Data("certificate name", "empty")
    rdns = []
    for oid, text in attributes:
        if not text:
            raise MalformedSM2Data("certificate name", f"empty value for {oid}")
        value: core.Asn1Value
        if oid in _PRINTABLE_ATTRIBUTES:
            value = core.PrintableString(text)
        elif oid in _IA5_ATTRIBUTES:
            value = core.IA5String(text)
        else:
            value = core.UTF8String(text)
        atv = x509.NameTypeAndValue({"type": oid})
        atv["value"] = core.Any.load(value.dump())
        rdns.append(x509.RelativeDistinguishedName([atv]))
    return x509.Name(name="", value=x509.RDNSequence(rdns))


def x509_time(moment: datetime) -> x509.Time:
    if moment.tzinfo is None:
        raise MalformedSM2Data("certificate validity", "datetime without a time zone")
    moment = moment.astimezone(UTC).replace(microsecond=0)
    # RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
    if moment.year < 2050:
        return x509.Time(name="utc_time", value=moment)
    return x509.Time(name="general_time", value=moment)


def _extension(ext: CertificateExtension) -> x509.Extension:
    result = x509.Extension({"extn_id": ext.oid, "critical": ext.critical})
    result["extn_value"] = core.ParsableOctetString(ext.value)
    return result


def build_certificate(
    *,
    subject: NameAttributes,
    public_key: SM2PublicKey,
    serial_number: int,
    not_before: datetime,
    not_after: datetime,
    extensions: Sequence[CertificateExtension],
    issuer_key: SM2PrivateKey,
    issuer_certificate: SM2Certificate | None,
    engine: SM2Engine,
) -> SM2Certificate:
    """Build and sign an SM2 certificate.

    ``issuer_certificate=None`` makes a self-signed root: ``issuer_key`` must then be the key of
    ``public_key``. Otherwise ``issuer_key`` must match ``issuer_certificate``'s public key. The
    subject and authority key identifiers are added unless ``extensions`` already has them.
    """
    if not 0 < serial_number < 2**MAX_SERIAL_BITS:
        raise MalformedSM2Data("serial number", "must be positive and at most 20 octets")
    if not_before >= not_after:
        raise MalformedSM2Data("certificate validity", "not_before is not before not_after")
    if issuer_certificate is None:
        if issuer_key.public_key != public_key:
            raise MalformedSM2Data("self-signed certificate", "issuer key is not the subject key")
        issuer_name_der = bytes(distinguished_name(subject).dump())
        authority_id = key_identifier(public_key)
    else:
        if issuer_key.public_key != issuer_certificate.public_key:
            raise MalformedSM2Data("issuer key", "does not match the issuer certificate")
        issuer_name_der = issuer_certificate.subject_der
        authority_id = issuer_certificate.subject_key_identifier or key_identifier(
            issuer_certificate.public_key
        )
    given = {ext.oid for ext in extensions}
    if len(given) != len(extensions):
        raise MalformedSM2Data("certificate extensions", "an extension appears twice")
    all_extensions = list(extensions)
    if oids.EXT_SUBJECT_KEY_IDENTIFIER not in given:
        all_extensions.append(
            CertificateExtension(
                oids.EXT_SUBJECT_KEY_IDENTIFIER,
                False,
                bytes(core.OctetString(key_identifier(public_key)).dump()),
            )
        )
    if oids.EXT_AUTHORITY_KEY_IDENTIFIER not in given:
        all_extensions.append(
            CertificateExtension(
                oids.EXT_AUTHORITY_KEY_IDENTIFIER,
                False,
                bytes(x509.AuthorityKeyIdentifier({"key_identifier": authority_id}).dump()),
            )
        )
    algorithm = algos.SignedDigestAlgorithm({"algorithm": oids.SM2_WITH_SM3})
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial_number,
            "signature": algorithm,
            "issuer": x509.Name.load(issuer_name_der),
            "validity": x509.Validity(
                {"not_before": x509_time(not_before), "not_after": x509_time(not_after)}
            ),
            "subject": distinguished_name(subject),
            "subject_public_key_info": public_key_info(public_key),
            "extensions": x509.Extensions([_extension(e) for e in all_extensions]),
        }
    )
    tbs_der = bytes(tbs.dump())
    signature = sign_message(issuer_key, tbs_der, engine=engine)
    certificate = x509.Certificate(
        {
            "tbs_certificate": x509.TbsCertificate.load(tbs_der),
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": oids.SM2_WITH_SM3}),
            "signature_value": signature,
        }
    )
    return SM2Certificate.from_der(bytes(certificate.dump()))


@dataclass(frozen=True)
class CertificateCheck:
    """What :func:`check_certificate` found; ``ok`` when everything holds."""

    signature_valid: bool
    issuer_name_matches: bool
    key_identifier_matches: bool
    within_validity: bool
    at: datetime

    @property
    def ok(self) -> bool:
        return (
            self.signature_valid
            and self.issuer_name_matches
            and self.key_identifier_matches
            and self.within_validity
        )


def check_certificate(
    certificate: SM2Certificate,
    issuer: SM2Certificate,
    *,
    at: datetime,
    engine: SM2Engine,
    signer_id: bytes = DEFAULT_SIGNER_ID,
) -> CertificateCheck:
    """Whether ``certificate`` is signed by ``issuer``'s key (SM2, ``signer_id``), names it as
    issuer, and is within its validity at ``at``. A root is checked with itself as ``issuer``."""
    if at.tzinfo is None:
        raise MalformedSM2Data("check time", "datetime without a time zone")
    aki = certificate.authority_key_identifier
    ski = issuer.subject_key_identifier
    return CertificateCheck(
        signature_valid=verify_message(
            issuer.public_key,
            certificate.tbs_der,
            certificate.signature,
            engine=engine,
            signer_id=signer_id,
        ),
        issuer_name_matches=bool(
            x509.Name.load(certificate.issuer_der) == x509.Name.load(issuer.subject_der)
        ),
        key_identifier_matches=aki is None or ski is None or aki == ski,
        within_validity=certificate.not_before <= at <= certificate.not_after,
        at=at,
    )
