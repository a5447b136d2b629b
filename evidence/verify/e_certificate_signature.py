"""The issuer's signature on an e-certificate: made on the issuer's side, checked offline with
the signer's certificate alone (``docs/e-certificates.md`` §5).

**Verification-critical and pure** (``cryptography``, :mod:`certs.formats` and the pure SM2
code): the encoded certificate, the signature, the signer's certificate and, for SM2, the
engine are arguments; nothing is fetched and no binding is imported.

The signature (``<identifier>.sig``) is over the certificate's canonical bytes (the whole
``<identifier>.json`` file: prefix line and JSON), in the algorithm of the key the signer's
certificate certifies:

* **ECDSA P-256** — over SHA-256, DER ``ECDSA-Sig-Value`` (RFC 3279 §2.2.3): what
  ``openssl dgst -sha256 -sign`` writes and ``openssl dgst -sha256 -verify PUBKEY -signature
  FILE.sig FILE.json`` checks;
* **SM2** — SM2 with SM3 (GB/T 32918.2-2016 §6: ``e = SM3(Z ‖ M)``) and the default signer ID
  ``1234567812345678`` (GM/T 0009-2012 §10), DER ``SEQUENCE {r, s}`` (GM/T 0009-2012 §7.3);
  :func:`certs.sm2.signing.sign_message` / :func:`~certs.sm2.signing.verify_message`.

:func:`verify_e_certificate_signature` checks that the signer certificate is the one the
certificate names (SHA-256 of its DER), that it fits the institution profile and names the
issuer (its credit code, name and institution type), and that the signature verifies under
its key. Whether the signer certificate chains to the root of its algorithm and was not
revoked at the issue time is the caller's next check, with the roots and CRLs as arguments:
:func:`evidence.verify.document_signature.check_signer_certificate`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from certs.errors import ProfileError
from certs.formats.institution_profile import InstitutionCertificate, parse_institution_certificate
from certs.sm2 import algorithm as sm2_algorithm
from certs.sm2.algorithm import SM2PublicKey
from certs.sm2.engine import SM2Engine
from certs.sm2.errors import MalformedSM2Data, SM2Error
from certs.sm2.keys import SM2PrivateKey, public_key_from_info
from certs.sm2.signing import sign_message, verify_message
from evidence.errors import InputError
from evidence.formats.e_certificate import ECertificate

__all__ = [
    "MAX_ECDSA_SIGNATURE_BYTES",
    "MAX_SIGNATURE_BYTES",
    "MAX_SM2_SIGNATURE_BYTES",
    "SIGNATURE_ALGORITHM",
    "SIGNATURE_ALGORITHMS",
    "ECertificateSignatureError",
    "SignedECertificate",
    "certificate_fingerprint",
    "sign_e_certificate",
    "verify_e_certificate_signature",
]

SIGNATURE_ALGORITHM: Final = "ecdsa-p256-sha256"
"""The signature algorithm of an issuer whose certificate certifies an ECDSA P-256 key."""

SIGNATURE_ALGORITHMS: Final = {"ecdsa-p256": SIGNATURE_ALGORITHM, "sm2": "sm2-sm3"}
"""The signature algorithm by the certified key's algorithm
(:attr:`InstitutionCertificate.algorithm`): SM2 signs with SM3 and the default signer ID."""

MAX_ECDSA_SIGNATURE_BYTES: Final = 80
"""Longest DER ECDSA P-256 signature read (a valid one has at most 72 bytes)."""

MAX_SM2_SIGNATURE_BYTES: Final = sm2_algorithm.MAX_SIGNATURE_BYTES
"""Longest DER SM2 signature read: ``SEQUENCE {r, s}`` of two 256-bit integers, 72 bytes."""

MAX_SIGNATURE_BYTES: Final = max(MAX_ECDSA_SIGNATURE_BYTES, MAX_SM2_SIGNATURE_BYTES)
"""Longest signature of any algorithm read (what ``ID.sig`` may hold)."""

_MAX_BY_ALGORITHM: Final = {"ecdsa-p256": MAX_ECDSA_SIGNATURE_BYTES, "sm2": MAX_SM2_SIGNATURE_BYTES}
_NAMES: Final = {"ecdsa-p256": "ECDSA P-256", "sm2": "SM2"}


class ECertificateSignatureError(InputError):
    """The signature or the signer certificate does not hold for the certificate."""


@dataclass(frozen=True)
class SignedECertificate:
    """A certificate whose signature verified under the certificate it names."""

    certificate: ECertificate
    signer: InstitutionCertificate
    signature: bytes

    @property
    def algorithm(self) -> str:
        """The signature's algorithm: ``ecdsa-p256-sha256`` or ``sm2-sm3``."""
        return SIGNATURE_ALGORITHMS[self.signer.algorithm]


