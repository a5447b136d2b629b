"""The bodies of the witness protocol's ``add-checkpoint`` call (C2SP tlog-witness).

The request is ::

    old <size>
    <consistency proof hash, base64>      (zero to 63 lines)
    <empty line>
    <the signed checkpoint>

A 200 answer is one or more note signature lines (the witness's cosignatures); a 409 answer
is the size of the witness's latest cosigned checkpoint and a newline (``text/x.tlog.size``).
Pure.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Final

from evidence.formats.checkpoint import parse_decimal, parse_hash
from evidence.formats.signed_note import MAX_NOTE_BYTES, Note, NoteError, NoteSignature

__all__ = [
    "MAX_ADD_CHECKPOINT_BYTES",
    "MAX_PROOF_LINES",
    "SIZE_CONTENT_TYPE",
    "AddCheckpoint",
    "WitnessProtocolError",
    "format_size",
    "parse_cosignature_lines",
    "parse_size",
]

MAX_PROOF_LINES: Final = 63
"""Most consistency proof lines a request may carry (the specification's limit)."""

MAX_ADD_CHECKPOINT_BYTES: Final = len("old \n\n") + 19 + MAX_PROOF_LINES * 45 + MAX_NOTE_BYTES
"""Largest add-checkpoint body read: the old size line (at most 19 digits) and the empty line,
63 proof lines of 44 base64 characters and a newline, and the largest note."""

SIZE_CONTENT_TYPE: Final = "text/x.tlog.size"


class WitnessProtocolError(NoteError):
    """A witness protocol body is malformed."""


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes
    """The signed checkpoint note, as sent."""

    def to_bytes(self) -> bytes:
        lines = [f"old {self.old_size}"] + [base64.b64encode(h).decode() for h in self.proof]
        return ("\n".join(lines) + "\n\n").encode() + self.checkpoint

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        """:raises WitnessProtocolError: too large, not UTF-8, or not the request's form."""
        if len(body) > MAX_ADD_CHECKPOINT_BYTES:
            raise WitnessProtocolError(f"request is larger than {MAX_ADD_CHECKPOINT_BYTES} bytes")
        head, separator, checkpoint = body.partition(b"\n\n")
        if not separator:
            raise WitnessProtocolError("request has no empty line before the checkpoint")
        try:
            lines = head.decode("ascii").split("\n")
        except UnicodeDecodeError:
            raise WitnessProtocolError("the old size and proof lines are not ASCII") from None
        first = lines[0]
        if not first.startswith("old "):
            raise WitnessProtocolError("request does not start with an 'old <size>' line")
        old_size = parse_decimal(first[4:], "old size", WitnessProtocolError)
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise WitnessProtocolError(f"more than {MAX_PROOF_LINES} consistency proof lines")
        proof = tuple(parse_hash(line, "a proof line", WitnessProtocolError) for line in lines[1:])
        return cls(old_size, proof, checkpoint)


def format_size(size: int) -> bytes:
    """A 409 answer's body."""
    return f"{size}\n".encode()


def parse_size(body: bytes) -> int:
    """:raises WitnessProtocolError: not a decimal size and a newline."""
    text = body.decode("ascii", errors="replace")
    if not text.endswith("\n"):
        raise WitnessProtocolError("a size answer ends in a newline")
    return parse_decimal(text[:-1], "witness size", WitnessProtocolError)


def parse_cosignature_lines(checkpoint_text: str, body: bytes) -> tuple[NoteSignature, ...]:
    """The signature lines of a 200 answer, read as signatures on the checkpoint.

    :raises WitnessProtocolError: not one or more note signature lines.
    """
    if len(body) > MAX_NOTE_BYTES or not body.startswith("\u2014 ".encode()):
        raise WitnessProtocolError("a witness answer is one or more signature lines")
    try:
        note = Note.parse(checkpoint_text.encode() + b"\n" + body)
    except NoteError as exc:
        raise WitnessProtocolError(f"witness answer: {exc}") from None
    if note.text != checkpoint_text:
        raise WitnessProtocolError("a witness answer is signature lines only")
    return note.signatures
