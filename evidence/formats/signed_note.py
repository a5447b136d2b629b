"""Signed notes (C2SP signed-note): text signed by one or more Ed25519 keys.

**Verification-critical.** The log's acknowledgements (and, later, its checkpoints and the
witnesses' cosignatures) are signed notes that depositors and courts keep and check offline.
This follows ``c2sp.org/signed-note`` (a copy is in the project's shared specs): the note is
its text (ending in a newline), a blank line, and one line per signature ``— <key name>
base64(key ID || signature)``; a verifier key is ``<name>+<hex key ID>+base64(0x01 || key)``;
the key ID is ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``. Only Ed25519 (type 0x01)
is signed or verified here. Pure: the standard library and ``cryptography``'s Ed25519.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from evidence.errors import InputError

__all__ = [
    "ED25519",
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "Note",
    "NoteError",
    "NoteSignature",
    "NoteVerificationError",
    "VerifierKey",
    "check_key_name",
    "format_vkey",
    "key_id",
    "parse_vkey",
    "sign_note",
    "verify_note",
]

ED25519: Final = 0x01
"""The signature type of Ed25519 signed-note signatures."""

MAX_NOTE_BYTES: Final = 64 * 1024
"""Largest note accepted, checked before parsing (the spec asks for at least 16 signatures)."""

MAX_SIGNATURES: Final = 64
"""Most signature lines a note may carry."""

_SIGNATURE_LINE: Final = re.compile(r"\u2014 (\S+) ([A-Za-z0-9+/=]+)\n")
_NAME_FORBIDDEN: Final = re.compile(r"[\s+\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_CONTROL: Final = re.compile(r"[\x00-\x09\x0b-\x1f]")


class NoteError(InputError):
    """A note or verifier key is malformed."""


class NoteVerificationError(NoteError):
    """No signature of a trusted key verifies, or one of them fails."""


def check_key_name(name: str) -> str:
    if not name or _NAME_FORBIDDEN.search(name):
        raise NoteError(f"key name {name!r:.80} is empty or has a space or '+'")
    return name


def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    """``SHA-256(name || 0x0A || type || public key)[:4]``."""
    return hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes([signature_type]) + public_key
    ).digest()[:4]


def parse_vkey(text: str, signature_type: int) -> tuple[str, bytes, bytes]:
    """Parse a verifier key ``<name>+<hex key ID>+base64(type || 32-byte Ed25519 key)`` of
    ``signature_type`` into its name, key ID and public key.

    :raises NoteError: not that form, another signature type, or a key ID that is not the
        key's.
    """
    parts = text.strip().split("+", 2)  # the base64 key may itself contain "+"
    if len(parts) != 3:
        raise NoteError(f"verifier key {text!r:.120} is not NAME+KEYID+KEY")
    name, hex_id, b64 = parts
    check_key_name(name)
    try:
        identifier = bytes.fromhex(hex_id)
        material = base64.b64decode(b64, validate=True)
    except (ValueError, binascii.Error):
        raise NoteError(f"verifier key {text!r:.120}: bad hex or base64") from None
    if len(identifier) != 4 or len(material) != 33 or material[0] != signature_type:
        raise NoteError(
            f"verifier key {text!r:.120} is not an Ed25519 key of type 0x{signature_type:02x}"
        )
    if key_id(name, signature_type, material[1:]) != identifier:
        raise NoteError(f"verifier key {text!r:.120}: the key ID is not the key's")
    return name, identifier, material[1:]


def format_vkey(name: str, signature_type: int, public_key: bytes) -> str:
    """``<name>+<hex key ID>+base64(type || key)``."""
    material = base64.b64encode(bytes([signature_type]) + public_key).decode()
    return f"{name}+{key_id(name, signature_type, public_key).hex()}+{material}"


@dataclass(frozen=True)
class VerifierKey:
    """A trusted key: its name, ID and Ed25519 public key."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def for_key(cls, name: str, public_key: bytes) -> VerifierKey:
        return cls(check_key_name(name), key_id(name, ED25519, public_key), public_key)

    @classmethod
    def from_text(cls, text: str) -> VerifierKey:
        """Parse ``<name>+<hex key ID>+base64(0x01 || public key)``.

        :raises NoteError: not that form, another signature type, or a key ID that is not
            the key's.
        """
        name, identifier, public_key = parse_vkey(text, ED25519)
        return cls(name, identifier, public_key)

    def to_text(self) -> str:
        return format_vkey(self.name, ED25519, self.public_key)


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class Note:
    """A parsed signed note: its text (ending in a newline) and its signatures."""

    text: str
    signatures: tuple[NoteSignature, ...]

    @classmethod
    def parse(cls, data: bytes) -> Note:
        """Parse a signed note (UTF-8, no control characters but newline).

        :raises NoteError: over :data:`MAX_NOTE_BYTES`, not UTF-8, a control character, no
            blank line before the signatures, or a malformed signature line.
        """
        if len(data) > MAX_NOTE_BYTES:
            raise NoteError(f"note is {len(data)} bytes, larger than {MAX_NOTE_BYTES}")
        try:
            whole = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError(f"note is not UTF-8: {exc.reason}") from None
        if _CONTROL.search(whole):
            raise NoteError("note contains a control character other than newline")
        split = whole.rfind("\n\n")
        if split < 0 or not whole.endswith("\n"):
            raise NoteError("note has no blank line before its signatures")
        text, block = whole[: split + 1], whole[split + 2 :]
        signatures = []
        position = 0
        while position < len(block):
            match = _SIGNATURE_LINE.match(block, position)
            if match is None:
                raise NoteError(f"malformed signature line {block[position:][:120]!r}")
            try:
                raw = base64.b64decode(match.group(2), validate=True)
            except binascii.Error:
                raise NoteError("a signature is not base64") from None
            if len(raw) < 5:
                raise NoteError("a signature is shorter than its key ID")
            signatures.append(NoteSignature(check_key_name(match.group(1)), raw[:4], raw[4:]))
            position = match.end()
        if not signatures:
            raise NoteError("note has no signature")
        if len(signatures) > MAX_SIGNATURES:
            raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
        return cls(text, tuple(signatures))

    def to_bytes(self) -> bytes:
        lines = "".join(
            f"\u2014 {s.name} {base64.b64encode(s.key_id + s.signature).decode()}\n"
            for s in self.signatures
        )
        return (self.text + "\n" + lines).encode("utf-8")


