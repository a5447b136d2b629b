"""Who may do what, enforced: institutions, tokens, cases (一案一码), share codes (证据提取码).

The policy itself is the pure table in :mod:`evidence.access.policy`; :func:`authorize` is the one
place that applies it. Every other function here that acts on a document, case or share
first works out the caller's :class:`~evidence.access.policy.Relation` to it and calls
:func:`authorize`, so a route cannot reach an object without the check. Functions take the
caller's ``Session`` and never commit (like :mod:`evidence.store.repository`); records are frozen
dataclasses; input is checked against named limits (InputError), database errors are
wrapped (DuplicateRecord, StorageError).

Refusals: :class:`~evidence.errors.Unauthenticated` (401) for a bad token,
:class:`~evidence.errors.Forbidden` (403) when the caller may see the object but not do
this, :class:`~evidence.errors.NotFound` (404) — with the very message an absent object
gets — when the caller may not know it exists, :class:`~evidence.errors.Gone` (410) for a
share code revoked, expired or used up (or whose sharer was disabled or revoked since).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import unicodedata
import uuid
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from evidence.access.case_code import CASE_TYPES, CaseCode
from evidence.access.policy import (
    BUREAU_TYPE,
    INSTITUTION_TYPE_OF_ROLE,
    INSTITUTION_TYPES,
    PARTICIPANT_INSTITUTION_TYPES,
    Action,
    Denial,
    Relation,
    Role,
    decide,
    denial,
    kinds_allowed,
    may_ever,
)
from evidence.access.share_code import ShareCode
from evidence.errors import (
    Conflict,
    DuplicateRecord,
    Forbidden,
    Gone,
    InputError,
    NotFound,
    Unauthenticated,
)
from evidence.store.database import (
    MAX_ID_CHARS,
    MAX_INSTITUTION_NAME_CHARS,
    anchors_table,
    api_tokens_table,
    case_participants_table,
    cases_table,
    documents_table,
    institutions_table,
    share_codes_table,
)
from evidence.store.database import AnchorStatus as _AnchorStatus
from evidence.store.repository import (
    DocumentRecord,
    check_hash,
    check_text,
    check_time,
    document_from_row,
    get_document,
    rowcount,
    wrap_errors,
)

__all__ = [
    "DEFAULT_TOKEN_LIFETIME",
    "MAX_CASE_DOCUMENTS",
    "MAX_CASE_PARTICIPANTS",
    "MAX_CASE_TITLE_CHARS",
    "MAX_SHARE_LIFETIME",
    "MAX_SHARE_USES",
    "MIN_SHARE_LIFETIME",
    "PUBLIC",
    "TOKEN_PREFIX",
    "CaseRecord",
    "CaseView",
    "InstitutionRecord",
    "ParticipantRecord",
    "ParticipantRemoval",
    "Principal",
    "PublicCase",
    "ShareRecord",
    "TokenHolder",
    "TokenRecord",
    "add_bureau_institution",
    "add_institution",
    "add_participant",
    "add_token",
    "authenticate",
    "authorize",
    "bureau_institutions",
    "bureau_to_join",
    "bureau_tokens",
    "check_deposit",
    "create_case",
    "create_share",
    "disable_bureau_institution",
    "disable_institution",
    "find_token_by_hash",
    "get_institution",
    "get_token",
    "issue_bureau_token",
    "issue_token",
    "list_institutions",
    "list_tokens",
    "new_token",
    "own_institution",
    "own_token",
    "own_tokens",
    "parse_case_code",
    "public_case",
    "read_case",
    "redeem_share",
    "remove_participant",
    "require_role",
    "revoke_bureau_token",
    "revoke_share",
    "revoke_token",
    "shared_case_documents",
    "shared_document",
    "sole_bureau",
    "token_hash",
    "visible_case",
    "visible_document",
]

TOKEN_PREFIX = "zl_"
"""Prefix that makes a Zhenglian token recognisable (e.g. by secret scanners)."""

TOKEN_BYTES = 32
"""Random bytes in a token (256 bits)."""

MAX_TOKEN_CHARS = 128
"""Longest bearer token looked at."""

MAX_TOKEN_LIFETIME = timedelta(days=3650)
"""Longest validity a new token can be given."""

DEFAULT_TOKEN_LIFETIME = timedelta(days=365)
"""Validity of a new token when none is asked for: every token expires."""

MAX_CASE_TITLE_CHARS = 500
"""Longest case title."""

MAX_CASE_DOCUMENTS = 1000
"""Most documents one case listing returns (oldest first)."""

MAX_CASE_PARTICIPANTS = 100
"""Most institutions one case can be shared with."""

CASE_CODE_ATTEMPTS = 8
"""Fresh random codes tried before giving up (a repeat among 2³⁰ codes is already rare)."""

MIN_SHARE_LIFETIME = timedelta(minutes=1)
"""Shortest validity of a share code."""

MAX_SHARE_LIFETIME = timedelta(days=90)
"""Longest validity of a share code."""

MAX_SHARE_USES = 1000
"""Largest fetch count a share code can allow."""

_NO_DOCUMENT = "no such document"
_NO_CASE = "no such case"
_NO_SHARE = "no such share code for your institution"


def _values(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in fields(record)}


# --- Tokens and identities ----------------------------------------------------------------


def new_token() -> str:
    """A fresh bearer token (shown once; only :func:`token_hash` of it is stored)."""
    raw = secrets.token_bytes(TOKEN_BYTES)
    return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: from the authenticated token (or nobody: :data:`PUBLIC`)."""

    role: Role
    token_id: str | None = None
    institution_id: str | None = None
    institution: str | None = None
    """The institution's name (what deposits and log entries carry)."""
    institution_type: str | None = None

    def holder(self) -> TokenHolder:
        """The token, institution id and name behind an authenticated caller (every role but
        ``public`` has them); Unauthenticated for the public."""
        if self.token_id is None or self.institution_id is None or self.institution is None:
            raise Unauthenticated("this needs a token")
        return TokenHolder(self.token_id, self.institution_id, self.institution)


