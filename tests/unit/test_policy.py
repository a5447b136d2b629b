"""The authorisation table: invariants the issue states, checked on the table itself.

The full role × endpoint × relation matrix through the served API is in
``tests/integration/test_access_api.py``; these pin the table's own shape.
"""

from __future__ import annotations

import itertools

from evidence.access.policy import (
    INSTITUTION_TYPE_OF_ROLE,
    INSTITUTION_TYPES,
    POLICY,
    ROLES,
    Action,
    Denial,
    Relation,
    Role,
    decide,
    denial,
    may_ever,
    render_markdown,
)

ALL = list(itertools.product(ROLES, Action, Relation))


def test_public_can_only_verify() -> None:
    allowed = {(a, r) for _, a, r in ALL if decide(Role.PUBLIC, a, r)}
    assert allowed == {(Action.VERIFY, Relation.NONE)}


#: Actions on evidence: documents, their originals, cases, deposits and share codes.
EVIDENCE_ACTIONS = frozenset(Action) - {
    Action.ADMINISTER,
    Action.INSTITUTION_READ,
    Action.VERIFY,
}

#: Actions on registered e-certificates, which are public objects.
CERTIFICATE_ACTIONS = frozenset(
    {Action.CERTIFICATE_REGISTER, Action.CERTIFICATE_READ, Action.CERTIFICATE_REVOKE}
)


def test_admin_administers_and_sees_no_evidence() -> None:
    allowed = {(a, r) for _, a, r in ALL if decide(Role.ADMIN, a, r)}
    assert allowed == {
        (Action.ADMINISTER, Relation.NONE),  # list, create (in its bureau)
        (Action.ADMINISTER, Relation.OWN),  # disable, issue, revoke: its bureau's only
        (Action.INSTITUTION_READ, Relation.OWN),  # its own bureau's record
        (Action.VERIFY, Relation.NONE),
    }
    assert not [(a, r) for a in EVIDENCE_ACTIONS for r in Relation if decide(Role.ADMIN, a, r)]


def test_an_admin_acts_only_on_its_own_bureau_and_cannot_tell_another_exists() -> None:
    assert decide(Role.ADMIN, Action.ADMINISTER, Relation.OWN)
    assert not decide(Role.ADMIN, Action.ADMINISTER, Relation.OTHER)
    assert denial(Role.ADMIN, Action.ADMINISTER, Relation.OTHER) is Denial.HIDDEN
    for role in ROLES:  # nobody else administers anything
        if role is not Role.ADMIN:
            assert not may_ever(role, Action.ADMINISTER), role


def test_every_token_holder_reads_its_own_institutions_record_and_no_other() -> None:
    for role in ROLES:
        assert decide(role, Action.INSTITUTION_READ, Relation.OWN) == (role is not Role.PUBLIC)
        assert not decide(role, Action.INSTITUTION_READ, Relation.OTHER)
        assert denial(role, Action.INSTITUTION_READ, Relation.OTHER) is Denial.HIDDEN


def test_only_a_cases_owner_removes_its_participants() -> None:
    for role in ROLES:
        allowed = {r for r in Relation if decide(role, Action.CASE_REMOVE_PARTICIPANT, r)}
        depositor = role in (Role.NOTARY, Role.FORENSIC, Role.LEGAL_AID)
        assert allowed == ({Relation.OWN} if depositor else set()), role
    # A participant sees the case, so it is told it may not (403); a stranger is told nothing.
    for role in (Role.LAWYER, Role.COURT):
        assert (
            denial(role, Action.CASE_REMOVE_PARTICIPANT, Relation.PARTICIPANT) is Denial.FORBIDDEN
        )
        assert denial(role, Action.CASE_REMOVE_PARTICIPANT, Relation.OTHER) is Denial.HIDDEN


def test_nobody_touches_other_institutions_objects() -> None:
    assert not [(role, a) for role, a, r in ALL if r is Relation.OTHER and decide(role, a, r)]


def test_lawyers_and_courts_read_only_cases_they_participate_in() -> None:
    for role in (Role.LAWYER, Role.COURT):
        for action in (Action.DOCUMENT_READ, Action.DOCUMENT_CONTENT, Action.CASE_READ):
            assert decide(role, action, Relation.PARTICIPANT)
            assert not decide(role, action, Relation.OWN)  # they own no evidence
        assert not may_ever(role, Action.DEPOSIT)
        assert not may_ever(role, Action.SHARE_CREATE)


