"""Case codes (一案一码): one unique, human-typeable, self-checking code per case.

**Pure** (standard library only). A case code reads ``GZ-2026-7K3M9Q-E``::

    <type prefix> - <year> - <6 random symbols> - <check symbol>

* the prefix names the case type: ``GZ`` notary (公证), ``JD`` forensic (司法鉴定),
  ``FY`` legal aid (法律援助), ``ZC`` arbitration (仲裁), ``SS`` litigation (诉讼);
* the year the case was opened (4 digits);
* six symbols drawn at random from :data:`evidence.access.check_character.ALPHABET` (2³⁰
  codes per type and year; the database's primary key refuses a repeat and the caller draws again);
* one check symbol over everything before it (hyphens not counted), see
  :mod:`evidence.access.check_character`: one wrong symbol or two swapped neighbours never pass.

:meth:`CaseCode.parse` is lenient about how people type (lowercase, spaces or hyphens
anywhere, ``O`` for ``0``, ``I``/``L`` for ``1``) and strict about what they mean: it raises
:class:`CaseCodeError` for a wrong length, an unknown prefix, a bad year or symbol, or a check
symbol that does not match — before anything is looked up. Canonical codes are a subset of
:data:`evidence.formats.log_entry.CASE_CODE_RE`, so they go into log entries unchanged.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final, Literal

from evidence.access.check_character import ALPHABET, check_symbol, is_valid, normalise
from evidence.errors import InputError

__all__ = [
    "CASE_CODE_CHARS",
    "CASE_TYPES",
    "MAX_CASE_CODE_INPUT_CHARS",
    "PREFIX_OF_TYPE",
    "RANDOM_SYMBOLS",
    "CaseCode",
    "CaseCodeError",
    "CaseType",
]

CaseType = Literal["notary", "forensic", "legal_aid", "arbitration", "litigation"]
"""公证, 司法鉴定, 法律援助, 仲裁, 诉讼."""

CASE_TYPES: Final[tuple[CaseType, ...]] = (
    "notary",
    "forensic",
    "legal_aid",
    "arbitration",
    "litigation",
)
"""Every :data:`CaseType`, in documentation order."""

PREFIX_OF_TYPE: Final[dict[CaseType, str]] = {
    "notary": "GZ",
    "forensic": "JD",
    "legal_aid": "FY",
    "arbitration": "ZC",
    "litigation": "SS",
}
"""The two-letter prefix of each case type (pinyin initials; every letter is in the alphabet)."""

_TYPE_OF_PREFIX: Final[dict[str, CaseType]] = {p: t for t, p in PREFIX_OF_TYPE.items()}

RANDOM_SYMBOLS: Final = 6
"""Random symbols in a code (30 bits)."""

MIN_YEAR: Final = 2000
"""Earliest year a case code can carry."""

MAX_YEAR: Final = 2999
"""Latest year a case code can carry."""

_COMPACT_CHARS: Final = 2 + 4 + RANDOM_SYMBOLS + 1

CASE_CODE_CHARS: Final = _COMPACT_CHARS + 3
"""Length of a canonical code, hyphens included (16)."""

MAX_CASE_CODE_INPUT_CHARS: Final = 64
"""Longest text :meth:`CaseCode.parse` looks at (anything longer is refused unread)."""


class CaseCodeError(InputError):
    """Not a case code: wrong shape or a check symbol that does not match."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"not a case code {text[:MAX_CASE_CODE_INPUT_CHARS]!r}: {reason}")


@dataclass(frozen=True, slots=True)
class CaseCode:
    """A parsed, valid case code."""

    type: CaseType
    year: int
    serial: str
    """The random symbols."""

    def __post_init__(self) -> None:
        if self.type not in PREFIX_OF_TYPE:
            raise CaseCodeError(str(self.type), "unknown case type")
        if not MIN_YEAR <= self.year <= MAX_YEAR:
            raise CaseCodeError(str(self.year), f"year outside {MIN_YEAR}..{MAX_YEAR}")
        if len(self.serial) != RANDOM_SYMBOLS or any(ch not in ALPHABET for ch in self.serial):
            raise CaseCodeError(self.serial, f"serial must be {RANDOM_SYMBOLS} of {ALPHABET}")

    @property
    def _payload(self) -> str:
        return f"{PREFIX_OF_TYPE[self.type]}{self.year:04d}{self.serial}"

    @property
    def check(self) -> str:
        return check_symbol(self._payload)

    def __str__(self) -> str:
        return f"{PREFIX_OF_TYPE[self.type]}-{self.year:04d}-{self.serial}-{self.check}"

    @classmethod
    def new(cls, case_type: CaseType, year: int) -> CaseCode:
        """A fresh code with random symbols (the caller retries if it is already taken)."""
        serial = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_SYMBOLS))
        return cls(case_type, year, serial)

    @classmethod
    def parse(cls, text: str) -> CaseCode:
        """Read a typed code (see the module docstring); CaseCodeError if it is not one."""
        if not isinstance(text, str):
            raise CaseCodeError(repr(text), "not text")
        if len(text) > MAX_CASE_CODE_INPUT_CHARS:
            raise CaseCodeError(text, f"longer than {MAX_CASE_CODE_INPUT_CHARS} characters")
        compact = normalise("".join(ch for ch in text if ch not in "- "))
        if len(compact) != _COMPACT_CHARS:
            raise CaseCodeError(text, f"a case code has {_COMPACT_CHARS} symbols besides hyphens")
        case_type = _TYPE_OF_PREFIX.get(compact[:2])
        if case_type is None:
            raise CaseCodeError(text, f"unknown prefix {compact[:2]!r}")
        year = compact[2:6]
        if not (year.isascii() and year.isdigit()) or not MIN_YEAR <= int(year) <= MAX_YEAR:
            raise CaseCodeError(text, f"year {year!r} outside {MIN_YEAR}..{MAX_YEAR}")
        if any(ch not in ALPHABET for ch in compact[6:]):
            raise CaseCodeError(text, f"symbols must be from {ALPHABET}")
        if not is_valid(compact):
            raise CaseCodeError(text, "check symbol does not match (mistyped?)")
        return cls(case_type, int(year), compact[6:-1])
