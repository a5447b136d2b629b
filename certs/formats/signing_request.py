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
from certs.sm2.csr import SM2CertificateRequest, check_certificate_request
from certs.sm2.engine import SM2Engine
from certs.sm2.errors import MalformedSM2Data
from certs.sm2.keys import public_key_info_der

__all__ = ["MAX_CSR_BYTES", "public_key_of_request", "public_key_of_sm2_request"]

MAX_CSR_BYTES: Final = 16 * 1024
"""Largest signing request read (a P-256 request is under 1 KiB; RSA-4096 about 4 KiB)."""
SM2_WITH_SM3_DER: Final = bytes.fromhex("06082a811ccf55018375")
"""DER of the SM2-with-SM3 signature algorithm OID (1.2.156.10197.1.501)."""


def public_key_of_request(data: bytes) -> bytes:
    """The ECDSA P-256 public key (SubjectPublicKeyInfo, DER) of a PEM or DER signing
    request whose self-signature verifies.

    :raises UnsupportedAlgorithm: an SM2 (see :func:`public_key_of_sm2_request`) or other
        non-P-256 key (named in the message).
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


def public_key_of_sm2_request(data: bytes, *, engine: SM2Engine) -> bytes:
    """The SM2 public key (SubjectPublicKeyInfo, DER) of a PEM or DER PKCS #10 request signed
    SM2-with-SM3 with the default signer ID (:mod:`certs.sm2.csr`) by the key it carries.

    :raises UnsupportedAlgorithm: a request for another algorithm (e.g. ECDSA: ``--algorithm
        ecdsa``).
    :raises ProfileError: too large, not a request, or its signature does not verify.
    """
    if len(data) > MAX_CSR_BYTES:
        raise ProfileError(f"the signing request is over {MAX_CSR_BYTES} bytes")
    armoured = data.lstrip().startswith(b"-----BEGIN")
    try:
        request = (
            SM2CertificateRequest.from_pem(data)
            if armoured
            else SM2CertificateRequest.from_der(data)
        )
    except MalformedSM2Data as exc:
        if "SM2-with-SM3" in str(exc) or "sm2p256v1" in str(exc) or "id-ecPublicKey" in str(exc):
            raise UnsupportedAlgorithm(
                f"the request is not an SM2 request ({exc}): for an ECDSA P-256 key give "
                "--algorithm ecdsa"
            ) from exc
        raise ProfileError(f"not an SM2 PKCS #10 signing request: {exc}") from exc
    if not check_certificate_request(request, engine=engine):
        raise ProfileError(
            "the SM2 signing request's self-signature does not verify (SM2-with-SM3, default "
            "signer ID 1234567812345678): it was altered, or not made with the key it carries"
        )
    return public_key_info_der(request.public_key)
