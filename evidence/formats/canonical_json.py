"""The one canonical JSON encoding of Zhenglian's self-describing formats, and its strict decoder.

**Verification-critical.** Every log entry and custody event ever written is hashed in this
encoding, and the formats still to come (structured certificates, checkpoints' bodies) use it
too; receipts and custody exports are parsed by :func:`strict_loads`. Change a rule here only
with a new version of every format that uses it (``docs/formats.md``). Pure: the standard
library, :mod:`ledger.jsondepth` and :mod:`ledger.merkle`.

**The encoding** of a JSON value (``docs/formats.md`` has it with examples):

- no whitespace at all; object keys in ascending code-point order; each key once;
- integers in shortest decimal form (no sign for zero, no leading zeros, no fraction or
  exponent); no floating-point numbers, ``NaN`` or ``Infinity``;
- strings as raw UTF-8 with only ``"`` and ``\\`` escaped (``\\"``, ``\\\\``). The characters
  JSON must escape are refused by every field type, except line feed and tab in
  :func:`free_text` fields, which are written ``\\n`` and ``\\t``;
- hashes as lowercase hex, times as ``YYYY-MM-DDTHH:MM:SSZ`` (or with ``.mmm`` milliseconds),
  both as strings.

A *prefixed* format (:class:`PrefixedFormat`) is ``PREFIX || UTF-8(canonical JSON object)``
with a fixed key set: the prefix names the format and its version and keeps its leaves apart
from every other structure hashed into a leaf. Decoding accepts exactly one byte string per
value: what parses is re-encoded and must equal the input
(:meth:`PrefixedFormat.require_canonical`).

**Field types.** Identifier-like text (:func:`identifier_text`: names, ids, codes) bans every
control and invisible character and edge spaces, so two values that look alike are alike;
:func:`free_text` (titles, notes, addresses) also allows line feeds and tabs. The banned code
points are listed explicitly, so the rule does not change with the Unicode version of whoever
verifies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, TypeVar

from evidence.errors import InputError
from ledger.jsondepth import json_nesting_depth
from ledger.merkle import hash_leaf

__all__ = [
    "EDGE_SPACES",
    "FORBIDDEN_IN_FREE_TEXT",
    "FORBIDDEN_IN_IDENTIFIER",
    "MAX_TIME",
    "MIN_TIME",
    "CanonicalLeaf",
    "PrefixedFormat",
    "StrictJsonErrors",
    "canonical_json",
    "check_utc_time",
    "format_utc_millis",
    "format_utc_seconds",
    "free_text",
    "hex32",
    "identifier_text",
    "one_of",
    "parse_utc_time",
    "strict_loads",
    "unique_keys",
]

_E = TypeVar("_E", bound=Exception)
_S = TypeVar("_S", bound=str)

#: Code points identifier-like text may not contain: C0 and C1 controls and DEL, surrogates,
#: line and paragraph separators, and invisible format characters (zero-width characters,
#: bidirectional overrides and isolates, the BOM) that could make two names look alike or
#: reorder what a court reads.
FORBIDDEN_IN_IDENTIFIER: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
    "\ud800-\udfff\ufeff\ufff9-\ufffb]"
)

#: The same, less line feed (U+000A) and tab (U+0009): free text may have lines and columns.
#: A carriage return is refused (lines end in LF alone, so each text has one encoding).
FORBIDDEN_IN_FREE_TEXT: Final = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
    "\ud800-\udfff\ufeff\ufff9-\ufffb]"
)

#: Space characters (Unicode category Zs) identifier-like text may not start or end with.
EDGE_SPACES: Final = frozenset(
    " \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u202f\u205f\u3000"
)

MIN_TIME: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""Earliest time a format can state."""

MAX_TIME: Final = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
"""Latest time a format can state (the four-digit year of the time formats)."""

_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_SECONDS: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})()Z"
)
_MILLIS: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{3})Z"
)


# --- The encoding ------------------------------------------------------------------------


