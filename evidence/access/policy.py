"""Who may do what: the one authorisation table (role × action × relation to the object).

**Pure** (standard library only). The table :data:`POLICY` is the whole policy; it is
enforced in one place, :func:`evidence.access.enforcement.authorize`, which works out the caller's
:class:`Relation` to the document, case or share from the database and asks :func:`decide`.
``docs/access.md`` shows the table rendered by :func:`render_markdown`.

Relations, always between the caller's *institution* and the object:

* ``own`` — the institution deposited the document / owns the case / created the share, or
  (for fetching by share code) is the share's named recipient; for administration, the
  institution (or the token's institution) is the caller's justice bureau or belongs to it;
  for an institution's own record, the token is one of the caller's institution;
* ``participant`` — the document belongs to a case the institution owns or was added to
  (law firms and courts are added by the owning institution);
* ``other`` — the object exists and is none of the above;
* ``none`` — the action is not about an existing object (create a case, deposit outside
  any case, list or create institutions and tokens, verify).

For e-certificates (电子证照) ``own`` means the certificate's issuer is the caller's
institution: its name and type are those the certificate names as its issuer (which the
issuer's signing certificate names too). Certificates are public (anyone reads the public,
masked view), so refusing an action on one never hides that it exists: 403, never 404.

A denial of an action on an object the caller may not even *see* is reported like a missing
object (404), so nobody learns from a refusal that a document or case exists; a denial on an
object the caller may see is a 403 (see :func:`denial`).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final

__all__ = [
    "BUREAU_TYPE",
    "CASE_TYPES_OF_ROLE",
    "CERTIFICATE_TYPES_OF_ROLE",
    "DOCUMENT_KINDS_OF_ROLE",
    "INSTITUTION_TYPES",
    "INSTITUTION_TYPE_OF_ROLE",
    "KINDS_OF_ROLE",
    "POLICY",
    "ROLES",
    "Action",
    "Denial",
    "Relation",
    "Role",
    "decide",
    "denial",
    "kinds_allowed",
    "may_ever",
    "render_markdown",
]


class Role(StrEnum):
    ADMIN = "admin"
    """Administers institutions and tokens (司法局); sees no evidence."""
    NOTARY = "notary"
    FORENSIC = "forensic"
    LEGAL_AID = "legal_aid"
    COURT = "court"
    LAWYER = "lawyer"
    BUREAU_REGISTRAR = "bureau_registrar"
    """The justice bureau's practising-certificate office (执业证管理): registers and revokes
    the certificates its bureau issues (律师执业证 only by this role); sees no evidence and
    administers nothing. An admin of the bureau makes its tokens."""
    PUBLIC = "public"
    """Anyone without a token."""


ROLES: Final = tuple(Role)
"""Every role, in documentation order."""

INSTITUTION_TYPES: Final = (
    "notary_office",
    "forensic_institution",
    "legal_aid_centre",
    "court",
    "law_firm",
    "justice_bureau",
)
"""公证处, 司法鉴定机构, 法律援助中心, 法院, 律师事务所, 司法局."""

INSTITUTION_TYPE_OF_ROLE: Final[dict[Role, str]] = {
    Role.ADMIN: "justice_bureau",
    Role.NOTARY: "notary_office",
    Role.FORENSIC: "forensic_institution",
    Role.LEGAL_AID: "legal_aid_centre",
    Role.COURT: "court",
    Role.LAWYER: "law_firm",
    Role.BUREAU_REGISTRAR: "justice_bureau",
}
"""The only institution type a token of each role can belong to."""

BUREAU_TYPE: Final = "justice_bureau"
"""A justice bureau (司法局): its admins manage the institutions that belong to it."""

CASE_TYPES_OF_ROLE: Final[dict[Role, frozenset[str]]] = {
    Role.NOTARY: frozenset({"notary", "arbitration", "litigation"}),
    Role.FORENSIC: frozenset({"forensic", "arbitration", "litigation"}),
    Role.LEGAL_AID: frozenset({"legal_aid", "arbitration", "litigation"}),
}
"""Case types each depositing role opens (its own kind, and evidence for a dispute)."""

DOCUMENT_KINDS_OF_ROLE: Final[dict[Role, frozenset[str]]] = {
    Role.NOTARY: frozenset({"notary", "other"}),
    Role.FORENSIC: frozenset({"forensic", "other"}),
    Role.LEGAL_AID: frozenset({"legal_aid", "other"}),
}
"""Document kinds each depositing role deposits (its own kind, and ``other``)."""

CERTIFICATE_TYPES_OF_ROLE: Final[dict[Role, frozenset[str]]] = {
    Role.NOTARY: frozenset({"notarial_certificate"}),
    Role.FORENSIC: frozenset({"forensic_opinion"}),
    Role.LEGAL_AID: frozenset({"legal_aid_decision"}),
    Role.BUREAU_REGISTRAR: frozenset({"legal_aid_decision", "lawyer_practising_certificate"}),
}
"""E-certificate types (``evidence.formats.e_certificate_catalogue`` keys) each role registers
and revokes for its institution: the types its institution type issues; a 律师执业证 only
through the bureau's registrar role, never ``admin``."""

