"""Signing documents with an SM2 institution key, on the institution's side: a detached GM/T
0010 SignedData (:mod:`certs.sm2.detached_signature`: SM3 digest, SM2 signature with the
default signer ID 1234567812345678, the signer's certificate, signingTime), with an RFC 3161
signature time-stamp token over the signature value as unsigned attribute (CAdES-T) when a
time-stamp authority is given — the same rules as the ECDSA path.

pyHanko signs no SM2, so a PDF is signed this way too: its ``.p7s`` travels beside it and the
PDF is unchanged (docs/signatures.md §6).

Not pure: it asks the time-stamp authority (pyHanko's RFC 3161 client). The server never calls
this module.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from pyhanko.sign.timestamps.api import TimeStamper

from certs.errors import CertsError
from certs.formats.institution_profile import MAX_CERTIFICATE_BYTES, certified_key_algorithm
from certs.signing.document_signer import MAX_KEY_BYTES, SigningError, SigningUnavailable
from certs.sm2 import keys as sm2_keys
from certs.sm2.certificates import SM2Certificate
from certs.sm2.detached_signature import sign_detached, signature_value, with_time_stamp_token
from certs.sm2.engine import SM2Engine
from certs.sm2.errors import KeyDecryptionError, MalformedSM2Data

__all__ = [
    "READ_CHUNK_BYTES",
    "TIME_STAMP_DIGEST",
    "Sm2SigningIdentity",
    "certificate_is_sm2",
    "load_sm2_signing_identity",
    "sign_sm2_detached",
]

READ_CHUNK_BYTES: Final = 1024 * 1024
"""How much of the document is hashed (SM3) at a time."""
TIME_STAMP_DIGEST: Final = "sha256"
"""The hash of the signature value sent to the time-stamp authority (its message imprint):
SHA-256, which every RFC 3161 authority takes and the server's time-stamp check reads."""


@dataclass(frozen=True)
class Sm2SigningIdentity:
    """An institution's SM2 private key and its certificate, checked to belong together."""

    key: sm2_keys.SM2PrivateKey
    certificate: SM2Certificate


def certificate_is_sm2(certificate_pem: bytes) -> bool:
    """Whether the certificate (PEM) certifies an SM2 key: then the SM2 path signs."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
        return certified_key_algorithm(certificate) == "sm2"
    except (ValueError, CertsError):
        return False


def load_sm2_signing_identity(
    key_pem: bytes, certificate_pem: bytes, passphrase: bytes | None, *, engine: SM2Engine
) -> Sm2SigningIdentity:
    """The SM2 signer of ``key_pem`` (PKCS #8, encrypted with ``passphrase`` as
    ``zhenglian pki issue --algorithm sm2 --out`` writes it) and its certificate.

    :raises SigningError: unreadable, wrong passphrase, or the certificate certifies another
        key."""
    if len(key_pem) > MAX_KEY_BYTES or len(certificate_pem) > MAX_CERTIFICATE_BYTES * 2:
        raise SigningError("the key or certificate file is too large to be one")
    try:
        certificate = SM2Certificate.from_pem(certificate_pem)
    except MalformedSM2Data as exc:
        raise SigningError(f"the SM2 certificate cannot be read: {exc}") from exc
    if passphrase is None:
        raise SigningError("the key is encrypted: set ZHENGLIAN_SIGNING_PASSPHRASE")
    try:
        key = sm2_keys.load_private_key(key_pem, passphrase, engine=engine)
    except KeyDecryptionError as exc:
        raise SigningError(
            "the SM2 key cannot be read: wrong ZHENGLIAN_SIGNING_PASSPHRASE"
        ) from exc
    except MalformedSM2Data as exc:
        raise SigningError(f"the key is not an SM2 key this certificate certifies: {exc}") from exc
    if key.public_key != certificate.public_key:
        raise SigningError("the certificate certifies another key than this one")
    return Sm2SigningIdentity(key, certificate)


def sign_sm2_detached(
    content: IO[bytes],
    identity: Sm2SigningIdentity,
    *,
    engine: SM2Engine,
    time_stamper: TimeStamper | None,
    now: datetime | None = None,
) -> bytes:
    """A detached GM/T 0010 signature (DER) over ``content``, read once (SM3); with
    ``time_stamper`` an RFC 3161 token over its signature value added unsigned (CAdES-T).

    :raises SigningUnavailable: the time-stamp authority failed.
    """
    digest = hashes.Hash(hashes.SM3())
    while chunk := content.read(READ_CHUNK_BYTES):
        digest.update(chunk)
    signature = sign_detached(
        digest.finalize(),
        key=identity.key,
        certificate=identity.certificate,
        signing_time=now or datetime.now(UTC),
        engine=engine,
    )
    if time_stamper is None:
        return signature
    imprint = hashes.Hash(hashes.SHA256())
    imprint.update(signature_value(signature))
    try:
        token = asyncio.run(time_stamper.async_timestamp(imprint.finalize(), TIME_STAMP_DIGEST))
    except OSError as exc:  # pyHanko's TimestampRequestError is an IOError
        raise SigningUnavailable(f"the time-stamp authority failed: {exc}") from exc
    return with_time_stamp_token(signature, bytes(token.dump()))