def certificate_fingerprint(signer: x509.Certificate) -> bytes:
    """SHA-256 of the DER of ``signer`` (what ``issuer.certificate_sha256`` holds)."""
    return hashlib.sha256(signer.public_bytes(Encoding.DER)).digest()


def sign_e_certificate(
    certificate: ECertificate,
    key: ec.EllipticCurvePrivateKey | SM2PrivateKey,
    *,
    engine: SM2Engine | None = None,
) -> bytes:
    """The DER signature of ``certificate.encode()`` with ``key``: ECDSA (SHA-256) with a
    P-256 key, or SM2 (SM3, default signer ID) with an SM2 key and its ``engine``.

    :raises ECertificateSignatureError: a key on another curve, or an SM2 key without engine.
    """
    if isinstance(key, SM2PrivateKey):
        if engine is None:
            raise ECertificateSignatureError("an SM2 key signs with an SM2 engine: none given")
        try:
            return sign_message(key, certificate.encode(), engine=engine)
        except SM2Error as exc:
            raise ECertificateSignatureError(f"SM2 signing failed: {exc}") from exc
    if not isinstance(key.curve, ec.SECP256R1):
        raise ECertificateSignatureError(f"the key is on {key.curve.name}, not P-256")
    return key.sign(certificate.encode(), ec.ECDSA(hashes.SHA256()))


def _sm2_public_key(signer: x509.Certificate) -> SM2PublicKey:
    """The SM2 key a certificate certifies (``cryptography`` cannot load it)."""
    try:
        info = asn1_x509.Certificate.load(signer.public_bytes(Encoding.DER))["tbs_certificate"][
            "subject_public_key_info"
        ]
        return public_key_from_info(info)
    except (MalformedSM2Data, ValueError, TypeError, KeyError) as exc:
        raise ECertificateSignatureError(f"the signer certificate's SM2 key: {exc}") from None


def verify_e_certificate_signature(
    encoded: bytes,
    signature: bytes,
    signer: x509.Certificate,
    *,
    sm2_engine: SM2Engine | None = None,
) -> SignedECertificate:
    """Check ``signature`` over the encoded certificate ``encoded`` against ``signer``, in the
    algorithm of the key ``signer`` certifies (an SM2 key: with ``sm2_engine``).

    :raises ECertificateError: ``encoded`` is not a certificate (the field named);
    :raises ECertificateSignatureError: the signer certificate is not the one named, does not
        fit the profile, names another institution, certifies an SM2 key and no SM2 engine is
        given, the signature is longer than its algorithm's limit, or it does not verify.
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
    algorithm = institution.algorithm
    limit = _MAX_BY_ALGORITHM[algorithm]
    if len(signature) > limit:
        raise ECertificateSignatureError(
            f"the signature has {len(signature)} bytes, over the limit of {limit} for "
            f"{_NAMES[algorithm]} (a DER signature of it has at most 72)"
        )
    invalid = ECertificateSignatureError(
        f"the signature does not verify over {certificate.id} under the {_NAMES[algorithm]} key "
        f"of {subject.name}'s certificate (serial {institution.serial_hex})"
        + (" with SM3 and signer ID 1234567812345678" if algorithm == "sm2" else "")
    )
    if algorithm == "sm2":
        if sm2_engine is None:
            raise ECertificateSignatureError(
                f"the signer certificate certifies an SM2 key: an SM2 engine is needed to check "
                f"the signature over {certificate.id}, and none was given"
            )
        if not verify_message(_sm2_public_key(signer), encoded, signature, engine=sm2_engine):
            raise invalid
    else:
        key = signer.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):  # parse_institution_certificate checks
            raise ECertificateSignatureError("the signer certificate's key is not ECDSA")
        try:
            key.verify(signature, encoded, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            raise invalid from None
    return SignedECertificate(certificate=certificate, signer=institution, signature=signature)
