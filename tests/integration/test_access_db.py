"""evidence.access.enforcement on SQLite and PostgreSQL, below the API: codes, constraints,
relations."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from evidence.access import enforcement
from evidence.access.case_code import CaseCode
from evidence.errors import Conflict, Forbidden, Gone, InputError, NotFound, StorageError
from evidence.store.repository import Database, NewDocument, add_documents, open_database
from tests.support.postgres import fresh_database_url, postgres_url  # noqa: F401 - fixture

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'meta.sqlite'}"
    else:
        url = fresh_database_url(request.getfixturevalue("postgres_url"))
    database = open_database(url)
    yield database
    database.dispose()


def _principal(session: Any, name: str, type_: str, role: str) -> enforcement.Principal:
    enforcement.add_institution(session, name=name, type=type_)
    token, _, _ = enforcement.issue_token(session, institution=name, role=role)
    return enforcement.authenticate(session, token)


def _document(case_code: str | None, institution: str) -> NewDocument:
    return NewDocument(
        id=str(uuid.uuid4()),
        leaf_index=0,
        sha256=b"\x01" * 32,
        sm3=b"\x02" * 32,
        size=1,
        kind="notary",
        title="旧文件",
        case_code=case_code,
        institution=institution,
        depositor="t",
        filename=None,
        salt=b"\x03" * 32,
        entry=b"x",
        deposited_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


def test_a_new_case_never_takes_a_code_old_documents_carry(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken, fresh = CaseCode("notary", 2026, "ABCDEF"), CaseCode("notary", 2026, "GHJKMN")
    drawn = iter([taken, fresh])
    monkeypatch.setattr(CaseCode, "new", classmethod(lambda cls, t, y: next(drawn)))
    with db.session() as s:
        notary = _principal(s, "城东公证处", "notary_office", "notary")
        add_documents(s, [_document(str(taken), "别的机构")])  # deposited before cases existed
        case = enforcement.create_case(
            s, notary, case_type="notary", title="遗嘱", now=datetime(2026, 3, 1, tzinfo=UTC)
        )
        s.commit()
    assert case.code == str(fresh)


def test_share_uses_never_exceed_the_limit_in_the_database(db: Database) -> None:
    with db.session() as s:
        notary = _principal(s, "城东公证处", "notary_office", "notary")
        lawyer = _principal(s, "金杜律师事务所", "law_firm", "lawyer")
        add_documents(s, [doc := _document(None, "城东公证处")])
        code, share = enforcement.create_share(
            s,
            notary,
            recipient="金杜律师事务所",
            expires_in=timedelta(hours=1),
            max_uses=1,
            document_id=doc.id,
        )
        s.commit()
        assert enforcement.redeem_share(s, lawyer, str(code), consume=True).uses == 1
        s.commit()
        with pytest.raises(Gone):
            enforcement.redeem_share(s, lawyer, str(code), consume=True)
        s.rollback()
        # Not even a direct UPDATE gets past the CHECK constraint.
        with pytest.raises(sa.exc.IntegrityError):
            s.execute(sa.text("UPDATE share_codes SET uses = 2 WHERE id = :id"), {"id": share.id})
        s.rollback()
        # Anyone but the recipient: as if the code did not exist.
        with pytest.raises(NotFound, match="no such share code"):
            enforcement.redeem_share(s, notary, str(code), consume=False)


def test_participants_and_refusals(db: Database) -> None:
    with db.session() as s:
        notary = _principal(s, "城东公证处", "notary_office", "notary")
        court = _principal(s, "中级人民法院", "court", "court")
        case = enforcement.create_case(s, notary, case_type="litigation", title="保全")
        with pytest.raises(NotFound, match="no such case"):
            enforcement.read_case(s, court, case.code)
        enforcement.add_participant(s, notary, code=case.code, institution="中级人民法院")
        assert enforcement.read_case(s, court, case.code).relation.value == "participant"
        with pytest.raises(Forbidden):
            enforcement.add_participant(s, court, code=case.code, institution="中级人民法院")
        with pytest.raises(StorageError):  # DuplicateRecord: already a participant
            enforcement.add_participant(s, notary, code=case.code, institution="中级人民法院")


def test_a_role_deposits_and_opens_only_its_kinds(db: Database) -> None:
    with db.session() as s:
        notary = _principal(s, "城东公证处", "notary_office", "notary")
        forensic = _principal(s, "司法鉴定中心", "forensic_institution", "forensic")
        case = enforcement.create_case(s, notary, case_type="notary", title="公证")
        assert enforcement.check_deposit(s, notary, "notary", None) is None
        assert enforcement.check_deposit(s, notary, "other", case.code) == case.code
        with pytest.raises(Forbidden, match="only of kind notary, other"):
            enforcement.check_deposit(s, notary, "forensic", case.code)
        with pytest.raises(Forbidden, match="only of kind"):
            enforcement.check_deposit(s, notary, "legal_aid", None)
        with pytest.raises(Forbidden, match="only of kind"):
            enforcement.create_case(s, forensic, case_type="notary", title="t")
        # The relation is checked first: another's case stays hidden, whatever the kind.
        with pytest.raises(NotFound, match="no such case"):
            enforcement.check_deposit(s, forensic, "notary", case.code)


def test_institutions_join_the_only_bureau_and_admins_act_only_in_theirs(db: Database) -> None:
    """The operator's default bureau (exactly one enabled bureau, else none) and an admin's
    scope, below the API (finding 5)."""
    with db.session() as s:
        assert enforcement.sole_bureau(s) is None
        assert enforcement.bureau_to_join(s, type="law_firm") is None  # no bureau yet
        admin = _principal(s, "市司法局", "justice_bureau", "admin")
        bureau = enforcement.sole_bureau(s)
        assert bureau is not None and bureau.id == admin.institution_id
        assert enforcement.bureau_to_join(s, type="law_firm") == bureau
        assert enforcement.bureau_to_join(s, type="justice_bureau") is None  # a bureau: none
        with pytest.raises(InputError, match="no other bureau"):
            enforcement.bureau_to_join(s, type="justice_bureau", bureau="市司法局")
        with pytest.raises(InputError, match="no enabled justice bureau"):
            enforcement.bureau_to_join(s, type="court", bureau="城东公证处")
        other = _principal(s, "邻市司法局", "justice_bureau", "admin")
        assert enforcement.sole_bureau(s) is None  # two: no default
        assert enforcement.bureau_to_join(s, type="court", bureau="邻市司法局").id == (
            other.institution_id
        )
        with pytest.raises(InputError, match="no enabled justice bureau"):
            enforcement.add_institution(s, name="甲所", type="law_firm", bureau_id="nobody")

        mine = enforcement.add_bureau_institution(s, admin, name="甲律所", type="law_firm")
        theirs = enforcement.add_bureau_institution(s, other, name="乙律所", type="law_firm")
        assert mine.bureau_id == admin.institution_id
        with pytest.raises(Forbidden, match="operator"):
            enforcement.add_bureau_institution(s, admin, name="丙司法局", type="justice_bureau")
        assert {i.name for i in enforcement.bureau_institutions(s, admin)} == {"市司法局", "甲律所"}
        _, token = enforcement.issue_bureau_token(s, admin, institution="甲律所", role="lawyer")
        with pytest.raises(NotFound, match="no institution '乙律所'"):
            enforcement.issue_bureau_token(s, admin, institution="乙律所", role="lawyer")
        _, their_token = enforcement.issue_bureau_token(
            s, other, institution="乙律所", role="lawyer"
        )
        assert "乙律所" not in {t.institution for t in enforcement.bureau_tokens(s, admin)}
        with pytest.raises(NotFound, match="no active token"):
            enforcement.revoke_bureau_token(s, admin, their_token.id, datetime.now(UTC))
        with pytest.raises(NotFound, match="no enabled institution"):
            enforcement.disable_bureau_institution(s, admin, theirs.id, datetime.now(UTC))
        enforcement.revoke_bureau_token(s, admin, token.id, datetime.now(UTC))
        enforcement.disable_bureau_institution(s, admin, mine.id, datetime.now(UTC))
        # Not an admin: refused before anything is looked up.
        lawyer = _principal(s, "丁律所", "law_firm", "lawyer")
        with pytest.raises(Forbidden):
            enforcement.bureau_institutions(s, lawyer)
        assert [t.institution for t in enforcement.own_tokens(s, lawyer)] == ["丁律所"]
        with pytest.raises(NotFound, match="no such token of your institution"):
            enforcement.own_token(s, lawyer, their_token.id)


def test_removing_a_participant_revokes_only_its_usable_codes_for_the_case(db: Database) -> None:
    with db.session() as s:
        notary = _principal(s, "城东公证处", "notary_office", "notary")
        lawyer = _principal(s, "金杜律师事务所", "law_firm", "lawyer")
        case = enforcement.create_case(s, notary, case_type="notary", title="遗嘱")
        add_documents(s, [inside := _document(case.code, "城东公证处")])
        enforcement.add_participant(s, notary, code=case.code, institution="金杜律师事务所")

        def share(**target: Any) -> enforcement.ShareRecord:
            return enforcement.create_share(
                s,
                notary,
                recipient="金杜律师事务所",
                expires_in=timedelta(hours=1),
                max_uses=1,
                **target,
            )[1]

        whole, one, spent = (
            share(case_code=case.code),
            share(document_id=inside.id),
            share(document_id=inside.id),
        )
        s.execute(sa.text("UPDATE share_codes SET uses = 1 WHERE id = :id"), {"id": spent.id})
        with pytest.raises(Forbidden):  # a participant may see the case, not do this
            enforcement.remove_participant(s, lawyer, code=case.code, institution="金杜律师事务所")
        lawyer_id = lawyer.institution_id or ""
        removal = enforcement.remove_participant(s, notary, code=case.code, institution=lawyer_id)
        assert removal.participant.institution == "金杜律师事务所"
        assert {r.id for r in removal.revoked_shares} == {whole.id, one.id}  # not the used-up
        with pytest.raises(NotFound, match="no such case"):
            enforcement.read_case(s, lawyer, case.code)
        with pytest.raises(NotFound, match="no such participant"):
            enforcement.remove_participant(s, notary, code=case.code, institution=lawyer_id)
        with pytest.raises(Conflict, match="owner"):
            enforcement.remove_participant(s, notary, code=case.code, institution="城东公证处")
