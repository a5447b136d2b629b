"""Certificate signing requests (PKCS #10) from institutions that keep their key on their
own token: only the public key is taken, once the request's self-signature verifies.

The subject, extensions and attributes of a request are ignored: what a certificate says
about its institution comes from the authority's own records (the command's options), never
from the request. Pure: the standard library and ``cryptography``.
"""

from __future__ import annotations

from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm as UnreadableAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certs.errors import ProfileError, UnsupportedAlgorithm
from certs.formats.institution_profile import (
    SM2_CURVE_DER,
    SM2_NOT_YET,
    check_p256_public_key,
)

__all__ = ["MAX_CSR_BYTES", "public_key_of_request"]

MAX_CSR_BYTES: Final = 16 * 1024
"""Largest signing request read (a P-256 request is under 1 KiB; RSA-4096 about 4 KiB)."""
SM2_WITH_SM3_DER: Final = bytes.fromhex("06082a811ccf55018375")
"""DER of the SM2-with-SM3 signature algorithm OID (1.2.156.10197.1.501)."""


def public_key_of_request(data: bytes) -> bytes:
    """The ECDSA P-256 public key (SubjectPublicKeyInfo, DER) of a PEM or DER signing
    request whose self-signature verifies.

    :raises UnsupportedAlgorithm: an SM2 or other non-P-256 key (named in the message).
    :raises ProfileError: too large, not a request, or its signature does not verify.
    """
    if len(data) > MAX_CSR_BYTES:
        raise ProfileError(f"the signing request is over {MAX_CSR_BYTES} bytes")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            request = x509.load_pem_x509_csr(data)
        else:
            request = x509.load_der_x509_csr(data)
    except ValueError as exc:
        raise ProfileError(f"not a PKCS #10 signing request: {exc}") from exc
    der = request.public_bytes(Encoding.DER)
    if SM2_CURVE_DER in der or SM2_WITH_SM3_DER in der:
        raise UnsupportedAlgorithm(SM2_NOT_YET)
    try:
        public = request.public_key()
    except (ValueError, UnreadableAlgorithm) as exc:
        raise UnsupportedAlgorithm(f"the request's key is not ECDSA P-256: {exc}") from exc
    spki = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    check_p256_public_key(spki)
    try:
        valid = request.is_signature_valid
    except (ValueError, UnreadableAlgorithm) as exc:
        raise ProfileError(f"the request's signature cannot be checked: {exc}") from exc
    if not valid:
        raise ProfileError(
            "the signing request's self-signature does not verify: it was altered, or not "
            "made with the key it carries"
        )
    return spki
