"""The canonical, versioned encoding of a log leaf (a deposit).

**Verification-critical.** Every receipt ever issued recomputes its leaf hash from these bytes;
changing the encoding makes old receipts unverifiable. Pure: standard library and
``ledger.merkle`` only.

Encoding (version 1): ``b"zhenglian/entry/v1\\n"`` followed by canonical JSON — UTF-8, keys
sorted, no whitespace, non-ASCII kept as UTF-8, lowercase hex — of::

    {"case": <str|null>, "institution": <str>, "kind": "notary"|"forensic"|"legal_aid"|"other",
     "salt": <64 hex>, "sha256": <64 hex>, "size": <int>, "sm3": <64 hex>,
     "time": "YYYY-MM-DDTHH:MM:SSZ", "v": 1}

The 32-byte random salt makes each leaf unguessable, so an inclusion proof's sibling hashes
reveal nothing about neighbouring documents. Decoding accepts exactly one byte string per
entry: the canonical re-encoding must equal the input.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evidence.errors import InputError
from ledger.merkle import hash_leaf

ENTRY_PREFIX = b"zhenglian/entry/v1\n"
ENTRY_VERSION = 1
KINDS = ("notary", "forensic", "legal_aid", "other")
#: Longest institution name in an entry (characters).
MAX_INSTITUTION_CHARS = 200
#: Case codes: 1..64 of A-Z, 0-9 and '-'.
CASE_CODE_RE = re.compile(r"^[A-Z0-9-]{1,64}$")
#: Largest encoded entry.
MAX_ENTRY_BYTES = 2048
SALT_BYTES = 32
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class EntryError(InputError):
    """An entry is malformed or not in its one canonical encoding."""


@dataclass(frozen=True)
class LogEntry:
    sha256: bytes
    sm3: bytes
    size: int
    salt: bytes
    kind: str
    institution: str
    case_code: str | None
    deposited_at: datetime

    def __post_init__(self) -> None:
        if len(self.sha256) != 32 or len(self.sm3) != 32:
            raise EntryError("digests must be 32 bytes")
        if len(self.salt) != SALT_BYTES:
            raise EntryError(f"salt must be {SALT_BYTES} bytes")
        if (
            isinstance(self.size, bool)
            or not isinstance(self.size, int)
            or not 0 <= self.size < 2**63
        ):
            raise EntryError("size must be an integer in [0, 2**63)")
        if self.kind not in KINDS:
            raise EntryError(f"kind must be one of {', '.join(KINDS)}")
        inst = self.institution
        if (
            not inst
            or len(inst) > MAX_INSTITUTION_CHARS
            or not inst.isprintable()
            or inst.strip() != inst
        ):
            raise EntryError(f"institution must be 1..{MAX_INSTITUTION_CHARS} printable characters")
        if self.case_code is not None and not CASE_CODE_RE.match(self.case_code):
            raise EntryError("case code must be 1..64 characters of A-Z, 0-9 and '-'")
        t = self.deposited_at
        if t.tzinfo is None or t.utcoffset() != UTC.utcoffset(t) or t.microsecond:
            raise EntryError("deposit time must be UTC in whole seconds")

    def _fields(self) -> dict[str, Any]:
        return {
            "case": self.case_code,
            "institution": self.institution,
            "kind": self.kind,
            "salt": self.salt.hex(),
            "sha256": self.sha256.hex(),
            "size": self.size,
            "sm3": self.sm3.hex(),
            "time": self.deposited_at.strftime(_TIME_FORMAT),
            "v": ENTRY_VERSION,
        }

    def encode(self) -> bytes:
        body = json.dumps(self._fields(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return ENTRY_PREFIX + body.encode("utf-8")

    def leaf_hash(self) -> bytes:
        return hash_leaf(self.encode())

    def to_json(self) -> dict[str, Any]:
        return self._fields()

    @classmethod
    def decode(cls, data: bytes) -> LogEntry:
        if len(data) > MAX_ENTRY_BYTES:
            raise EntryError(f"entry larger than {MAX_ENTRY_BYTES} bytes")
        if not data.startswith(ENTRY_PREFIX):
            raise EntryError("entry does not start with the v1 prefix")
        try:
            obj = json.loads(data[len(ENTRY_PREFIX) :].decode("utf-8"), object_pairs_hook=_no_dup)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EntryError(f"entry is not JSON: {exc}") from None
        if not isinstance(obj, dict) or set(obj) != {
            "case",
            "institution",
            "kind",
            "salt",
            "sha256",
            "size",
            "sm3",
            "time",
            "v",
        }:
            raise EntryError("entry has missing or unknown fields")
        if obj["v"] != ENTRY_VERSION or isinstance(obj["v"], bool):
            raise EntryError("unsupported entry version")
        try:
            entry = cls(
                sha256=_hex32(obj["sha256"]),
                sm3=_hex32(obj["sm3"]),
                size=obj["size"],
                salt=_hex32(obj["salt"]),
                kind=obj["kind"],
                institution=obj["institution"],
                case_code=obj["case"],
                deposited_at=datetime.strptime(obj["time"], _TIME_FORMAT).replace(tzinfo=UTC),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, EntryError):
                raise
            raise EntryError(f"malformed entry field: {exc}") from None
        if entry.encode() != data:
            raise EntryError("entry is not in canonical form")
        return entry


def _no_dup(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise EntryError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _hex32(value: Any) -> bytes:
    if not isinstance(value, str) or len(value) != 64 or value != value.lower():
        raise EntryError("expected 64 lowercase hex digits")
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
    """A new entry with a fresh random salt; the time is truncated to whole UTC seconds."""
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
