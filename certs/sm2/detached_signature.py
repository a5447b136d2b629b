"""Detached SM2 document signatures: a CMS SignedData (GM/T 0010-2012, or RFC 5652 with the SM2
algorithm OIDs, as OpenSSL writes it) over a document that travels beside it.

Produced (default, :attr:`CmsProfile.GM_T_0010`): ContentInfo signedData 1.2.156.10197.6.1.4.2.2
with encapsulated content type data 1.2.156.10197.6.1.4.2.1 and no eContent (detached); the
signer's certificate included; one SignerInfo (version 1, issuerAndSerialNumber) with digest SM3
(1.2.156.10197.1.401), signature algorithm sm2-1 (1.2.156.10197.1.301.1) and the signed
attributes contentType, messageDigest (SM3 of the document) and signingTime. The signature is
SM2 with the default ID over the DER ``SET OF`` signed attributes (RFC 5652 §5.4). With
:attr:`CmsProfile.RFC_5652`: id-signedData / id-data and SM2-with-SM3 (1.2.156.10197.1.501) as
signature algorithm. Both are read, and either signature-algorithm OID in either.

An unsigned RFC 3161 time-stamp token (id-aa-timeStampToken, CAdES-T) is returned when present;
it is not verified here (that needs the authority's trust: evidence/verify or certs/verify).
The document enters as its SM3 digest, so a large file is hashed once, by whoever streams it.
Pure.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from asn1crypto import algos, cms, core, parser, x509

from certs.sm2 import oids
from certs.sm2.algorithm import DEFAULT_SIGNER_ID, sm3
from certs.sm2.certificates import SM2Certificate
from certs.sm2.engine import SM2Engine
from certs.sm2.errors import MalformedSM2Data
from certs.sm2.keys import SM2PrivateKey
from certs.sm2.signing import sign_message, verify_message

#: A detached signature larger than this is refused before parsing (a signer certificate, a few
#: chain certificates and a time-stamp token fit in far less).
MAX_DETACHED_SIGNATURE_BYTES: Final = 256 * 1024
#: One signer per signature file; countersignatures and parallel signers are not supported.
MAX_SIGNER_INFOS: Final = 1
SM3_DIGEST_BYTES: Final = 32

_SIGNATURE_ALGORITHMS: Final = frozenset({oids.SM2_SIGN, oids.SM2_WITH_SM3})


class CmsProfile(enum.Enum):
    """Which content-type OIDs a SignedData uses."""

    GM_T_0010 = "GM/T 0010-2012"
    RFC_5652 = "RFC 5652"

    @property
    def signed_data(self) -> str:
        return oids.GM_SIGNED_DATA if self is CmsProfile.GM_T_0010 else oids.CMS_SIGNED_DATA

    @property
    def data(self) -> str:
        return oids.GM_DATA if self is CmsProfile.GM_T_0010 else oids.CMS_DATA

    @property
    def signature_algorithm(self) -> str:
        return oids.SM2_SIGN if self is CmsProfile.GM_T_0010 else oids.SM2_WITH_SM3


def document_digest(content: bytes) -> bytes:
    """SM3 of a document held in memory (``evidence.digest`` computes it while streaming)."""
    return sm3(content)


def sign_detached(
    content_digest: bytes,
    *,
    key: SM2PrivateKey,
    certificate: SM2Certificate,
    signing_time: datetime,
    engine: SM2Engine,
    profile: CmsProfile = CmsProfile.GM_T_0010,
    extra_certificates: Sequence[SM2Certificate] = (),
    signer_id: bytes = DEFAULT_SIGNER_ID,
) -> bytes:
    """A DER ContentInfo holding a detached SignedData over the document whose SM3 digest is
    ``content_digest``. ``certificate`` must certify ``key``; ``extra_certificates`` (e.g. the
    issuing CA) are included too (a SET OF: in DER order, not in the order given).
    ``signer_id`` other than the default is for interop tests only (OpenSSL 3.0 checks CMS SM2
    signatures with the empty ID)."""
    if len(content_digest) != SM3_DIGEST_BYTES:
        raise MalformedSM2Data("document digest", f"expected {SM3_DIGEST_BYTES} bytes of SM3")
    if certificate.public_key != key.public_key:
        raise MalformedSM2Data("signer certificate", "does not certify the signing key")
    if signing_time.tzinfo is None:
        raise MalformedSM2Data("signing time", "datetime without a time zone")
    moment = signing_time.astimezone(UTC).replace(microsecond=0)
    time_value = (
        cms.Time(name="utc_time", value=moment)
        if moment.year < 2050
        else cms.Time(name="generalized_time", value=moment)
    )
    signed_attrs = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": [profile.data]}),
            cms.CMSAttribute({"type": "message_digest", "values": [content_digest]}),
            cms.CMSAttribute({"type": "signing_time", "values": [time_value]}),
        ]
    )
    # RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF (tag 0x31).
    attrs_der = bytes(signed_attrs.dump())
    signature = sign_message(key, attrs_der, engine=engine, signer_id=signer_id)
    issuer = x509.Name.load(certificate.issuer_der)
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value=cms.IssuerAndSerialNumber(
                    {"issuer": issuer, "serial_number": certificate.serial_number}
                ),
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": oids.SM3}),
            "signed_attrs": cms.CMSAttributes.load(attrs_der),
            "signature_algorithm": algos.SignedDigestAlgorithm(
                {"algorithm": profile.signature_algorithm}
            ),
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": oids.SM3})],
            "encap_content_info": cms.ContentInfo({"content_type": profile.data}),
            "certificates": [
                x509.Certificate.load(c.der) for c in (certificate, *extra_certificates)
            ],
            "signer_infos": [signer_info],
        }
    )
    return _content_info(profile, bytes(signed_data.dump()))


class _ContentInfo(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """``ContentInfo`` whose content is a SignedData whatever the content type's OID: asn1crypto's
    own has no spec for the GM/T 0010 content types."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("content_type", core.ObjectIdentifier),
        ("content", cms.SignedData, {"explicit": 0}),
    ]


