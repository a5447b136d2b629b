"""SM2 and SM3 against published vectors (tests/assets/sm2/README.md names each source).

Three independent routes must agree: our Z/e code with the GmSSL digest-level engine, GmSSL's own
message-level verification (its own Z and ID handling), and a plain reimplementation
(tests/support/sm2_reference.py) that reproduces the published (r, s) from the published k.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import gmssl_pyx
import pytest
from asn1crypto import pem as asn1_pem

from certs.sm2.algorithm import (
    DEFAULT_SIGNER_ID,
    SM2PublicKey,
    SM2Signature,
    message_digest,
    sm3,
    z_value,
)
from certs.sm2.gmssl_engine import GmsslEngine
from certs.sm2.keys import load_private_key, private_key_info_der
from certs.sm2.signing import verify_message
from tests.support import sm2_reference
from tests.support.servers import REPO_ROOT

ASSETS = REPO_ROOT / "tests" / "assets" / "sm2"
ENGINE = GmsslEngine()


def _load(name: str) -> dict[str, Any]:
    return dict(json.loads((ASSETS / name).read_text()))


ANNEX_A = _load("published-gbt32918.5-annex-a.json")
TEST_CURVE = _load("published-gbt32918.2-annex-a-test-curve.json")
OPENSSL = _load("published-openssl-evppkey-sm2.json")
CASES = sorted((ASSETS / "cases").glob("*.json"))


@pytest.mark.parametrize("case", _load("published-gbt32905-sm3.json")["cases"])
def test_sm3_gbt32905(case: dict[str, str]) -> None:
    message = bytes.fromhex(case["message"])
    assert sm3(message).hex() == case["digest"]
    assert bytes(gmssl_pyx.sm3_hash(message)).hex() == case["digest"]
    assert sm2_reference.sm3(message).hex() == case["digest"]


def test_annex_a_z_and_e() -> None:
    key = SM2PublicKey.from_bytes(bytes.fromhex(ANNEX_A["public_key"]))
    signer_id = bytes.fromhex(ANNEX_A["signer_id"])
    assert signer_id == DEFAULT_SIGNER_ID
    assert z_value(key, signer_id).hex() == ANNEX_A["z"]
    message = bytes.fromhex(ANNEX_A["message"])
    assert message_digest(key, message, signer_id).hex() == ANNEX_A["e"]


def test_annex_a_public_key_from_private_key() -> None:
    d = int(ANNEX_A["private_key"], 16)
    x, y = sm2_reference.SM2P256V1.public_key(d)
    assert SM2PublicKey(x, y).raw.hex() == ANNEX_A["public_key"]


def test_annex_a_signature_verifies_with_the_binding() -> None:
    key = SM2PublicKey.from_bytes(bytes.fromhex(ANNEX_A["public_key"]))
    message = bytes.fromhex(ANNEX_A["message"])
    der = SM2Signature(int(ANNEX_A["r"], 16), int(ANNEX_A["s"], 16)).to_der()
    # our Z and e, GmSSL's curve arithmetic
    assert ENGINE.verify_digest(key.raw, bytes.fromhex(ANNEX_A["e"]), der)
    assert verify_message(key, message, der, engine=ENGINE)
    # GmSSL's own Z and ID handling, end to end
    assert gmssl_pyx.sm2_verify(key.raw, message, der, DEFAULT_SIGNER_ID)


def test_annex_a_signature_reproduced_from_k() -> None:
    r, s = sm2_reference.sign_with_k(
        sm2_reference.SM2P256V1,
        int(ANNEX_A["private_key"], 16),
        bytes.fromhex(ANNEX_A["signer_id"]),
        bytes.fromhex(ANNEX_A["message"]),
        int(ANNEX_A["k"], 16),
    )
    assert (f"{r:064x}", f"{s:064x}") == (ANNEX_A["r"], ANNEX_A["s"])


def test_test_curve_example_reproduced_from_k() -> None:
    c = TEST_CURVE["curve"]
    curve = sm2_reference.Curve(*(int(c[f], 16) for f in ("p", "a", "b", "gx", "gy", "n")))
    d = int(TEST_CURVE["private_key"], 16)
    x, y = curve.public_key(d)
    assert f"{x:064x}{y:064x}" == TEST_CURVE["public_key"]
    signer_id = bytes.fromhex(TEST_CURVE["signer_id"])
    assert sm2_reference.z_value(curve, signer_id, (x, y)).hex() == TEST_CURVE["z"]
    message = bytes.fromhex(TEST_CURVE["message"])
    r, s = sm2_reference.sign_with_k(curve, d, signer_id, message, int(TEST_CURVE["k"], 16))
    assert (f"{r:064x}", f"{s:064x}") == (TEST_CURVE["r"], TEST_CURVE["s"])
    assert sm2_reference.verify(curve, (x, y), signer_id, message, r, s)
    assert not sm2_reference.verify(curve, (x, y), DEFAULT_SIGNER_ID, message, r, s)


def test_openssl_key_and_digest_signatures() -> None:
    pem = OPENSSL["private_key_pkcs8_pem"].encode()
    key = load_private_key(pem, None, engine=ENGINE)
    # our PKCS#8 encoder writes OpenSSL's bytes exactly
    assert private_key_info_der(key) == asn1_pem.unarmor(pem)[2]
    for case in OPENSSL["digest_verify"]:
        digest, signature = bytes.fromhex(case["digest"]), bytes.fromhex(case["signature"])
        assert ENGINE.verify_digest(key.public_key.raw, digest, signature)
        flipped = bytes([digest[0] ^ 0x80]) + digest[1:]
        assert not ENGINE.verify_digest(key.public_key.raw, flipped, signature)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_signature_cases(path: Path) -> None:
    case = json.loads(path.read_text())
    key = SM2PublicKey.from_bytes(bytes.fromhex(case["public_key"]))
    message, signature = bytes.fromhex(case["message"]), bytes.fromhex(case["signature"])
    signer_id = bytes.fromhex(case["signer_id"])
    assert (
        verify_message(key, message, signature, engine=ENGINE, signer_id=signer_id) is case["want"]
    )
    try:
        gmssl_says = bool(gmssl_pyx.sm2_verify(key.raw, message, signature, signer_id))
    except gmssl_pyx.GmsslInnerError:
        gmssl_says = False
    assert gmssl_says is case["want"]


def test_cases_regenerate_unchanged(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ASSETS / "generate.py"), "--out", str(tmp_path)], check=True
    )
    made = {p.name: p.read_bytes() for p in tmp_path.glob("*.json")}
    kept = {p.name: p.read_bytes() for p in CASES}
    assert made == kept