@dataclass(frozen=True, slots=True)
class TokenHolder:
    token_id: str
    institution_id: str
    institution: str


PUBLIC = Principal(Role.PUBLIC)
"""The caller without a token."""


@dataclass(frozen=True, slots=True)
class InstitutionRecord:
    id: str
    name: str
    type: str
    created_at: datetime
    disabled_at: datetime | None
    bureau_id: str | None = None
    """The justice bureau whose admins manage it; None for a bureau, and for an institution
    only the operator manages."""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    token_hash: bytes
    """SHA-256 of the bearer token (the token itself is never stored)."""
    institution_id: str
    institution: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise InputError("institution name must be text")
    name = name.strip()
    if not name or len(name) > MAX_INSTITUTION_NAME_CHARS or not name.isprintable():
        raise InputError(
            f"institution name must be 1..{MAX_INSTITUTION_NAME_CHARS} printable characters"
        )
    if '"' in name or "\\" in name:
        raise InputError("institution name must not contain '\"' or '\\'")
    return unicodedata.normalize("NFKC", name)


def lookalike_key(name: str) -> str:
    """What two institution names that look alike share: NFKC (fullwidth ``Ｘ`` is ``X``),
    case folded, without spaces."""
    return "".join(unicodedata.normalize("NFKC", name).casefold().split())


def _institution(row: Any) -> InstitutionRecord:
    return InstitutionRecord(**dict(row._mapping))


@wrap_errors
def add_institution(
    session: Session,
    *,
    name: str,
    type: str,
    bureau_id: str | None = None,
    now: datetime | None = None,
) -> InstitutionRecord:
    """A new institution, managed by the admins of the bureau ``bureau_id`` (None: only by the
    operator). InputError for a bad name or type, or a bureau that is no enabled justice
    bureau (a bureau belongs to none); DuplicateRecord if the name exists."""
    name = _check_name(name)
    if type not in INSTITUTION_TYPES:
        raise InputError(f"institution type must be one of {', '.join(INSTITUTION_TYPES)}")
    check_time(now, "now", optional=True)
    if bureau_id is not None:
        if type == BUREAU_TYPE:
            raise InputError("a justice bureau belongs to no other bureau")
        bureau = get_institution(session, id=bureau_id)
        if bureau is None or bureau.type != BUREAU_TYPE or bureau.disabled_at is not None:
            raise InputError(f"no enabled justice bureau {bureau_id!r}")
    key = lookalike_key(name)
    for (existing,) in session.execute(select(institutions_table.c.name)):
        if lookalike_key(existing) == key:
            raise DuplicateRecord(
                f"institution {name!r} looks like the existing institution {existing!r}"
                if existing != name
                else f"institution {name!r} already exists"
            )
    record = InstitutionRecord(
        id=str(uuid.uuid4()),
        name=name,
        type=type,
        created_at=(now or datetime.now(UTC)).astimezone(UTC),
        disabled_at=None,
        bureau_id=bureau_id,
    )
    session.execute(insert(institutions_table).values(**_values(record)))
    return record


@wrap_errors
def sole_bureau(session: Session) -> InstitutionRecord | None:
    """The deployment's justice bureau if there is exactly one enabled, else None: the bureau
    a new institution joins when the operator names none (and migration ``0008`` used)."""
    c = institutions_table.c
    rows = session.execute(
        select(institutions_table).where(c.type == BUREAU_TYPE, c.disabled_at.is_(None)).limit(2)
    ).all()
    return _institution(rows[0]) if len(rows) == 1 else None


@wrap_errors
def bureau_to_join(
    session: Session, *, type: str, bureau: str | None = None
) -> InstitutionRecord | None:
    """The bureau a new institution of ``type`` made by the operator belongs to: the enabled
    justice bureau named ``bureau``, else the deployment's only one (:func:`sole_bureau`), else
    none — and none for a bureau itself. InputError for a name that is no enabled bureau, or
    a bureau named for a bureau."""
    if type == BUREAU_TYPE:
        if bureau is not None:
            raise InputError("a justice bureau belongs to no other bureau")
        return None
    if bureau is None:
        return sole_bureau(session)
    found = get_institution(session, name=_check_name(bureau))
    if found is None or found.type != BUREAU_TYPE or found.disabled_at is not None:
        raise InputError(f"no enabled justice bureau {bureau.strip()!r}")
    return found


@wrap_errors
def get_institution(
    session: Session, *, name: str | None = None, id: str | None = None
) -> InstitutionRecord | None:
    """The institution of this name or id (exactly one of them), or None."""
    c = institutions_table.c
    if name is not None:
        if not isinstance(name, str) or len(name.strip()) > MAX_INSTITUTION_NAME_CHARS:
            return None
        where = c.name == name.strip()
    elif id is not None:
        if not isinstance(id, str) or len(id) > MAX_ID_CHARS:
            return None
        where = c.id == id
    else:
        raise InputError("give a name or an id")
    row = session.execute(select(institutions_table).where(where)).first()
    return _institution(row) if row else None


@wrap_errors
def list_institutions(session: Session, *, bureau_id: str | None = None) -> list[InstitutionRecord]:
    """Every institution by name; with ``bureau_id``, only that bureau and its institutions."""
    c = institutions_table.c
    query = select(institutions_table).order_by(c.name)
    if bureau_id is not None:
        query = query.where(or_(c.id == bureau_id, c.bureau_id == bureau_id))
    return [_institution(row) for row in session.execute(query)]


