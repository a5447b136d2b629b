"""SM2 keys: generation through an engine, PKCS#8 and SubjectPublicKeyInfo encodings, and the
passphrase encryption of private keys at rest. Pure: bytes in, bytes out, no files.

* SubjectPublicKeyInfo: ``id-ecPublicKey`` with the named curve ``sm2p256v1``
  (1.2.156.10197.1.301) and the uncompressed point, as GM/T 0015-2012 and OpenSSL write it;
* private keys: PKCS#8 ``PrivateKeyInfo`` (RFC 5208) around an RFC 5915 ``ECPrivateKey`` whose
  ``publicKey`` field is always written and, when read, required and checked against ``d``;
* at rest: PKCS#8 ``EncryptedPrivateKeyInfo`` (RFC 5958) with PBES2 (RFC 8018), written with
  PBKDF2-HMAC-SHA256 and AES-256-CBC (what ``openssl pkcs8 -v2 aes-256-cbc`` reads); read also
  with HMAC-SHA1/224/384/512 or HMAC-SM3 and AES-128/192-CBC or SM4-CBC (GmSSL's choice).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Final, cast

from asn1crypto import algos, core, keys, pem
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from certs.sm2 import oids
from certs.sm2.algorithm import (
    COORDINATE_SIZE,
    DEFAULT_SIGNER_ID,
    N,
    SM2PublicKey,
    message_digest,
)
from certs.sm2.engine import SM2Engine
from certs.sm2.errors import KeyDecryptionError, MalformedSM2Data

#: PBKDF2 iterations written by default (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
PBKDF2_ITERATIONS: Final = 600_000
#: More iterations than this in a key read from outside is refused (a key file is not a way to
#: make the server spin).
MAX_PBKDF2_ITERATIONS: Final = 10_000_000
#: A PEM or DER private or public key larger than this is refused before parsing.
MAX_KEY_BYTES: Final = 16 * 1024
SALT_BYTES: Final = 16

# asn1crypto sizes EC private keys by the curve's registered length; sm2p256v1 is not in its
# table. Registering adds the name and size, nothing else (idempotent, no other curve changes).
if oids.SM2P256V1 not in keys.NamedCurve._map:
    keys.NamedCurve.register("sm2p256v1", oids.SM2P256V1, COORDINATE_SIZE)

_PRFS: Final[dict[str, hashes.HashAlgorithm]] = {
    "1.2.840.113549.2.7": hashes.SHA1(),
    "1.2.840.113549.2.8": hashes.SHA224(),
    "1.2.840.113549.2.9": hashes.SHA256(),
    "1.2.840.113549.2.10": hashes.SHA384(),
    "1.2.840.113549.2.11": hashes.SHA512(),
    oids.HMAC_SM3: hashes.SM3(),
    oids.HMAC_SM3_GMT0091: hashes.SM3(),
}
#: cipher OID → (key bytes, is SM4)
_CIPHERS: Final[dict[str, tuple[int, bool]]] = {
    "2.16.840.1.101.3.4.1.2": (16, False),
    "2.16.840.1.101.3.4.1.22": (24, False),
    "2.16.840.1.101.3.4.1.42": (32, False),
    oids.SM4_CBC: (16, True),
}


@dataclass(frozen=True)
class SM2PrivateKey:
    """An SM2 private key ``d`` (1 ≤ d ≤ n − 2) with its public key. Never printed."""

    scalar: bytes = field(repr=False)
    public_key: SM2PublicKey

    def __post_init__(self) -> None:
        if len(self.scalar) != COORDINATE_SIZE:
            raise MalformedSM2Data("SM2 private key", f"expected {COORDINATE_SIZE} bytes")
        if not 1 <= int.from_bytes(self.scalar, "big") <= N - 2:
            raise MalformedSM2Data("SM2 private key", "d outside [1, n-2]")


def generate_private_key(engine: SM2Engine) -> SM2PrivateKey:
    """A fresh key pair from the engine's random generator."""
    scalar, public = engine.generate_keypair()
    return SM2PrivateKey(scalar, SM2PublicKey.from_bytes(public))


