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

Version 2 (a signed deposit) is the same with the prefix ``b"zhenglian/entry/v2\\n"``,
``"v":2`` and seven more keys saying who signed the document and when (``docs/signatures.md``)::

    {"case":..,"institution":..,"kind":..,"salt":..,"sha256":..,
     "signature":"cms-detached"|"pades-embedded","signature_sha256":<64 hex>|null,
     "signed_at":"YYYY-MM-DDTHH:MM:SSZ","signed_at_proof":"time-stamp"|"claimed",
     "signer_certificate":<64 hex>,"signer_credit_code":<18 characters>,
     "signer_name":<string>,"size":..,"sm3":..,"time":..,"v":2}

``signature_sha256`` is the SHA-256 of the detached signature's DER (``null`` for a signature
embedded in the document, which the document's digests already cover);
``signer_certificate`` the SHA-256 of the signer certificate's DER. An unsigned deposit is
still written as version 1, and version 1 entries decode exactly as before.

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
    "ENTRY_PREFIX_V2",
    "ENTRY_VERSION",
    "ENTRY_VERSIONS",
    "ENTRY_VERSION_SIGNED",
    "KINDS",
    "MAX_CASE_CODE_CHARS",
    "MAX_DEPOSIT_TIME",
    "MAX_DOCUMENT_SIZE",
    "MAX_ENTRY_BYTES",
    "MAX_INSTITUTION_CHARS",
    "MIN_DEPOSIT_TIME",
    "SALT_BYTES",
    "SIGNATURE_FORMS",
    "TIME_PROOFS",
    "DocumentKind",
    "EntryError",
    "EntrySignature",
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

ENTRY_VERSION_SIGNED: Final = 2
"""Value of ``"v"`` in the entry of a signed deposit."""

ENTRY_VERSIONS: Final = (ENTRY_VERSION, ENTRY_VERSION_SIGNED)
"""Every entry version read and written: 1 (unsigned deposit), 2 (signed deposit)."""

ENTRY_PREFIX_V2: Final = b"zhenglian/entry/v2\n"
"""Domain-separation prefix of a version 2 entry (19 bytes, ends with a newline)."""

SignatureForm = Literal["cms-detached", "pades-embedded"]
"""How the deposit is signed: a detached CMS signature beside it, or PAdES inside the PDF."""

SIGNATURE_FORMS: Final[tuple[SignatureForm, ...]] = ("cms-detached", "pades-embedded")

TimeProof = Literal["time-stamp", "claimed"]
"""What the signing time rests on: an RFC 3161 time stamp by a trusted authority, or the
signer's word (the signingTime attribute)."""

TIME_PROOFS: Final[tuple[TimeProof, ...]] = ("time-stamp", "claimed")

CREDIT_CODE_RE: Final = re.compile(r"[0-9A-HJ-NP-RTUWXY]{18}")
"""The form of a 统一社会信用代码 (GB 32100 alphabet, 18 characters); its check characters
were checked when the signer's certificate was, at deposit."""

MAX_SIGNER_NAME_CHARS: Final = 64
"""Longest signer (institution) name, as the institution profile allows."""

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

_SIGNATURE_KEYS: Final = (
    "signature",
    "signature_sha256",
    "signed_at",
    "signed_at_proof",
    "signer_certificate",
    "signer_credit_code",
    "signer_name",
)

