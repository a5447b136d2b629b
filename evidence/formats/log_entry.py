"""The canonical, versioned encoding of a log leaf: one deposit.

**Verification-critical.** Every receipt ever issued recomputes its leaf hash from the bytes
defined here, by us and by third parties re-implementing ``docs/receipt.md``. A change to the
encoding, to a limit or to the accepted characters can make old receipts unverifiable or give
one entry two encodings. Change it only with a new version (prefix ``.../v2``) and new test
vectors, never for style. Pure: the standard library, :mod:`ledger.merkle` and
:mod:`evidence.formats.canonical_json`.

Encoding, version 1 (byte-exact specification with an example in ``docs/receipt.md``)::

    b"zhenglian/entry/v1\\n" || UTF-8( canonical JSON object )

with exactly these keys, in this (sorted) order::

    {"case":<string|null>,"institution":<string>,"kind":<string>,"salt":<64 hex>,
     "sha256":<64 hex>,"size":<integer>,"sm3":<64 hex>,"time":"YYYY-MM-DDTHH:MM:SSZ","v":1}

Canonical JSON is the encoding of :mod:`evidence.formats.canonical_json`: no whitespace at all,
keys in ascending order, integers in shortest decimal form, hex in lowercase, strings written
as raw UTF-8 with only ``"`` and ``\\`` escaped (the characters that JSON would otherwise
escape are not allowed in any field of an entry). The time is UTC with whole seconds. The
prefix separates entry leaves from any other structure that might ever be hashed into a leaf.

:meth:`LogEntry.decode` accepts exactly one byte string per entry: whatever it parses is
re-encoded and must equal the input, so whitespace, key order, escapes, uppercase hex,
``10.0`` for ``10`` and duplicate keys are all refused.

The 32-byte random salt makes every leaf unguessable: the sibling hashes in an inclusion proof
reveal nothing about neighbouring documents, and nobody can test whether a known file was
deposited by hashing candidate entries. The title and file name are metadata, not part of the
entry: the entry holds only what proves what (digests, size), by whom (institution, case)
and when.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Final, Literal

from evidence.errors import InputError
from evidence.formats.canonical_json import (
    CanonicalLeaf,
    PrefixedFormat,
    check_utc_time,
    format_utc_seconds,
    hex32,
    identifier_text,
    one_of,
    parse_utc_time,
)

__all__ = [
    "CASE_CODE_RE",
    "DIGEST_BYTES",
    "ENTRY_PREFIX",
    "ENTRY_VERSION",
    "KINDS",
    "MAX_CASE_CODE_CHARS",
    "MAX_DEPOSIT_TIME",
    "MAX_DOCUMENT_SIZE",
    "MAX_ENTRY_BYTES",
    "MAX_INSTITUTION_CHARS",
    "MIN_DEPOSIT_TIME",
    "SALT_BYTES",
    "DocumentKind",
    "EntryError",
    "LogEntry",
    "NonCanonicalEntryError",
    "format_time",
    "new_entry",
    "parse_time",
]

# --- Format and limits -------------------------------------------------------------

ENTRY_VERSION: Final = 1
"""Value of the ``"v"`` key of the entries this module writes and reads."""

ENTRY_PREFIX: Final = b"zhenglian/entry/v1\n"
"""Domain-separation prefix of a version 1 entry (19 bytes, ends with a newline)."""

DocumentKind = Literal["notary", "forensic", "legal_aid", "other"]
"""What kind of document was deposited: 公证 (notary), 司法鉴定 (forensic), 法律援助
(legal_aid) or anything else."""

KINDS: Final[tuple[DocumentKind, ...]] = ("notary", "forensic", "legal_aid", "other")
"""Every :data:`DocumentKind`, in the order they are documented."""

DIGEST_BYTES: Final = 32
"""Length of the SHA-256 and of the SM3 digest."""

SALT_BYTES: Final = 32
"""Length of the per-deposit random salt."""

MAX_DOCUMENT_SIZE: Final = 2**63 - 1
"""Largest document size in bytes (a signed 64-bit column and JSON-safe in every parser we
know of that reads integers exactly)."""

MAX_INSTITUTION_CHARS: Final = 200
"""Longest institution name, in Unicode code points."""

MAX_CASE_CODE_CHARS: Final = 64
"""Longest case code, in characters."""

CASE_CODE_RE: Final = re.compile(r"[A-Z0-9-]{1,64}")
"""Accepted case codes (use ``fullmatch``): 1..64 of ASCII ``A-Z``, ``0-9`` and ``-``.