@wrap_errors
def disable_institution(session: Session, institution_id: str, when: datetime) -> bool:
    """Disable an institution (its tokens stop working); False if absent or already disabled."""
    check_time(when, "when")
    if not isinstance(institution_id, str) or len(institution_id) > MAX_ID_CHARS:
        return False
    c = institutions_table.c
    done = session.execute(
        update(institutions_table)
        .where(c.id == institution_id, c.disabled_at.is_(None))
        .values(disabled_at=when)
    )
    return rowcount(done) == 1


_TOKEN_COLUMNS = (
    api_tokens_table.c.id,
    api_tokens_table.c.token_hash,
    api_tokens_table.c.institution_id,
    institutions_table.c.name.label("institution"),
    api_tokens_table.c.role,
    api_tokens_table.c.created_at,
    api_tokens_table.c.expires_at,
    api_tokens_table.c.revoked_at,
)
_TOKENS = select(*_TOKEN_COLUMNS).join(
    institutions_table, institutions_table.c.id == api_tokens_table.c.institution_id
)


def _token(row: Any) -> TokenRecord:
    m = dict(row._mapping)
    m["token_hash"] = bytes(m["token_hash"])
    return TokenRecord(**m)


@wrap_errors
def add_token(
    session: Session,
    *,
    id: str,
    token_hash: bytes,
    institution_id: str,
    role: str,
    created_at: datetime,
    expires_at: datetime | None = None,
) -> TokenRecord:
    """Store a token by its hash. DuplicateRecord if the id or hash is stored; NotFound if
    the institution is not."""
    check_text(id, "token id", MAX_ID_CHARS)
    check_hash(token_hash, "token_hash")
    if role not in INSTITUTION_TYPE_OF_ROLE:
        raise InputError(f"role must be one of {', '.join(INSTITUTION_TYPE_OF_ROLE)}")
    check_time(created_at, "created_at")
    check_time(expires_at, "expires_at", optional=True)
    institution = get_institution(session, id=institution_id)
    if institution is None:
        raise NotFound(f"no institution {institution_id!r}")
    session.execute(
        insert(api_tokens_table).values(
            id=id,
            token_hash=token_hash,
            institution_id=institution_id,
            role=role,
            created_at=created_at.astimezone(UTC),
            expires_at=expires_at.astimezone(UTC) if expires_at else None,
        )
    )
    return TokenRecord(
        id=id,
        token_hash=token_hash,
        institution_id=institution_id,
        institution=institution.name,
        role=role,
        created_at=created_at.astimezone(UTC),
        expires_at=expires_at.astimezone(UTC) if expires_at else None,
        revoked_at=None,
    )


def issue_token(
    session: Session,
    *,
    institution: str,
    role: str,
    expires_in: timedelta = DEFAULT_TOKEN_LIFETIME,
    create_institution: bool = False,
    bureau_id: str | None = None,
    now: datetime | None = None,
) -> tuple[str, TokenRecord, InstitutionRecord | None]:
    """Make a token for ``role`` at the institution named ``institution``.

    The institution must exist and be of the type the role belongs to
    (:data:`~evidence.access.policy.INSTITUTION_TYPE_OF_ROLE`), else InputError/NotFound; with
    ``create_institution`` a missing one is created with that type (and returned third),
    belonging to the bureau ``bureau_id`` (none for a bureau itself).
    Every token expires, ``expires_in`` after now (:data:`DEFAULT_TOKEN_LIFETIME`).
    Returns the token (shown once), its record and the institution created, if any.
    """
    if role not in INSTITUTION_TYPE_OF_ROLE:
        raise InputError(f"role must be one of {', '.join(INSTITUTION_TYPE_OF_ROLE)}")
    if not isinstance(expires_in, timedelta) or not timedelta(0) < expires_in <= MAX_TOKEN_LIFETIME:
        raise InputError(f"a token expires within {MAX_TOKEN_LIFETIME.days} days")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    name = _check_name(institution)
    wanted_type = INSTITUTION_TYPE_OF_ROLE[Role(role)]
    found = get_institution(session, name=name)
    created = None
    if found is None:
        if not create_institution:
            raise NotFound(f"no institution {name!r}")
        bureau = None if wanted_type == BUREAU_TYPE else bureau_id
        found = created = add_institution(
            session, name=name, type=wanted_type, bureau_id=bureau, now=now
        )
    if found.disabled_at is not None:
        raise InputError(f"institution {name!r} is disabled")
    if found.type != wanted_type:
        raise InputError(f"a {role} token belongs to a {wanted_type}; {name!r} is a {found.type}")
    token = new_token()
    record = add_token(
        session,
        id=str(uuid.uuid4()),
        token_hash=token_hash(token),
        institution_id=found.id,
        role=role,
        created_at=now,
        expires_at=now + expires_in,
    )
    return token, record, created


@wrap_errors
def find_token_by_hash(session: Session, hashed: bytes) -> TokenRecord | None:
    if type(hashed) is not bytes or len(hashed) != 32:
        return None
    row = session.execute(_TOKENS.where(api_tokens_table.c.token_hash == hashed)).first()
    return _token(row) if row else None


@wrap_errors
def list_tokens(
    session: Session, *, bureau_id: str | None = None, institution_id: str | None = None
) -> list[TokenRecord]:
    """Every token (revoked and expired included), oldest first; with ``bureau_id``, only the
    tokens of that bureau and of its institutions; with ``institution_id``, of that one."""
    i = institutions_table.c
    query = _TOKENS.order_by(api_tokens_table.c.created_at, api_tokens_table.c.id)
    if bureau_id is not None:
        query = query.where(or_(i.id == bureau_id, i.bureau_id == bureau_id))
    if institution_id is not None:
        query = query.where(api_tokens_table.c.institution_id == institution_id)
    return [_token(row) for row in session.execute(query)]


