"""Encrypted validator and anchoring keys (Ethereum keystore v3, scrypt).

On first start with an empty data dir the node creates its keys. The passphrase comes from
``ZHENGLIAN_KEY_PASSPHRASE``; when that is unset, a random one is generated and written to
``DATA_DIR/keystore-passphrase`` with mode 0600. That file is a single-machine default:
anyone who can read the data dir can use the keys, so production deployments set the
environment variable from a secret store instead. Passphrases and keys are never logged.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from eth_account import Account
from eth_keys.datatypes import PrivateKey

from ledger.errors import KeystoreError

PASSPHRASE_ENV = "ZHENGLIAN_KEY_PASSPHRASE"
PASSPHRASE_FILE = "keystore-passphrase"
KEYSTORE_DIR = "keystore"

#: scrypt work factor for new keystores (2**16: ~0.2 s per unlock here; geth's "standard" is 2**18).
KEYSTORE_SCRYPT_N = 2**16

#: A keystore file larger than this is not a keystore.
MAX_KEYSTORE_BYTES = 16 * 1024


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def resolve_passphrase(data_dir: Path, *, create: bool) -> str:
    """Return the keystore passphrase from the environment or the data dir's file."""
    env = os.environ.get(PASSPHRASE_ENV)
    if env is not None:
        if not env:
            raise KeystoreError(f"{PASSPHRASE_ENV} is set but empty")
        return env
    path = data_dir / PASSPHRASE_FILE
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise KeystoreError(f"{path} is readable by others (mode {mode:o}); chmod 600 it")
        return path.read_text(encoding="utf-8").strip()
    if not create:
        raise KeystoreError(f"no keystore passphrase: set {PASSPHRASE_ENV} or provide {path}")
    passphrase = secrets.token_urlsafe(32)
    write_private(path, passphrase.encode() + b"\n")
    return passphrase


def keystore_path(data_dir: Path, name: str) -> Path:
    return data_dir / KEYSTORE_DIR / f"{name}.json"


def create_key(path: Path, passphrase: str) -> PrivateKey:
    """Generate a new key and store it encrypted at ``path`` (which must not exist)."""
    if path.exists():
        raise KeystoreError(f"refusing to overwrite existing keystore {path}")
    key = PrivateKey(secrets.token_bytes(32))
    encrypted = Account.encrypt(key.to_bytes(), passphrase, iterations=KEYSTORE_SCRYPT_N)
    write_private(path, json.dumps(encrypted, indent=2).encode() + b"\n")
    return key


def load_key(path: Path, passphrase: str) -> PrivateKey:
    """Decrypt the keystore at ``path``; a wrong passphrase is a :class:`KeystoreError`."""
    try:
        if path.stat().st_size > MAX_KEYSTORE_BYTES:
            raise KeystoreError(f"{path} is larger than {MAX_KEYSTORE_BYTES} bytes")
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise KeystoreError(f"keystore {path} is missing") from exc
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"keystore {path} is unreadable: {exc}") from exc
    try:
        raw = Account.decrypt(obj, passphrase)
    except ValueError as exc:
        raise KeystoreError(f"wrong passphrase for keystore {path} (MAC mismatch)") from exc
    except Exception as exc:  # malformed keystore JSON of any shape
        raise KeystoreError(f"keystore {path} is malformed: {exc}") from exc
    return PrivateKey(bytes(raw))


def load_or_create_key(data_dir: Path, name: str, passphrase: str) -> PrivateKey:
    path = keystore_path(data_dir, name)
    if path.exists():
        return load_key(path, passphrase)
    return create_key(path, passphrase)