Deliberately loose: the 一案一码 case codes with a check character will be defined later as
a subset of this, so every entry written now stays decodable then."""

MIN_DEPOSIT_TIME: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""Earliest deposit time an entry can state."""

MAX_DEPOSIT_TIME: Final = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
"""Latest deposit time an entry can state (the four-digit year of the time format)."""

MAX_ENTRY_BYTES: Final = 2048
"""Largest encoded entry, checked before any parsing. The largest valid entry is about
1,100 bytes (200 institution code points of 4 UTF-8 bytes each, 64-character case code)."""


class EntryError(InputError):
    """An entry is malformed: a field of the wrong type, over a limit, or not decodable."""


class NonCanonicalEntryError(EntryError):
    """Entry bytes parse, but are not the one canonical encoding of what they contain."""


_FORMAT: Final = PrefixedFormat(
    what="entry",
    prefix=ENTRY_PREFIX,
    keys=("case", "institution", "kind", "salt", "sha256", "size", "sm3", "time", "v"),
    max_bytes=MAX_ENTRY_BYTES,
    error=EntryError,
    non_canonical=NonCanonicalEntryError,
)


# --- Time ----------------------------------------------------------------------------

format_time: Final = format_utc_seconds
"""``YYYY-MM-DDTHH:MM:SSZ`` of an aware UTC datetime in whole seconds (RFC 3339)."""


def parse_time(text: object, what: str = "time") -> datetime:
    """Parse exactly :func:`format_time`'s output into an aware UTC datetime.

    :raises EntryError: anything else (offsets, fractions, lowercase ``z``, an invalid date).
    """
    return parse_utc_time(text, what, millis=False, error=EntryError)


# --- Field checks ----------------------------------------------------------------------


def _check_bytes(value: object, what: str, length: int) -> bytes:
    if not isinstance(value, bytes):
        raise EntryError(f"{what} must be bytes, not {type(value).__name__}")
    if len(value) != length:
        raise EntryError(f"{what} must be {length} bytes, got {len(value)}")
    return bytes(value)


