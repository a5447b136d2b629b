"""The log's acknowledgement of a deposit: a signed promise of a leaf (what Certificate
Transparency calls a signed certificate timestamp).

**Verification-critical.** The 201 of a deposit carries it; the depositor keeps it. It proves
later what the log promised at deposit time — this leaf hash at this leaf index, at this time —
so a leaf replaced or lost afterwards (before or after anchoring) is caught by comparing the
acknowledgement with the receipt (:mod:`evidence.verify.fork_checks`). It is a signed note
(:mod:`evidence.formats.signed_note`) by the log's key, whose text is exactly::

    zhenglian/ack/v1
    <log key name>
    <leaf index, decimal>
    <leaf hash, base64>
    <time, YYYY-MM-DDTHH:MM:SSZ>

each line ending in a newline. Pure.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence.formats.canonical_json import check_utc_time, format_utc_seconds, parse_utc_time
from evidence.formats.signed_note import Note, NoteError, VerifierKey, sign_note, verify_note
from ledger.merkle import HASH_SIZE, MAX_TREE_SIZE

__all__ = ["ACK_HEADER", "Acknowledgement", "AcknowledgementError"]

ACK_HEADER: Final = "zhenglian/ack/v1"
"""The first line of an acknowledgement's text: its format and version."""

_INDEX: Final = re.compile(r"0|[1-9][0-9]{0,19}")


class AcknowledgementError(NoteError):
    """An acknowledgement is malformed, or not signed by the log's key."""


@dataclass(frozen=True)
class Acknowledgement:
    origin: str
    """The log: the name of its key."""
    leaf_index: int
    leaf_hash: bytes
    time: datetime

    def text(self) -> str:
        leaf = base64.b64encode(self.leaf_hash).decode()
        return (
            f"{ACK_HEADER}\n{self.origin}\n{self.leaf_index}\n{leaf}\n"
            f"{format_utc_seconds(self.time)}\n"
        )

    def sign(self, key: Ed25519PrivateKey) -> Note:
        """The signed note, by the log's key (whose name must be :attr:`origin`)."""
        check_utc_time(self.time, "time", millis=False, error=AcknowledgementError)
        return sign_note(self.text(), self.origin, key)

    @classmethod
    def from_text(cls, text: str) -> Acknowledgement:
        lines = text.split("\n")
        if len(lines) != 6 or lines[-1] != "" or lines[0] != ACK_HEADER:
            raise AcknowledgementError(f"not a {ACK_HEADER} acknowledgement")
        _, origin, index, leaf, time, _ = lines
        if _INDEX.fullmatch(index) is None or int(index) >= MAX_TREE_SIZE:
            raise AcknowledgementError(f"leaf index {index!r:.40} is not a decimal index")
        try:
            leaf_hash = base64.b64decode(leaf, validate=True)
        except binascii.Error:
            raise AcknowledgementError("the leaf hash is not base64") from None
        if len(leaf_hash) != HASH_SIZE or base64.b64encode(leaf_hash).decode() != leaf:
            raise AcknowledgementError("the leaf hash is not 32 bytes in base64")
        return cls(
            origin,
            int(index),
            leaf_hash,
            parse_utc_time(time, "time", millis=False, error=AcknowledgementError),
        )

    @classmethod
    def verify(cls, data: bytes, log_key: VerifierKey) -> Acknowledgement:
        """Parse a signed acknowledgement and check it is signed by ``log_key``.

        :raises AcknowledgementError: malformed, or no valid signature of ``log_key``.
        """
        try:
            note = Note.parse(data)
            verify_note(note, [log_key])
        except AcknowledgementError:
            raise
        except NoteError as exc:
            raise AcknowledgementError(f"acknowledgement: {exc}") from None
        ack = cls.from_text(note.text)
        if ack.origin != log_key.name:
            raise AcknowledgementError(
                f"acknowledgement of log {ack.origin!r}, not of {log_key.name!r}"
            )
        return ack
