"""The canonical, versioned encoding of a log leaf: one deposit.

**Verification-critical.** Every receipt ever issued recomputes its leaf hash from the bytes
defined here, by us and by third parties re-implementing ``docs/receipt.md``. A change to the
encoding, to a limit or to the accepted characters can make old receipts unverifiable or give
one entry two encodings. Change it only with a new version (prefix ``.../v2``) and new test
vectors, never for style. Pure: the standard library and :mod:`ledger.merkle` only.

Encoding, version 1 (byte-exact specification with an example in ``docs/receipt.md``)::

    b"zhenglian/entry/v1\\n" || UTF-8( canonical JSON object )

with exactly these keys, in this (sorted) order::

    {"case":<string|null>,"institution":<string>,"kind":<string>,"salt":<64 hex>,
     "sha256":<64 hex>,"size":<integer>,"sm3":<64 hex>,"time":"YYYY-MM-DDTHH:MM:SSZ","v":1}

Canonical JSON here means: no whitespace at all, keys in ascending order, integers in
shortest decimal form, hex in lowercase, strings written as raw UTF-8 with only ``"`` and
``\\`` escaped (as ``\\"`` and ``\\\\``; the characters that JSON would otherwise escape are
not allowed in any field). The time is UTC with whole seconds. The prefix separates entry
leaves from any other structure that might ever be hashed into a leaf.

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

import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from evidence.errors import InputError
from evidence.formats.canonical_json import unique_keys
from ledger.merkle import hash_leaf

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

_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_TIME: Final = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")
_KEYS: Final = ("case", "institution", "kind", "salt", "sha256", "size", "sm3", "time", "v")

#: Code points an institution name may not contain: C0 and C1 controls and DEL, surrogates,
#: line and paragraph separators, and invisible format characters (zero-width characters,
#: bidirectional overrides and isolates, the BOM) that could make two names look alike or
#: reorder what a court reads. Listed explicitly, so the rule does not change with the
#: Unicode version of whoever verifies.
_FORBIDDEN_IN_TEXT: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
    "\ud800-\udfff\ufeff\ufff9-\ufffb]"
)

#: Space characters an institution name may not start or end with (Unicode category Zs).
_EDGE_SPACES: Final = frozenset(
    " \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u202f\u205f\u3000"
)


class EntryError(InputError):
    """An entry is malformed: a field of the wrong type, over a limit, or not decodable."""


class NonCanonicalEntryError(EntryError):
    """Entry bytes parse, but are not the one canonical encoding of what they contain."""


# --- Time ----------------------------------------------------------------------------


def format_time(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` of an aware UTC datetime in whole seconds (RFC 3339)."""
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}Z"
    )


def parse_time(text: object, what: str = "time") -> datetime:
    """Parse exactly :func:`format_time`'s output into an aware UTC datetime.

    :raises EntryError: anything else (offsets, fractions, lowercase ``z``, an invalid date).
    """
    if not isinstance(text, str):
        raise EntryError(f"{what} must be a string, not {type(text).__name__}")
    match = _TIME.fullmatch(text)
    if match is None:
        raise EntryError(
            f"{what} must be YYYY-MM-DDTHH:MM:SSZ (UTC, whole seconds), got {text!r:.40}"
        )
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise EntryError(f"{what} {text!r} is not a valid date and time: {exc}") from None