@wrap_errors
def get_token(session: Session, token_id: str) -> TokenRecord | None:
    """The token with this id (revoked and expired too), or None."""
    if not isinstance(token_id, str) or len(token_id) > MAX_ID_CHARS:
        return None
    row = session.execute(_TOKENS.where(api_tokens_table.c.id == token_id)).first()
    return _token(row) if row else None


@wrap_errors
def revoke_token(session: Session, token_id: str, when: datetime) -> bool:
    """Revoke an active token; False if there is no such token or it was already revoked."""
    check_time(when, "when")
    if not isinstance(token_id, str) or len(token_id) > MAX_ID_CHARS:
        return False
    done = session.execute(
        update(api_tokens_table)
        .where(api_tokens_table.c.id == token_id, api_tokens_table.c.revoked_at.is_(None))
        .values(revoked_at=when)
    )
    return rowcount(done) == 1


@wrap_errors
def authenticate(session: Session, token: str, now: datetime | None = None) -> Principal:
    """The principal of a bearer token; Unauthenticated if it is unknown, revoked, expired,
    or its institution is disabled."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise Unauthenticated("unknown or revoked token")
    now = now or datetime.now(UTC)
    query = select(
        api_tokens_table.c.id,
        api_tokens_table.c.role,
        api_tokens_table.c.expires_at,
        api_tokens_table.c.revoked_at,
        institutions_table.c.id.label("institution_id"),
        institutions_table.c.name,
        institutions_table.c.type,
        institutions_table.c.disabled_at,
    ).join(institutions_table, institutions_table.c.id == api_tokens_table.c.institution_id)
    row = session.execute(query.where(api_tokens_table.c.token_hash == token_hash(token))).first()
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("unknown or revoked token")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthenticated("token expired")
    if row.disabled_at is not None:
        raise Unauthenticated("the token's institution is disabled")
    try:
        role = Role(row.role)
    except ValueError:
        raise Unauthenticated("token of an unknown role") from None
    return Principal(
        role=role,
        token_id=row.id,
        institution_id=row.institution_id,
        institution=row.name,
        institution_type=row.type,
    )


# --- The enforcement point ----------------------------------------------------------------


def authorize(
    principal: Principal,
    action: Action,
    relation: Relation,
    *,
    missing: str = "not found",
    seeing: Action | None = None,
    kind: str | None = None,
) -> None:
    """Apply :data:`evidence.access.policy.POLICY`: return if allowed, else raise.

    Forbidden (403) if the caller may see the object (or the action has none), NotFound with
    ``missing`` — the message an absent object gets — if it may not know it exists. For an
    action that makes something of a ``kind`` (a case type, a document kind), Forbidden
    unless the role makes that kind (:data:`evidence.access.policy.KINDS_OF_ROLE`).
    """
    if decide(principal.role, action, relation):
        allowed = kinds_allowed(principal.role, action)
        if kind is not None and allowed is not None and kind not in allowed:
            raise Forbidden(
                f"role {principal.role.value!r} may {action.value} only of kind "
                f"{', '.join(sorted(allowed))}, not {kind!r}"
            )
        return
    if denial(principal.role, action, relation, seeing=seeing) is Denial.HIDDEN:
        raise NotFound(missing)
    raise Forbidden(f"role {principal.role.value!r} may not {action.value} ({relation.value})")


def require_role(principal: Principal, action: Action) -> None:
    """Forbidden unless the caller's role may do ``action`` at all (before reading a body)."""
    if not may_ever(principal.role, action):
        raise Forbidden(f"role {principal.role.value!r} may not {action.value}")


# --- Administration: a bureau's admin and the institutions of its bureau --------------------
#
# An admin's token acts for its justice bureau: it lists, creates and disables the bureau's
# institutions (the bureau itself and those linked to it, ``institutions.bureau_id``) and lists,
# issues and revokes their tokens. Anything else is reported exactly as a missing object is
# (404): an admin does not learn what other bureaus hold. The operator's ``zhenglian`` commands
# are not bound by this (they call the unscoped functions above).

_NO_INSTITUTION = "no enabled institution with this id"
_NO_TOKEN = "no active token with this id"


def _bureau_relation(principal: Principal, institution: InstitutionRecord) -> Relation:
    """``own`` if the institution is the caller's bureau or belongs to it, else ``other``."""
    bureau = principal.institution_id
    if bureau is not None and bureau in (institution.id, institution.bureau_id):
        return Relation.OWN
    return Relation.OTHER


def _bureau_of(principal: Principal) -> str:
    """The bureau an admin administers (its own institution), once the policy allows it."""
    authorize(principal, Action.ADMINISTER, Relation.NONE)
    return principal.holder().institution_id


def bureau_institutions(session: Session, principal: Principal) -> list[InstitutionRecord]:
    """The caller's bureau and the institutions that belong to it."""
    return list_institutions(session, bureau_id=_bureau_of(principal))


def bureau_tokens(session: Session, principal: Principal) -> list[TokenRecord]:
    """The tokens of the caller's bureau and of its institutions (never the tokens themselves)."""
    return list_tokens(session, bureau_id=_bureau_of(principal))


def add_bureau_institution(
    session: Session, principal: Principal, *, name: str, type: str
) -> InstitutionRecord:
    """A new institution of the caller's bureau. Forbidden for a justice bureau: bureaus are
    made by the operator (``zhenglian institutions create``), each its own admins' domain."""
    bureau = _bureau_of(principal)
    if type == BUREAU_TYPE:
        raise Forbidden(
            "a justice bureau is created by the operator (`zhenglian institutions create` on the "
            "server), not by another bureau's admin"
        )
    return add_institution(session, name=name, type=type, bureau_id=bureau)