def check_key_pair(key: SM2PrivateKey, engine: SM2Engine) -> bool:
    """Whether ``key.public_key`` belongs to ``key.scalar``: a signature made with ``d`` must
    verify under the public key (the engine's constant-time code touches ``d``, not ours)."""
    e = message_digest(key.public_key, b"certs.sm2 key pair check", DEFAULT_SIGNER_ID)
    return engine.verify_digest(key.public_key.raw, e, engine.sign_digest(key.scalar, e))


# --- SubjectPublicKeyInfo ------------------------------------------------------------


def _algorithm() -> keys.PublicKeyAlgorithm:
    return keys.PublicKeyAlgorithm(
        {
            "algorithm": oids.ID_EC_PUBLIC_KEY,
            "parameters": keys.ECDomainParameters(name="named", value=oids.SM2P256V1),
        }
    )


def public_key_info(public_key: SM2PublicKey) -> keys.PublicKeyInfo:
    """The SubjectPublicKeyInfo of an SM2 key (asn1crypto object, for certificates)."""
    return keys.PublicKeyInfo(
        {"algorithm": _algorithm(), "public_key": keys.ECPointBitString(public_key.uncompressed)}
    )


def public_key_info_der(public_key: SM2PublicKey) -> bytes:
    return bytes(public_key_info(public_key).dump())


def public_key_from_info(info: keys.PublicKeyInfo) -> SM2PublicKey:
    """The SM2 point of a parsed SubjectPublicKeyInfo; anything but SM2 is refused."""
    try:
        algorithm = info["algorithm"]
        if algorithm["algorithm"].dotted != oids.ID_EC_PUBLIC_KEY:
            raise MalformedSM2Data("SubjectPublicKeyInfo", "algorithm is not id-ecPublicKey")
        parameters = algorithm["parameters"]
        if parameters.name != "named" or parameters.chosen.dotted != oids.SM2P256V1:
            raise MalformedSM2Data("SubjectPublicKeyInfo", "curve is not sm2p256v1")
        point = bytes(info["public_key"].contents)
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedSM2Data("SubjectPublicKeyInfo", str(exc)) from exc
    # BIT STRING contents: one byte of unused bits (0), then the point.
    if not point or point[0] != 0:
        raise MalformedSM2Data("SubjectPublicKeyInfo", "public key BIT STRING has unused bits")
    return SM2PublicKey.from_bytes(point[1:])


def load_public_key(data: bytes) -> SM2PublicKey:
    """An SM2 public key from SubjectPublicKeyInfo, PEM (``PUBLIC KEY``) or DER."""
    der = _unarmor(data, "SM2 public key", ("PUBLIC KEY",))
    try:
        info = keys.PublicKeyInfo.load(der, strict=True)
        info.native  # noqa: B018 - parses every field now, so that errors surface here
    except (ValueError, TypeError) as exc:
        raise MalformedSM2Data("SM2 public key", f"not a SubjectPublicKeyInfo: {exc}") from exc
    return public_key_from_info(info)


def public_key_to_pem(public_key: SM2PublicKey) -> bytes:
    return bytes(pem.armor("PUBLIC KEY", public_key_info_der(public_key)))


# --- PKCS#8 ------------------------------------------------------------------------------


def private_key_info_der(key: SM2PrivateKey) -> bytes:
    """The unencrypted PKCS#8 ``PrivateKeyInfo`` (for tests and hardware import; keep keys at
    rest with :func:`private_key_to_pem`)."""
    ec_key = keys.ECPrivateKey(
        {
            "version": "ecPrivkeyVer1",
            "private_key": int.from_bytes(key.scalar, "big"),
            "public_key": keys.ECPointBitString(key.public_key.uncompressed),
        }
    )
    ec_key["private_key"].set_encoded_width(COORDINATE_SIZE)
    info = keys.PrivateKeyInfo(
        {
            "version": 0,
            "private_key_algorithm": keys.PrivateKeyAlgorithm(
                {
                    "algorithm": oids.ID_EC_PUBLIC_KEY,
                    "parameters": keys.ECDomainParameters(name="named", value=oids.SM2P256V1),
                }
            ),
            "private_key": ec_key,
        }
    )
    return bytes(info.dump())