def sign_note(text: str, name: str, key: Ed25519PrivateKey) -> Note:
    """Sign ``text`` (which must end in a newline) with ``key`` under ``name``."""
    if not text.endswith("\n") or _CONTROL.search(text):
        raise NoteError("note text must end in a newline and have no control characters")
    public = key.public_key().public_bytes_raw()
    signature = key.sign(text.encode("utf-8"))
    line = NoteSignature(check_key_name(name), key_id(name, ED25519, public), signature)
    return Note(text, (line,))


def verify_note(note: Note, trusted: Sequence[VerifierKey]) -> tuple[VerifierKey, ...]:
    """The trusted keys whose signatures on ``note`` verify (at least one).

    Signatures of unknown keys (name and ID not both known) are ignored.

    :raises NoteVerificationError: a known key's signature fails, or none verifies.
    """
    by_id = {(k.name, k.key_id): k for k in trusted}
    verified = []
    message = note.text.encode("utf-8")
    for signature in note.signatures:
        key = by_id.get((signature.name, signature.key_id))
        if key is None:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(key.public_key).verify(signature.signature, message)
        except (InvalidSignature, ValueError):
            raise NoteVerificationError(
                f"the signature of {key.name} ({key.key_id.hex()}) does not verify"
            ) from None
        verified.append(key)
    if not verified:
        raise NoteVerificationError(
            "no signature of a trusted key: signed by "
            + ", ".join(f"{s.name} ({s.key_id.hex()})" for s in note.signatures)
        )
    return tuple(verified)
