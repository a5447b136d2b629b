"""The canonical, versioned encoding of a registered e-certificate (电子证照).

**Verification-critical.** The issuer signs these bytes (``zhenglian certificate issue``), the
registry binds the certificate's identifier to them, and anyone checking a certificate years
later recomputes them from ``docs/e-certificates.md``. A change to a key, a limit, a rule or
the accepted characters can make a registered certificate unreadable or give one certificate
two encodings: change it only with a new version (prefix ``.../v2``) and new test vectors.
Pure: the standard library, :mod:`evidence.formats` and :mod:`certs.formats`.

Encoding, version 1 (byte-exact specification with an example in ``docs/e-certificates.md``)::

    b"zhenglian/e-certificate/v1\\n" || UTF-8( canonical JSON object )

with exactly these keys (sorted, as canonical JSON writes them)::

    {"details":{<the type's fields>},
     "holder":{"address":<string|null>,"id_number":<string>,"id_type":<string>,"name":<string>},
     "id":"TT-CCCCCCCCCCCCCCCCCC-SSSSSSSSSS-K",
     "issued":"YYYY-MM-DD",
     "issuer":{"certificate_sha256":<64 hex>,"credit_code":<18>,"name":<string>,"type":<string>},
     "number":<string>,"type":<string>,"v":1,
     "valid_from":"YYYY-MM-DD","valid_until":<"YYYY-MM-DD"|null>}

Canonical JSON is :mod:`evidence.formats.canonical_json`'s (no whitespace, sorted keys, raw
UTF-8, only ``"`` and ``\\`` escaped, no control characters in any field). Dates are calendar
dates as printed on the certificate (China Standard Time); ``valid_until`` is the last day it
is valid, ``null`` for a certificate valid until revoked. ``issuer.certificate_sha256`` is the
SHA-256 of the DER of the issuer's signing certificate: the registered record names the key
that signed it. :meth:`ECertificate.decode` accepts exactly one byte string per certificate:
unknown or missing keys (at every level), duplicate keys, other whitespace or key order,
floating-point numbers, and a value outside its field's rules are refused, each error naming
the field (``holder.id_number: ...``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Final

from certs.errors import CreditCodeError
from certs.formats.credit_code import parse_credit_code
from certs.formats.institution_profile import INSTITUTION_TYPES, InstitutionType
from evidence.errors import InputError
from evidence.formats.canonical_json import (
    PrefixedFormat,
    StrictJsonErrors,
    hex32,
    identifier_text,
    strict_loads,
)
from evidence.formats.e_certificate_catalogue import (
    CertificateType,
    TypeField,
    UnknownCertificateType,
    certificate_type,
)
from evidence.formats.e_certificate_identifier import (
    CertificateIdentifier,
    IdentifierError,
    check_serial,
    derived_serial,
    parse_identifier,
)
from evidence.formats.holder_identity import IdNumberError, IdType, check_id_number, id_type

__all__ = [
    "E_CERTIFICATE_PREFIX",
    "E_CERTIFICATE_VERSION",
    "MAX_ADDRESS_CHARS",
    "MAX_DATE",
    "MAX_E_CERTIFICATE_BYTES",
    "MAX_FIELDS_BYTES",
    "MAX_HOLDER_NAME_CHARS",
    "MAX_ISSUER_NAME_CHARS",
    "MAX_JSON_DEPTH",
    "MAX_NUMBER_CHARS",
    "MIN_DATE",
    "Details",
    "ECertificate",
    "ECertificateError",
    "Holder",
    "IssueFields",
    "Issuer",
    "IssuerMayNotIssue",
    "NonCanonicalECertificateError",
    "fields_of",
    "format_date",
    "parse_date",
]

E_CERTIFICATE_VERSION: Final = 1
"""Value of the ``"v"`` key."""

E_CERTIFICATE_PREFIX: Final = b"zhenglian/e-certificate/v1\n"
"""Domain-separation prefix of a version 1 certificate (27 bytes, ends with a newline)."""

MAX_E_CERTIFICATE_BYTES: Final = 8 * 1024
"""Largest encoded certificate, checked before parsing (the largest valid one, a forensic
opinion with every text field full of 4-byte characters, has 5,468 bytes)."""

MAX_FIELDS_BYTES: Final = 16 * 1024
"""Largest issuing input (``FIELDS.json``, which may be indented)."""

MAX_JSON_DEPTH: Final = 3
"""Nesting of the encoding: the object, ``details``, a list of names in it."""

MAX_NUMBER_CHARS: Final = 64
"""Longest certificate number (the issuer's own, e.g. ``(2026)川广城证字第1024号``)."""

MAX_HOLDER_NAME_CHARS: Final = 100
"""Longest holder name (a person, or an organisation holding a notarial certificate)."""

MAX_ADDRESS_CHARS: Final = 200
"""Longest holder address."""

MAX_ISSUER_NAME_CHARS: Final = 64
"""Longest issuer name: the institution certificate's organizationName limit (X.520)."""

MIN_DATE: Final = date(1900, 1, 1)
"""Earliest date a certificate may state (older paper certificates can be registered)."""

MAX_DATE: Final = date(9999, 12, 31)
"""Latest date (four-digit years)."""

_DATE: Final = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")

_TOP_KEYS: Final = (
    "details",
    "holder",
    "id",
    "issued",
    "issuer",
    "number",
    "type",
    "v",
    "valid_from",
    "valid_until",
)
_HOLDER_KEYS: Final = ("address", "id_number", "id_type", "name")
_ISSUER_KEYS: Final = ("certificate_sha256", "credit_code", "name", "type")

#: Issuing input: the certificate's fields without what the signing certificate and the
#: identifier supply; ``serial`` and ``valid_until`` and ``holder.address`` may be left out.
_FIELDS_REQUIRED: Final = ("details", "holder", "issued", "issuer", "number", "type", "valid_from")
_FIELDS_OPTIONAL: Final = ("serial", "valid_until")
_FIELDS_ISSUER_KEYS: Final = ("credit_code", "name")


class ECertificateError(InputError):
    """A certificate (or issuing input) is malformed: the message starts with the field."""


class NonCanonicalECertificateError(ECertificateError):
    """Certificate bytes parse, but are not the one canonical encoding of what they contain."""


class IssuerMayNotIssue(ECertificateError):
    """The issuer's institution type may not issue this certificate type."""


_FORMAT: Final = PrefixedFormat(
    what="e-certificate",
    prefix=E_CERTIFICATE_PREFIX,
    keys=_TOP_KEYS,
    max_bytes=MAX_E_CERTIFICATE_BYTES,
    error=ECertificateError,
    non_canonical=NonCanonicalECertificateError,
)


# --- Dates -----------------------------------------------------------------------------------


def format_date(value: date) -> str:
    """``YYYY-MM-DD``."""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def parse_date(text: object, what: str) -> date:
    """Exactly ``YYYY-MM-DD``, a real date in [:data:`MIN_DATE`, :data:`MAX_DATE`].

    :raises ECertificateError: anything else, naming ``what``."""
    if not isinstance(text, str):
        raise ECertificateError(f"{what}: must be a date YYYY-MM-DD, not {type(text).__name__}")
    match = _DATE.fullmatch(text)
    if match is None:
        raise ECertificateError(f"{what}: must be a date YYYY-MM-DD, got {text!r:.40}")
    try:
        value = date(*(int(part) for part in match.groups()))
    except ValueError as exc:
        raise ECertificateError(f"{what}: {text!r} is not a valid date: {exc}") from None
    if not MIN_DATE <= value <= MAX_DATE:
        raise ECertificateError(f"{what}: {text} is before {format_date(MIN_DATE)}")
    return value


# --- Field checks ---------------------------------------------------------------------------


def _object(
    value: object, what: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ECertificateError(f"{what}: must be a JSON object, not {type(value).__name__}")
    unknown = sorted(set(value) - set(required) - set(optional))
    if unknown:
        raise ECertificateError(f"{_join(what, unknown[0])}: unknown field")
    missing = [key for key in required if key not in value]
    if missing:
        raise ECertificateError(f"{_join(what, missing[0])}: missing")
    return value


def _join(what: str, key: str) -> str:
    return key if what == "certificate" else f"{what}.{key}"


def _text(value: object, what: str, max_chars: int) -> str:
    try:
        return identifier_text(value, what, max_chars, ECertificateError)
    except ECertificateError as exc:
        raise ECertificateError(_field_message(what, str(exc))) from None


def _field_message(what: str, message: str) -> str:
    """``what: rest`` from canonical_json's ``what must ...`` messages."""
    return f"{what}: {message.removeprefix(what).lstrip()}"


def _credit_code(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ECertificateError(f"{what}: must be a string, not {type(value).__name__}")
    try:
        code = parse_credit_code(value)
    except CreditCodeError as exc:
        raise ECertificateError(f"{what}: {exc}") from None
    if code.text != value:
        raise ECertificateError(f"{what}: write the credit code upper case, without spaces")
    return value


Details = tuple[tuple[str, str | tuple[str, ...] | None], ...]
"""A certificate's type-specific fields: (key, value) in key order; a value is text, a
choice's key, a tuple of names, or None for an optional field left empty."""


def _detail(spec: TypeField, value: object, what: str) -> str | tuple[str, ...] | None:
    if value is None:
        if spec.optional:
            return None
        raise ECertificateError(f"{what}: required ({spec.zh}, {spec.en})")
    if spec.kind == "choice":
        keys = [c.key for c in spec.choices]
        if not isinstance(value, str) or value not in keys:
            raise ECertificateError(f"{what}: must be one of {', '.join(keys)}, got {value!r:.40}")
        return value
    if spec.kind == "names":
        if not isinstance(value, list):
            raise ECertificateError(f"{what}: must be a list of names, not {type(value).__name__}")
        if not spec.min_items <= len(value) <= spec.max_items:
            raise ECertificateError(
                f"{what}: must name {spec.min_items}..{spec.max_items} people, got {len(value)}"
            )
        names = tuple(_text(v, f"{what}[{i}]", spec.max_chars) for i, v in enumerate(value))
        if len(set(names)) != len(names):
            raise ECertificateError(f"{what}: names someone twice")
        return names
    text = _text(value, what, spec.max_chars)
    if spec.pattern is not None and spec.pattern.fullmatch(text) is None:
        raise ECertificateError(f"{what}: must be {spec.pattern_text}, got {text!r:.40}")
    return text


def _details(kind: CertificateType, value: object) -> Details:
    keys = tuple(f.key for f in kind.fields)
    obj = _object(value, "details", keys)
    return tuple((f.key, _detail(f, obj[f.key], f"details.{f.key}")) for f in kind.fields)


# --- The parts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """Who the certificate is for. ``id_number`` and ``address`` are personal data (masked
    in public views, :mod:`evidence.formats.e_certificate_views`)."""

    name: str
    id_type: IdType
    id_number: str
    address: str | None

    @classmethod
    def from_json(cls, value: object, *, address_optional: bool = False) -> Holder:
        optional = ("address",) if address_optional else ()
        required = tuple(k for k in _HOLDER_KEYS if k not in optional)
        obj = _object(value, "holder", required, optional)
        try:
            kind = id_type(obj["id_type"])
        except IdNumberError as exc:
            raise ECertificateError(f"holder.id_type: {exc}") from None
        try:
            number = check_id_number(kind, obj["id_number"])
        except IdNumberError as exc:
            raise ECertificateError(f"holder.id_number: {exc}") from None
        address = obj.get("address")
        return cls(
            name=_text(obj["name"], "holder.name", MAX_HOLDER_NAME_CHARS),
            id_type=kind,
            id_number=number,
            address=None
            if address is None
            else _text(address, "holder.address", MAX_ADDRESS_CHARS),
        )

    def to_json(self) -> dict[str, str | None]:
        return {
            "address": self.address,
            "id_number": self.id_number,
            "id_type": self.id_type.key,
            "name": self.name,
        }


@dataclass(frozen=True)
class Issuer:
    """The institution that issued and signed the certificate."""

    name: str
    credit_code: str
    type: InstitutionType
    certificate_sha256: bytes
    """SHA-256 of the DER of the institution certificate whose key signed."""

    @classmethod
    def from_json(cls, value: object) -> Issuer:
        obj = _object(value, "issuer", _ISSUER_KEYS)
        kind = obj["type"]
        if not isinstance(kind, str) or kind not in {t.value for t in InstitutionType}:
            raise ECertificateError(
                f"issuer.type: must be one of {', '.join(t.value for t in INSTITUTION_TYPES)}, "
                f"got {kind!r:.40}"
            )
        try:
            fingerprint = hex32(
                obj["certificate_sha256"], "issuer.certificate_sha256", ECertificateError
            )
        except ECertificateError as exc:
            raise ECertificateError(_field_message("issuer.certificate_sha256", str(exc))) from None
        return cls(
            name=_text(obj["name"], "issuer.name", MAX_ISSUER_NAME_CHARS),
            credit_code=_credit_code(obj["credit_code"], "issuer.credit_code"),
            type=InstitutionType(kind),
            certificate_sha256=fingerprint,
        )

    def to_json(self) -> dict[str, str]:
        return {
            "certificate_sha256": self.certificate_sha256.hex(),
            "credit_code": self.credit_code,
            "name": self.name,
            "type": self.type.value,
        }


# --- The certificate -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ECertificate:
    """A registered e-certificate, checked whole: every field within its rules, the
    identifier's type and credit code those of the certificate, the issuer's institution
    type one that may issue the certificate's type, and the dates in order. Build one with
    :meth:`decode`, :meth:`from_json` or :meth:`IssueFields.certificate`."""

    FORMAT: ClassVar[PrefixedFormat] = _FORMAT

    identifier: CertificateIdentifier
    type: CertificateType
    number: str
    issued: date
    valid_from: date
    valid_until: date | None
    holder: Holder
    issuer: Issuer
    details: Details
    version: int = E_CERTIFICATE_VERSION

    def __post_init__(self) -> None:
        if self.version != E_CERTIFICATE_VERSION:
            raise ECertificateError(f"v: unsupported version {self.version!r:.20}, only 1")
        if self.identifier.type_code != self.type.code:
            raise ECertificateError(
                f"id: its type code {self.identifier.type_code} is not {self.type.code}, the "
                f"code of {self.type.key}"
            )
        if self.identifier.credit_code != self.issuer.credit_code:
            raise ECertificateError(
                f"id: its credit code {self.identifier.credit_code} is not the issuer's "
                f"{self.issuer.credit_code}"
            )
        if self.issuer.type not in self.type.issuers:
            allowed = ", ".join(sorted(t.value for t in self.type.issuers))
            raise IssuerMayNotIssue(
                f"issuer.type: a {self.issuer.type.value} may not issue a {self.type.key} "
                f"({self.type.zh}); issued by: {allowed}"
            )
        if self.valid_until is not None:
            if self.valid_until < self.valid_from:
                raise ECertificateError(
                    f"valid_until: {format_date(self.valid_until)} is before valid_from "
                    f"{format_date(self.valid_from)}"
                )
            if self.valid_until < self.issued:
                raise ECertificateError(
                    f"valid_until: {format_date(self.valid_until)} is before the issue date "
                    f"{format_date(self.issued)}"
                )

    @property
    def id(self) -> str:
        """The identifier as written."""
        return self.identifier.text

    def detail(self, key: str) -> str | tuple[str, ...] | None:
        """The type-specific field ``key``."""
        return dict(self.details)[key]

    def to_json(self) -> dict[str, Any]:
        """The encoding's JSON object."""
        return {
            "details": {k: list(v) if isinstance(v, tuple) else v for k, v in self.details},
            "holder": self.holder.to_json(),
            "id": self.id,
            "issued": format_date(self.issued),
            "issuer": self.issuer.to_json(),
            "number": self.number,
            "type": self.type.key,
            "v": self.version,
            "valid_from": format_date(self.valid_from),
            "valid_until": None if self.valid_until is None else format_date(self.valid_until),
        }

    def encode(self) -> bytes:
        """The canonical bytes: the prefix and the canonical JSON (what the issuer signs)."""
        return self.FORMAT.encode(self.to_json())

    @classmethod
    def from_json(cls, value: object) -> ECertificate:
        """Check a parsed encoding object (every key at every level, every value).

        :raises ECertificateError: the first field that is wrong, named."""
        obj = _object(value, "certificate", _TOP_KEYS)
        if type(obj["v"]) is not int or obj["v"] != E_CERTIFICATE_VERSION:
            raise ECertificateError(f"v: unsupported version {obj['v']!r:.20}, only 1")
        kind = _type(obj["type"])
        try:
            identifier = parse_identifier(obj["id"])
        except IdentifierError as exc:
            raise ECertificateError(f"id: {exc}") from None
        valid_until = obj["valid_until"]
        return cls(
            identifier=identifier,
            type=kind,
            number=_text(obj["number"], "number", MAX_NUMBER_CHARS),
            issued=parse_date(obj["issued"], "issued"),
            valid_from=parse_date(obj["valid_from"], "valid_from"),
            valid_until=None if valid_until is None else parse_date(valid_until, "valid_until"),
            holder=Holder.from_json(obj["holder"]),
            issuer=Issuer.from_json(obj["issuer"]),
            details=_details(kind, obj["details"]),
        )

    @classmethod
    def decode(cls, data: object) -> ECertificate:
        """Parse the canonical encoding; refuse every other byte string.

        :raises ECertificateError: over :data:`MAX_E_CERTIFICATE_BYTES`, a wrong prefix, not
            UTF-8 JSON, nested deeper than :data:`MAX_JSON_DEPTH`, duplicate keys, a
            missing or unknown key, or a wrong value (the message names the field);
            :class:`NonCanonicalECertificateError` if it parses but is not the encoding.
        """
        if not isinstance(data, bytes):
            raise ECertificateError(f"an e-certificate is bytes, not {type(data).__name__}")
        if len(data) > MAX_E_CERTIFICATE_BYTES:
            raise ECertificateError(
                f"the e-certificate is {len(data)} bytes, larger than {MAX_E_CERTIFICATE_BYTES}"
            )
        if not data.startswith(E_CERTIFICATE_PREFIX):
            raise ECertificateError(
                f"an e-certificate starts with the prefix {E_CERTIFICATE_PREFIX!r}"
            )
        obj = strict_loads(
            data[len(E_CERTIFICATE_PREFIX) :],
            what="the e-certificate",
            max_bytes=MAX_E_CERTIFICATE_BYTES,
            max_depth=MAX_JSON_DEPTH,
            errors=StrictJsonErrors(syntax=ECertificateError),
            integers_only=True,
        )
        certificate = cls.from_json(obj)
        cls.FORMAT.require_canonical(data, certificate.encode())
        return certificate


def _type(value: object) -> CertificateType:
    try:
        return certificate_type(value)
    except UnknownCertificateType as exc:
        raise ECertificateError(str(exc)) from None


# --- Issuing input -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueFields:
    """What an issuer writes in ``FIELDS.json`` (``zhenglian certificate issue``), checked:
    the certificate less what the signing certificate supplies (the issuer's institution type
    and certificate fingerprint) and with the serial optional (derived from the number when
    left out, :func:`~evidence.formats.e_certificate_identifier.derived_serial`). Any JSON
    layout is accepted here; unknown and duplicate keys are refused as in the encoding."""

    type: CertificateType
    number: str
    serial: str
    issued: date
    valid_from: date
    valid_until: date | None
    holder: Holder
    issuer_name: str
    issuer_credit_code: str
    details: Details

    @classmethod
    def from_json_bytes(cls, data: bytes) -> IssueFields:
        """:raises ECertificateError: naming the first wrong field."""
        obj = strict_loads(
            data,
            what="the fields",
            max_bytes=MAX_FIELDS_BYTES,
            max_depth=MAX_JSON_DEPTH,
            errors=StrictJsonErrors(syntax=ECertificateError),
            integers_only=True,
        )
        return cls.from_json(obj)

    @classmethod
    def from_json(cls, value: object) -> IssueFields:
        """:raises ECertificateError: naming the first wrong field."""
        obj = _object(value, "certificate", _FIELDS_REQUIRED, _FIELDS_OPTIONAL)
        kind = _type(obj["type"])
        issuer = _object(obj["issuer"], "issuer", _FIELDS_ISSUER_KEYS)
        number = _text(obj["number"], "number", MAX_NUMBER_CHARS)
        credit_code = _credit_code(issuer["credit_code"], "issuer.credit_code")
        serial = obj.get("serial")
        if serial is None:
            serial = derived_serial(kind.code, credit_code, number)
        else:
            try:
                serial = check_serial(serial)
            except IdentifierError as exc:
                raise ECertificateError(_field_message("serial", str(exc))) from None
        valid_until = obj.get("valid_until")
        return cls(
            type=kind,
            number=number,
            serial=serial,
            issued=parse_date(obj["issued"], "issued"),
            valid_from=parse_date(obj["valid_from"], "valid_from"),
            valid_until=None if valid_until is None else parse_date(valid_until, "valid_until"),
            holder=Holder.from_json(obj["holder"], address_optional=True),
            issuer_name=_text(issuer["name"], "issuer.name", MAX_ISSUER_NAME_CHARS),
            issuer_credit_code=credit_code,
            details=_details(kind, obj["details"]),
        )

    @property
    def identifier(self) -> CertificateIdentifier:
        return CertificateIdentifier(self.type.code, self.issuer_credit_code, self.serial)

    def certificate(
        self, *, issuer_type: InstitutionType, certificate_sha256: bytes
    ) -> ECertificate:
        """The certificate, once the signing certificate gave the issuer's type and
        fingerprint.

        :raises IssuerMayNotIssue: the institution type may not issue this type;
        :raises ECertificateError: the dates are out of order."""
        return ECertificate(
            identifier=self.identifier,
            type=self.type,
            number=self.number,
            issued=self.issued,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            holder=self.holder,
            issuer=Issuer(
                name=self.issuer_name,
                credit_code=self.issuer_credit_code,
                type=issuer_type,
                certificate_sha256=certificate_sha256,
            ),
            details=self.details,
        )


def fields_of(certificate: ECertificate) -> Mapping[str, Any]:
    """The ``FIELDS.json`` object that issues ``certificate`` again (with its serial)."""
    obj = certificate.to_json()
    del obj["id"], obj["v"]
    obj["issuer"] = {"credit_code": certificate.issuer.credit_code, "name": certificate.issuer.name}
    obj["serial"] = certificate.identifier.serial
    return obj
