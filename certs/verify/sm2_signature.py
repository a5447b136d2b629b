"""A detached SM2 document signature (GM/T 0010 SignedData, or RFC 5652 with the SM2 OIDs),
recognised, read and its cryptography checked. Pure: the signature's bytes, the content's
digests and the SM2 engine are arguments.

**Verification-critical.** The SM2 counterpart of :mod:`certs.verify.cms_signature`: it answers
*does this SignedData carry an SM2 signature (SM3 digest, signer ID 1234567812345678 of GM/T
0009 §10) by this certificate over content with this SM3 digest?*, and raises the same
:class:`~certs.verify.cms_signature.SignatureFormatError` reasons, so that the deposit check
and ``zhenglian verify`` name failures alike whatever the algorithm. Whether the certificate
counts is :func:`certs.verify.institution_check.check_sm2_institution_certificate`'s.

An SM2 signature made with another signer ID (for instance the empty one, as OpenSSL 3.0 does
in CMS) does not verify: ``signature-invalid``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from asn1crypto import cms, core, parser
from cryptography import x509

from certs.sm2 import oids
from certs.sm2.detached_signature import signature_value, verify_detached
from certs.sm2.engine import SM2Engine
from certs.sm2.errors import MalformedSM2Data
from certs.verify.cms_signature import MAX_SIGNATURE_BYTES, SignatureFormatError

__all__ = ["Sm2CmsSignature", "is_sm2_signature", "read_sm2_signature"]

_SM2_SIGNATURE_ALGORITHMS: Final = frozenset({oids.SM2_SIGN, oids.SM2_WITH_SM3})


def is_sm2_signature(der: bytes) -> bool:
    """Whether ``der`` is meant as an SM2 signature: a GM/T 0010 signedData, or an RFC 5652
    SignedData whose signer signs with SM2 or digests with SM3. Anything unreadable is not
    (the ECDSA reader then names what is wrong with it)."""
    try:
        _, _, _, _, contents, _ = parser.parse(der)  # the ContentInfo SEQUENCE
        _, _, tag, header, value, _ = parser.parse(contents)  # its contentType
        if tag != core.ObjectIdentifier.tag:
            return False
        oid = core.ObjectIdentifier.load(header + value).dotted
        if oid == oids.GM_SIGNED_DATA:
            return True
        if oid != oids.CMS_SIGNED_DATA:
            return False
        signers = cms.ContentInfo.load(der)["content"]["signer_infos"]
        return any(
            s["signature_algorithm"]["algorithm"].dotted in _SM2_SIGNATURE_ALGORITHMS
            or s["digest_algorithm"]["algorithm"].dotted == oids.SM3
            for s in signers
        )
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
        return False


@dataclass(frozen=True)
class Sm2CmsSignature:
    """A detached SM2 SignedData whose signature verified over the content given."""

    der: bytes
    """The signature exactly as given."""
    certificate: x509.Certificate
    """The signer's certificate (``cryptography`` parses it; its key is SM2)."""
    certificate_der: bytes
    signature_value: bytes
    """The SignerInfo's signature: what a CAdES-T time-stamp token is over."""
    claimed_time: datetime | None
    """The signingTime attribute: the signer's word only."""
    time_stamp_token: bytes | None
    """DER of the first unsigned id-aa-timeStampToken, not checked here."""

    @property
    def sha256(self) -> bytes:
        """SHA-256 of the signature's bytes (what a version 2 log entry commits to)."""
        return hashlib.sha256(self.der).digest()


def read_sm2_signature(
    der: bytes, content_digests: Mapping[str, bytes], *, engine: SM2Engine
) -> Sm2CmsSignature:
    """Read a detached SM2 signature and check it over content whose SM3 digest is
    ``content_digests["sm3"]`` with the default signer ID.

    :raises SignatureFormatError: ``too-large``, ``malformed``, ``not-detached``,
        ``signer-certificate`` (missing, or not an SM2-with-SM3 certificate — an SM2 key
        certified by the ECDSA root is refused here), ``digest-algorithm`` (no SM3 digest of
        the content), ``content-mismatch``, ``signature-invalid`` (including another signer
        ID).
    """
    if len(der) > MAX_SIGNATURE_BYTES:
        raise SignatureFormatError(
            "too-large",
            f"the signature is {len(der)} bytes, over the limit of {MAX_SIGNATURE_BYTES}",
        )
    digest = content_digests.get("sm3")
    if digest is None:
        raise SignatureFormatError(
            "digest-algorithm",
            "the SM2 signature digests the content with SM3; only "
            f"{', '.join(sorted(content_digests))} can be checked here",
        )
    try:
        result = verify_detached(der, digest, engine=engine)
        value = signature_value(der)
    except MalformedSM2Data as exc:
        if exc.what == "SM2 certificate" and "SM2-with-SM3" in exc.reason:
            raise SignatureFormatError(
                "signer-certificate",
                "the signer's certificate is not signed SM2-with-SM3: an SM2 key is certified by "
                "the SM2 root only (an all-SM2 chain; a chain to the ECDSA root is refused)",
            ) from exc
        raise SignatureFormatError(_reason(exc), f"not a detached SM2 signature: {exc}") from exc
    if not result.digest_matches:
        raise SignatureFormatError(
            "content-mismatch",
            f"the signature is over other content: its sm3 is {result.signed_digest.hex()}, "
            f"the document's is {digest.hex()}",
        )
    if not result.signature_valid:
        raise SignatureFormatError(
            "signature-invalid",
            "the SM2 signature does not verify under the signer's key with signer ID "
            "1234567812345678 (GM/T 0009 §10): the signed attributes or the signature were "
            "altered, or it was made with another signer ID",
        )
    try:
        certificate = x509.load_der_x509_certificate(result.signer_certificate.der)
    except ValueError as exc:
        raise SignatureFormatError("signer-certificate", f"unreadable: {exc}") from exc
    return Sm2CmsSignature(
        der=der,
        certificate=certificate,
        certificate_der=result.signer_certificate.der,
        signature_value=value,
        claimed_time=result.signing_time,
        time_stamp_token=result.time_stamp_tokens[0] if result.time_stamp_tokens else None,
    )


def _reason(exc: MalformedSM2Data) -> str:
    """The failure reason a malformed SM2 signature is reported under."""
    if exc.what == "SM2 certificate" or "certificate is not included" in exc.reason:
        return "signer-certificate"
    if "not detached" in exc.reason or "encapsulated content type" in exc.reason:
        return "not-detached"
    if "SM3" in exc.reason:
        return "digest-algorithm"
    if "signature algorithm" in exc.reason:
        return "signature-algorithm"
    if "larger than" in exc.reason:
        return "too-large"
    return "malformed"