PARTICIPANT_INSTITUTION_TYPES: Final = frozenset({"law_firm", "court"})
"""Institutions a case owner may add to a case."""


class Action(StrEnum):
    DEPOSIT = "deposit"
    DOCUMENT_READ = "document.read"
    """Metadata, status and receipt."""
    DOCUMENT_CONTENT = "document.content"
    """The original bytes."""
    DOCUMENT_SIGNATURE = "document.signature"
    """The signature kept with the original and its signer's certificate (as the original)."""
    CASE_CREATE = "case.create"
    CASE_READ = "case.read"
    """The case, the documents in it the caller may see, its QR code."""
    CASE_ADD_PARTICIPANT = "case.add_participant"
    CASE_REMOVE_PARTICIPANT = "case.remove_participant"
    """Take a law firm or court off the case (its share codes for the case end too)."""
    SHARE_CREATE = "share.create"
    SHARE_REVOKE = "share.revoke"
    SHARE_REDEEM = "share.redeem"
    ADMINISTER = "admin"
    """Institutions and tokens: list and create (``none``), disable and revoke those of the
    caller's bureau (``own``)."""
    INSTITUTION_READ = "institution.read"
    """The caller's own institution: its tokens, and the chain of custody of it and of each of
    its tokens (who made them: an admin's actions on an institution are on its record)."""
    VERIFY = "verify"
    """Verify a document, see a case's public page, read the log and chain."""
    CERTIFICATE_REGISTER = "certificate.register"
    """Register an e-certificate the caller's institution issued and signed (``own``)."""
    CERTIFICATE_READ = "certificate.read"
    """The full view of a registered certificate (the holder's ID number and address
    unmasked); everyone gets the public view without a token."""
    CERTIFICATE_REVOKE = "certificate.revoke"
    """Revoke (or supersede) a registered certificate with the issuer's signed statement."""


class Relation(StrEnum):
    OWN = "own"
    PARTICIPANT = "participant"
    OTHER = "other"
    NONE = "none"


_O, _P, _N = Relation.OWN, Relation.PARTICIPANT, Relation.NONE
_OP = frozenset({_O, _P})

_DEPOSITOR: Final[dict[Action, frozenset[Relation]]] = {
    Action.DEPOSIT: frozenset({_N, _O}),
    Action.DOCUMENT_READ: _OP,
    Action.DOCUMENT_CONTENT: _OP,
    Action.DOCUMENT_SIGNATURE: _OP,
    Action.CASE_CREATE: frozenset({_N}),
    Action.CASE_READ: _OP,
    Action.CASE_ADD_PARTICIPANT: frozenset({_O}),
    Action.CASE_REMOVE_PARTICIPANT: frozenset({_O}),
    Action.SHARE_CREATE: _OP,
    Action.SHARE_REVOKE: frozenset({_O}),
    Action.SHARE_REDEEM: frozenset({_O}),
    Action.INSTITUTION_READ: frozenset({_O}),
    Action.VERIFY: frozenset({_N}),
}
_RECEIVER: Final[dict[Action, frozenset[Relation]]] = {
    Action.DOCUMENT_READ: frozenset({_P}),
    Action.DOCUMENT_CONTENT: frozenset({_P}),
    Action.DOCUMENT_SIGNATURE: frozenset({_P}),
    Action.CASE_READ: frozenset({_P}),
    Action.SHARE_REDEEM: frozenset({_O}),
    Action.INSTITUTION_READ: frozenset({_O}),
    Action.VERIFY: frozenset({_N}),
}

_ISSUER: Final[dict[Action, frozenset[Relation]]] = {
    Action.CERTIFICATE_REGISTER: frozenset({_O}),
    Action.CERTIFICATE_READ: frozenset({_O}),
    Action.CERTIFICATE_REVOKE: frozenset({_O}),
}
"""An issuing institution's rights over the certificates it issued (``own``)."""

POLICY: Final[dict[Role, dict[Action, frozenset[Relation]]]] = {
    Role.ADMIN: {
        Action.ADMINISTER: frozenset({_N, _O}),
        Action.INSTITUTION_READ: frozenset({_O}),
        Action.VERIFY: frozenset({_N}),
    },
    Role.NOTARY: _DEPOSITOR | _ISSUER,
    Role.FORENSIC: _DEPOSITOR | _ISSUER,
    Role.LEGAL_AID: _DEPOSITOR | _ISSUER,
    Role.COURT: _RECEIVER,
    Role.LAWYER: _RECEIVER,
    Role.BUREAU_REGISTRAR: {
        **_ISSUER,
        Action.INSTITUTION_READ: frozenset({_O}),
        Action.VERIFY: frozenset({_N}),
    },
    Role.PUBLIC: {Action.VERIFY: frozenset({_N})},
}
"""For each role and action, the relations under which it is allowed. Absent means never."""

