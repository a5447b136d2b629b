"""The log's signing key (Ed25519): it signs the acknowledgements of deposits (and, with the
witnesses to come, the log's checkpoints).

Kept in ``DATA_DIR/log-key.json`` (mode 0600): the key's name (a signed-note key name,
``zhenglian.local/log-<8 hex>`` by default, fixed when the key is made) and the private key as
PKCS#8 PEM encrypted with the keystore passphrase (``ZHENGLIAN_KEY_PASSPHRASE``, or the data
directory's ``keystore-passphrase`` file, as for the chain's keystores). The key is made on
first use; ``zhenglian log key`` prints its verifier key so that depositors and witnesses can
pin it before the first start.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence.errors import StorageError
from evidence.formats.signed_note import VerifierKey
from ledger.node.keystore import write_private

__all__ = ["LOG_KEY_FILE", "MAX_LOG_KEY_BYTES", "LogKey", "load_or_create_log_key"]

LOG_KEY_FILE: Final = "log-key.json"
MAX_LOG_KEY_BYTES: Final = 16 * 1024
"""Largest log key file read."""


@dataclass(frozen=True)
class LogKey:
    name: str
    private_key: Ed25519PrivateKey

    @property
    def verifier(self) -> VerifierKey:
        return VerifierKey.for_key(self.name, self.private_key.public_key().public_bytes_raw())


def load_or_create_log_key(data_dir: Path, passphrase: str) -> LogKey:
    """The data directory's log key, made (and stored encrypted) if it has none.

    :raises StorageError: the file is unreadable, malformed, readable by others, or the
        passphrase is wrong.
    """
    path = data_dir / LOG_KEY_FILE
    secret = passphrase.encode("utf-8")
    try:
        if not path.exists():
            key = Ed25519PrivateKey.generate()
            name = f"zhenglian.local/log-{secrets.token_hex(4)}"
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(secret),
            )
            write_private(
                path, json.dumps({"name": name, "key": pem.decode()}, indent=2).encode() + b"\n"
            )
            return LogKey(name, key)
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise StorageError(f"{path} is readable by others (mode {mode:o}); chmod 600 it")
        if path.stat().st_size > MAX_LOG_KEY_BYTES:
            raise StorageError(f"{path} is larger than {MAX_LOG_KEY_BYTES} bytes")
        stored = json.loads(path.read_text(encoding="utf-8"))
        loaded = serialization.load_pem_private_key(stored["key"].encode(), password=secret)
    except StorageError:
        raise
    except OSError as exc:
        raise StorageError(f"log key {path}: {exc.strerror or exc}") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StorageError(f"log key {path} is malformed or the passphrase is wrong") from exc
    if not isinstance(loaded, Ed25519PrivateKey):
        raise StorageError(f"log key {path} is not an Ed25519 key")
    name = stored["name"]
    VerifierKey.for_key(name, loaded.public_key().public_bytes_raw())  # a valid key name
    return LogKey(name, loaded)
