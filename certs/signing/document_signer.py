"""Signing documents on the institution's side, with pyHanko: a detached CAdES signature for
any file, an embedded PAdES signature for a PDF.

Every signature made here carries a trusted signing time when a time-stamp authority is
given: an RFC 3161 signature time-stamp token over the signature value (CAdES-T, PAdES-T).
PDFs are then extended to PAdES-B-LTA: a DSS with the signer's chain and the CRL, and a
document time stamp over the whole (docs/signatures.md §2).

Not pure: reading keys, asking the authority (HTTP). The server never calls this module —
institutions sign on their side — so it needs no private key of theirs.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Final

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from pyhanko.sign import signers
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from certs.errors import CertsError, CertsInputError
from certs.formats.institution_profile import MAX_CERTIFICATE_BYTES

__all__ = [
    "DIGEST_ALGORITHM",
    "MAX_KEY_BYTES",
    "TIME_STAMP_TIMEOUT",
    "SigningError",
    "SigningIdentity",
    "SigningUnavailable",
    "http_time_stamper",
    "load_signing_identity",
    "sign_detached",
    "sign_pdf",
]

DIGEST_ALGORITHM: Final = "sha256"
"""The message digest of every signature made here (what the server checks uploads by)."""

MAX_KEY_BYTES: Final = 64 * 1024
"""Largest private key file read."""

TIME_STAMP_TIMEOUT: Final = 10.0
"""Seconds the time-stamp authority has to answer."""


class SigningError(CertsInputError):
    """The key, certificate or document cannot be used to sign (exit 2)."""


class SigningUnavailable(CertsError):
    """A party needed to sign is unreachable or refused: the time-stamp authority (exit 1)."""


@dataclass(frozen=True)
class SigningIdentity:
    """An institution's private key and certificate, checked to belong together."""

    certificate: x509.Certificate
    signer: signers.SimpleSigner


def load_signing_identity(
    key_pem: bytes, certificate_pem: bytes, passphrase: bytes | None
) -> SigningIdentity:
    """The signer of ``key_pem`` (PKCS#8, encrypted with ``passphrase``) and its certificate.

    :raises SigningError: unreadable, wrong passphrase, not ECDSA P-256, or the certificate
        certifies another key.
    """
    if len(key_pem) > MAX_KEY_BYTES or len(certificate_pem) > MAX_CERTIFICATE_BYTES * 2:
        raise SigningError("the key or certificate file is too large to be one")
    try:
        key = load_pem_private_key(key_pem, passphrase)
    except TypeError as exc:
        raise SigningError(
            "the key is encrypted: set ZHENGLIAN_SIGNING_PASSPHRASE"
            if passphrase is None
            else f"the key cannot be read: {exc}"
        ) from exc
    except ValueError as exc:
        raise SigningError(
            "the key cannot be read: wrong ZHENGLIAN_SIGNING_PASSPHRASE or not a PEM key"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise SigningError("the key is not ECDSA P-256 (SM2 keys sign with certs.sm2)")
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError as exc:
        raise SigningError(f"the certificate cannot be read: {exc}") from exc
    if certificate.public_key() != key.public_key():
        raise SigningError("the certificate certifies another key than this one")
    der_key = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
        cert_registry=SimpleCertificateStore(),  # type: ignore[no-untyped-call]
    )
    return SigningIdentity(certificate, signer)


def http_time_stamper(url: str) -> TimeStamper:
    """pyHanko's RFC 3161 client for the authority at ``url``."""
    return RequestsHTTPTimeStamper(url, timeout=TIME_STAMP_TIMEOUT)  # type: ignore[no-untyped-call]


def sign_detached(
    content: IO[bytes] | bytes, identity: SigningIdentity, *, time_stamper: TimeStamper | None
) -> bytes:
    """A detached CAdES signature (DER) over ``content``: SHA-256, ESS signing-certificate-v2,
    signingTime, and with ``time_stamper`` a signature time-stamp token (CAdES-T).

    :raises SigningUnavailable: the time-stamp authority failed.
    """
    data = io.BytesIO(content) if isinstance(content, bytes) else content
    try:
        signed = asyncio.run(
            identity.signer.async_sign_general_data(
                data,
                DIGEST_ALGORITHM,
                detached=True,
                use_cades=True,
                timestamper=time_stamper,
            )
        )
    except OSError as exc:  # pyHanko's TimestampRequestError is an IOError
        raise SigningUnavailable(f"the time-stamp authority failed: {_cause(exc)}") from exc
    return bytes(signed.dump())


def _cause(exc: BaseException) -> str:
    """The innermost cause of ``exc``, in its own words."""
    seen: set[int] = set()
    while exc.__cause__ is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc = exc.__cause__
    return str(exc) or type(exc).__name__


def sign_pdf(
    pdf: IO[bytes],
    identity: SigningIdentity,
    *,
    time_stamper: TimeStamper | None,
    root: x509.Certificate | None,
    crl: bytes | None,
    time_stamp_roots: Sequence[bytes] = (),
) -> bytes:
    """The PDF with an embedded PAdES signature (SubFilter ETSI.CAdES.detached, SHA-256) as an
    incremental update.

    With ``time_stamper``: a signature time stamp (PAdES-B-T); and with the ``root`` and its
    ``crl`` too, the validation data in a DSS (the signer's chain and the CRL, the authority's
    chain) and a document time stamp over it all (PAdES-B-LTA). Without a time stamper the
    signature is PAdES-B-B and its time only claimed.

    :raises SigningError: not a PDF pyHanko can update, or the signer's certificate does not
        validate against ``root`` and ``crl`` (revoked, expired: nothing is signed).
    :raises SigningUnavailable: the time-stamp authority failed.
    """
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.general import SigningError as HankoSigningError
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.errors import PathValidationError

    long_term = time_stamper is not None and root is not None and crl is not None
    context = None
    if long_term:
        assert root is not None and crl is not None
        trusted = [asn1_x509.Certificate.load(root.public_bytes(Encoding.DER))]
        trusted.extend(asn1_x509.Certificate.load(der) for der in time_stamp_roots)
        context = ValidationContext(trust_roots=trusted, crls=[crl], allow_fetching=False)
    metadata = signers.PdfSignatureMetadata(
        field_name="Signature1",
        md_algorithm=DIGEST_ALGORITHM,
        subfilter=SigSeedSubFilter.PADES,
        embed_validation_info=long_term,
        use_pades_lta=long_term,
        validation_context=context,
    )
    output = io.BytesIO()
    try:
        writer = IncrementalPdfFileWriter(pdf, strict=False)
        pdf_signer = signers.PdfSigner(metadata, signer=identity.signer, timestamper=time_stamper)
        asyncio.run(pdf_signer.async_sign_pdf(writer, output=output))
    except (PdfError, ValueError) as exc:
        raise SigningError(f"the PDF cannot be signed: {exc}") from exc
    except PathValidationError as exc:
        raise SigningError(
            f"the certificate does not validate against the PKI root and CRL: {exc}"
        ) from exc
    except HankoSigningError as exc:
        raise SigningError(f"pyHanko refused to sign: {exc}") from exc
    except OSError as exc:
        raise SigningUnavailable(f"the time-stamp authority failed: {_cause(exc)}") from exc
    return output.getvalue()
