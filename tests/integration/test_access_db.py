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
from evidence.errors import Forbidden, Gone, NotFound, StorageError
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
