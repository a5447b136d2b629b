"""Share codes (证据提取码): short, human-typeable secrets that let one party fetch evidence.

**Pure** (standard library only). A share code reads ``7K3M-9QXA-B2CD-E``: twelve symbols
drawn at random from :data:`evidence.access.check_character.ALPHABET` (60 bits) and one check symbol
(:mod:`evidence.access.check_character`), so a mistyped code is refused before any lookup. Only the
SHA-256 of the canonical compact form (13 symbols, no hyphens) is stored; the code is shown
once, to its creator. Guessing is hopeless (2⁶⁰ codes) and pointless without the named
recipient's own token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Final

from evidence.access.check_character import ALPHABET, check_symbol, is_valid, normalise
from evidence.errors import InputError

__all__ = [
    "MAX_SHARE_CODE_INPUT_CHARS",
    "SHARE_CODE_SYMBOLS",
    "ShareCode",
    "ShareCodeError",
]

SHARE_CODE_SYMBOLS: Final = 12
"""Random symbols in a share code (60 bits)."""

MAX_SHARE_CODE_INPUT_CHARS: Final = 40
"""Longest text :meth:`ShareCode.parse` looks at."""


class ShareCodeError(InputError):
    """Not a share code: wrong shape or a check symbol that does not match."""


@dataclass(frozen=True, slots=True)
class ShareCode:
    compact: str
    """The 13 symbols (12 random, 1 check), no hyphens."""

    def __post_init__(self) -> None:
        if len(self.compact) != SHARE_CODE_SYMBOLS + 1 or not is_valid(self.compact):
            raise ShareCodeError("not a valid share code")

    def __str__(self) -> str:
        c = self.compact
        return f"{c[0:4]}-{c[4:8]}-{c[8:12]}-{c[12]}"

    def digest(self) -> bytes:
        """What is stored: SHA-256 of the compact form."""
        return hashlib.sha256(b"zhenglian/share/v1\n" + self.compact.encode()).digest()

    @classmethod
    def new(cls) -> ShareCode:
        payload = "".join(secrets.choice(ALPHABET) for _ in range(SHARE_CODE_SYMBOLS))
        return cls(payload + check_symbol(payload))

    @classmethod
    def parse(cls, text: str) -> ShareCode:
        """Read a typed code (case, hyphens, spaces and look-alikes forgiven)."""
        if not isinstance(text, str) or len(text) > MAX_SHARE_CODE_INPUT_CHARS:
            raise ShareCodeError(f"a share code is at most {MAX_SHARE_CODE_INPUT_CHARS} characters")
        compact = normalise("".join(ch for ch in text if ch not in "- "))
        if len(compact) != SHARE_CODE_SYMBOLS + 1:
            raise ShareCodeError(f"a share code has {SHARE_CODE_SYMBOLS + 1} symbols")
        if any(ch not in ALPHABET for ch in compact):
            raise ShareCodeError(f"share code symbols must be from {ALPHABET}")
        if not is_valid(compact):
            raise ShareCodeError("share code check symbol does not match (mistyped?)")
        return cls(compact)