def _private_key_from_info(der: bytes) -> SM2PrivateKey:
    try:
        info = keys.PrivateKeyInfo.load(der, strict=True)
        algorithm = info["private_key_algorithm"]
        if algorithm["algorithm"].dotted != oids.ID_EC_PUBLIC_KEY:
            raise MalformedSM2Data("SM2 private key", "algorithm is not id-ecPublicKey")
        parameters = algorithm["parameters"]
        if parameters.name != "named" or parameters.chosen.dotted != oids.SM2P256V1:
            raise MalformedSM2Data("SM2 private key", "curve is not sm2p256v1")
        ec_key = info["private_key"].parsed
        inner = ec_key["parameters"]
        if inner.native is not None and (
            inner.name != "named" or inner.chosen.dotted != oids.SM2P256V1
        ):
            raise MalformedSM2Data("SM2 private key", "ECPrivateKey names another curve")
        d = int(ec_key["private_key"].native)
        public_field = ec_key["public_key"]
        if public_field.native is None:
            raise MalformedSM2Data(
                "SM2 private key", "ECPrivateKey has no publicKey (required here)"
            )
        point = bytes(public_field.native)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise MalformedSM2Data("SM2 private key", f"not a PKCS#8 SM2 key: {exc}") from exc
    if not 0 < d < 2 ** (8 * COORDINATE_SIZE):
        raise MalformedSM2Data("SM2 private key", "d out of range")
    return SM2PrivateKey(d.to_bytes(COORDINATE_SIZE, "big"), SM2PublicKey.from_bytes(point))


def private_key_to_pem(
    key: SM2PrivateKey, passphrase: bytes, *, iterations: int = PBKDF2_ITERATIONS
) -> bytes:
    """``ENCRYPTED PRIVATE KEY`` PEM: PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC."""
    if not passphrase:
        raise MalformedSM2Data("passphrase", "empty")
    if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
        raise MalformedSM2Data("PBKDF2 iterations", f"outside [1, {MAX_PBKDF2_ITERATIONS}]")
    salt, iv = secrets.token_bytes(SALT_BYTES), secrets.token_bytes(16)
    secret = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(passphrase)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(private_key_info_der(key)) + padder.finalize()
    encryptor = Cipher(algorithms.AES(secret), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(plain) + encryptor.finalize()
    parameters = algos.Pbes2Params(
        {
            "key_derivation_func": algos.KdfAlgorithm(
                {
                    "algorithm": "pbkdf2",
                    "parameters": algos.Pbkdf2Params(
                        {
                            "salt": algos.Pbkdf2Salt(name="specified", value=salt),
                            "iteration_count": iterations,
                            "prf": algos.HmacAlgorithm({"algorithm": "sha256"}),
                        }
                    ),
                }
            ),
            "encryption_scheme": algos.EncryptionAlgorithm(
                {"algorithm": "aes256_cbc", "parameters": core.OctetString(iv)}
            ),
        }
    )
    info = keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": keys.EncryptionAlgorithm(
                {"algorithm": "pbes2", "parameters": parameters}
            ),
            "encrypted_data": encrypted,
        }
    )
    return bytes(pem.armor("ENCRYPTED PRIVATE KEY", info.dump()))


