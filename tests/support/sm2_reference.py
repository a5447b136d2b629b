"""A slow, plain SM2 signature reimplementation (GB/T 32918.2-2016 §6), for tests only.

It exists to check the binding independently: given the published random ``k`` it reproduces a
published signature ``(r, s)`` on any prime curve (the recommended ``sm2p256v1`` and the test curve
of GB/T 32918.2 Annex A / draft-shen-sm2-ecdsa), and it computes ``Z`` and ``e`` without GmSSL.
SM3 comes from OpenSSL (through ``cryptography``), which shares no code with GmSSL. Affine
coordinates and Python integers: clear rather than fast, never constant time.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes

Point = tuple[int, int] | None


@dataclass(frozen=True)
class Curve:
    """A short Weierstrass curve y² = x³ + ax + b over GF(p) with base point (gx, gy) of order n."""

    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int

    @property
    def size(self) -> int:
        return (self.p.bit_length() + 7) // 8

    def add(self, p1: Point, p2: Point) -> Point:
        if p1 is None:
            return p2
        if p2 is None:
            return p1
        (x1, y1), (x2, y2) = p1, p2
        if x1 == x2 and (y1 + y2) % self.p == 0:
            return None
        if p1 == p2:
            slope = (3 * x1 * x1 + self.a) * pow(2 * y1, -1, self.p) % self.p
        else:
            slope = (y2 - y1) * pow(x2 - x1, -1, self.p) % self.p
        x3 = (slope * slope - x1 - x2) % self.p
        return x3, (slope * (x1 - x3) - y1) % self.p

    def multiply(self, k: int, point: Point) -> Point:
        result: Point = None
        addend = point
        while k:
            if k & 1:
                result = self.add(result, addend)
            addend = self.add(addend, addend)
            k >>= 1
        return result

    def public_key(self, d: int) -> tuple[int, int]:
        point = self.multiply(d, (self.gx, self.gy))
        assert point is not None
        return point


#: sm2p256v1, GB/T 32918.5-2017 (the recommended curve).
SM2P256V1 = Curve(
    p=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF,
    a=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC,
    b=0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93,
    gx=0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    gy=0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
    n=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123,
)


def sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def z_value(curve: Curve, signer_id: bytes, public_key: tuple[int, int]) -> bytes:
    """Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA), GB/T 32918.2-2016 §5.5."""
    size = curve.size
    fields = (curve.a, curve.b, curve.gx, curve.gy, public_key[0], public_key[1])
    return sm3(
        (len(signer_id) * 8).to_bytes(2, "big")
        + signer_id
        + b"".join(v.to_bytes(size, "big") for v in fields)
    )


def sign_with_k(curve: Curve, d: int, signer_id: bytes, message: bytes, k: int) -> tuple[int, int]:
    """GB/T 32918.2-2016 §6.1, steps A1–A7, with the given random ``k``."""
    e = int.from_bytes(sm3(z_value(curve, signer_id, curve.public_key(d)) + message), "big")
    point = curve.multiply(k, (curve.gx, curve.gy))
    assert point is not None
    r = (e + point[0]) % curve.n
    assert r != 0 and r + k != curve.n
    s = pow(1 + d, -1, curve.n) * (k - r * d) % curve.n
    assert s != 0
    return r, s


def verify(
    curve: Curve,
    public_key: tuple[int, int],
    signer_id: bytes,
    message: bytes,
    r: int,
    s: int,
) -> bool:
    """GB/T 32918.2-2016 §7.1, steps B1–B7."""
    if not (1 <= r < curve.n and 1 <= s < curve.n):
        return False
    e = int.from_bytes(sm3(z_value(curve, signer_id, public_key) + message), "big")
    t = (r + s) % curve.n
    if t == 0:
        return False
    point = curve.add(curve.multiply(s, (curve.gx, curve.gy)), curve.multiply(t, public_key))
    return point is not None and (e + point[0]) % curve.n == r
