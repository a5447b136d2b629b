"""Checking an institution's signature over a certificate status statement (ECDSA P-256 or
SM2).

**Verification-critical.** Pure: the standard library, ``cryptography`` and the pure SM2 code;
the statement, signature, certificate and (for SM2) the engine are arguments. What is checked
here is the signature alone: that ``signature`` is, in the algorithm of the key
``certificate_der`` certifies, a signature over exactly ``statement`` —

* ECDSA P-256: DER ``ECDSA-Sig-Value`` with SHA-256;
* SM2: DER ``SEQUENCE {r, s}`` with SM3 and the default signer ID ``1234567812345678``
  (GB/T 32918.2-2016, GM/T 0009-2012 §10), checked by :func:`certs.sm2.signing.verify_message`
  with the engine given —

and (for an issue) that the statement names the certificate's institution. Whether that
certificate chains to the root of its algorithm, was valid and not revoked at the time, is
:func:`certs.verify.institution_check.check_institution_certificate`'s (or
``check_sm2_institution_certificate``'s) question; whether the institution may change *this*
certificate's status (for a revocation or a supersession: that it is the registered issuer,
``SignedStatus.signer_code``) is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certs.errors import (
    ProfileError,
    StatusSignatureError,
    StatusSignerMismatch,
    UnsupportedAlgorithm,
)
from certs.formats.institution_profile import (
    InstitutionCertificate,
    certified_key_algorithm,
    check_p256_public_key,
    load_certificate,
    parse_institution_certificate,
)
from certs.formats.status_statement import (
    StatusAction,
    StatusStatement,
    parse_status_statement,
)
from certs.sm2 import algorithm as sm2_algorithm
from certs.sm2.algorithm import SM2PublicKey
from certs.sm2.engine import SM2Engine
from certs.sm2.errors import MalformedSM2Data
from certs.sm2.keys import public_key_from_info
from certs.sm2.signing import verify_message

__all__ = [
    "MAX_SM2_STATUS_SIGNATURE_BYTES",
    "MAX_STATUS_SIGNATURE_BYTES",
    "SignedStatus",
    "check_status_signature",
]

MAX_STATUS_SIGNATURE_BYTES: Final = 512
"""Longest signature looked at: the registry contract's MAX_SIGNATURE_LENGTH (a DER ECDSA
P-256 or SM2 signature is at most 72 bytes)."""

MAX_SM2_STATUS_SIGNATURE_BYTES: Final = sm2_algorithm.MAX_SIGNATURE_BYTES
"""Longest SM2 signature: ``SEQUENCE {r, s}`` of two 256-bit integers, 72 bytes (within the
contract's :data:`MAX_STATUS_SIGNATURE_BYTES`)."""


@dataclass(frozen=True)
class SignedStatus:
    """A statement whose signature verified, and who signed it."""

    statement: StatusStatement
    signer: InstitutionCertificate

    @property
    def signer_code(self) -> str:
        """The signing institution's 统一社会信用代码."""
        return self.signer.subject.credit_code.text


def _is_sm2(certificate: x509.Certificate) -> bool:
    try:
        return certified_key_algorithm(certificate) == "sm2"
    except ProfileError:  # neither P-256 nor SM2: the P-256 check names it
        return False


def _sm2_public_key(certificate: x509.Certificate) -> SM2PublicKey:
    try:
        info = asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))[
            "tbs_certificate"
        ]["subject_public_key_info"]
        return public_key_from_info(info)
    except (MalformedSM2Data, ValueError, TypeError, KeyError) as exc:
        raise ProfileError(f"the certificate's SM2 key: {exc}") from None


def check_status_signature(
    statement: bytes,
    signature: bytes,
    certificate_der: bytes,
    *,
    sm2_engine: SM2Engine | None = None,
) -> SignedStatus:
    """Check ``signature`` over ``statement`` with the institution certificate's key (an SM2
    key: with ``sm2_engine``).

    :raises StatusStatementError: ``statement`` is not a canonical status statement.
    :raises ProfileError: the certificate cannot be read or does not fit the profile.
    :raises UnsupportedAlgorithm: its key is neither ECDSA P-256 nor SM2, or it is SM2 and no
        engine is given.
    :raises StatusSignatureError: the signature does not verify (an SM2 one longer than
        :data:`MAX_SM2_STATUS_SIGNATURE_BYTES` included).
    :raises StatusSignerMismatch: an issue statement names another institution.
    """
    parsed = parse_status_statement(statement)
    if not 0 < len(signature) <= MAX_STATUS_SIGNATURE_BYTES:
        raise StatusSignatureError(
            f"a signature of {len(signature)} bytes (1 to {MAX_STATUS_SIGNATURE_BYTES})"
        )
    certificate = load_certificate(certificate_der)
    if _is_sm2(certificate):
        if sm2_engine is None:
            raise UnsupportedAlgorithm(
                "the certificate certifies an SM2 key: an SM2 engine is needed to check the "
                "signature, and none was given"
            )
        public_key = _sm2_public_key(certificate)
        signer = parse_institution_certificate(certificate)
        if len(signature) > MAX_SM2_STATUS_SIGNATURE_BYTES:
            raise StatusSignatureError(
                f"an SM2 signature of {len(signature)} bytes (at most "
                f"{MAX_SM2_STATUS_SIGNATURE_BYTES})"
            )
        if not verify_message(public_key, statement, signature, engine=sm2_engine):
            raise StatusSignatureError(
                f"the signature is not {signer.subject.name}'s (SM2 certificate serial "
                f"{signer.serial_hex}, SM3, signer ID 1234567812345678) over this "
                f"{parsed.action} statement"
            )
    else:
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