def _decrypt(der: bytes, passphrase: bytes) -> bytes:
    try:
        info = keys.EncryptedPrivateKeyInfo.load(der, strict=True)
        algorithm = info["encryption_algorithm"]
        if algorithm["algorithm"].dotted != "1.2.840.113549.1.5.13":
            raise MalformedSM2Data("encrypted private key", "not PBES2")
        params = algorithm["parameters"]
        kdf = params["key_derivation_func"]
        if kdf["algorithm"].dotted != "1.2.840.113549.1.5.12":
            raise MalformedSM2Data("encrypted private key", "key derivation is not PBKDF2")
        kdf_params = kdf["parameters"]
        if kdf_params["salt"].name != "specified":
            raise MalformedSM2Data("encrypted private key", "PBKDF2 salt is not specified")
        salt = bytes(kdf_params["salt"].chosen.native)
        iterations = int(kdf_params["iteration_count"].native)
        prf_oid = kdf_params["prf"]["algorithm"].dotted
        scheme = params["encryption_scheme"]
        cipher_oid = scheme["algorithm"].dotted
        iv_field = scheme["parameters"]
        iv = bytes(
            iv_field.native
            if isinstance(iv_field, core.OctetString)
            else iv_field.parse(core.OctetString).native
        )
        encrypted = bytes(info["encrypted_data"].native)
        stated_length = kdf_params["key_length"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedSM2Data("encrypted private key", str(exc)) from exc
    if prf_oid not in _PRFS:
        raise MalformedSM2Data("encrypted private key", f"PBKDF2 PRF {prf_oid} not supported")
    if cipher_oid not in _CIPHERS:
        raise MalformedSM2Data("encrypted private key", f"cipher {cipher_oid} not supported")
    if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
        raise MalformedSM2Data(
            "encrypted private key", f"PBKDF2 iterations outside [1, {MAX_PBKDF2_ITERATIONS}]"
        )
    key_length, is_sm4 = _CIPHERS[cipher_oid]
    if stated_length is not None and int(stated_length) != key_length:
        raise MalformedSM2Data("encrypted private key", "PBKDF2 key length does not fit cipher")
    if len(iv) != 16 or not encrypted or len(encrypted) % 16:
        raise MalformedSM2Data("encrypted private key", "IV or ciphertext of the wrong length")
    secret = PBKDF2HMAC(_PRFS[prf_oid], key_length, salt, iterations).derive(passphrase)
    cipher = algorithms.SM4(secret) if is_sm4 else algorithms.AES(secret)
    try:
        decryptor = Cipher(cipher, modes.CBC(iv)).decryptor()
        plain = decryptor.update(encrypted) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(plain) + unpadder.finalize()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyDecryptionError("wrong passphrase or damaged private key") from exc


def load_private_key(data: bytes, passphrase: bytes | None, *, engine: SM2Engine) -> SM2PrivateKey:
    """An SM2 private key from PEM or DER, encrypted (``ENCRYPTED PRIVATE KEY``, passphrase
    required) or not (``PRIVATE KEY``, passphrase ``None``). The public key stored with it must
    belong to ``d`` (checked with ``engine``)."""
    der = _unarmor(data, "SM2 private key", ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"))
    encrypted = _is_encrypted(der)
    if encrypted and passphrase is None:
        raise MalformedSM2Data("SM2 private key", "encrypted, and no passphrase was given")
    if not encrypted and passphrase is not None:
        raise MalformedSM2Data("SM2 private key", "not encrypted, but a passphrase was given")
    if encrypted:
        assert passphrase is not None
        try:
            key = _private_key_from_info(_decrypt(der, passphrase))
        except MalformedSM2Data as exc:
            # A wrong passphrase can decrypt to bytes with valid padding (1 in ~256).
            raise KeyDecryptionError("wrong passphrase or damaged private key") from exc
    else:
        key = _private_key_from_info(der)
    if not check_key_pair(key, engine):
        raise MalformedSM2Data("SM2 private key", "public key does not belong to the private key")
    return key


def _is_encrypted(der: bytes) -> bool:
    """PrivateKeyInfo starts with INTEGER version; EncryptedPrivateKeyInfo with a SEQUENCE."""
    try:
        outer = core.Sequence.load(der, strict=True)
        first = outer[0] if len(outer) else None
    except (ValueError, TypeError, IndexError) as exc:
        raise MalformedSM2Data("SM2 private key", f"not DER: {exc}") from exc
    if first is None:
        raise MalformedSM2Data("SM2 private key", "empty SEQUENCE")
    return cast(int, first.tag) == 16


def _unarmor(data: bytes, what: str, labels: tuple[str, ...]) -> bytes:
    if len(data) > MAX_KEY_BYTES:
        raise MalformedSM2Data(what, f"larger than {MAX_KEY_BYTES} bytes")
    if not pem.detect(data):
        return data
    try:
        label, _headers, der = pem.unarmor(data)
    except (ValueError, TypeError) as exc:
        raise MalformedSM2Data(what, f"bad PEM: {exc}") from exc
    if label not in labels:
        raise MalformedSM2Data(what, f"PEM label {label!r}, expected one of {labels}")
    return bytes(der)