def disable_bureau_institution(
    session: Session, principal: Principal, institution_id: str, when: datetime
) -> InstitutionRecord:
    """Disable an enabled institution of the caller's bureau (its tokens stop working);
    NotFound — as for no institution at all — for one disabled already or of another bureau."""
    _bureau_of(principal)
    found = get_institution(session, id=institution_id)
    if found is None or found.disabled_at is not None:
        raise NotFound(_NO_INSTITUTION)
    authorize(
        principal, Action.ADMINISTER, _bureau_relation(principal, found), missing=_NO_INSTITUTION
    )
    if not disable_institution(session, found.id, when):
        raise NotFound(_NO_INSTITUTION)
    return found


def issue_bureau_token(
    session: Session,
    principal: Principal,
    *,
    institution: str,
    role: str,
    expires_in: timedelta = DEFAULT_TOKEN_LIFETIME,
    now: datetime | None = None,
) -> tuple[str, TokenRecord]:
    """:func:`issue_token` for an existing institution of the caller's bureau (never creating
    one); NotFound with the very message of a missing institution for another bureau's."""
    _bureau_of(principal)
    name = _check_name(institution)
    found = get_institution(session, name=name)
    missing = f"no institution {name!r}"
    if found is None:
        raise NotFound(missing)
    authorize(principal, Action.ADMINISTER, _bureau_relation(principal, found), missing=missing)
    token, record, _ = issue_token(
        session, institution=found.name, role=role, expires_in=expires_in, now=now
    )
    return token, record


def revoke_bureau_token(
    session: Session, principal: Principal, token_id: str, when: datetime
) -> TokenRecord:
    """Revoke an active token of the caller's bureau or of one of its institutions; NotFound
    — as for no token at all — for one revoked already or of another bureau."""
    _bureau_of(principal)
    found = get_token(session, token_id)
    if found is None or found.revoked_at is not None:
        raise NotFound(_NO_TOKEN)
    owner = get_institution(session, id=found.institution_id)
    relation = Relation.OTHER if owner is None else _bureau_relation(principal, owner)
    authorize(principal, Action.ADMINISTER, relation, missing=_NO_TOKEN)
    if not revoke_token(session, found.id, when):
        raise NotFound(_NO_TOKEN)
    return found


# --- An institution's own record ------------------------------------------------------------
#
# Every token holder sees its own institution's tokens — those an admin or the operator issued
# for it too — and, through the custody log, who issued and revoked each of them.

_NO_OWN_TOKEN = "no such token of your institution"


def own_institution(session: Session, principal: Principal) -> InstitutionRecord:
    """The caller's institution."""
    authorize(principal, Action.INSTITUTION_READ, Relation.OWN)
    found = get_institution(session, id=principal.holder().institution_id)
    if found is None:  # authenticated a moment ago: only a database edited behind our back
        raise NotFound("no such institution")
    return found


def own_tokens(session: Session, principal: Principal) -> list[TokenRecord]:
    """Every token of the caller's institution (revoked and expired too), oldest first."""
    authorize(principal, Action.INSTITUTION_READ, Relation.OWN)
    return list_tokens(session, institution_id=principal.holder().institution_id)


def own_token(session: Session, principal: Principal, token_id: str) -> TokenRecord:
    """A token of the caller's institution; the 404 of a missing token for any other."""
    found = get_token(session, token_id)
    if found is None:
        raise NotFound(_NO_OWN_TOKEN)
    relation = Relation.OWN if found.institution_id == principal.institution_id else Relation.OTHER
    authorize(principal, Action.INSTITUTION_READ, relation, missing=_NO_OWN_TOKEN)
    return found


# --- Cases -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseRecord:
    code: str
    type: str
    title: str
    institution_id: str
    institution: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class ParticipantRecord:
    institution_id: str
    institution: str
    type: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case as one caller sees it: only the documents it may read."""

    case: CaseRecord
    participants: tuple[ParticipantRecord, ...]
    documents: tuple[DocumentRecord, ...]
    relation: Relation


_CASES = select(
    cases_table.c.code,
    cases_table.c.type,
    cases_table.c.title,
    cases_table.c.institution_id,
    institutions_table.c.name.label("institution"),
    cases_table.c.created_at,
    cases_table.c.created_by,
).join(institutions_table, institutions_table.c.id == cases_table.c.institution_id)


def parse_case_code(text: str) -> str:
    """The canonical form of a typed case code; CaseCodeError (InputError) before any lookup."""
    return str(CaseCode.parse(text))


@wrap_errors
def _get_case(session: Session, code: str) -> CaseRecord | None:
    row = session.execute(_CASES.where(cases_table.c.code == code)).first()
    return CaseRecord(**dict(row._mapping)) if row else None


@wrap_errors
def _participants(session: Session, code: str) -> list[ParticipantRecord]:
    c, i = case_participants_table.c, institutions_table.c
    query = (
        select(c.institution_id, i.name.label("institution"), i.type, c.added_at)
        .join(institutions_table, i.id == c.institution_id)
        .where(c.case_code == code)
        .order_by(c.added_at, i.name)
    )
    return [ParticipantRecord(**dict(row._mapping)) for row in session.execute(query)]


@wrap_errors
def _is_participant(session: Session, code: str, institution_id: str | None) -> bool:
    if institution_id is None:
        return False
    c = case_participants_table.c
    row = session.execute(
        select(c.case_code).where(c.case_code == code, c.institution_id == institution_id)
    ).first()
    return row is not None


def _case_relation(session: Session, principal: Principal, case: CaseRecord) -> Relation:
    if principal.institution_id is None:
        return Relation.OTHER
    if case.institution_id == principal.institution_id:
        return Relation.OWN
    if _is_participant(session, case.code, principal.institution_id):
        return Relation.PARTICIPANT
    return Relation.OTHER


def _document_relation(session: Session, principal: Principal, record: DocumentRecord) -> Relation:
    if principal.institution is None:
        return Relation.OTHER
    if record.institution == principal.institution:
        return Relation.OWN
    if record.case_code is not None:
        case = _get_case(session, record.case_code)
        if case is not None and _case_relation(session, principal, case) is not Relation.OTHER:
            return Relation.PARTICIPANT
    return Relation.OTHER


@wrap_errors
def _code_in_documents(session: Session, code: str) -> bool:
    """Whether a document already carries ``code`` (deposited before cases were checked,
    when any text was accepted): a new case never takes such a code, or its participants
    would see those documents."""
    found = session.execute(
        select(documents_table.c.id).where(documents_table.c.case_code == code).limit(1)
    ).first()
    return found is not None


def _check_title(title: object) -> str:
    if not isinstance(title, str):
        raise InputError("title must be text")
    title = title.strip()
    if not title or len(title) > MAX_CASE_TITLE_CHARS or not title.isprintable():
        raise InputError(f"title must be 1..{MAX_CASE_TITLE_CHARS} printable characters")
    return title


@wrap_errors
def create_case(
    session: Session,
    principal: Principal,
    *,
    case_type: str,
    title: str,
    now: datetime | None = None,
) -> CaseRecord:
    """Open a case owned by the caller's institution, under a fresh code."""
    if case_type not in CASE_TYPES:
        authorize(principal, Action.CASE_CREATE, Relation.NONE)
        raise InputError(f"case type must be one of {', '.join(CASE_TYPES)}")
    authorize(principal, Action.CASE_CREATE, Relation.NONE, kind=case_type)
    title = _check_title(title)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    holder = principal.holder()
    for _ in range(CASE_CODE_ATTEMPTS):
        code = str(CaseCode.new(case_type, now.year))
        if _get_case(session, code) is None and not _code_in_documents(session, code):
            break
    else:
        raise DuplicateRecord("no free case code found; try again")
    session.execute(
        insert(cases_table).values(
            code=code,
            type=case_type,
            title=title,
            institution_id=holder.institution_id,
            created_at=now,
            created_by=holder.token_id,
        )
    )
    return CaseRecord(
        code=code,
        type=case_type,
        title=title,
        institution_id=holder.institution_id,
        institution=holder.institution,
        created_at=now,
        created_by=holder.token_id,
    )


