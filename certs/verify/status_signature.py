"""Checking an institution's signature over a certificate status statement (ECDSA P-256).

**Verification-critical.** Pure: the standard library and ``cryptography``; the statement,
signature and certificate are arguments. What is checked here is the signature alone: that
``signature`` is a DER ECDSA signature with SHA-256 over exactly ``statement`` by the key of
``certificate_der``, and (for an issue) that the statement names the certificate's
institution. Whether that certificate chains to the bureau's root, was valid and not revoked at
the time, is :func:`certs.verify.institution_check.check_institution_certificate`'s question;
whether the institution may change *this* certificate's status (for a revocation or a
supersession: that it is the registered issuer, ``SignedStatus.signer_code``) is the caller's.
SM2 signatures (SM3, the default signer ID) follow with certs/sm2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certs.errors import StatusSignatureError, StatusSignerMismatch
from certs.formats.institution_profile import (
    InstitutionCertificate,
    check_p256_public_key,
    load_certificate,
    parse_institution_certificate,
)
from certs.formats.status_statement import (
    StatusAction,
    StatusStatement,
    parse_status_statement,
)

__all__ = ["MAX_STATUS_SIGNATURE_BYTES", "SignedStatus", "check_status_signature"]

MAX_STATUS_SIGNATURE_BYTES: Final = 512
"""Longest signature looked at: the registry contract's MAX_SIGNATURE_LENGTH (a DER ECDSA
P-256 signature is at most 72 bytes)."""


@dataclass(frozen=True)
class SignedStatus:
    """A statement whose signature verified, and who signed it."""

    statement: StatusStatement
    signer: InstitutionCertificate

    @property
    def signer_code(self) -> str:
        """The signing institution's 统一社会信用代码."""
        return self.signer.subject.credit_code.text


def check_status_signature(
    statement: bytes, signature: bytes, certificate_der: bytes
) -> SignedStatus:
    """Check ``signature`` over ``statement`` with the institution certificate's key.

    :raises StatusStatementError: ``statement`` is not a canonical status statement.
    :raises ProfileError: the certificate cannot be read or does not fit the profile.
    :raises UnsupportedAlgorithm: its key is not ECDSA P-256 (SM2 is checked elsewhere).
    :raises StatusSignatureError: the signature does not verify.
    :raises StatusSignerMismatch: an issue statement names another institution.
    """
    parsed = parse_status_statement(statement)
    if not 0 < len(signature) <= MAX_STATUS_SIGNATURE_BYTES:
        raise StatusSignatureError(
            f"a signature of {len(signature)} bytes (1 to {MAX_STATUS_SIGNATURE_BYTES})"
        )
    certificate = load_certificate(certificate_der)
    key = check_p256_public_key(
        certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    signer = parse_institution_certificate(certificate)
    try:
        key.verify(signature, statement, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise StatusSignatureError(
            f"the signature is not {signer.subject.name}'s (certificate serial "
            f"{signer.serial_hex}) over this {parsed.action} statement"
        ) from None
    except ValueError as exc:  # pragma: no cover - cryptography reports bad DER as invalid
        raise StatusSignatureError(f"malformed signature: {exc}") from exc
    result = SignedStatus(parsed, signer)
    if parsed.action is StatusAction.ISSUE and parsed.issuer != result.signer_code:
        assert parsed.issuer is not None
        raise StatusSignerMismatch(parsed.issuer, result.signer_code)
    return result
