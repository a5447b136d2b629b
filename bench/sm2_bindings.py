"""SM2 bindings compared: correctness on the published vector, sign and verify time, in one run.

Baseline: ECDSA P-256 with SHA-256 through ``cryptography`` (OpenSSL), the international
signature the institution CA issues, measured in the same run. Each SM2 candidate is then:

* **correct**: verifies the GB/T 32918.5-2017 Annex A signature (``tests/assets/sm2``) over its
  message with the default signer ID, rejects it under another ID, reproduces ``(r, s)`` from
  the published ``k`` where its API takes ``k``, and its own signatures verify under ``gmssl-pyx``
  (and the other way round);
* **timed**: best of 5 rounds of ``--count`` signatures and verifications of a 1 KiB message
  (``e = SM3(Z ‖ M)`` included, as the candidate computes it), as µs per operation and as a ratio
  to the ECDSA baseline.

Only ``gmssl-pyx`` is a dependency of the project. The others are measured when installed
(``pip install gmssl==3.2.2 snowland-smx==1.1.0 gmalglib==0.5.9 smcryptopy==0.2.1`` into a
scratch virtualenv) and reported as absent otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

VECTOR = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "assets"
    / "sm2"
    / "published-gbt32918.5-annex-a.json"
)
DEFAULT_ID = b"1234567812345678"
SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


@dataclass(frozen=True)
class Candidate:
    """One SM2 implementation behind a uniform shape: keys as raw bytes, signatures as DER."""

    name: str
    kind: str
    generate: Callable[[], tuple[bytes, bytes]]  # (private 32, public x‖y 64)
    sign: Callable[[bytes, bytes, bytes, bytes], bytes]  # (d, P, id, M) → DER
    verify: Callable[[bytes, bytes, bytes, bytes], bool]  # (P, id, M, DER) → ok
    sign_with_k: Callable[[bytes, bytes, bytes, bytes, bytes], bytes] | None = None


def _der(raw: bytes) -> bytes:
    return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


def _raw(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _gmssl_pyx(m: Any) -> Candidate:
    def generate() -> tuple[bytes, bytes]:
        public, private = m.sm2_key_generate()
        return private, public

    return Candidate(
        "gmssl-pyx 2.1 (GmSSL 3, C)",
        "compiled",
        generate,
        lambda d, p, uid, msg: m.sm2_sign(d, p, msg, uid),
        lambda p, uid, msg, sig: bool(m.sm2_verify(p, msg, sig, uid)),
    )


def _gmalglib(m: Any) -> Candidate:
    def generate() -> tuple[bytes, bytes]:
        d, p = m.SM2().generate_keypair()
        return d, p[1:]

    return Candidate(
        "gmalglib 0.5.9 (C)",
        "compiled",
        generate,
        lambda d, p, uid, msg: _der(m.SM2(sk=d, uid=uid).sign(msg)),
        lambda p, uid, msg, sig: bool(m.SM2(pk=b"\x04" + p, uid=uid).verify(msg, _raw(sig))),
    )


def _smcryptopy(m: Any) -> Candidate:
    def generate() -> tuple[bytes, bytes]:
        d, p = m.gen_keypair()
        return bytes.fromhex(d), bytes.fromhex(p)

    return Candidate(
        "smcryptopy 0.2.1 (Rust)",
        "compiled",
        generate,
        lambda d, p, uid, msg: bytes(m.sign(uid, msg, d.hex())),
        lambda p, uid, msg, sig: m.verify(uid, msg, sig, p.hex()) == 1,
    )


def _gmssl_pure(m: Any) -> Candidate:
    # gmssl 3.2.2 hard-codes the default ID in _sm3_z; another ID cannot be asked for.
    def crypt(d: bytes, p: bytes) -> Any:
        return m.CryptSM2(private_key=d.hex(), public_key=p.hex())

    def sign(d: bytes, p: bytes, uid: bytes, msg: bytes) -> bytes:
        assert uid == DEFAULT_ID
        return _der(bytes.fromhex(crypt(d, p).sign_with_sm3(msg)))

    def verify(p: bytes, uid: bytes, msg: bytes, sig: bytes) -> bool:
        if uid != DEFAULT_ID:
            return False  # cannot verify under another ID at all
        return bool(crypt(b"", p).verify_with_sm3(_raw(sig).hex(), msg))

    def generate() -> tuple[bytes, bytes]:
        raise NotImplementedError

    def sign_with_k(d: bytes, p: bytes, uid: bytes, msg: bytes, k: bytes) -> bytes:
        return _der(bytes.fromhex(crypt(d, p).sign_with_sm3(msg, k.hex())))

    return Candidate("gmssl 3.2.2 (pure Python)", "pure", generate, sign, verify, sign_with_k)


def _pysmx(m: Any) -> Candidate:
    def sign(d: bytes, p: bytes, uid: bytes, msg: bytes) -> bytes:
        k = secrets.randbelow(SM2_N - 1) + 1
        return _der(m.Sign(msg, d, f"{k:064x}", 64, uid=uid))

    def verify(p: bytes, uid: bytes, msg: bytes, sig: bytes) -> bool:
        return bool(m.Verify(_raw(sig), msg, p, 64, uid=uid))

    def generate() -> tuple[bytes, bytes]:
        pair = m.generate_keypair()
        return bytes(pair.privateKey), bytes(pair.publicKey)

    def sign_with_k(d: bytes, p: bytes, uid: bytes, msg: bytes, k: bytes) -> bytes:
        return _der(m.Sign(msg, d, k.hex(), 64, uid=uid))

    return Candidate(
        "snowland-smx 1.1.0 (pure Python)", "pure", generate, sign, verify, sign_with_k
    )


def candidates() -> tuple[list[Candidate], list[str]]:
    found: list[Candidate] = []
    absent: list[str] = []
    for module, make in (
        ("gmssl_pyx", _gmssl_pyx),
        ("gmalglib.sm2", _gmalglib),
        ("smcryptopy.sm2", _smcryptopy),
        ("gmssl.sm2", _gmssl_pure),
        ("pysmx.SM2", _pysmx),
    ):
        loaded = _optional(module)
        if loaded is None:
            absent.append(module)
        else:
            found.append(make(loaded))
    if found and found[0].name.startswith("gmssl-pyx"):
        found.insert(1, _ours())
    return found, absent


def _per_op(fn: Callable[[], object], count: int, rounds: int = 5) -> float:
    """Best of ``rounds`` rounds of ``count`` calls, in µs per call."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(count):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / count * 1e6


