"""SM2 keys: PKCS#8 (plain and PBES2-encrypted), SubjectPublicKeyInfo, and OpenSSL interop."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import pem

from certs.errors import CertsError
from certs.sm2 import oids
from certs.sm2.algorithm import N, SM2PublicKey
from certs.sm2.errors import KeyDecryptionError, MalformedSM2Data
from certs.sm2.gmssl_engine import GmsslEngine
from certs.sm2.keys import (
    PBKDF2_ITERATIONS,
    SM2PrivateKey,
    check_key_pair,
    generate_private_key,
    load_private_key,
    load_public_key,
    private_key_info_der,
    private_key_to_pem,
    public_key_info_der,
    public_key_to_pem,
)

ENGINE = GmsslEngine()
FAST = 2_000  # PBKDF2 iterations in tests; the default is PBKDF2_ITERATIONS
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")


@pytest.fixture(scope="module")
def key() -> SM2PrivateKey:
    return generate_private_key(ENGINE)


def test_generated_key_pair_is_consistent(key: SM2PrivateKey) -> None:
    assert check_key_pair(key, ENGINE)
    assert "scalar" not in repr(key)


def test_encrypted_round_trip(key: SM2PrivateKey) -> None:
    blob = private_key_to_pem(key, b"correct horse", iterations=FAST)
    assert blob.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert load_private_key(blob, b"correct horse", engine=ENGINE) == key
    der = pem.unarmor(blob)[2]
    assert load_private_key(der, b"correct horse", engine=ENGINE) == key


def test_encryption_uses_pbes2_aes256_sha256(key: SM2PrivateKey) -> None:
    info = asn1_keys.EncryptedPrivateKeyInfo.load(
        pem.unarmor(private_key_to_pem(key, b"pw", iterations=FAST))[2]
    )
    params = info["encryption_algorithm"]["parameters"]
    assert params["encryption_scheme"]["algorithm"].native == "aes256_cbc"
    kdf = params["key_derivation_func"]["parameters"]
    assert kdf["prf"]["algorithm"].native == "sha256"
    assert kdf["iteration_count"].native == FAST


def test_default_iterations_are_used(key: SM2PrivateKey) -> None:
    info = asn1_keys.EncryptedPrivateKeyInfo.load(pem.unarmor(private_key_to_pem(key, b"pw"))[2])
    kdf = info["encryption_algorithm"]["parameters"]["key_derivation_func"]["parameters"]
    assert kdf["iteration_count"].native == PBKDF2_ITERATIONS


def test_wrong_passphrase(key: SM2PrivateKey) -> None:
    blob = private_key_to_pem(key, b"right", iterations=FAST)
    with pytest.raises(KeyDecryptionError):
        load_private_key(blob, b"wrong", engine=ENGINE)


def test_passphrase_presence_must_fit(key: SM2PrivateKey) -> None:
    with pytest.raises(MalformedSM2Data, match="no passphrase"):
        load_private_key(private_key_to_pem(key, b"pw", iterations=FAST), None, engine=ENGINE)
    with pytest.raises(MalformedSM2Data, match="not encrypted"):
        load_private_key(private_key_info_der(key), b"pw", engine=ENGINE)
    with pytest.raises(MalformedSM2Data):
        private_key_to_pem(key, b"")


def test_public_key_must_belong_to_private_key(key: SM2PrivateKey) -> None:
    other = generate_private_key(ENGINE)
    mixed = SM2PrivateKey(key.scalar, other.public_key)
    with pytest.raises(MalformedSM2Data, match="does not belong"):
        load_private_key(private_key_info_der(mixed), None, engine=ENGINE)


def test_public_key_info_round_trip(key: SM2PrivateKey) -> None:
    der = public_key_info_der(key.public_key)
    info = asn1_keys.PublicKeyInfo.load(der)
    assert info["algorithm"]["algorithm"].dotted == oids.ID_EC_PUBLIC_KEY
    assert info["algorithm"]["parameters"].chosen.dotted == oids.SM2P256V1
    assert load_public_key(der) == key.public_key
    assert load_public_key(public_key_to_pem(key.public_key)) == key.public_key


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x30\x00",
        b"not a key at all",
        b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
    ],
)
def test_malformed_keys_raise_the_package_error(data: bytes) -> None:
    with pytest.raises(CertsError):
        load_private_key(data, None, engine=ENGINE)
    with pytest.raises(CertsError):
        load_public_key(data)


def test_points_off_the_curve_and_bad_scalars_are_refused(key: SM2PrivateKey) -> None:
    with pytest.raises(MalformedSM2Data, match="not on the curve"):
        SM2PublicKey(key.public_key.x, key.public_key.y ^ 1)
    with pytest.raises(MalformedSM2Data):
        SM2PublicKey.from_bytes(b"\x04" + bytes(10))
    for bad in (0, N - 1, N):
        with pytest.raises(MalformedSM2Data):
            SM2PrivateKey(bad.to_bytes(32, "big"), key.public_key)


def test_a_p256_key_is_not_an_sm2_key() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p256 = ec.generate_private_key(ec.SECP256R1())
    der = p256.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(MalformedSM2Data, match="sm2p256v1"):
        load_private_key(der, None, engine=ENGINE)
    spki = p256.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(MalformedSM2Data, match="sm2p256v1"):
        load_public_key(spki)


@needs_openssl
def test_openssl_opens_our_encrypted_key(key: SM2PrivateKey, tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(private_key_to_pem(key, b"pw", iterations=FAST))
    out = subprocess.run(
        [
            "openssl",
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            str(path),
            "-passin",
            "pass:pw",
            "-outform",
            "DER",
        ],
        check=True,
        capture_output=True,
    ).stdout
    assert out == private_key_info_der(key)
    text = subprocess.run(
        ["openssl", "pkey", "-in", str(path), "-passin", "pass:pw", "-text", "-noout"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "ASN1 OID: SM2" in text


@needs_openssl
@pytest.mark.parametrize("cipher", ["sm4-cbc", "aes-128-cbc"])
def test_we_open_openssl_encrypted_keys(key: SM2PrivateKey, tmp_path: Path, cipher: str) -> None:
    plain, encrypted = tmp_path / "plain.der", tmp_path / "enc.pem"
    plain.write_bytes(private_key_info_der(key))
    subprocess.run(
        [
            "openssl",
            "pkcs8",
            "-topk8",
            "-inform",
            "DER",
            "-in",
            str(plain),
            "-v2",
            cipher,
            "-iter",
            "1000",
            "-passout",
            "pass:secret",
            "-out",
            str(encrypted),
        ],
        check=True,
        capture_output=True,
    )
    assert load_private_key(encrypted.read_bytes(), b"secret", engine=ENGINE) == key
    with pytest.raises(KeyDecryptionError):
        load_private_key(encrypted.read_bytes(), b"Secret", engine=ENGINE)