def _content_info(profile: CmsProfile, signed_data_der: bytes) -> bytes:
    info = _ContentInfo(
        {"content_type": profile.signed_data, "content": cms.SignedData.load(signed_data_der)}
    )
    return bytes(info.dump())


def _load(signature: bytes) -> tuple[_ContentInfo, CmsProfile]:
    if len(signature) > MAX_DETACHED_SIGNATURE_BYTES:
        raise MalformedSM2Data(
            "detached signature", f"larger than {MAX_DETACHED_SIGNATURE_BYTES} bytes"
        )
    outer = _ContentInfo.load(signature, strict=True)
    content_type = outer["content_type"].dotted
    profiles = {p.signed_data: p for p in CmsProfile}
    if content_type not in profiles:
        raise MalformedSM2Data(
            "detached signature", f"content type {content_type} is not signedData"
        )
    return outer, profiles[content_type]


def _tlv(tag: int, value: bytes) -> bytes:
    """One DER tag-length-value (definite length)."""
    n = len(value)
    if n < 0x80:
        return bytes([tag, n]) + value
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + value


def signature_value(signature: bytes) -> bytes:
    """The SignerInfo's signature value: what an RFC 3161 authority time-stamps for CAdES-T
    (the token's message imprint is a hash of these bytes)."""
    try:
        outer, _profile = _load(signature)
        signer_infos = outer["content"]["signer_infos"]
        if len(signer_infos) != MAX_SIGNER_INFOS:
            raise MalformedSM2Data("detached signature", "expected exactly one signer")
        return bytes(signer_infos[0]["signature"].native)
    except MalformedSM2Data:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise MalformedSM2Data("detached signature", f"not a CMS SignedData: {exc}") from exc


def _time_stamp_tokens(outer: _ContentInfo) -> list[bytes]:
    """The unsigned time-stamp tokens of the (first) signer, as their own bytes: read before
    anything parses the whole structure — once pyHanko is imported, asn1crypto knows the
    token's type, and parsing it (``.native``) re-encodes it, re-ordering its SET OF
    certificates."""
    tokens: list[bytes] = []
    signer_infos = outer["content"]["signer_infos"]
    if len(signer_infos) == 0:
        return tokens
    unsigned = signer_infos[0]["unsigned_attrs"]
    if not isinstance(unsigned, core.Void):
        for attribute in unsigned:
            if attribute["type"].dotted == oids.ATTR_TIME_STAMP_TOKEN:
                tokens.extend(_set_elements(bytes(attribute["values"].contents)))
    return tokens


def _set_elements(contents: bytes) -> list[bytes]:
    """The encodings of the elements of a SET OF, from its contents, as they are."""
    elements: list[bytes] = []
    while contents:
        _class, _method, _tag, header, content, trailer = parser.parse(contents)
        size = len(header) + len(content) + len(trailer)
        elements.append(contents[:size])
        contents = contents[size:]
    return elements