def _case_for(
    session: Session, principal: Principal, code: str, action: Action, kind: str | None = None
) -> CaseRecord:
    canonical = parse_case_code(code)
    case = _get_case(session, canonical)
    if case is None:
        raise NotFound(_NO_CASE)
    relation = _case_relation(session, principal, case)
    authorize(principal, action, relation, missing=_NO_CASE, kind=kind)
    return case


@wrap_errors
def _case_documents(session: Session, code: str) -> list[DocumentRecord]:
    query = (
        select(documents_table)
        .where(documents_table.c.case_code == code)
        .order_by(documents_table.c.leaf_index)
        .limit(MAX_CASE_DOCUMENTS)
    )
    return [document_from_row(row) for row in session.execute(query)]


def read_case(session: Session, principal: Principal, code: str) -> CaseView:
    """The case, its participants and the documents in it that the caller may read."""
    case = _case_for(session, principal, code, Action.CASE_READ)
    relation = _case_relation(session, principal, case)

    def document_relation(d: DocumentRecord) -> Relation:
        # As _document_relation, without a query per document: the caller reads the case,
        # so a document of it that is not its own is one of a case it takes part in.
        return Relation.OWN if d.institution == principal.institution else Relation.PARTICIPANT

    documents = tuple(
        d
        for d in _case_documents(session, case.code)
        if decide(principal.role, Action.DOCUMENT_READ, document_relation(d))
    )
    return CaseView(case, tuple(_participants(session, case.code)), documents, relation)


def visible_case(session: Session, principal: Principal, code: str) -> CaseRecord:
    """The case, if the caller may read it (its QR code and its custody are part of reading
    it); the very 404 of a missing case otherwise."""
    return _case_for(session, principal, code, Action.CASE_READ)


@wrap_errors
def add_participant(
    session: Session,
    principal: Principal,
    *,
    code: str,
    institution: str,
    now: datetime | None = None,
) -> ParticipantRecord:
    """Share a case with a law firm or court (by the case's owning institution)."""
    case = _case_for(session, principal, code, Action.CASE_ADD_PARTICIPANT)
    other = get_institution(session, name=_check_name(institution))
    if other is None:
        raise InputError(f"no institution {institution.strip()!r}")
    if other.disabled_at is not None:
        raise InputError(f"institution {other.name!r} is disabled")
    if other.type not in PARTICIPANT_INSTITUTION_TYPES:
        raise InputError(
            f"only a {' or '.join(sorted(PARTICIPANT_INSTITUTION_TYPES))} can be added; "
            f"{other.name!r} is a {other.type}"
        )
    now = (now or datetime.now(UTC)).astimezone(UTC)
    count = session.execute(
        select(func.count())
        .select_from(case_participants_table)
        .where(case_participants_table.c.case_code == case.code)
    ).scalar_one()
    if count >= MAX_CASE_PARTICIPANTS:
        raise InputError(f"a case has at most {MAX_CASE_PARTICIPANTS} participants")
    if _is_participant(session, case.code, other.id):
        raise DuplicateRecord(f"{other.name!r} already participates in {case.code}")
    session.execute(
        insert(case_participants_table).values(
            case_code=case.code,
            institution_id=other.id,
            added_at=now,
            added_by=principal.holder().token_id,
        )
    )
    return ParticipantRecord(other.id, other.name, other.type, now)


_NO_PARTICIPANT = "no such participant of this case"


@dataclass(frozen=True, slots=True)
class ParticipantRemoval:
    """A participant taken off a case, and the share codes for the case it held that ended
    with it (each to be recorded as revoked)."""

    participant: ParticipantRecord
    removed_at: datetime
    revoked_shares: tuple[ShareRecord, ...]