def canonical_json(value: object) -> str:
    """The canonical text of a JSON value (no whitespace, sorted keys, raw UTF-8).

    Also a type-exact comparison key: ``10`` and ``10.0``, ``1`` and ``true`` differ.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- The strict decoder --------------------------------------------------------------------


def unique_keys(
    what: str, error: Callable[[str], Exception]
) -> Callable[[list[tuple[str, object]]], dict[str, object]]:
    """A ``json.loads`` ``object_pairs_hook`` that raises
    ``error("<what> has a duplicate key ...")`` on a key given twice (a second parser might
    read the first value where we read the last)."""

    def hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, value in pairs:
            if key in out:
                raise error(f"{what} has a duplicate key {key!r:.80}")
            out[key] = value
        return out

    return hook


@dataclass(frozen=True)
class StrictJsonErrors:
    """Which exception :func:`strict_loads` raises for each way a document can be refused
    (a format with a hierarchy of its own names each; the others default to ``syntax``)."""

    syntax: Callable[[str], Exception]
    too_large: Callable[[str], Exception] | None = None
    nesting: Callable[[str], Exception] | None = None
    duplicate_key: Callable[[str], Exception] | None = None


def strict_loads(
    data: bytes,
    *,
    what: str,
    max_bytes: int,
    max_depth: int,
    errors: StrictJsonErrors,
    integers_only: bool = False,
) -> object:
    """Parse a UTF-8 JSON document strictly, checking in this order: its size (before
    anything else), its nesting depth (counted on the bytes, before any parser recurses),
    UTF-8, then JSON without duplicate keys, ``NaN`` or ``Infinity`` (and, with
    ``integers_only``, without any non-integer number).

    :raises: the exception of ``errors`` for the check that failed, its message starting
        with ``what``.
    """
    syntax = errors.syntax
    if len(data) > max_bytes:
        raise (errors.too_large or syntax)(
            f"{what} is {len(data)} bytes, larger than the limit of {max_bytes}"
        )
    if json_nesting_depth(data) > max_depth:
        raise (errors.nesting or syntax)(
            f"{what} nests objects and arrays deeper than the limit of {max_depth} levels"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise syntax(f"{what} is not JSON: not UTF-8 ({exc.reason} at byte {exc.start})") from None

    def no_number(name: str) -> object:
        raise syntax(f"{what} is not JSON of this format: {name!r:.40} is not an integer")

    def no_constant(name: str) -> object:
        raise syntax(f"{what} is not JSON: {name} is not a JSON number")

    hook = unique_keys(what, errors.duplicate_key or syntax)
    try:
        return json.loads(
            text,
            object_pairs_hook=hook,
            parse_constant=no_number if integers_only else no_constant,
            parse_float=no_number if integers_only else None,
        )
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, int digit limits
        if isinstance(exc, InputError):
            raise
        raise syntax(f"{what} is not JSON: {exc}") from None


# --- Prefixed formats ----------------------------------------------------------------------


@dataclass(frozen=True)
class PrefixedFormat:
    """A self-describing leaf format: ``prefix || UTF-8(canonical JSON object)`` with exactly
    the keys ``keys``, at most ``max_bytes`` long. ``error`` is the format's error class,
    ``non_canonical`` its subclass for bytes that parse but are not the one encoding."""

    what: str
    prefix: bytes
    keys: tuple[str, ...]
    max_bytes: int
    error: type[InputError]
    non_canonical: type[InputError]

    def encode(self, fields: Mapping[str, object]) -> bytes:
        """The canonical bytes of ``fields`` (which must have exactly :attr:`keys`)."""
        return self.prefix + canonical_json(fields).encode("utf-8")

    def decode_fields(self, data: object) -> dict[str, Any]:
        """The JSON object of ``data``, checked for size, prefix, strict JSON (integers only)
        and exactly :attr:`keys`; the caller checks the values (as parsed JSON they are of any
        JSON type), rebuilds its value, and calls :meth:`require_canonical`.

        :raises InputError: of :attr:`error`'s class.
        """
        error = self.error
        if not isinstance(data, bytes):
            raise error(f"{self.what} is bytes, not {type(data).__name__}")
        if len(data) > self.max_bytes:
            raise error(f"{self.what} is {len(data)} bytes, larger than {self.max_bytes}")
        if not data.startswith(self.prefix):
            raise error(f"{self.what} does not start with the prefix {self.prefix!r}")
        obj = strict_loads(
            data[len(self.prefix) :],
            what=self.what,
            max_bytes=self.max_bytes,
            max_depth=1,
            errors=StrictJsonErrors(syntax=error),
            integers_only=True,
        )
        if not isinstance(obj, dict):
            raise error(f"{self.what} must be a JSON object")
        if set(obj) != set(self.keys):
            missing = sorted(set(self.keys) - set(obj))
            unknown = sorted(set(obj) - set(self.keys))
            raise error(f"{self.what} has missing keys {missing} and unknown keys {unknown}")
        return obj

    def require_canonical(self, data: bytes, encoded: bytes) -> None:
        """Refuse ``data`` unless it is ``encoded``, the one encoding of what it contains.

        :raises InputError: of :attr:`non_canonical`'s class.
        """
        if encoded != data:
            raise self.non_canonical(
                f"{self.what} is not in canonical form (whitespace, key order, escapes or "
                "number format differ from the one encoding of its content)"
            )


class CanonicalLeaf:
    """A value whose canonical bytes are a leaf of a log: a subclass names its
    :class:`PrefixedFormat` as ``FORMAT`` and gives :meth:`to_json` (the encoding's keys and
    values); :meth:`encode` and :meth:`leaf_hash` follow from them."""

    FORMAT: ClassVar[PrefixedFormat]

    def to_json(self) -> dict[str, str | int | None]:
        raise NotImplementedError

    def encode(self) -> bytes:
        """The canonical leaf data: the format's prefix followed by the canonical JSON."""
        return self.FORMAT.encode(self.to_json())

    def leaf_hash(self) -> bytes:
        """The RFC 6962 leaf hash of the encoding: ``SHA-256(0x00 || encode())``."""
        return hash_leaf(self.encode())


