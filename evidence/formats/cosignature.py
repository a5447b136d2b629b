"""Witness cosignatures on checkpoints (C2SP tlog-cosignature, Ed25519, signature type 0x04).

**Verification-critical.** A witness that checked a checkpoint's consistency with every
checkpoint it cosigned before signs it: the note signature line is ::

    — <witness name> base64(key ID || u64 timestamp || Ed25519 signature)

with key ID ``SHA-256(name || 0x0A || 0x04 || public key)[:4]`` and the signature over ::

    cosignature/v1
    time <timestamp, decimal>
    <the checkpoint's note text>

A witness's verifier key is ``<name>+<hex key ID>+base64(0x04 || public key)``. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from evidence.formats.signed_note import (
    Note,
    NoteError,
    NoteSignature,
    check_key_name,
    format_vkey,
    key_id,
    parse_vkey,
)

__all__ = [
    "COSIGNATURE_V1",
    "MAX_TIMESTAMP",
    "Cosignature",
    "CosignatureError",
    "WitnessKey",
    "check_witness_name",
    "cosign",
    "cosigned_message",
    "verify_cosignatures",
]

COSIGNATURE_V1: Final = 0x04
"""The signature type of Ed25519 cosignatures (``cosignature/v1``)."""

MAX_TIMESTAMP: Final = 2**63 - 1
"""Largest cosignature timestamp the specification allows."""

_SIGNATURE_BYTES: Final = 8 + 64
_WITNESS_NAME_FORBIDDEN: Final = re.compile(r"[,@]")


class CosignatureError(NoteError):
    """A cosignature or witness key is malformed, or a known witness's cosignature fails."""


def check_witness_name(name: str) -> str:
    """A witness name: a key name (no whitespace, no ``+``) without ``,`` or ``@`` either, so
    that it can stand in lists and policy lines unquoted."""
    try:
        check_key_name(name)
    except NoteError as exc:
        raise CosignatureError(str(exc)) from None
    if _WITNESS_NAME_FORBIDDEN.search(name) or len(name) > 256:
        raise CosignatureError(f"witness name {name!r:.80} has ',' or '@', or is too long")
    return name


@dataclass(frozen=True)
class WitnessKey:
    """A witness's public key, as the verifier pins it."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def for_key(cls, name: str, public_key: bytes) -> WitnessKey:
        check_witness_name(name)
        return cls(name, key_id(name, COSIGNATURE_V1, public_key), public_key)

    @classmethod
    def from_text(cls, text: str) -> WitnessKey:
        """Parse ``<name>+<hex key ID>+base64(0x04 || public key)``.

        :raises CosignatureError: not that form, another signature type, a wrong key ID, or a
            name that is not a witness name (:func:`check_witness_name`).
        """
        try:
            name, identifier, public_key = parse_vkey(text, COSIGNATURE_V1)
        except CosignatureError:
            raise
        except NoteError as exc:
            raise CosignatureError(f"witness key: {exc}") from None
        return cls(check_witness_name(name), identifier, public_key)

    def to_text(self) -> str:
        return format_vkey(self.name, COSIGNATURE_V1, self.public_key)


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: which witness, and the time it states (POSIX seconds)."""

    witness: WitnessKey
    time: int


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    """What an Ed25519 cosignature signs."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CosignatureError(f"cosignature time {timestamp} out of range")
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


def cosign(
    checkpoint_text: str, name: str, key: Ed25519PrivateKey, timestamp: int
) -> NoteSignature:
    """The witness's cosignature line on a checkpoint, at ``timestamp``."""
    public = key.public_key().public_bytes_raw()
    signature = key.sign(cosigned_message(checkpoint_text, timestamp))
    return NoteSignature(
        check_witness_name(name),
        key_id(name, COSIGNATURE_V1, public),
        timestamp.to_bytes(8, "big") + signature,
    )


def verify_cosignatures(note: Note, witnesses: Sequence[WitnessKey]) -> tuple[Cosignature, ...]:
    """The cosignatures on ``note`` by ``witnesses`` (each witness at most once).

    Lines of unknown keys are ignored, as the signed-note specification requires.

    :raises CosignatureError: a known witness's line is malformed or does not verify.
    """
    by_id = {(w.name, w.key_id): w for w in witnesses}
    found: dict[bytes, Cosignature] = {}
    for line in note.signatures:
        witness = by_id.get((line.name, line.key_id))
        if witness is None:
            continue
        if len(line.signature) != _SIGNATURE_BYTES:
            raise CosignatureError(f"the cosignature of {witness.name} is not 72 bytes")
        timestamp = int.from_bytes(line.signature[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            raise CosignatureError(f"the cosignature of {witness.name} has a time past 2^63-1")
        try:
            Ed25519PublicKey.from_public_bytes(witness.public_key).verify(
                line.signature[8:], cosigned_message(note.text, timestamp)
            )
        except (InvalidSignature, ValueError):
            raise CosignatureError(
                f"the cosignature of {witness.name} ({witness.key_id.hex()}) does not verify"
            ) from None
        found.setdefault(witness.key_id + witness.public_key, Cosignature(witness, timestamp))
    return tuple(found.values())