def _find_institution(session: Session, institution: str) -> InstitutionRecord | None:
    """The institution an id or a name (as :func:`add_participant` takes it) names, or None."""
    found = get_institution(session, id=institution)
    if found is None and isinstance(institution, str):
        name = unicodedata.normalize("NFKC", institution.strip())
        found = get_institution(session, name=name) if name else None
    return found


@wrap_errors
def remove_participant(
    session: Session,
    principal: Principal,
    *,
    code: str,
    institution: str,
    now: datetime | None = None,
) -> ParticipantRemoval:
    """Take a law firm or court (by id or name) off a case (by the case's owning institution).

    From the commit on, its tokens see neither the case nor its documents, and every share
    code still usable that names it as recipient for the case or for a document in the case
    is revoked with it (a grant of the case's evidence to the removed party). NotFound — one
    message for an unknown institution and for one that does not take part — if it is not a
    participant; Conflict for the case's owner, which is no participant and cannot leave its
    own case.
    """
    case = _case_for(session, principal, code, Action.CASE_REMOVE_PARTICIPANT)
    other = _find_institution(session, institution)
    if other is not None and other.id == case.institution_id:
        raise Conflict(f"{other.name!r} owns {case.code}; the owner cannot be removed from it")
    if other is None or not _is_participant(session, case.code, other.id):
        raise NotFound(_NO_PARTICIPANT)
    participant = next(p for p in _participants(session, case.code) if p.institution_id == other.id)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    c = case_participants_table.c
    session.execute(
        delete(case_participants_table).where(
            c.case_code == case.code, c.institution_id == other.id
        )
    )
    s = share_codes_table.c
    in_case = select(documents_table.c.id).where(documents_table.c.case_code == case.code)
    usable = (
        s.recipient_id == other.id,
        or_(s.case_code == case.code, s.document_id.in_(in_case)),
        s.revoked_at.is_(None),
        s.expires_at > now,
        s.uses < s.max_uses,
    )
    shares = tuple(
        ShareRecord(**dict(row._mapping))
        for row in session.execute(_SHARES.where(*usable).order_by(s.created_at, s.id))
    )
    if shares:
        session.execute(
            update(share_codes_table)
            .where(s.id.in_([share.id for share in shares]), s.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return ParticipantRemoval(participant, now, shares)


def check_deposit(
    session: Session, principal: Principal, kind: str, case_code: str | None
) -> str | None:
    """Check that the caller may deposit a document of ``kind`` (into ``case_code``, if
    given): the canonical code."""
    if case_code is None:
        authorize(principal, Action.DEPOSIT, Relation.NONE, kind=kind)
        return None
    case = _case_for(session, principal, case_code, Action.DEPOSIT, kind=kind)
    return case.code


@dataclass(frozen=True, slots=True)
class PublicCase:
    """What anyone may learn from a case code (its QR code): nothing confidential."""

    code: str
    type: str
    institution: str
    created_at: datetime
    documents: int
    anchored: int
    """Documents whose log entries are anchored on chain."""


@wrap_errors
def public_case(session: Session, code: str) -> PublicCase:
    """The public face of a case; CaseCodeError for a malformed code, NotFound if none."""
    case = _get_case(session, parse_case_code(code))
    if case is None:
        raise NotFound(_NO_CASE)
    anchored_size = session.execute(
        select(func.max(anchors_table.c.tree_size)).where(
            anchors_table.c.status == _AnchorStatus.CONFIRMED.value
        )
    ).scalar_one_or_none()
    d = documents_table.c
    total = session.execute(
        select(func.count()).select_from(documents_table).where(d.case_code == case.code)
    ).scalar_one()
    anchored = session.execute(
        select(func.count())
        .select_from(documents_table)
        .where(d.case_code == case.code, d.leaf_index < (anchored_size or 0))
    ).scalar_one()
    return PublicCase(
        case.code, case.type, case.institution, case.created_at, int(total), int(anchored)
    )


# --- Documents -------------------------------------------------------------------------------


def visible_document(
    session: Session, principal: Principal, document_id: str, action: Action
) -> DocumentRecord:
    """The document if the caller may do ``action`` to it; a refusal as described above."""
    record = get_document(session, document_id)
    if record is None:
        raise NotFound(_NO_DOCUMENT)
    relation = _document_relation(session, principal, record)
    authorize(principal, action, relation, missing=_NO_DOCUMENT)
    return record


# --- Share codes -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShareRecord:
    id: str
    document_id: str | None
    case_code: str | None
    institution_id: str
    recipient_id: str
    recipient: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    max_uses: int
    uses: int
    revoked_at: datetime | None


_SHARES = select(
    share_codes_table.c.id,
    share_codes_table.c.document_id,
    share_codes_table.c.case_code,
    share_codes_table.c.institution_id,
    share_codes_table.c.recipient_id,
    institutions_table.c.name.label("recipient"),
    share_codes_table.c.created_by,
    share_codes_table.c.created_at,
    share_codes_table.c.expires_at,
    share_codes_table.c.max_uses,
    share_codes_table.c.uses,
    share_codes_table.c.revoked_at,
).join(institutions_table, institutions_table.c.id == share_codes_table.c.recipient_id)


def _share_by_code(session: Session, code: ShareCode) -> ShareRecord | None:
    row = session.execute(_SHARES.where(share_codes_table.c.code_hash == code.digest())).first()
    return ShareRecord(**dict(row._mapping)) if row else None


@wrap_errors
def create_share(
    session: Session,
    principal: Principal,
    *,
    recipient: str,
    expires_in: timedelta,
    max_uses: int,
    document_id: str | None = None,
    case_code: str | None = None,
    now: datetime | None = None,
) -> tuple[ShareCode, ShareRecord]:
    """A share code for one document or one case, for the institution named ``recipient``."""
    if (document_id is None) == (case_code is None):
        raise InputError("share either a document_id or a case_code")
    if not MIN_SHARE_LIFETIME <= expires_in <= MAX_SHARE_LIFETIME:
        raise InputError(
            f"a share code lives {int(MIN_SHARE_LIFETIME.total_seconds())} s "
            f"to {MAX_SHARE_LIFETIME.days} days"
        )
    if type(max_uses) is not int or not 1 <= max_uses <= MAX_SHARE_USES:
        raise InputError(f"max_uses must be 1..{MAX_SHARE_USES}")
    if document_id is not None:
        document_id = visible_document(session, principal, document_id, Action.SHARE_CREATE).id
    elif case_code is not None:
        case = _get_case(session, parse_case_code(case_code))
        if case is None:
            raise NotFound(_NO_CASE)
        authorize(
            principal,
            Action.SHARE_CREATE,
            _case_relation(session, principal, case),
            missing=_NO_CASE,
            seeing=Action.CASE_READ,
        )
        case_code = case.code
    party = get_institution(session, name=_check_name(recipient))
    if party is None:
        raise InputError(f"no institution {recipient.strip()!r}")
    if party.disabled_at is not None:
        raise InputError(f"institution {party.name!r} is disabled")
    holder = principal.holder()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    code = ShareCode.new()
    record = ShareRecord(
        id=str(uuid.uuid4()),
        document_id=document_id,
        case_code=case_code,
        institution_id=holder.institution_id,
        recipient_id=party.id,
        recipient=party.name,
        created_by=holder.token_id,
        created_at=now,
        expires_at=now + expires_in,
        max_uses=max_uses,
        uses=0,
        revoked_at=None,
    )
    values = {k: v for k, v in _values(record).items() if k != "recipient"}
    session.execute(insert(share_codes_table).values(code_hash=code.digest(), **values))
    return code, record


@wrap_errors
def revoke_share(
    session: Session, principal: Principal, code: str, now: datetime | None = None
) -> ShareRecord:
    """Revoke a share code (by the institution that created it). Revoking twice is fine."""
    parsed = ShareCode.parse(code)
    share = _share_by_code(session, parsed)
    if share is None:
        raise NotFound(_NO_SHARE)
    relation = Relation.OWN if share.institution_id == principal.institution_id else Relation.OTHER
    authorize(principal, Action.SHARE_REVOKE, relation, missing=_NO_SHARE)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    session.execute(
        update(share_codes_table)
        .where(share_codes_table.c.id == share.id, share_codes_table.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return share


def _gone_reason(share: ShareRecord, now: datetime) -> str | None:
    if share.revoked_at is not None:
        return "this share code was revoked"
    if share.expires_at <= now:
        return f"this share code expired at {share.expires_at:%Y-%m-%dT%H:%M:%SZ}"
    if share.uses >= share.max_uses:
        return f"this share code was used {share.max_uses} times, its limit"
    return None


def _sharer_gone(session: Session, share: ShareRecord) -> str | None:
    """Why the share's authority has lapsed at its source: a share code acts for the
    institution and token that created it, so it dies with them (disabled / revoked)."""
    sharer = get_institution(session, id=share.institution_id)
    if sharer is None or sharer.disabled_at is not None:
        return "the institution that shared this is disabled"
    t = api_tokens_table.c
    revoked = session.execute(select(t.revoked_at).where(t.id == share.created_by)).scalar()
    if revoked is not None:
        return "the token that created this share code was revoked"
    return None


@wrap_errors
def redeem_share(
    session: Session,
    principal: Principal,
    code: str,
    *,
    consume: bool,
    now: datetime | None = None,
) -> ShareRecord:
    """The share behind ``code`` if the caller is its recipient and it is still usable.

    With ``consume`` one use is counted atomically (``UPDATE ... WHERE uses < max_uses``):
    however many fetch at once, no more than ``max_uses`` succeed. The caller commits.
    Gone (410) when revoked, expired or used up; NotFound for anyone but the recipient.
    """
    parsed = ShareCode.parse(code)
    share = _share_by_code(session, parsed)
    if share is None:
        raise NotFound(_NO_SHARE)
    relation = Relation.OWN if share.recipient_id == principal.institution_id else Relation.OTHER
    authorize(principal, Action.SHARE_REDEEM, relation, missing=_NO_SHARE)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    reason = _gone_reason(share, now) or _sharer_gone(session, share)
    if reason:
        raise Gone(reason)
    if not consume:
        return share
    s = share_codes_table.c
    done = session.execute(
        update(share_codes_table)
        .where(s.id == share.id, s.uses < s.max_uses, s.revoked_at.is_(None), s.expires_at > now)
        .values(uses=s.uses + 1)
    )
    if rowcount(done) != 1:
        again = _share_by_code(session, parsed)
        raise Gone((again and _gone_reason(again, now)) or "this share code is used up")
    return ShareRecord(**{**_values(share), "uses": share.uses + 1})


def shared_document(
    session: Session, share: ShareRecord, document_id: str | None
) -> DocumentRecord:
    """The document a (redeemed) share gives: its document, or one in its case (a document
    share named with another document's id gives nothing)."""
    if share.case_code is None and document_id not in (None, share.document_id):
        raise NotFound(_NO_DOCUMENT)
    wanted = share.document_id if share.case_code is None else document_id
    if wanted is None:
        raise InputError("name the document of the shared case to fetch")
    record = get_document(session, wanted)
    if record is None or (record.id != share.document_id and record.case_code != share.case_code):
        raise NotFound(_NO_DOCUMENT)
    return record


@wrap_errors
def shared_case_documents(session: Session, share: ShareRecord) -> list[DocumentRecord]:
    """The documents a share gives access to."""
    if share.case_code is not None:
        return _case_documents(session, share.case_code)
    record = get_document(session, share.document_id or "")
    return [record] if record else []