# --- Field types -----------------------------------------------------------------------------


def _text(
    value: object, what: str, max_chars: int, error: type[_E], forbidden: re.Pattern[str]
) -> str:
    if not isinstance(value, str):
        raise error(f"{what} must be a string, not {type(value).__name__}")
    if not 1 <= len(value) <= max_chars:
        raise error(f"{what} must have 1..{max_chars} characters, got {len(value)}")
    bad = forbidden.search(value)
    if bad is not None:
        raise error(f"{what} contains the control or invisible character U+{ord(bad.group()):04X}")
    return str(value)


def identifier_text(value: object, what: str, max_chars: int, error: type[_E]) -> str:
    """A name, id or code: 1..``max_chars`` code points, none of
    :data:`FORBIDDEN_IN_IDENTIFIER`, not starting or ending with a space."""
    text = _text(value, what, max_chars, error, FORBIDDEN_IN_IDENTIFIER)
    if text[0] in EDGE_SPACES or text[-1] in EDGE_SPACES:
        raise error(f"{what} must not start or end with a space")
    return text


def free_text(value: object, what: str, max_chars: int, error: type[_E]) -> str:
    """Free text (a title, a note, an address): 1..``max_chars`` code points that may include
    line feeds and tabs (encoded ``\\n``, ``\\t``) but none of :data:`FORBIDDEN_IN_FREE_TEXT`."""
    return _text(value, what, max_chars, error, FORBIDDEN_IN_FREE_TEXT)


def one_of(value: object, allowed: tuple[_S, ...], what: str, error: type[_E]) -> _S:
    """``value`` if it is one of ``allowed`` (as that very member, for typed literals)."""
    if isinstance(value, str):
        for item in allowed:
            if value == item:
                return item
    raise error(f"{what} must be one of {', '.join(allowed)}, got {value!r:.40}")


def hex32(value: object, what: str, error: type[_E]) -> bytes:
    """The 32 bytes of a hash written as 64 lowercase hex digits."""
    if not isinstance(value, str) or _HEX64.fullmatch(value) is None:
        raise error(f"{what} must be 64 lowercase hex digits, got {value!r:.80}")
    return bytes.fromhex(value)


# --- Times ------------------------------------------------------------------------------------


