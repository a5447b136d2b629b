"""The log's checkpoints (C2SP tlog-checkpoint): a signed tree head.

**Verification-critical.** For every anchored head the log signs a checkpoint with its key
(:mod:`evidence.store.log_key`); witnesses cosign it (:mod:`evidence.formats.cosignature`),
and receipts of version 2 carry it. This follows ``c2sp.org/tlog-checkpoint`` (a copy is in the
project's shared specs): a signed note (:mod:`evidence.formats.signed_note`) whose text is ::

    <origin>
    <tree size, decimal, no leading zeroes>
    <root hash, base64>
    [extension lines]

each line ending in a newline. The origin is the log key's name. Pure.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence.formats.signed_note import (
    Note,
    NoteError,
    VerifierKey,
    check_key_name,
    sign_note,
    verify_note,
)
from ledger.merkle import HASH_SIZE, MAX_TREE_SIZE

__all__ = [
    "MAX_EXTENSION_LINES",
    "Checkpoint",
    "CheckpointError",
    "parse_decimal",
    "parse_hash",
]

MAX_EXTENSION_LINES: Final = 8
"""Most extension lines a checkpoint may carry (this log writes none)."""

_DECIMAL: Final = re.compile(r"0|[1-9][0-9]{0,18}")


class CheckpointError(NoteError):
    """A checkpoint is malformed, or not signed by the log's key."""


def parse_decimal(text: str, what: str, error: type[NoteError] = NoteError) -> int:
    """A tree size or index: ASCII decimal, no leading zeroes, at most ``MAX_TREE_SIZE``."""
    if _DECIMAL.fullmatch(text) is None or int(text) > MAX_TREE_SIZE:
        raise error(f"{what} {text!r:.40} is not a decimal size without leading zeroes")
    return int(text)


def parse_hash(text: str, what: str, error: type[NoteError] = NoteError) -> bytes:
    """A 32-byte hash in canonical base64."""
    try:
        value = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise error(f"{what} is not base64") from None
    if len(value) != HASH_SIZE or base64.b64encode(value).decode() != text:
        raise error(f"{what} is not 32 bytes in canonical base64")
    return value


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_key_name(self.origin)
        if not 0 <= self.size <= MAX_TREE_SIZE or len(self.root) != HASH_SIZE:
            raise CheckpointError("a checkpoint needs a size in range and a 32-byte root")
        if len(self.extensions) > MAX_EXTENSION_LINES or any(
            not line or "\n" in line for line in self.extensions
        ):
            raise CheckpointError("extension lines must be non-empty single lines, at most 8")

    def text(self) -> str:
        """The note text: origin, size, root and extension lines, each ending in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "".join(f"{line}\n" for line in (*lines, *self.extensions))

    def sign(self, key: Ed25519PrivateKey) -> Note:
        """The signed checkpoint, by the log's key (whose name is :attr:`origin`)."""
        return sign_note(self.text(), self.origin, key)

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse a checkpoint's note text.

        :raises CheckpointError: fewer than three lines, an empty line, a size with leading
            zeroes or out of range, or a root that is not 32 bytes in base64.
        """
        if not text.endswith("\n"):
            raise CheckpointError("a checkpoint's text ends in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or any(not line for line in lines):
            raise CheckpointError("a checkpoint has at least three non-empty lines")
        origin, size, root, *extensions = lines
        try:
            check_key_name(origin)
        except NoteError as exc:
            raise CheckpointError(f"checkpoint origin: {exc}") from None
        return cls(
            origin,
            parse_decimal(size, "checkpoint size", CheckpointError),
            parse_hash(root, "checkpoint root", CheckpointError),
            tuple(extensions),
        )

    @classmethod
    def verify(cls, note: Note, log_key: VerifierKey) -> Checkpoint:
        """The checkpoint of ``note``, checked to be signed by ``log_key`` for its origin.

        :raises CheckpointError: malformed, of another origin, or not signed by ``log_key``.
        """
        checkpoint = cls.from_text(note.text)
        if checkpoint.origin != log_key.name:
            raise CheckpointError(
                f"checkpoint of log {checkpoint.origin!r}, not of {log_key.name!r}"
            )
        try:
            verify_note(note, [log_key])
        except NoteError as exc:
            raise CheckpointError(f"checkpoint: {exc}") from None
        return checkpoint

    @classmethod
    def parse_signed(cls, data: bytes, log_keys: Sequence[VerifierKey]) -> tuple[Checkpoint, Note]:
        """Parse signed checkpoint bytes and check them against the key for their origin.

        :raises CheckpointError: malformed, of an unknown origin, or not signed by its key.
        """
        try:
            note = Note.parse(data)
        except NoteError as exc:
            raise CheckpointError(f"checkpoint: {exc}") from None
        checkpoint = cls.from_text(note.text)
        key = next((k for k in log_keys if k.name == checkpoint.origin), None)
        if key is None:
            raise CheckpointError(f"checkpoint of an unknown log {checkpoint.origin!r}")
        return cls.verify(note, key), note