def with_time_stamp_token(signature: bytes, token: bytes) -> bytes:
    """``signature`` with an RFC 3161 time-stamp token (a DER ContentInfo) added as the unsigned
    attribute id-aa-timeStampToken. Nothing signed changes; the token is not checked here.

    The result is assembled from the original encodings of every other field and the token's own
    bytes (asn1crypto, asked to re-encode, may re-order the SET OF certificates inside a token).
    """
    try:
        outer, profile = _load(signature)
        cms.ContentInfo.load(token, strict=True)  # a ContentInfo, or refused
        signed_data = outer["content"]
        signer_infos = signed_data["signer_infos"]
        if len(signer_infos) != MAX_SIGNER_INFOS:
            raise MalformedSM2Data("detached signature", "expected exactly one signer")
        signer_info = signer_infos[0]
        attribute = _tlv(
            0x30,
            bytes(core.ObjectIdentifier(oids.ATTR_TIME_STAMP_TOKEN).dump()) + _tlv(0x31, token),
        )
        unsigned = signer_info["unsigned_attrs"]
        existing = [bytes(a.dump()) for a in unsigned] if unsigned.native is not None else []
        signer_info_der = _tlv(
            0x30,
            b"".join(
                bytes(signer_info[f].dump())
                for f in (
                    "version",
                    "sid",
                    "digest_algorithm",
                    "signed_attrs",
                    "signature_algorithm",
                    "signature",
                )
            )
            # [1] IMPLICIT SET OF Attribute, in DER order
            + _tlv(0xA1, b"".join(sorted([*existing, attribute]))),
        )
        signed_data_der = _tlv(
            0x30,
            b"".join(
                bytes(signed_data[f].dump())
                for f in (
                    "version",
                    "digest_algorithms",
                    "encap_content_info",
                    "certificates",
                    "crls",
                )
            )
            + _tlv(0x31, signer_info_der),
        )
    except MalformedSM2Data:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise MalformedSM2Data("time-stamp token", f"cannot be attached: {exc}") from exc
    return _tlv(
        0x30, bytes(core.ObjectIdentifier(profile.signed_data).dump()) + _tlv(0xA0, signed_data_der)
    )


@dataclass(frozen=True)
class DetachedSignatureVerification:
    """What :func:`verify_detached` found. ``ok``: the document digest is the signed one and the
    signature verifies under the included signer certificate's key. Whether that certificate
    is trusted, valid at ``signing_time`` and not revoked is the caller's next step."""

    profile: CmsProfile
    signer_certificate: SM2Certificate
    other_certificates: tuple[bytes, ...]
    signed_digest: bytes
    digest_matches: bool
    signature_valid: bool
    signing_time: datetime | None
    time_stamp_tokens: tuple[bytes, ...]

    @property
    def ok(self) -> bool:
        return self.digest_matches and self.signature_valid


def _single_value(attrs: cms.CMSAttributes, oid: str) -> core.Asn1Value | None:
    found = [a for a in attrs if a["type"].dotted == oid]
    if not found:
        return None
    if len(found) > 1 or len(found[0]["values"]) != 1:
        raise MalformedSM2Data("detached signature", f"attribute {oid} not single-valued")
    value: core.Asn1Value = found[0]["values"][0]
    return value


def verify_detached(
    signature: bytes,
    content_digest: bytes,
    *,
    engine: SM2Engine,
    signer_id: bytes = DEFAULT_SIGNER_ID,
) -> DetachedSignatureVerification:
    """Check a detached SM2 SignedData against the SM3 digest of the document.

    Raises :class:`~certs.sm2.errors.MalformedSM2Data` for a structure that is not a detached
    SM2/SM3 SignedData with one signer and its certificate; a signature or digest that does not
    match is a record with ``ok`` false, never an exception."""
    if len(content_digest) != SM3_DIGEST_BYTES:
        raise MalformedSM2Data("document digest", f"expected {SM3_DIGEST_BYTES} bytes of SM3")
    try:
        return _verify(signature, content_digest, engine, signer_id)
    except MalformedSM2Data:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise MalformedSM2Data("detached signature", f"not a CMS SignedData: {exc}") from exc


