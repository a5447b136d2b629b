"""SM2 signature arithmetic that needs no curve operations: parameters, Z, e, key and signature
encodings. Specified, pure, consensus-critical: a change here changes which signatures verify.

* curve sm2p256v1: GB/T 32918.5-2017 (= GM/T 0003.5-2012);
* ``Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)`` and ``e = SM3(Z ‖ M)``: GB/T 32918.2-2016
  §5.5 and §6.1 (A1, A2); the default ID ``1234567812345678``: GM/T 0009-2012 §10;
* SM3: GB/T 32905-2016, here through OpenSSL (``cryptography``), which shares no code with the
  SM2 binding;
* signature ``SEQUENCE { r INTEGER, s INTEGER }`` in DER: GM/T 0009-2012 §7.3.

The elliptic-curve operations themselves (signing, verifying) live behind
:class:`certs.sm2.engine.SM2Engine`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from asn1crypto import algos
from cryptography.hazmat.primitives import hashes

from certs.sm2.errors import MalformedSM2Data

P: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B: Final = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
GX: Final = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY: Final = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
N: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123

#: Bytes in a field element or scalar.
COORDINATE_SIZE: Final = 32
#: The default signer ID (GM/T 0009-2012 §10), used unless both sides agree on another.
DEFAULT_SIGNER_ID: Final = b"1234567812345678"
#: ENTL is a 16-bit count of *bits*, so an ID has at most 8191 bytes.
MAX_SIGNER_ID_BYTES: Final = 8191
#: A DER signature of two 256-bit integers has at most 72 bytes; anything longer is refused.
MAX_SIGNATURE_BYTES: Final = 72


def sm3(data: bytes) -> bytes:
    """The SM3 digest (GB/T 32905-2016) of ``data``."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


@dataclass(frozen=True)
class SM2PublicKey:
    """A point on sm2p256v1, checked on construction (in range, on the curve, not infinity)."""

    x: int
    y: int

    def __post_init__(self) -> None:
        if not (0 <= self.x < P and 0 <= self.y < P):
            raise MalformedSM2Data("SM2 public key", "coordinate out of range")
        if (self.y * self.y - (self.x**3 + A * self.x + B)) % P != 0:
            raise MalformedSM2Data("SM2 public key", "point is not on the curve sm2p256v1")

    @classmethod
    def from_bytes(cls, data: bytes) -> SM2PublicKey:
        """From ``04 ‖ x ‖ y`` (65 bytes, SEC 1 uncompressed) or ``x ‖ y`` (64 bytes)."""
        if len(data) == 2 * COORDINATE_SIZE + 1 and data[0] == 4:
            data = data[1:]
        if len(data) != 2 * COORDINATE_SIZE:
            raise MalformedSM2Data(
                "SM2 public key", f"expected 65 bytes 04‖x‖y or 64 bytes x‖y, got {len(data)}"
            )
        return cls(
            int.from_bytes(data[:COORDINATE_SIZE], "big"),
            int.from_bytes(data[COORDINATE_SIZE:], "big"),
        )

    @property
    def raw(self) -> bytes:
        """``x ‖ y``, 64 bytes (the form the binding takes)."""
        return self.x.to_bytes(COORDINATE_SIZE, "big") + self.y.to_bytes(COORDINATE_SIZE, "big")

    @property
    def uncompressed(self) -> bytes:
        """``04 ‖ x ‖ y``, 65 bytes (the subjectPublicKey BIT STRING of an SM2 certificate)."""
        return b"\x04" + self.raw


@dataclass(frozen=True)
class SM2Signature:
    """An SM2 signature ``(r, s)`` with 1 ≤ r, s < n."""

    r: int
    s: int

    def __post_init__(self) -> None:
        if not (1 <= self.r < N and 1 <= self.s < N):
            raise MalformedSM2Data("SM2 signature", "r or s outside [1, n-1]")

    @classmethod
    def from_der(cls, data: bytes) -> SM2Signature:
        """Parse ``SEQUENCE { r INTEGER, s INTEGER }``; only the canonical DER form is taken."""
        if len(data) > MAX_SIGNATURE_BYTES:
            raise MalformedSM2Data("SM2 signature", f"longer than {MAX_SIGNATURE_BYTES} bytes")
        try:
            parsed = algos.DSASignature.load(data, strict=True)
            r, s = int(parsed["r"].native), int(parsed["s"].native)
            canonical = cls._encode(r, s)
        except (ValueError, TypeError, KeyError) as exc:
            raise MalformedSM2Data("SM2 signature", f"not DER SEQUENCE {{r, s}}: {exc}") from exc
        if canonical != data:
            raise MalformedSM2Data("SM2 signature", "not in canonical DER")
        return cls(r, s)

    @staticmethod
    def _encode(r: int, s: int) -> bytes:
        return bytes(algos.DSASignature({"r": r, "s": s}).dump(force=True))

    def to_der(self) -> bytes:
        return self._encode(self.r, self.s)


def check_signer_id(signer_id: bytes) -> None:
    if len(signer_id) > MAX_SIGNER_ID_BYTES:
        raise MalformedSM2Data("SM2 signer ID", f"longer than {MAX_SIGNER_ID_BYTES} bytes")


def z_value(public_key: SM2PublicKey, signer_id: bytes = DEFAULT_SIGNER_ID) -> bytes:
    """``Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)`` (GB/T 32918.2-2016 §5.5)."""
    check_signer_id(signer_id)
    fields = (A, B, GX, GY, public_key.x, public_key.y)
    return sm3(
        (len(signer_id) * 8).to_bytes(2, "big")
        + signer_id
        + b"".join(v.to_bytes(COORDINATE_SIZE, "big") for v in fields)
    )


def message_digest(
    public_key: SM2PublicKey, message: bytes, signer_id: bytes = DEFAULT_SIGNER_ID
) -> bytes:
    """``e = SM3(Z ‖ M)``, the 32 bytes that are signed (GB/T 32918.2-2016 §6.1 A1–A2)."""
    return sm3(z_value(public_key, signer_id) + message)