def _check_case_code(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or CASE_CODE_RE.fullmatch(value) is None:
        raise EntryError(
            f"case code must be 1..{MAX_CASE_CODE_CHARS} characters of A-Z, 0-9 and '-', "
            f"got {value!r:.80}"
        )
    return str(value)


def _check_size(value: object) -> int:
    if type(value) is not int or not 0 <= value <= MAX_DOCUMENT_SIZE:
        raise EntryError(f"size must be an integer in [0, {MAX_DOCUMENT_SIZE}], got {value!r:.40}")
    return value


# --- The entry -------------------------------------------------------------------------


@dataclass(frozen=True, init=False)
class LogEntry(CanonicalLeaf):
    """One deposit as a log leaf. Construction checks every field (raising EntryError), so a
    constructed entry always has exactly one encoding.

    ``kind`` may be given as any ``str``; it is checked and stored as a :data:`DocumentKind`.
    ``deposited_at`` must be an aware UTC datetime in whole seconds (:func:`new_entry`
    truncates and converts for you).
    """

    FORMAT: ClassVar[PrefixedFormat] = _FORMAT

    sha256: bytes
    sm3: bytes
    size: int
    salt: bytes
    kind: DocumentKind
    institution: str
    case_code: str | None
    deposited_at: datetime
    version: int

    def __init__(
        self,
        sha256: bytes,
        sm3: bytes,
        size: int,
        salt: bytes,
        kind: str,
        institution: str,
        case_code: str | None,
        deposited_at: datetime,
        version: int = ENTRY_VERSION,
    ) -> None:
        if type(version) is not int or version != ENTRY_VERSION:
            raise EntryError(f"unsupported entry version {version!r:.20}, only {ENTRY_VERSION}")
        setattr_ = object.__setattr__
        setattr_(self, "sha256", _check_bytes(sha256, "sha256", DIGEST_BYTES))
        setattr_(self, "sm3", _check_bytes(sm3, "sm3", DIGEST_BYTES))
        setattr_(self, "size", _check_size(size))
        setattr_(self, "salt", _check_bytes(salt, "salt", SALT_BYTES))
        setattr_(self, "kind", one_of(kind, KINDS, "kind", EntryError))
        institution = identifier_text(institution, "institution", MAX_INSTITUTION_CHARS, EntryError)
        setattr_(self, "institution", institution)
        setattr_(self, "case_code", _check_case_code(case_code))
        deposited_at = check_utc_time(
            deposited_at,
            "deposited_at",
            millis=False,
            error=EntryError,
            earliest=MIN_DEPOSIT_TIME,
            latest=MAX_DEPOSIT_TIME,
        )
        setattr_(self, "deposited_at", deposited_at)
        setattr_(self, "version", version)

    def to_json(self) -> dict[str, str | int | None]:
        """The entry's JSON object (the keys and values of the encoding, in key order)."""
        return {
            "case": self.case_code,
            "institution": self.institution,
            "kind": self.kind,
            "salt": self.salt.hex(),
            "sha256": self.sha256.hex(),
            "size": self.size,
            "sm3": self.sm3.hex(),
            "time": format_time(self.deposited_at),
            "v": self.version,
        }

    @classmethod
    def decode(cls, data: bytes) -> LogEntry:
        """Parse the canonical encoding; refuse every other byte string.

        :raises EntryError: over :data:`MAX_ENTRY_BYTES`, wrong prefix, not UTF-8 JSON, missing
            or unknown or duplicate keys, a wrong type or value;
            :class:`NonCanonicalEntryError` if it parses but is not the canonical encoding.
        """
        obj = cls.FORMAT.decode_fields(data)
        entry = cls(
            sha256=hex32(obj["sha256"], "sha256", EntryError),
            sm3=hex32(obj["sm3"], "sm3", EntryError),
            size=obj["size"],
            salt=hex32(obj["salt"], "salt", EntryError),
            kind=obj["kind"],
            institution=obj["institution"],
            case_code=obj["case"],
            deposited_at=parse_time(obj["time"], "time"),
            version=obj["v"],
        )
        cls.FORMAT.require_canonical(data, entry.encode())
        return entry


def new_entry(
    sha256: bytes,
    sm3: bytes,
    size: int,
    kind: str,
    institution: str,
    case_code: str | None,
    deposited_at: datetime,
    salt: bytes | None = None,
) -> LogEntry:
    """A new entry for a deposit made at ``deposited_at`` (aware; converted to UTC and
    truncated to whole seconds), with a fresh random salt unless one is given.

    :raises EntryError: a naive time or any field :class:`LogEntry` refuses.
    """
    if not isinstance(deposited_at, datetime) or deposited_at.tzinfo is None:
        raise EntryError("the deposit time must be a timezone-aware datetime")
    return LogEntry(
        sha256=sha256,
        sm3=sm3,
        size=size,
        salt=secrets.token_bytes(SALT_BYTES) if salt is None else salt,
        kind=kind,
        institution=institution,
        case_code=case_code,
        deposited_at=deposited_at.astimezone(UTC).replace(microsecond=0),
    )