def _timings(c: Candidate, d: bytes, p: bytes, message: bytes, count: int) -> tuple[float, float]:
    signature = c.sign(d, p, DEFAULT_ID, message)
    t_sign = _per_op(lambda: c.sign(d, p, DEFAULT_ID, message), count)
    t_verify = _per_op(lambda: c.verify(p, DEFAULT_ID, message, signature), count)
    return t_sign, t_verify


def _ours() -> Candidate:
    """What the project runs: Z and e in certs.sm2 (SM3 through OpenSSL), GmSSL's digest-level
    sign and verify behind the engine."""
    from certs.sm2.algorithm import SM2PublicKey
    from certs.sm2.gmssl_engine import GmsslEngine
    from certs.sm2.keys import SM2PrivateKey
    from certs.sm2.signing import sign_message, verify_message

    engine = GmsslEngine()

    def sign(d: bytes, p: bytes, uid: bytes, msg: bytes) -> bytes:
        key = SM2PrivateKey(d, SM2PublicKey.from_bytes(p))
        return sign_message(key, msg, engine=engine, signer_id=uid)

    def verify(p: bytes, uid: bytes, msg: bytes, sig: bytes) -> bool:
        return verify_message(SM2PublicKey.from_bytes(p), msg, sig, engine=engine, signer_id=uid)

    return Candidate(
        "ours: certs.sm2 on gmssl-pyx digests", "compiled", engine.generate_keypair, sign, verify
    )


def correctness(c: Candidate, reference: Candidate, vector: dict[str, str]) -> list[str]:
    d, p = bytes.fromhex(vector["private_key"]), bytes.fromhex(vector["public_key"])
    uid, msg = bytes.fromhex(vector["signer_id"]), bytes.fromhex(vector["message"])
    published = encode_dss_signature(int(vector["r"], 16), int(vector["s"], 16))
    notes = []
    notes.append("vector ok" if c.verify(p, uid, msg, published) else "VECTOR REJECTED")
    if c.verify(p, b"another id", msg, published):
        notes.append("ACCEPTS WRONG ID")
    if c.sign_with_k is not None:
        same = c.sign_with_k(d, p, uid, msg, bytes.fromhex(vector["k"])) == published
        notes.append("(r,s) from k reproduced" if same else "(r,s) FROM k DIFFERS")
    own = c.sign(d, p, uid, msg)
    ok_cross = reference.verify(p, uid, msg, own) and c.verify(
        p, uid, msg, reference.sign(d, p, uid, msg)
    )
    notes.append("cross-verifies with gmssl-pyx" if ok_cross else "CROSS-VERIFY FAILS")
    return notes


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench sm2")
    parser.add_argument("--count", type=int, default=200, help="operations per round (compiled)")
    parser.add_argument("--pure-count", type=int, default=10, help="operations per round (pure)")
    args = parser.parse_args(argv)
    vector = json.loads(VECTOR.read_text())
    message = bytes(range(256)) * 4

    ecdsa_key = ec.generate_private_key(ec.SECP256R1())
    ecdsa_sig = ecdsa_key.sign(message, ec.ECDSA(hashes.SHA256()))
    ecdsa_pub = ecdsa_key.public_key()
    base_sign = _per_op(lambda: ecdsa_key.sign(message, ec.ECDSA(hashes.SHA256())), args.count)
    base_verify = _per_op(
        lambda: ecdsa_pub.verify(ecdsa_sig, message, ec.ECDSA(hashes.SHA256())), args.count
    )

    found, absent = candidates()
    if not found or not found[0].name.startswith("gmssl-pyx"):
        raise SystemExit("gmssl-pyx (a dependency of the project) is not installed")
    reference = found[0]
    d, p = bytes.fromhex(vector["private_key"]), bytes.fromhex(vector["public_key"])
    print(f"SM2 sign/verify of a {len(message)} B message, default ID, best of 5 rounds")
    print(
        f"  {'ECDSA P-256 (cryptography) baseline':36} sign {base_sign:9.1f} µs  "
        f"verify {base_verify:9.1f} µs"
    )
    for c in found:
        count = args.count if c.kind == "compiled" else args.pure_count
        notes = correctness(c, reference, vector)
        t_sign, t_verify = _timings(c, d, p, message, count)
        print(
            f"  {c.name:36} sign {t_sign:9.1f} µs  verify {t_verify:9.1f} µs  "
            f"ratio to ECDSA sign {t_sign / base_sign:6.1f}  verify {t_verify / base_verify:6.1f}"
        )
        print(f"  {'':36} {'; '.join(notes)}")
    for name in absent:
        print(f"  {name:36} not installed")