def _verify(
    signature: bytes, content_digest: bytes, engine: SM2Engine, signer_id: bytes
) -> DetachedSignatureVerification:
    outer, profile = _load(signature)
    tokens = _time_stamp_tokens(outer)
    signed_data = outer["content"]
    # Fields are parsed as they are read below (inside verify_detached's error wrapping): not
    # all at once, which would decode and re-encode the time-stamp tokens (hundreds of ms once
    # pyHanko has registered their types) for nothing.

    encap = signed_data["encap_content_info"]
    if encap["content_type"].dotted != profile.data:
        raise MalformedSM2Data("detached signature", "encapsulated content type does not fit")
    if encap["content"].native is not None:
        raise MalformedSM2Data("detached signature", "content is encapsulated, not detached")
    if not any(a["algorithm"].dotted == oids.SM3 for a in signed_data["digest_algorithms"]):
        raise MalformedSM2Data("detached signature", "SM3 is not among the digest algorithms")
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != MAX_SIGNER_INFOS:
        raise MalformedSM2Data("detached signature", f"{len(signer_infos)} signers, expected 1")
    signer_info = signer_infos[0]
    if signer_info["digest_algorithm"]["algorithm"].dotted != oids.SM3:
        raise MalformedSM2Data("detached signature", "signer's digest algorithm is not SM3")
    if signer_info["signature_algorithm"]["algorithm"].dotted not in _SIGNATURE_ALGORITHMS:
        raise MalformedSM2Data("detached signature", "signature algorithm is not SM2")

    certificates: list[x509.Certificate] = [
        c.chosen for c in (signed_data["certificates"] or []) if c.name == "certificate"
    ]
    signer_der = _find_signer(signer_info["sid"], certificates)
    signer_certificate = SM2Certificate.from_der(signer_der)
    others = tuple(bytes(c.dump()) for c in certificates if bytes(c.dump()) != signer_der)

    signed_attrs = signer_info["signed_attrs"]
    if signed_attrs.native is None or len(signed_attrs) == 0:
        raise MalformedSM2Data("detached signature", "no signed attributes")
    attr_content_type = _single_value(signed_attrs, oids.ATTR_CONTENT_TYPE)
    attr_digest = _single_value(signed_attrs, oids.ATTR_MESSAGE_DIGEST)
    attr_time = _single_value(signed_attrs, oids.ATTR_SIGNING_TIME)
    if attr_content_type is None or attr_digest is None:
        raise MalformedSM2Data("detached signature", "contentType or messageDigest missing")
    if not isinstance(attr_content_type, core.ObjectIdentifier):
        raise MalformedSM2Data("detached signature", "contentType attribute is not an OID")
    if not isinstance(attr_digest, core.OctetString):
        raise MalformedSM2Data("detached signature", "messageDigest is not an OCTET STRING")
    if attr_content_type.dotted != profile.data:
        raise MalformedSM2Data("detached signature", "contentType attribute does not fit")
    signed_digest = bytes(attr_digest.native)
    signing_time = None
    if attr_time is not None:
        if not isinstance(attr_time, cms.Time):
            raise MalformedSM2Data("detached signature", "signingTime is not a Time")
        signing_time = attr_time.native

    # RFC 5652 §5.4: signed over the attributes' own encoding, tag [0] IMPLICIT replaced by SET.
    attrs_der = b"\x31" + bytes(signed_attrs.dump())[1:]
    signature_valid = verify_message(
        signer_certificate.public_key,
        attrs_der,
        bytes(signer_info["signature"].native),
        engine=engine,
        signer_id=signer_id,
    )
    return DetachedSignatureVerification(
        profile=profile,
        signer_certificate=signer_certificate,
        other_certificates=others,
        signed_digest=signed_digest,
        digest_matches=len(signed_digest) == SM3_DIGEST_BYTES and signed_digest == content_digest,
        signature_valid=signature_valid,
        signing_time=signing_time,
        time_stamp_tokens=tuple(tokens),
    )


def _find_signer(sid: cms.SignerIdentifier, certificates: list[x509.Certificate]) -> bytes:
    for cert in certificates:
        tbs = cert["tbs_certificate"]
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (
                tbs["serial_number"].native == wanted["serial_number"].native
                and tbs["issuer"] == wanted["issuer"]
            ):
                return bytes(cert.dump())
        elif sid.name == "subject_key_identifier" and cert.key_identifier == sid.chosen.native:
            return bytes(cert.dump())
    raise MalformedSM2Data("detached signature", "the signer's certificate is not included")
