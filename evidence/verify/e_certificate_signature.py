"""The issuer's signature on an e-certificate: made on the issuer's side, checked offline with
the signer's certificate alone (``docs/e-certificates.md`` §5).

**Verification-critical and pure** (``cryptography`` and :mod:`certs.formats`): the encoded
certificate, the signature and the signer's certificate are arguments; nothing is fetched.

The signature (``<identifier>.sig``) is ECDSA P-256 over SHA-256 of the certificate's
canonical bytes (the whole ``<identifier>.json`` file: prefix line and JSON), DER-encoded
(``ECDSA-Sig-Value``, RFC 3279 §2.2.3) — what ``openssl dgst -sha256 -sign`` writes and
``openssl dgst -sha256 -verify PUBKEY -signature FILE.sig FILE.json`` checks.

:func:`verify_e_certificate_signature` checks that the signer certificate is the one the
certificate names (SHA-256 of its DER), that it fits the institution profile and names the
issuer (its credit code, name and institution type), and that the signature verifies under
its key. Whether the signer certificate chains to the bureau's root and was not revoked at
the issue time is the caller's next check, with the root and CRL as arguments:
:func:`certs.verify.institution_check.check_institution_certificate`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from certs.errors import ProfileError
from certs.formats.institution_profile import InstitutionCertificate, parse_institution_certificate
from evidence.errors import InputError
from evidence.formats.e_certificate import ECertificate

__all__ = [
    "MAX_SIGNATURE_BYTES",
    "SIGNATURE_ALGORITHM",
    "ECertificateSignatureError",
    "SignedECertificate",
    "certificate_fingerprint",
    "sign_e_certificate",
    "verify_e_certificate_signature",
]

SIGNATURE_ALGORITHM: Final = "ecdsa-p256-sha256"
"""The only signature algorithm of version 1 certificates."""

MAX_SIGNATURE_BYTES: Final = 80
"""Longest DER ECDSA P-256 signature read (at most 72 bytes)."""


class ECertificateSignatureError(InputError):
    """The signature or the signer certificate does not hold for the certificate."""


@dataclass(frozen=True)
class SignedECertificate:
    """A certificate whose signature verified under the certificate it names."""

    certificate: ECertificate
    signer: InstitutionCertificate
    signature: bytes


def certificate_fingerprint(signer: x509.Certificate) -> bytes:
    """SHA-256 of the DER of ``signer`` (what ``issuer.certificate_sha256`` holds)."""
    return hashlib.sha256(signer.public_bytes(Encoding.DER)).digest()


def sign_e_certificate(certificate: ECertificate, key: ec.EllipticCurvePrivateKey) -> bytes:
    """The DER ECDSA signature (SHA-256) of ``certificate.encode()`` with ``key`` (P-256)."""
    if not isinstance(key.curve, ec.SECP256R1):
        raise ECertificateSignatureError(f"the key is on {key.curve.name}, not P-256")
    return key.sign(certificate.encode(), ec.ECDSA(hashes.SHA256()))


def verify_e_certificate_signature(
    encoded: bytes, signature: bytes, signer: x509.Certificate
) -> SignedECertificate:
    """Check ``signature`` over the encoded certificate ``encoded`` against ``signer``.

    :raises ECertificateError: ``encoded`` is not a certificate (the field named);
    :raises ECertificateSignatureError: the signer certificate is not the one named, does not
        fit the profile, names another institution, or the signature does not verify.
    """
    certificate = ECertificate.decode(encoded)
    issuer = certificate.issuer
    found = certificate_fingerprint(signer)
    if found != issuer.certificate_sha256:
        raise ECertificateSignatureError(
            f"the signer certificate's SHA-256 is {found.hex()}, the certificate names "
            f"{issuer.certificate_sha256.hex()}"
        )
    try:
        institution = parse_institution_certificate(signer)
    except ProfileError as exc:
        raise ECertificateSignatureError(f"the signer certificate: {exc}") from None
    subject = institution.subject
    if (subject.credit_code.text, subject.name, subject.type) != (
        issuer.credit_code,
        issuer.name,
        issuer.type,
    ):
        raise ECertificateSignatureError(
            f"the signer certificate names {subject.name} ({subject.credit_code.text}, "
            f"{subject.type.value}), the certificate's issuer is {issuer.name} "
            f"({issuer.credit_code}, {issuer.type.value})"
        )
    if len(signature) > MAX_SIGNATURE_BYTES:
        raise ECertificateSignatureError(
            f"the signature has {len(signature)} bytes; an ECDSA P-256 one at most 72"
        )
    key = signer.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):  # parse_institution_certificate checks
        raise ECertificateSignatureError("the signer certificate's key is not ECDSA")
    try:
        key.verify(signature, encoded, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise ECertificateSignatureError(
            f"the signature does not verify over {certificate.id} under the key of "
            f"{subject.name}'s certificate (serial {institution.serial_hex})"
        ) from None
    return SignedECertificate(certificate=certificate, signer=institution, signature=signature)
