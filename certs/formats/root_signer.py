"""The root's signing, behind one small interface so that a second root algorithm (SM2,
GM/T 0015 certificates built with an ASN.1 library) can be added beside ECDSA.

Pure: keys are objects given to the constructor; nothing is read from disk.
"""

from __future__ import annotations

from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from certs.errors import ProfileError, UnsupportedAlgorithm
from certs.formats.institution_profile import IssuanceRequest, build_institution_certificate
from certs.formats.revocation_list import CrlContent, build_crl

__all__ = ["ECDSA_P256", "EcdsaRootSigner", "RootSigner"]

ECDSA_P256 = "ecdsa-p256"
"""The algorithm name of ECDSA P-256 with SHA-256 (index, CLI ``--algorithm ecdsa``)."""


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
