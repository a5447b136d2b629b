"""The canonical, versioned encoding of a custody event: one leaf of the custody log.

**Verification-critical.** Custody exports handed to courts recompute every event's leaf hash
from the bytes defined here (``docs/custody.md``). Change the encoding, a limit or the
accepted values only with a new version (prefix ``.../v2``) and new test vectors
(``tests/assets/custody/generate.py``). Pure: the standard library, :mod:`ledger.merkle` and
:mod:`evidence.formats.canonical_json`.

Encoding, version 1::

    b"zhenglian/custody/v1\\n" || UTF-8( canonical JSON object )

with exactly these keys, in this (sorted) order::

    {"action":<string>,"actor_institution":<string|null>,"actor_role":<string>,
     "actor_token":<uuid|null>,"client":<IP address|null>,"object_id":<string>,
     "object_prev":<64 hex>,"object_type":<string>,"prev":<64 hex>,
     "time":"YYYY-MM-DDTHH:MM:SS.mmmZ","v":1}

Canonical JSON as for log entries (:mod:`evidence.formats.canonical_json`): no whitespace,
sorted keys, lowercase hex, raw UTF-8 with only ``"`` and ``\\`` escaped. The time is UTC with
milliseconds. ``client`` is an IPv4 or IPv6 address in its compressed text form.

Two hash links make the log a chain: ``prev`` is the leaf hash of the event just before this
one in the whole custody log (32 zero bytes for the first), and ``object_prev`` the leaf hash
of the previous event about the same object (32 zero bytes for the first). A custody export
of one document therefore proves it lists *every* event about the document up to its last
one: leaving one out breaks the ``object_prev`` chain. The leaf hash of an event is
``SHA-256(0x00 || encode())`` (RFC 6962), as for every leaf.

Version 2 (``b"zhenglian/custody/v2\\n"``, ``"v":2``) only adds: the key ``"note"`` (free
text of at most :data:`MAX_NOTE_CHARS` code points, or null) between ``"client"`` and
``"object_id"``, the object type ``log`` (ids ``documents`` and ``custody``: the two logs
themselves) and the actions of the logs' own life, ``anchoring_halted`` (the server stopped
anchoring a log because its database and the chain disagree; the note says how) and
``anchoring_resumed`` (an operator resumed it after a restore, with a new LogAnchor; the note
gives the reason and the retired contract), and ``case_participant_remove`` (the owner took a
law firm or court off a case; the note names it). An event is written in the lowest version that can
hold it, so every event a version 1 reader could read stays version 1; readers accept both.

Version 3 (``b"zhenglian/custody/v3\\n"``, ``"v":3``) hides who exactly acted from everyone
but the actor's own institution: in place of ``actor_token`` and ``client`` it has
``actor_detail``, a salted commitment to both (:class:`ActorDetail`:
``SHA-256("zhenglian/custody/actor-detail\\n" || canonical JSON {"client","salt","token"})``,
a fresh 16-byte salt per event). An export opens it (gives salt, token and client) only to the
actor's institution; everyone else sees the institution and role. Every event that names a
token or a client address is written in version 3; the others in version 1 or 2 as before.

Version 4 (``b"zhenglian/custody/v4\\n"``, ``"v":4``) is version 3's layout (``actor_detail``
in place of ``actor_token`` and ``client``, and ``note``) plus the registered e-certificates:
the object type ``certificate`` (id: the certificate's identifier), the actions
``certificate_register``, ``certificate_revoke`` and ``certificate_supersede``, and the actor
role ``bureau_registrar``. Every event with any of them is written in version 4 and no other
(versions 1 to 3 refuse them, so a reader built before version 4 refuses such an event for its
unknown version). Its ``actor_detail`` commits to the token and client as in version 3, or is
null when there is neither (an actor ``public``, ``operator`` or ``system`` without a client
address, e.g. the server completing a pending certificate change).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Final, Literal, get_args

from evidence.errors import InputError
from evidence.formats.canonical_json import (
    CanonicalLeaf,
    PrefixedFormat,
    canonical_json,
    check_utc_time,
    format_utc_millis,
    free_text,
    hex32,
    identifier_text,
    one_of,
    parse_utc_time,
)

__all__ = [
    "ACTIONS",
    "ACTIONS_V1",
    "ACTIONS_V3",
    "ACTOR_DETAIL_PREFIX",
    "ACTOR_DETAIL_SALT_BYTES",
    "ACTOR_ROLES",
    "ACTOR_ROLES_V3",
    "CUSTODY_PREFIX",
    "CUSTODY_V2_PREFIX",
    "CUSTODY_V3_PREFIX",
    "CUSTODY_V4_PREFIX",
    "CUSTODY_VERSION",
    "CUSTODY_VERSIONS",
    "GENESIS_HASH",
    "LOG_IDS",
    "MAX_CLIENT_CHARS",
    "MAX_CUSTODY_EVENT_BYTES",
    "MAX_CUSTODY_EVENT_V2_BYTES",
    "MAX_CUSTODY_EVENT_V4_BYTES",
    "MAX_NOTE_CHARS",
    "MAX_OBJECT_ID_CHARS",
    "OBJECT_TYPES",
    "OBJECT_TYPES_V1",
    "OBJECT_TYPES_V3",
    "TOKENLESS_ROLES",
    "Action",
    "Actor",
    "ActorDetail",
    "CustodyEvent",
    "CustodyEventError",
    "CustodyObject",
    "NonCanonicalCustodyEventError",
    "ObjectType",
    "format_ms_time",
    "parse_ms_time",
]

# --- Format and limits -------------------------------------------------------------

CUSTODY_VERSION: Final = 1
"""The first version: the ``"v"`` of every event a version 1 reader can read."""

CUSTODY_VERSIONS: Final = (1, 2, 3, 4)
"""Every version this module reads and writes (it writes the lowest that holds an event)."""

CUSTODY_PREFIX: Final = b"zhenglian/custody/v1\n"
"""Domain-separation prefix of a version 1 custody event (21 bytes, ends with a newline)."""

CUSTODY_V2_PREFIX: Final = b"zhenglian/custody/v2\n"
"""Domain-separation prefix of a version 2 custody event."""

CUSTODY_V3_PREFIX: Final = b"zhenglian/custody/v3\n"
"""Domain-separation prefix of a version 3 custody event (the actor's detail committed)."""

CUSTODY_V4_PREFIX: Final = b"zhenglian/custody/v4\n"
"""Domain-separation prefix of a version 4 custody event (version 3 and e-certificates)."""

ACTOR_DETAIL_PREFIX: Final = b"zhenglian/custody/actor-detail\n"
"""Domain-separation prefix of an actor detail's commitment."""

ACTOR_DETAIL_SALT_BYTES: Final = 16
"""Bytes of random salt in each actor detail (so a token id or an address cannot be guessed
from the commitment)."""

Action = Literal[
    "deposit",
    "fetch_content",
    "fetch_receipt",
    "share_create",
    "share_revoke",
    "share_fetch",
    "verify_by_token",
    "token_create",
    "token_revoke",
    "institution_create",
    "institution_disable",
    "case_create",
    "case_participant_add",
    "tamper_detected",
    "anchoring_halted",
    "anchoring_resumed",
    "case_participant_remove",
    "certificate_register",
    "certificate_revoke",
    "certificate_supersede",
]
"""What happened to the object."""

ACTIONS: Final[tuple[Action, ...]] = get_args(Action)
"""Every :data:`Action` (of any version)."""

ACTIONS_V1: Final[tuple[Action, ...]] = ACTIONS[: ACTIONS.index("tamper_detected") + 1]
"""The actions of version 1 (the others need version 2)."""

ACTIONS_V3: Final[tuple[Action, ...]] = ACTIONS[: ACTIONS.index("case_participant_remove") + 1]
"""The actions of versions 2 and 3 (the ``certificate_*`` actions need version 4)."""

ObjectType = Literal["document", "case", "token", "institution", "share", "log", "certificate"]
"""What kind of thing an event is about."""

OBJECT_TYPES: Final[tuple[ObjectType, ...]] = get_args(ObjectType)
"""Every :data:`ObjectType` (of any version)."""

OBJECT_TYPES_V1: Final[tuple[ObjectType, ...]] = OBJECT_TYPES[: OBJECT_TYPES.index("log")]
"""The object types of version 1 (``log`` needs version 2, ``certificate`` version 4)."""

OBJECT_TYPES_V3: Final[tuple[ObjectType, ...]] = OBJECT_TYPES[: OBJECT_TYPES.index("log") + 1]
"""The object types of versions 2 and 3 (``certificate`` needs version 4)."""

LOG_IDS: Final = ("documents", "custody")
"""The ids of ``log`` objects: the document log and the custody log."""

ACTOR_ROLES: Final = (
    "admin",
    "notary",
    "forensic",
    "legal_aid",
    "court",
    "lawyer",
    "public",
    "operator",
    "system",
    "bureau_registrar",
)
"""Who can act: the token roles, ``public`` (no token), ``operator`` (the ``zhenglian`` CLI
on the server's own data directory), ``system`` (the server itself, e.g. when it detects
tampering) and (version 4) ``bureau_registrar``, the justice bureau's practising-certificate
office."""

ACTOR_ROLES_V3: Final = ACTOR_ROLES[: ACTOR_ROLES.index("system") + 1]
"""The actor roles of versions 1 to 3 (``bureau_registrar`` needs version 4)."""

TOKENLESS_ROLES: Final = frozenset({"public", "operator", "system"})
"""Actor roles without a token (and, for ``public``, without an institution)."""

GENESIS_HASH: Final = bytes(32)
"""The ``prev`` / ``object_prev`` of the first event (of the log / about an object)."""

MAX_CUSTODY_EVENT_BYTES: Final = 2048
"""Largest encoded event, checked before any parsing. The largest valid one is about 1,800
bytes (two 200-code-point texts of 4 UTF-8 bytes each)."""

MAX_CUSTODY_EVENT_V2_BYTES: Final = 8192
"""Largest encoded version 2 or 3 event: version 1's largest plus a note of
:data:`MAX_NOTE_CHARS` code points of up to 4 UTF-8 bytes (or 6-byte escapes)."""

MAX_CUSTODY_EVENT_V4_BYTES: Final = MAX_CUSTODY_EVENT_V2_BYTES
"""Largest encoded version 4 event: its keys are version 3's (an ``actor_detail`` of 64 hex
digits is shorter than the token and client it replaces), so the same 8,192 bytes."""

MAX_NOTE_CHARS: Final = 1000
"""Longest note of a version 2 event, in code points."""

MAX_OBJECT_ID_CHARS: Final = 200
"""Longest object id, in code points (ids, codes and names all fit)."""

MAX_INSTITUTION_CHARS: Final = 200
"""Longest actor institution, in code points (as in :mod:`evidence.formats.log_entry`)."""

MAX_CLIENT_CHARS: Final = 45
"""Longest client address text (an IPv6 address with an embedded IPv4 address)."""

_UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class CustodyEventError(InputError):
    """A custody event is malformed: a field of the wrong type or value, or not decodable."""


class NonCanonicalCustodyEventError(CustodyEventError):
    """Event bytes parse, but are not the one canonical encoding of what they contain."""


_V1_KEYS: Final = (
    "action",
    "actor_institution",
    "actor_role",
    "actor_token",
    "client",
    "object_id",
    "object_prev",
    "object_type",
    "prev",
    "time",
    "v",
)

_FORMAT: Final = PrefixedFormat(
    what="custody event",
    prefix=CUSTODY_PREFIX,
    keys=_V1_KEYS,
    max_bytes=MAX_CUSTODY_EVENT_BYTES,
    error=CustodyEventError,
    non_canonical=NonCanonicalCustodyEventError,
)

_V2_FORMAT: Final = PrefixedFormat(
    what="custody event",
    prefix=CUSTODY_V2_PREFIX,
    keys=tuple(sorted((*_V1_KEYS, "note"))),
    max_bytes=MAX_CUSTODY_EVENT_V2_BYTES,
    error=CustodyEventError,
    non_canonical=NonCanonicalCustodyEventError,
)

_V3_FORMAT: Final = PrefixedFormat(
    what="custody event",
    prefix=CUSTODY_V3_PREFIX,
    keys=tuple(
        sorted(
            (
                *(key for key in _V1_KEYS if key not in ("actor_token", "client")),
                "note",
                "actor_detail",
            )
        )
    ),
    max_bytes=MAX_CUSTODY_EVENT_V2_BYTES,
    error=CustodyEventError,
    non_canonical=NonCanonicalCustodyEventError,
)

_V4_FORMAT: Final = PrefixedFormat(
    what="custody event",
    prefix=CUSTODY_V4_PREFIX,
    keys=_V3_FORMAT.keys,
    max_bytes=MAX_CUSTODY_EVENT_V4_BYTES,
    error=CustodyEventError,
    non_canonical=NonCanonicalCustodyEventError,
)

_FORMATS: Final = {1: _FORMAT, 2: _V2_FORMAT, 3: _V3_FORMAT, 4: _V4_FORMAT}
_ANY_VERSION_PREFIX: Final = b"zhenglian/custody/v"
_PREFIX_VERSIONS: Final = (
    (CUSTODY_V4_PREFIX, 4),
    (CUSTODY_V3_PREFIX, 3),
    (CUSTODY_V2_PREFIX, 2),
)


# --- Time ----------------------------------------------------------------------------

format_ms_time: Final = format_utc_millis
"""``YYYY-MM-DDTHH:MM:SS.mmmZ`` of an aware UTC datetime in whole milliseconds."""


def parse_ms_time(text: object, what: str = "time") -> datetime:
    """Parse exactly :func:`format_ms_time`'s output; CustodyEventError for anything else."""
    return parse_utc_time(text, what, millis=True, error=CustodyEventError)


# --- Field checks ----------------------------------------------------------------------


def _check_text(value: object, what: str, limit: int) -> str:
    return identifier_text(value, what, limit, CustodyEventError)


def _one_of(value: object, allowed: tuple[str, ...], what: str) -> str:
    return one_of(value, allowed, what, CustodyEventError)


def _check_hash(value: object, what: str) -> bytes:
    if type(value) is not bytes or len(value) != 32:
        raise CustodyEventError(f"{what} must be 32 bytes, got {value!r:.80}")
    return value


def _check_client(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_CLIENT_CHARS:
        raise CustodyEventError(f"client must be an IP address, got {value!r:.60}")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise CustodyEventError(f"client must be an IP address, got {value!r:.60}") from None
    if str(address) != value:
        raise CustodyEventError(
            f"client address {value!r} is not in its canonical form {str(address)!r}"
        )
    return value


# --- Values ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who acted: a token (its id, institution and role), ``public``, ``operator`` or
    ``system``. Construction checks the combination."""

    role: str
    token_id: str | None = None
    institution: str | None = None
    hidden: bool = False
    """The token is not named here but committed to (a version 3 event's actor)."""

    def __post_init__(self) -> None:
        role = _one_of(self.role, ACTOR_ROLES, "actor role")
        if self.hidden is not False and self.hidden is not True:
            raise CustodyEventError("hidden must be a bool")
        if self.hidden and self.token_id is not None:
            raise CustodyEventError("a hidden actor's token is in its detail, not here")
        if role in TOKENLESS_ROLES:
            if self.token_id is not None:
                raise CustodyEventError(f"a {role} actor has no token")
            if role == "public" and self.institution is not None:
                raise CustodyEventError("a public actor has no institution")
        else:
            if self.hidden:
                pass
            elif not isinstance(self.token_id, str) or _UUID.fullmatch(self.token_id) is None:
                raise CustodyEventError(
                    f"actor token must be a lowercase UUID for role {role}, "
                    f"got {self.token_id!r:.60}"
                )
            if self.institution is None:
                raise CustodyEventError(f"a {role} actor acts for an institution")
        if self.institution is not None:
            _check_text(self.institution, "actor institution", MAX_INSTITUTION_CHARS)

    def without_token(self) -> Actor:
        """The same actor with its token hidden (as a version 3 event names it)."""
        return Actor(self.role, None, self.institution, hidden=True)

    @classmethod
    def public(cls) -> Actor:
        return cls("public")

    @classmethod
    def operator(cls, institution: str | None = None) -> Actor:
        return cls("operator", None, institution)

    @classmethod
    def system(cls) -> Actor:
        return cls("system")


@dataclass(frozen=True)
class ActorDetail:
    """What a version 3 event commits to instead of naming it: the actor's token and client
    address, with a random salt. Given in an export (to the actor's institution), it is
    checked against the event's ``actor_detail``."""

    salt: bytes
    token_id: str | None
    client: str | None

    def __post_init__(self) -> None:
        if type(self.salt) is not bytes or len(self.salt) != ACTOR_DETAIL_SALT_BYTES:
            raise CustodyEventError(f"salt must be {ACTOR_DETAIL_SALT_BYTES} bytes")
        if self.token_id is not None and (
            not isinstance(self.token_id, str) or _UUID.fullmatch(self.token_id) is None
        ):
            raise CustodyEventError(f"token must be a lowercase UUID, got {self.token_id!r:.60}")
        _check_client(self.client)
        if self.token_id is None and self.client is None:
            raise CustodyEventError("an actor detail names a token, a client address or both")

    def to_json(self) -> dict[str, str | None]:
        return {"client": self.client, "salt": self.salt.hex(), "token": self.token_id}

    def commitment(self) -> bytes:
        """``SHA-256(ACTOR_DETAIL_PREFIX || canonical JSON of to_json())``."""
        body = canonical_json(self.to_json()).encode("utf-8")
        return hashlib.sha256(ACTOR_DETAIL_PREFIX + body).digest()

    @classmethod
    def from_json(cls, obj: object, path: str = "actor_detail") -> ActorDetail:
        if not isinstance(obj, dict) or set(obj) != {"client", "salt", "token"}:
            raise CustodyEventError(f"{path} must be an object with client, salt and token")
        salt = obj["salt"]
        if (
            not isinstance(salt, str)
            or len(salt) != 2 * ACTOR_DETAIL_SALT_BYTES
            or salt != salt.lower()
        ):
            raise CustodyEventError(f"{path}.salt must be {ACTOR_DETAIL_SALT_BYTES} bytes in hex")
        try:
            raw = bytes.fromhex(salt)
        except ValueError:
            raise CustodyEventError(f"{path}.salt is not hex") from None
        return cls(raw, obj["token"], obj["client"])


@dataclass(frozen=True)
class CustodyObject:
    """What an event is about: a document id, a case code, a token id, an institution id,
    or a share code's id."""

    type: str
    id: str

    def __post_init__(self) -> None:
        _one_of(self.type, OBJECT_TYPES, "object type")
        _check_text(self.id, "object id", MAX_OBJECT_ID_CHARS)
        if self.type == "log" and self.id not in LOG_IDS:
            raise CustodyEventError(
                f"a log object is one of {', '.join(LOG_IDS)}, not {self.id!r:.40}"
            )

    @classmethod
    def document(cls, document_id: str) -> CustodyObject:
        return cls("document", document_id)

    @classmethod
    def log(cls, name: str) -> CustodyObject:
        """One of the two logs (:data:`LOG_IDS`): ``documents`` or ``custody``."""
        if name not in LOG_IDS:
            raise CustodyEventError(f"log must be one of {', '.join(LOG_IDS)}, got {name!r:.40}")
        return cls("log", name)


@dataclass(frozen=True)
class CustodyEvent(CanonicalLeaf):
    """One custody event as a log leaf. Construction checks every field (raising
    CustodyEventError), so a constructed event always has exactly one encoding."""

    FORMAT: ClassVar[PrefixedFormat] = _FORMAT

    action: str
    actor: Actor
    object: CustodyObject
    time: datetime
    client: str | None
    prev: bytes
    """Leaf hash of the event before this one in the custody log."""
    object_prev: bytes
    """Leaf hash of the previous event about the same object."""
    note: str | None = None
    """Free text (version 2): how anchoring halted, why it was resumed."""
    version: int = 0
    """1, 2, 3 or 4; 0 (the default) means the version that holds the event: 4 if it has an
    e-certificate action, object type or actor role, else 3 if it has an ``actor_detail``,
    else the lowest."""
    actor_detail: bytes | None = None
    """(Versions 3 and 4) the commitment to the actor's token and client
    (:class:`ActorDetail`); the event's own ``actor`` is then hidden and its ``client`` None.
    Always there in version 3; None in version 4 when there is neither token nor client."""

    def __post_init__(self) -> None:
        if not isinstance(self.actor, Actor):
            raise CustodyEventError("actor must be an Actor")
        if not isinstance(self.object, CustodyObject):
            raise CustodyEventError("object must be a CustodyObject")
        _one_of(self.action, ACTIONS, "action")
        if self.note is not None:
            free_text(self.note, "note", MAX_NOTE_CHARS, CustodyEventError)
        needs_v2 = (
            self.action not in ACTIONS_V1
            or self.object.type not in OBJECT_TYPES_V1
            or self.note is not None
        )
        of_v4 = [
            f"{what} {value!r}"
            for what, value, earlier in (
                ("action", self.action, ACTIONS_V3),
                ("object type", self.object.type, OBJECT_TYPES_V3),
                ("actor role", self.actor.role, ACTOR_ROLES_V3),
            )
            if value not in earlier
        ]
        needs_v4 = bool(of_v4)
        if self.actor_detail is not None:
            _check_hash(self.actor_detail, "actor_detail")
        if type(self.version) is int and self.version == 0:
            version = (
                4 if needs_v4 else 3 if self.actor_detail is not None else 2 if needs_v2 else 1
            )
            object.__setattr__(self, "version", version)
        elif type(self.version) is not int or self.version not in CUSTODY_VERSIONS:
            raise CustodyEventError(
                f"unsupported custody event version {self.version!r:.20}, only "
                + ", ".join(map(str, CUSTODY_VERSIONS))
            )
        elif self.version < 4 and needs_v4:
            raise CustodyEventError(
                f"a version {self.version} custody event has no {' or '.join(of_v4)}: "
                "e-certificate values are of version 4"
            )
        elif self.version == 1 and needs_v2:
            raise CustodyEventError(
                f"a version 1 custody event has no note, action {self.action!r} or object "
                f"type {self.object.type!r} of version 2"
            )
        if self.version == 3 and self.actor_detail is None:
            raise CustodyEventError("a version 3 custody event has actor_detail")
        if self.version < 3 and self.actor_detail is not None:
            raise CustodyEventError(
                f"a version {self.version} custody event has no actor_detail (version 3 or 4)"
            )
        if self.actor_detail is not None and (not self.actor.hidden or self.client is not None):
            raise CustodyEventError(
                f"a version {self.version} custody event names no token and no client: they "
                "are in its detail"
            )
        if (
            self.version == 4
            and self.actor_detail is None
            and (
                self.actor.hidden
                or self.actor.role not in TOKENLESS_ROLES
                or self.client is not None
            )
        ):
            raise CustodyEventError(
                "a version 4 custody event without actor_detail names no token and no client "
                f"(an actor public, operator or system without an address), not {self.actor.role!r}"
            )
        if self.version < 3 and self.actor.hidden:
            raise CustodyEventError(f"a version {self.version} custody event names its token")
        time = check_utc_time(self.time, "time", millis=True, error=CustodyEventError)
        object.__setattr__(self, "time", time)
        _check_client(self.client)
        _check_hash(self.prev, "prev")
        _check_hash(self.object_prev, "object_prev")

    def to_json(self) -> dict[str, str | int | None]:
        """The event's JSON object (the keys and values of the encoding, in key order)."""
        fields: dict[str, str | int | None] = {"action": self.action}
        if self.version >= 3:
            fields["actor_detail"] = None if self.actor_detail is None else self.actor_detail.hex()
        fields["actor_institution"] = self.actor.institution
        fields["actor_role"] = self.actor.role
        if self.version < 3:
            fields["actor_token"] = self.actor.token_id
            fields["client"] = self.client
        if self.version >= 2:
            fields["note"] = self.note
        return fields | {
            "object_id": self.object.id,
            "object_prev": self.object_prev.hex(),
            "object_type": self.object.type,
            "prev": self.prev.hex(),
            "time": format_ms_time(self.time),
            "v": self.version,
        }

    @classmethod
    def decode(cls, data: bytes) -> CustodyEvent:
        """Parse the canonical encoding; refuse every other byte string.

        :raises CustodyEventError: over its version's size limit, wrong prefix, not
            UTF-8 JSON, missing, unknown or duplicate keys, a wrong type or value;
            :class:`NonCanonicalCustodyEventError` if it parses but is not canonical.
        """
        version = 1
        for prefix, prefixed_version in _PREFIX_VERSIONS:
            if isinstance(data, bytes) and data.startswith(prefix):
                version = prefixed_version
        if (
            version == 1
            and isinstance(data, bytes)
            and data.startswith(_ANY_VERSION_PREFIX)
            and not data.startswith(CUSTODY_PREFIX)
        ):
            named = data.split(b"\n", 1)[0][:32]
            raise CustodyEventError(
                f"unsupported custody event version: the prefix {named!r} is none of "
                "versions " + ", ".join(map(str, CUSTODY_VERSIONS))
            )
        version_format = _FORMATS[version]
        obj = version_format.decode_fields(data)
        if type(obj["v"]) is not int or obj["v"] != version:
            raise CustodyEventError(
                f'a custody event with the prefix {version_format.prefix!r} has "v":{version}, '
                f"not {obj['v']!r:.20}"
            )
        detail = None
        if version == 4 and obj["actor_detail"] is None:
            actor = Actor(obj["actor_role"], None, obj["actor_institution"])
        elif version >= 3:
            actor = Actor(obj["actor_role"], None, obj["actor_institution"], hidden=True)
            detail = hex32(obj["actor_detail"], "actor_detail", CustodyEventError)
        else:
            actor = Actor(obj["actor_role"], obj["actor_token"], obj["actor_institution"])
        event = cls(
            action=_one_of(obj["action"], ACTIONS, "action"),
            actor=actor,
            object=CustodyObject(obj["object_type"], obj["object_id"]),
            time=parse_ms_time(obj["time"]),
            client=obj.get("client"),
            prev=hex32(obj["prev"], "prev", CustodyEventError),
            object_prev=hex32(obj["object_prev"], "object_prev", CustodyEventError),
            note=obj.get("note"),
            version=obj["v"],
            actor_detail=detail,
        )
        version_format.require_canonical(data, event.encode())
        return event

    def encode(self) -> bytes:
        """The canonical leaf data: the version's prefix followed by the canonical JSON."""
        return _FORMATS[self.version].encode(self.to_json())
