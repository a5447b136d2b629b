"""Inclusion proofs to a checkpoint in the portable C2SP tlog-proof form.

**Verification-critical.** Version 2 receipts carry one: ::

    c2sp.org/tlog-proof@v1
    [extra <base64>]
    index <leaf index, decimal>
    <inclusion proof hash, base64>      (zero or more lines, from the leaf's sibling up)
    <empty line>
    <the checkpoint, verbatim: the log's signed note with the witnesses' cosignatures>

Any tool that reads tlog-proof (C2SP) can check a Zhenglian leaf against the log's and the
witnesses' keys with it. Pure.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Final

from evidence.formats.checkpoint import parse_decimal, parse_hash
from evidence.formats.signed_note import MAX_NOTE_BYTES, Note, NoteError
from ledger.merkle import MAX_PROOF_NODES

__all__ = [
    "MAX_EXTRA_BYTES",
    "MAX_TLOG_PROOF_BYTES",
    "TLOG_PROOF_HEADER",
    "TlogProof",
    "TlogProofError",
]

TLOG_PROOF_HEADER: Final = "c2sp.org/tlog-proof@v1"
MAX_EXTRA_BYTES: Final = 1024
MAX_TLOG_PROOF_BYTES: Final = MAX_NOTE_BYTES + 4 * MAX_EXTRA_BYTES + MAX_PROOF_NODES * 45 + 64
"""Largest tlog-proof read."""


class TlogProofError(NoteError):
    """A tlog-proof is malformed."""


@dataclass(frozen=True)
class TlogProof:
    index: int
    hashes: tuple[bytes, ...]
    checkpoint: Note
    extra: bytes | None = None

    def to_text(self) -> str:
        lines = [TLOG_PROOF_HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode())
        lines.append(f"index {self.index}")
        lines += [base64.b64encode(h).decode() for h in self.hashes]
        return "\n".join(lines) + "\n\n" + self.checkpoint.to_bytes().decode("utf-8")

    @classmethod
    def parse(cls, text: str) -> TlogProof:
        """:raises TlogProofError: over the limit, or not a tlog-proof."""
        if len(text) > MAX_TLOG_PROOF_BYTES:
            raise TlogProofError(f"tlog-proof longer than {MAX_TLOG_PROOF_BYTES} characters")
        head, separator, checkpoint = text.partition("\n\n")
        if not separator:
            raise TlogProofError("tlog-proof has no empty line before its checkpoint")
        lines = head.split("\n")
        if lines[0] != TLOG_PROOF_HEADER:
            raise TlogProofError(f"tlog-proof does not start with {TLOG_PROOF_HEADER}")
        position, extra = 1, None
        if len(lines) > 1 and lines[1].startswith("extra "):
            try:
                extra = base64.b64decode(lines[1][6:], validate=True)
            except binascii.Error:
                raise TlogProofError("tlog-proof extra data is not base64") from None
            if len(extra) > MAX_EXTRA_BYTES:
                raise TlogProofError(f"tlog-proof extra data over {MAX_EXTRA_BYTES} bytes")
            position = 2
        if len(lines) <= position or not lines[position].startswith("index "):
            raise TlogProofError("tlog-proof has no 'index N' line")
        index = parse_decimal(lines[position][6:], "tlog-proof index", TlogProofError)
        proof_lines = lines[position + 1 :]
        if len(proof_lines) > MAX_PROOF_NODES:
            raise TlogProofError(f"tlog-proof has more than {MAX_PROOF_NODES} proof lines")
        hashes = tuple(
            parse_hash(line, "a tlog-proof hash", TlogProofError) for line in proof_lines
        )
        try:
            note = Note.parse(checkpoint.encode("utf-8"))
        except NoteError as exc:
            raise TlogProofError(f"tlog-proof checkpoint: {exc}") from None
        return cls(index, hashes, note, extra)