_FORMAT_V2: Final = PrefixedFormat(
    what="entry",
    prefix=ENTRY_PREFIX_V2,
    keys=tuple(sorted(_FORMAT.keys + _SIGNATURE_KEYS)),
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


# --- The signer (version 2) ----------------------------------------------------------


@dataclass(frozen=True)
class EntrySignature:
    """Who signed a deposited document and when, as a version 2 entry commits to it.
    Construction checks every field (raising EntryError)."""

    form: SignatureForm
    signature_sha256: bytes | None
    """SHA-256 of the detached signature (DER); None when embedded in the document."""
    signer_certificate: bytes
    """SHA-256 of the signer certificate's DER."""
    signer_credit_code: str
    signer_name: str
    signed_at: datetime
    signed_at_proof: TimeProof

    def __post_init__(self) -> None:
        setattr_ = object.__setattr__
        form = one_of(self.form, SIGNATURE_FORMS, "signature", EntryError)
        setattr_(self, "form", form)
        if form == "cms-detached":
            setattr_(
                self,
                "signature_sha256",
                _check_bytes(self.signature_sha256, "signature_sha256", DIGEST_BYTES),
            )
        elif self.signature_sha256 is not None:
            raise EntryError("an embedded signature has no signature_sha256 (null)")
        setattr_(
            self,
            "signer_certificate",
            _check_bytes(self.signer_certificate, "signer_certificate", DIGEST_BYTES),
        )
        code = self.signer_credit_code
        if not isinstance(code, str) or CREDIT_CODE_RE.fullmatch(code) is None:
            raise EntryError(f"signer_credit_code is not a 统一社会信用代码: {code!r:.40}")
        name = identifier_text(self.signer_name, "signer_name", MAX_SIGNER_NAME_CHARS, EntryError)
        setattr_(self, "signer_name", name)
        signed_at = check_utc_time(
            self.signed_at,
            "signed_at",
            millis=False,
            error=EntryError,
            earliest=MIN_DEPOSIT_TIME,
            latest=MAX_DEPOSIT_TIME,
        )
        setattr_(self, "signed_at", signed_at)
        setattr_(
            self,
            "signed_at_proof",
            one_of(self.signed_at_proof, TIME_PROOFS, "signed_at_proof", EntryError),
        )

    @property
    def time_proven(self) -> bool:
        return self.signed_at_proof == "time-stamp"

    def to_json(self) -> dict[str, str | None]:
        return {
            "signature": self.form,
            "signature_sha256": None
            if self.signature_sha256 is None
            else self.signature_sha256.hex(),
            "signed_at": format_time(self.signed_at),
            "signed_at_proof": self.signed_at_proof,
            "signer_certificate": self.signer_certificate.hex(),
            "signer_credit_code": self.signer_credit_code,
            "signer_name": self.signer_name,
        }

    @classmethod
    def from_json(cls, obj: dict[str, object]) -> EntrySignature:
        digest = obj["signature_sha256"]
        return cls(
            form=obj["signature"],  # type: ignore[arg-type]  # checked by __post_init__
            signature_sha256=None
            if digest is None
            else hex32(digest, "signature_sha256", EntryError),
            signer_certificate=hex32(obj["signer_certificate"], "signer_certificate", EntryError),
            signer_credit_code=obj["signer_credit_code"],  # type: ignore[arg-type]
            signer_name=obj["signer_name"],  # type: ignore[arg-type]
            signed_at=parse_time(obj["signed_at"], "signed_at"),
            signed_at_proof=obj["signed_at_proof"],  # type: ignore[arg-type]
        )


# --- The entry -------------------------------------------------------------------------


@dataclass(frozen=True, init=False)
class LogEntry(CanonicalLeaf):
    """One deposit as a log leaf. Construction checks every field (raising EntryError), so a
    constructed entry always has exactly one encoding.

    ``kind`` may be given as any ``str``; it is checked and stored as a :data:`DocumentKind`.
    With a ``signature`` the entry is version 2, without one version 1.
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
    signature: EntrySignature | None

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
        version: int | None = None,
        signature: EntrySignature | None = None,
    ) -> None:
        if signature is not None and not isinstance(signature, EntrySignature):
            raise EntryError(f"signature must be an EntrySignature, not {type(signature).__name__}")
        expected = ENTRY_VERSION if signature is None else ENTRY_VERSION_SIGNED
        if version is None:
            version = expected
        if type(version) is not int or version not in (ENTRY_VERSION, ENTRY_VERSION_SIGNED):
            raise EntryError(
                f"unsupported entry version {version!r:.20}, only {ENTRY_VERSION} and "
                f"{ENTRY_VERSION_SIGNED}"
            )
        if version != expected:
            raise EntryError(
                f"a version {version} entry "
                + (
                    "needs a signer"
                    if version == ENTRY_VERSION_SIGNED
                    else "has no signer (a signed deposit is version 2)"
                )
            )
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
        setattr_(self, "signature", signature)

    def encode(self) -> bytes:
        """The canonical leaf data: the version's prefix followed by the canonical JSON."""
        return (_FORMAT if self.signature is None else _FORMAT_V2).encode(self.to_json())

    def to_json(self) -> dict[str, str | int | None]:
        """The entry's JSON object (the keys and values of the encoding, in key order)."""
        fields: dict[str, str | int | None] = {
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
        if self.signature is not None:
            fields.update(self.signature.to_json())
            fields = dict(sorted(fields.items()))
        return fields

    @classmethod
    def decode(cls, data: bytes) -> LogEntry:
        """Parse the canonical encoding; refuse every other byte string.

        :raises EntryError: over :data:`MAX_ENTRY_BYTES`, wrong prefix, not UTF-8 JSON, missing
            or unknown or duplicate keys, a wrong type or value;
            :class:`NonCanonicalEntryError` if it parses but is not the canonical encoding.
        """
        signed = isinstance(data, bytes) and data.startswith(ENTRY_PREFIX_V2)
        form = _FORMAT_V2 if signed else cls.FORMAT
        obj = form.decode_fields(data)
        if signed and obj["v"] != ENTRY_VERSION_SIGNED:
            raise EntryError(f'a version 2 entry must say "v":2, not {obj["v"]!r:.20}')
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
            signature=EntrySignature.from_json(obj) if signed else None,
        )
        form.require_canonical(data, entry.encode())
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
    signature: EntrySignature | None = None,
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
        signature=signature,
    )