#: For an action on an object, the action whose refusal means "may not know it exists".
_SEEING: Final[dict[Action, Action]] = {
    Action.DOCUMENT_READ: Action.DOCUMENT_READ,
    Action.DOCUMENT_CONTENT: Action.DOCUMENT_READ,
    Action.DOCUMENT_SIGNATURE: Action.DOCUMENT_READ,
    Action.SHARE_CREATE: Action.DOCUMENT_READ,
    Action.DEPOSIT: Action.CASE_READ,
    Action.CASE_READ: Action.CASE_READ,
    Action.CASE_ADD_PARTICIPANT: Action.CASE_READ,
    Action.CASE_REMOVE_PARTICIPANT: Action.CASE_READ,
    Action.SHARE_REVOKE: Action.SHARE_REVOKE,
    Action.SHARE_REDEEM: Action.SHARE_REDEEM,
}

#: Actions on objects everyone may know exist (registered certificates are public): a refusal
#: is always a 403.
_ON_PUBLIC_OBJECTS: Final = frozenset(
    {Action.CERTIFICATE_REGISTER, Action.CERTIFICATE_READ, Action.CERTIFICATE_REVOKE}
)


#: For actions that make something of a kind, the kinds each role may make.
KINDS_OF_ROLE: Final[dict[Action, dict[Role, frozenset[str]]]] = {
    Action.CASE_CREATE: CASE_TYPES_OF_ROLE,
    Action.DEPOSIT: DOCUMENT_KINDS_OF_ROLE,
    Action.CERTIFICATE_REGISTER: CERTIFICATE_TYPES_OF_ROLE,
    Action.CERTIFICATE_REVOKE: CERTIFICATE_TYPES_OF_ROLE,
}


def kinds_allowed(role: Role | str, action: Action) -> frozenset[str] | None:
    """The kinds ``role`` may make by ``action`` (:data:`KINDS_OF_ROLE`); None if the action
    makes nothing of a kind."""
    if action not in KINDS_OF_ROLE:
        return None
    try:
        return KINDS_OF_ROLE[action].get(Role(role), frozenset())
    except ValueError:
        return frozenset()


def decide(role: Role | str, action: Action, relation: Relation) -> bool:
    """Whether ``role`` may do ``action`` on an object it stands in ``relation`` to."""
    try:
        rules = POLICY[Role(role)]
    except ValueError:
        return False
    return relation in rules.get(action, frozenset())


class Denial(StrEnum):
    FORBIDDEN = "forbidden"
    """The caller may see the object (or there is none) but not do this: HTTP 403."""
    HIDDEN = "hidden"
    """The caller may not know the object exists: reported as missing, HTTP 404."""


def denial(
    role: Role | str, action: Action, relation: Relation, *, seeing: Action | None = None
) -> Denial:
    """How a refused ``action`` is reported (call only when :func:`decide` said no).

    ``seeing`` is the action whose permission means "may know the object exists" (by default
    reading a document for document actions, reading the case for case actions); pass
    :attr:`Action.CASE_READ` for an action on a case that the default maps to documents
    (sharing a whole case).
    """
    if relation is Relation.NONE or action in _ON_PUBLIC_OBJECTS:
        return Denial.FORBIDDEN
    seeing = seeing or _SEEING.get(action, action)
    return Denial.FORBIDDEN if decide(role, seeing, relation) else Denial.HIDDEN


def render_markdown(
    roles: Iterable[Role] = ROLES, actions: Iterable[Action] = tuple(Action)
) -> str:
    """The table as Markdown (rows: actions; columns: roles; cells: allowed relations, and in
    brackets the kinds the role makes, for actions in :data:`KINDS_OF_ROLE`)."""
    roles = tuple(roles)
    lines = [
        "| action | " + " | ".join(r.value for r in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    order = tuple(Relation)
    for action in actions:
        cells = []
        for role in roles:
            allowed = POLICY[role].get(action, frozenset())
            cell = ", ".join(r.value for r in order if r in allowed) or "—"
            kinds = kinds_allowed(role, action)
            if allowed and kinds:
                cell += " [" + ", ".join(sorted(kinds)) + "]"
            cells.append(cell)
        lines.append(f"| `{action.value}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def may_ever(role: Role | str, action: Action) -> bool:
    """Whether ``role`` may do ``action`` under any relation (a cheap first check, e.g.
    before reading an upload)."""
    try:
        return bool(POLICY[Role(role)].get(action))
    except ValueError:
        return False