def test_depositors_see_their_own_documents_and_deposit_only_into_own_cases() -> None:
    for role in (Role.NOTARY, Role.FORENSIC, Role.LEGAL_AID):
        assert decide(role, Action.DOCUMENT_CONTENT, Relation.OWN)
        assert decide(role, Action.DEPOSIT, Relation.NONE)
        assert decide(role, Action.DEPOSIT, Relation.OWN)
        assert not decide(role, Action.DEPOSIT, Relation.PARTICIPANT)
        assert not decide(role, Action.ADMINISTER, Relation.NONE)


def test_a_refusal_never_reveals_an_object_the_caller_may_not_see() -> None:
    for role, action, relation in ALL:
        if decide(role, action, relation) or relation is Relation.NONE:
            continue
        if action in CERTIFICATE_ACTIONS:  # public objects: a refusal hides nothing
            assert denial(role, action, relation) is Denial.FORBIDDEN, (role, action)
            continue
        how = denial(role, action, relation)
        if relation is Relation.OTHER:
            assert how is Denial.HIDDEN, (role, action)
        if how is Denial.FORBIDDEN:  # only when the caller may see the object
            seeing = Action.CASE_READ if action.value.startswith("case") else None
            assert decide(role, seeing or Action.DOCUMENT_READ, relation) or action in (
                Action.SHARE_REVOKE,
                Action.SHARE_REDEEM,
            )


def test_unknown_roles_get_nothing_and_every_role_has_an_institution_type() -> None:
    assert not decide("emperor", Action.VERIFY, Relation.NONE)
    assert not may_ever("emperor", Action.VERIFY)
    assert set(POLICY) == set(ROLES)
    assert set(INSTITUTION_TYPE_OF_ROLE.values()) == set(INSTITUTION_TYPES)
    assert Role.PUBLIC not in INSTITUTION_TYPE_OF_ROLE


def test_rendered_table_lists_every_action_and_role() -> None:
    table = render_markdown()
    assert all(f"`{a.value}`" in table for a in Action)
    assert table.splitlines()[0].count("|") == len(ROLES) + 2


def test_docs_show_the_table_as_it_is() -> None:
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "access.md"
    assert render_markdown() in docs.read_text()


def test_kinds_a_role_makes_are_part_of_the_policy() -> None:
    from evidence.access.policy import KINDS_OF_ROLE, kinds_allowed

    assert kinds_allowed(Role.NOTARY, Action.DEPOSIT) == {"notary", "other"}
    assert kinds_allowed(Role.FORENSIC, Action.CASE_CREATE) == {
        "forensic",
        "arbitration",
        "litigation",
    }
    assert kinds_allowed(Role.COURT, Action.DEPOSIT) == frozenset()
    assert kinds_allowed("emperor", Action.DEPOSIT) == frozenset()
    assert kinds_allowed(Role.NOTARY, Action.DOCUMENT_READ) is None  # makes nothing
    # Every role that may make something makes at least one kind of it, and only roles that
    # may make it have kinds.
    for action, by_role in KINDS_OF_ROLE.items():
        for role in ROLES:
            assert bool(by_role.get(role)) == may_ever(role, action), (action, role)


def test_only_the_bureau_registrar_registers_and_revokes_practising_certificates() -> None:
    from evidence.access.policy import kinds_allowed

    practising = "lawyer_practising_certificate"
    for role in ROLES:
        for action in (Action.CERTIFICATE_REGISTER, Action.CERTIFICATE_REVOKE):
            kinds = kinds_allowed(role, action) or frozenset()
            assert (practising in kinds) == (role is Role.BUREAU_REGISTRAR), (role, action)
    # The registrar is not an admin: it administers nothing and sees no evidence; an admin
    # registers nothing.
    assert not may_ever(Role.BUREAU_REGISTRAR, Action.ADMINISTER)
    assert not [
        a for a in EVIDENCE_ACTIONS - CERTIFICATE_ACTIONS if may_ever(Role.BUREAU_REGISTRAR, a)
    ]
    assert not [a for a in CERTIFICATE_ACTIONS if may_ever(Role.ADMIN, a)]
    assert INSTITUTION_TYPE_OF_ROLE[Role.BUREAU_REGISTRAR] == "justice_bureau"


def test_only_a_certificates_issuer_reads_its_full_view_or_revokes_it() -> None:
    for role in ROLES:
        for action in CERTIFICATE_ACTIONS:
            allowed = {r for r in Relation if decide(role, action, r)}
            assert allowed <= {Relation.OWN}, (role, action)
            assert denial(role, action, Relation.OTHER) is Denial.FORBIDDEN
    assert not may_ever(Role.PUBLIC, Action.CERTIFICATE_READ)
    assert not may_ever(Role.LAWYER, Action.CERTIFICATE_REGISTER)