def format_utc_seconds(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` of an aware UTC datetime in whole seconds (RFC 3339)."""
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}Z"
    )


def format_utc_millis(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` of an aware UTC datetime in whole milliseconds."""
    return f"{format_utc_seconds(value)[:-1]}.{value.microsecond // 1000:03d}Z"


def parse_utc_time(text: object, what: str, *, millis: bool, error: type[_E]) -> datetime:
    """Parse exactly :func:`format_utc_seconds`'s output (or, with ``millis``,
    :func:`format_utc_millis`'s) into an aware UTC datetime; anything else (offsets, other
    precisions, lowercase ``z``, an invalid date) raises ``error``."""
    if not isinstance(text, str):
        raise error(f"{what} must be a string, not {type(text).__name__}")
    match = (_MILLIS if millis else _SECONDS).fullmatch(text)
    if match is None:
        shape, precision = (
            ("YYYY-MM-DDTHH:MM:SS.mmmZ", "milliseconds")
            if millis
            else ("YYYY-MM-DDTHH:MM:SSZ", "whole seconds")
        )
        raise error(f"{what} must be {shape} (UTC, {precision}), got {text!r:.40}")
    year, month, day, hour, minute, second, ms = (int(part or 0) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, ms * 1000, tzinfo=UTC)
    except ValueError as exc:
        raise error(f"{what} {text!r} is not a valid date and time: {exc}") from None


def check_utc_time(
    value: object,
    what: str,
    *,
    millis: bool,
    error: type[_E],
    earliest: datetime = MIN_TIME,
    latest: datetime = MAX_TIME,
) -> datetime:
    """An aware UTC datetime in whole seconds (or milliseconds) within
    [``earliest``, ``latest``], as a datetime whose tzinfo is :data:`datetime.UTC`."""
    if not isinstance(value, datetime):
        raise error(f"{what} must be a datetime, not {type(value).__name__}")
    offset = value.utcoffset()
    if offset is None:
        raise error(f"{what} must be timezone-aware (UTC)")
    if offset.total_seconds() != 0:
        raise error(f"{what} must be in UTC, not at offset {offset}")
    if value.microsecond % (1000 if millis else 1_000_000):
        raise error(f"{what} must be in whole {'milliseconds' if millis else 'seconds'}")
    value = value.replace(tzinfo=UTC)
    if not earliest <= value <= latest:
        shown = format_utc_millis(value) if millis else format_utc_seconds(value)
        raise error(f"{what} {shown} is outside [{earliest.year}, {latest.year}]")
    return value


# --- Fields of a parsed JSON document -----------------------------------------------------------

_EVEN_HEX: Final = re.compile(r"(?:[0-9a-f]{2})*")


def json_type(value: object) -> str:
    """What a parsed JSON value is, for an error message (``an object``, ``the number 1.5``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r:.40}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


@dataclass(frozen=True)
class JsonFields:
    """Typed reads of the fields of a document parsed by :func:`strict_loads`, each naming
    the field's path (``tree_head.root_hash``, ``events[3].leaf_index``, ``$``) in the
    ``error(path, reason)`` it raises."""

    error: Callable[[str, str], Exception]

    def exact_object(self, value: object, path: str, keys: tuple[str, ...]) -> dict[str, object]:
        """``value`` as an object with exactly ``keys`` (in that order)."""
        if not isinstance(value, dict):
            raise self.error(path, f"must be an object, not {json_type(value)}")
        missing = [key for key in keys if key not in value]
        unknown = sorted(str(key)[:40] for key in value if key not in keys)
        if missing or unknown:
            problems = ([f"missing fields {missing}"] if missing else []) + (
                [f"unknown fields {unknown[:10]}"] if unknown else []
            )
            raise self.error(path, ", ".join(problems))
        return {key: value[key] for key in keys}

    def uint(self, value: object, path: str, maximum: int, minimum: int = 0) -> int:
        """An integer (not a boolean, not ``1.0``) in [``minimum``, ``maximum``]."""
        if type(value) is not int:
            raise self.error(path, f"must be an integer, not {json_type(value)}")
        if not minimum <= value <= maximum:
            raise self.error(path, f"{value} is outside [{minimum}, {maximum}]")
        return value

    def hex(self, value: object, path: str, limit: int, *, exact: bool = False) -> bytes:
        """Lowercase hex without ``0x`` of at most (or, with ``exact``, exactly) ``limit``
        bytes."""
        if not isinstance(value, str):
            raise self.error(path, f"must be a hex string, not {json_type(value)}")
        if len(value) > 2 * limit or (exact and len(value) != 2 * limit):
            size = f"exactly {limit}" if exact else f"at most {limit}"
            raise self.error(path, f"must be {size} bytes, got {len(value) / 2:g}")
        if _EVEN_HEX.fullmatch(value) is None:
            raise self.error(path, "must be lowercase hex digits (no 0x), an even number")
        return bytes.fromhex(value)

    def prefixed_hex(self, value: object, path: str, length: int) -> bytes:
        """``0x`` and exactly ``length`` bytes of lowercase hex."""
        if not isinstance(value, str) or not value.startswith("0x"):
            raise self.error(path, f"must be 0x and {2 * length} lowercase hex digits")
        return self.hex(value[2:], path, length, exact=True)