def _check_time(value: object, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise EntryError(f"{what} must be a datetime, not {type(value).__name__}")
    offset = value.utcoffset()
    if offset is None:
        raise EntryError(f"{what} must be timezone-aware (UTC)")
    if offset.total_seconds() != 0:
        raise EntryError(f"{what} must be in UTC, not at offset {offset}")
    if value.microsecond:
        raise EntryError(f"{what} must be in whole seconds")
    value = value.replace(tzinfo=UTC)
    if not MIN_DEPOSIT_TIME <= value <= MAX_DEPOSIT_TIME:
        raise EntryError(f"{what} {format_time(value)} is outside [1970, 9999]")
    return value


# --- Field checks ----------------------------------------------------------------------


def _check_bytes(value: object, what: str, length: int) -> bytes:
    if not isinstance(value, bytes):
        raise EntryError(f"{what} must be bytes, not {type(value).__name__}")
    if len(value) != length:
        raise EntryError(f"{what} must be {length} bytes, got {len(value)}")
    return bytes(value)


def _check_kind(value: object) -> DocumentKind:
    if isinstance(value, str):
        for kind in KINDS:
            if value == kind:
                return kind
    raise EntryError(f"kind must be one of {', '.join(KINDS)}, got {value!r:.40}")


def _check_institution(value: object) -> str:
    if not isinstance(value, str):
        raise EntryError(f"institution must be a string, not {type(value).__name__}")
    if not 1 <= len(value) <= MAX_INSTITUTION_CHARS:
        raise EntryError(
            f"institution must have 1..{MAX_INSTITUTION_CHARS} characters, got {len(value)}"
        )
    bad = _FORBIDDEN_IN_TEXT.search(value)
    if bad is not None:
        raise EntryError(
            f"institution contains the control or invisible character U+{ord(bad.group()):04X}"
        )
    if value[0] in _EDGE_SPACES or value[-1] in _EDGE_SPACES:
        raise EntryError("institution must not start or end with a space")
    return str(value)


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
class LogEntry:
    """One deposit as a log leaf. Construction checks every field (raising EntryError), so a
    constructed entry always has exactly one encoding.

    ``kind`` may be given as any ``str``; it is checked and stored as a :data:`DocumentKind`.
    ``deposited_at`` must be an aware UTC datetime in whole seconds (:func:`new_entry`
    truncates and converts for you).
    """

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
        setattr_(self, "kind", _check_kind(kind))
        setattr_(self, "institution", _check_institution(institution))
        setattr_(self, "case_code", _check_case_code(case_code))
        setattr_(self, "deposited_at", _check_time(deposited_at, "deposited_at"))
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

    def encode(self) -> bytes:
        """The canonical leaf data: :data:`ENTRY_PREFIX` followed by the canonical JSON."""
        body = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return ENTRY_PREFIX + body.encode("utf-8")

    def leaf_hash(self) -> bytes:
        """The RFC 6962 leaf hash of the encoding: ``SHA-256(0x00 || encode())``."""
        return hash_leaf(self.encode())

    @classmethod
    def decode(cls, data: bytes) -> LogEntry:
        """Parse the canonical encoding; refuse every other byte string.

        :raises EntryError: over :data:`MAX_ENTRY_BYTES`, wrong prefix, not UTF-8 JSON, missing
            or unknown or duplicate keys, a wrong type or value;
            :class:`NonCanonicalEntryError` if it parses but is not the canonical encoding.
        """
        if not isinstance(data, bytes):
            raise EntryError(f"an entry is bytes, not {type(data).__name__}")
        if len(data) > MAX_ENTRY_BYTES:
            raise EntryError(f"entry is {len(data)} bytes, larger than {MAX_ENTRY_BYTES}")
        if not data.startswith(ENTRY_PREFIX):
            raise EntryError(f"entry does not start with the prefix {ENTRY_PREFIX!r}")
        try:
            text = data[len(ENTRY_PREFIX) :].decode("utf-8")
            obj = json.loads(
                text,
                object_pairs_hook=_unique_keys,
                parse_float=_no_number,
                parse_constant=_no_number,
            )
        except UnicodeDecodeError as exc:
            raise EntryError(f"entry is not UTF-8: {exc.reason} at byte {exc.start}") from None
        except ValueError as exc:  # json.JSONDecodeError, and int digit limits
            if isinstance(exc, EntryError):
                raise
            raise EntryError(f"entry is not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise EntryError("entry must be a JSON object")
        if set(obj) != set(_KEYS):
            missing = sorted(set(_KEYS) - set(obj))
            unknown = sorted(set(obj) - set(_KEYS))
            raise EntryError(f"entry has missing keys {missing} and unknown keys {unknown}")
        entry = cls(
            sha256=_hex32(obj["sha256"], "sha256"),
            sm3=_hex32(obj["sm3"], "sm3"),
            size=obj["size"],
            salt=_hex32(obj["salt"], "salt"),
            kind=obj["kind"],
            institution=obj["institution"],
            case_code=obj["case"],
            deposited_at=parse_time(obj["time"], "time"),
            version=obj["v"],
        )
        if entry.encode() != data:
            raise NonCanonicalEntryError(
                "entry is not in canonical form (whitespace, key order, escapes or number "
                "format differ from the one encoding of its content)"
            )
        return entry


_unique_keys = unique_keys("entry", EntryError)


def _no_number(text: str) -> object:
    raise EntryError(f"entry contains the non-integer number {text!r:.40}")


def _hex32(value: object, what: str) -> bytes:
    if not isinstance(value, str) or _HEX64.fullmatch(value) is None:
        raise EntryError(f"{what} must be 64 lowercase hex digits, got {value!r:.80}")
    return bytes.fromhex(value)


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
