"""The seam between the pure SM2 code and a compiled binding.

Everything above this Protocol (``Z``, ``e``, DER, PKCS#8, certificates, CMS) is ours and pure;
an engine only does the elliptic-curve work on a 32-byte digest ``e``. Swapping the binding is
writing another class with these three methods (``bench/sm2_bindings.py`` compares candidates).
"""

from __future__ import annotations

from typing import Protocol


class SM2Engine(Protocol):
    """Elliptic-curve operations of SM2 on sm2p256v1 (GB/T 32918.2-2016 §6.1 A3–A7, §7.1 B3–B7).

    Keys are raw: a private key is the 32-byte big-endian scalar ``d``, a public key the 64 bytes
    ``x ‖ y``. Signatures are DER ``SEQUENCE {r, s}``.
    """

    @property
    def name(self) -> str:
        """What the engine is, with its version, for reports."""
        ...

    def generate_keypair(self) -> tuple[bytes, bytes]:
        """A fresh key pair ``(d, x ‖ y)`` from the engine's CSPRNG."""
        ...

    def sign_digest(self, private_key: bytes, digest: bytes) -> bytes:
        """The DER signature of the 32-byte ``e`` with a fresh random ``k``."""
        ...

    def verify_digest(self, public_key: bytes, digest: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (DER) signs ``e`` under ``public_key``; never raises for a bad
        signature."""
        ...
