"""The roots' signing, behind one small interface: the ECDSA P-256 root (``cryptography``)
and the SM2 root (GM/T 0015 certificates and CRLs built with :mod:`certs.sm2`, SM2-with-SM3,
default signer ID), each certifying keys of its own algorithm only — an all-SM2 chain for SM2
institutions, as 国密 relying parties expect (docs/pki.md §9).

Pure: keys and the SM2 engine are objects given to the constructor; nothing is read from disk.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from certs.errors import ProfileError, UnsupportedAlgorithm
from certs.formats.institution_profile import (
    DOCUMENT_SIGNING,
    INSTITUTION_KEY_USAGE,
    SM2_CURVE_DER,
    IssuanceRequest,
    build_institution_certificate,
    check_name,
)
from certs.formats.revocation_list import CrlContent, build_crl
from certs.sm2 import certificates as sm2_certificates
from certs.sm2 import crl as sm2_crl
from certs.sm2.engine import SM2Engine
from certs.sm2.errors import MalformedSM2Data
from certs.sm2.keys import SM2PrivateKey, load_public_key

__all__ = [
    "ALGORITHMS",
    "ECDSA_P256",
    "SM2",
    "EcdsaRootSigner",
    "RootSigner",
    "Sm2RootSigner",
    "build_sm2_root_certificate",
]

ECDSA_P256: Final = "ecdsa-p256"
"""The algorithm name of ECDSA P-256 with SHA-256 (index, CLI ``--algorithm ecdsa``)."""
SM2: Final = "sm2"
"""The algorithm name of SM2 with SM3, default signer ID (index, CLI ``--algorithm sm2``)."""
ALGORITHMS: Final = (ECDSA_P256, SM2)
"""Every root algorithm, in the order the authority handles its roots."""


class RootSigner(Protocol):
    """A root key able to certify institutions and sign CRLs, in one algorithm."""

    @property
    def algorithm(self) -> str:
        """The algorithm of the root and of the keys it certifies (``ecdsa-p256``, ``sm2``)."""
        ...

    @property
    def root_der(self) -> bytes:
        """The root certificate (DER)."""
        ...

    def issue(self, request: IssuanceRequest) -> bytes:
        """The institution certificate of ``request`` (DER).

        :raises UnsupportedAlgorithm: the request's key is not of this signer's algorithm."""
        ...

    def sign_crl(self, content: CrlContent) -> bytes:
        """The CRL of ``content`` (DER)."""
        ...


class EcdsaRootSigner:
    """The ECDSA P-256 root (``cryptography``)."""

    algorithm = ECDSA_P256

    def __init__(self, key: ec.EllipticCurvePrivateKey, root: x509.Certificate) -> None:
        if not isinstance(key.curve, ec.SECP256R1):
            raise UnsupportedAlgorithm("the root key must be ECDSA P-256")
        if key.public_key() != root.public_key():
            raise ProfileError("the root key does not belong to the root certificate")
        self._key = key
        self._root = root

    @property
    def root_der(self) -> bytes:
        return self._root.public_bytes(Encoding.DER)

    def issue(self, request: IssuanceRequest) -> bytes:
        certificate = build_institution_certificate(request, root_key=self._key, root=self._root)
        return certificate.public_bytes(Encoding.DER)

    def sign_crl(self, content: CrlContent) -> bytes:
        return build_crl(content, root_key=self._key, root=self._root).public_bytes(Encoding.DER)


_COUNTRY: Final = "2.5.4.6"
_ORGANIZATION: Final = "2.5.4.10"
_COMMON_NAME: Final = "2.5.4.3"
_BUSINESS_CATEGORY: Final = "2.5.4.15"
_ORGANIZATION_IDENTIFIER: Final = "2.5.4.97"


def _sm2_root_subject(name: str) -> list[tuple[str, str]]:
    name = check_name(name, "root name")
    return [(_COUNTRY, "CN"), (_ORGANIZATION, name), (_COMMON_NAME, name)]


def build_sm2_root_certificate(
    key: SM2PrivateKey,
    name: str,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    engine: SM2Engine,
) -> sm2_certificates.SM2Certificate:
    """The self-signed SM2 root (GM/T 0015 on RFC 5280, SM2-with-SM3): subject
    ``C=CN, O=<name>, CN=<name>``, basicConstraints CA:TRUE pathlen 0 and keyUsage
    keyCertSign + cRLSign (both critical), SKI = AKI = SM3 of the point — the same profile as
    the ECDSA root, in SM2."""
    return sm2_certificates.build_certificate(
        subject=_sm2_root_subject(name),
        public_key=key.public_key,
        serial_number=serial,
        not_before=not_before,
        not_after=not_after,
        extensions=[
            sm2_certificates.basic_constraints(ca=True, path_length=0),
            sm2_certificates.key_usage(key_cert_sign=True, crl_sign=True),
        ],
        issuer_key=key,
        issuer_certificate=None,
        engine=engine,
    )


class Sm2RootSigner:
    """The SM2 root: certifies SM2 keys (GM/T 0015 institution certificates with the same
    subject and extensions as ECDSA ones) and signs SM2 CRLs (RFC 5280 §5, SM2-with-SM3)."""

    algorithm = SM2

    def __init__(
        self,
        key: SM2PrivateKey,
        root: sm2_certificates.SM2Certificate,
        engine: SM2Engine,
    ) -> None:
        if key.public_key != root.public_key:
            raise ProfileError("the SM2 root key does not belong to the SM2 root certificate")
        self._key = key
        self._root = root
        self._engine = engine

    @property
    def root_der(self) -> bytes:
        return self._root.der

    def issue(self, request: IssuanceRequest) -> bytes:
        if SM2_CURVE_DER not in request.public_key_der:
            raise UnsupportedAlgorithm(
                "the key is not an SM2 key: the SM2 root certifies SM2 keys only (issue an "
                "ECDSA P-256 key with --algorithm ecdsa)"
            )
        try:
            public_key = load_public_key(request.public_key_der)
        except MalformedSM2Data as exc:
            raise UnsupportedAlgorithm(f"not an SM2 public key: {exc}") from exc
        subject = request.subject
        extensions = [
            sm2_certificates.basic_constraints(ca=False),
            sm2_certificates.CertificateExtension.from_cryptography(
                INSTITUTION_KEY_USAGE, critical=True
            ),
            sm2_certificates.CertificateExtension.from_cryptography(
                x509.ExtendedKeyUsage([DOCUMENT_SIGNING]), critical=False
            ),
        ]
        if request.crl_url is not None:
            extensions.append(
                sm2_certificates.CertificateExtension.from_cryptography(
                    x509.CRLDistributionPoints(
                        [
                            x509.DistributionPoint(
                                full_name=[x509.UniformResourceIdentifier(request.crl_url)],
                                relative_name=None,
                                reasons=None,
                                crl_issuer=None,
                            )
                        ]
                    ),
                    critical=False,
                )
            )
        certificate = sm2_certificates.build_certificate(
            subject=[
                (_COUNTRY, "CN"),
                (_ORGANIZATION, subject.name),
                (_COMMON_NAME, subject.name),
                (_BUSINESS_CATEGORY, subject.type.value),
                (_ORGANIZATION_IDENTIFIER, "NTRCN-" + subject.credit_code.text),
            ],
            public_key=public_key,
            serial_number=request.serial,
            not_before=request.not_before,
            not_after=request.not_after,
            extensions=extensions,
            issuer_key=self._key,
            issuer_certificate=self._root,
            engine=self._engine,
        )
        return certificate.der

    def sign_crl(self, content: CrlContent) -> bytes:
        return sm2_crl.build_crl(
            issuer_certificate=self._root,
            issuer_key=self._key,
            this_update=content.this_update,
            next_update=content.next_update,
            crl_number=content.number,
            revoked=[
                sm2_crl.SM2RevokedCertificate(
                    serial_number=entry.serial,
                    revocation_date=entry.revoked_at,
                    reason=entry.reason.value,
                    invalidity_date=entry.invalid_since,
                )
                for entry in content.entries
            ],
            engine=self._engine,
        )
