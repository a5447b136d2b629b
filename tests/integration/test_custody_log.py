"""The custody log on both databases: concurrent writers (a recorder thread and another
"process" with its own engine) keep one unbroken hash chain; the custody log and the
document log stay apart; exports prove what they list; the quota sum."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evidence.formats.custody_event import (
    GENESIS_HASH,
    Actor,
    ActorDetail,
    CustodyEvent,
    CustodyEventError,
    CustodyObject,
)
from evidence.services.custody_recording import (
    CustodyRecorder,
    custody_export,
    custody_store,
    record_event,
)
from evidence.store.database import custody_events_table
from evidence.store.repository import Database, SqlNodeStore, bytes_deposited_since, open_database
from ledger.merkle import MerkleLog, hash_leaf, root_from_inclusion_proof
from tests.support.postgres import fresh_database_url, postgres_url  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

TOKEN = "11111111-2222-4333-8444-555555555555"
NOTARY = Actor("notary", TOKEN, "城东公证处")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.sqlite'}"
    return fresh_database_url(request.getfixturevalue("postgres_url"))


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = open_database(url)
    yield database
    database.dispose()


def test_concurrent_writers_keep_one_chain_and_per_object_links(db: Database, url: str) -> None:
    other_process = open_database(url, migrate=False)  # its own engine and connections
    recorder = CustodyRecorder(db)
    documents = [CustodyObject.document(f"doc-{i}") for i in range(4)]
    errors: list[BaseException] = []

    def server(n: int) -> None:
        try:
            for i in range(25):
                recorder.record("fetch_receipt", NOTARY, documents[(n + i) % 4], "127.0.0.1")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def cli() -> None:
        try:
            for i in range(15):
                record_event(other_process, "token_create", Actor.operator(), documents[i % 4])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=server, args=(n,)) for n in range(4)]
    threads.append(threading.Thread(target=cli))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    recorder.close()
    other_process.dispose()
    assert not errors, errors

    with db.session() as session:
        rows = session.execute(
            custody_events_table.select().order_by(custody_events_table.c.leaf_index)
        ).all()
        size = custody_store(session).size()
        document_log = SqlNodeStore(session).size()
        export = custody_export(session, documents[0])
    assert size == len(rows) == 4 * 25 + 15
    assert document_log == 0  # the document log is untouched
    prev, last_about = GENESIS_HASH, {}
    for index, row in enumerate(rows):
        event = CustodyEvent.decode(bytes(row.event))
        assert row.leaf_index == index and event.prev == prev
        assert event.object_prev == last_about.get(event.object, GENESIS_HASH)
        prev = last_about[event.object] = hash_leaf(bytes(row.event))
    assert len(export.events) == sum(1 for r in rows if r.object_id == "doc-0")
    assert all(e.inclusion is None for e in export.events)  # nothing anchored here


def test_export_proofs_lead_to_the_custody_root(db: Database) -> None:
    for i in range(7):
        record_event(db, "deposit", NOTARY, CustodyObject.document(f"d{i % 2}"), "::1")
    with db.session() as session:
        root = MerkleLog(custody_store(session)).root(7)
        proof = MerkleLog(custody_store(session)).inclusion_proof(4, 7)
        row = session.execute(
            custody_events_table.select().where(custody_events_table.c.leaf_index == 4)
        ).one()
    assert root_from_inclusion_proof(4, 7, hash_leaf(bytes(row.event)), proof.hashes) == root


def test_malformed_events_are_refused_before_anything_is_written(db: Database) -> None:
    recorder = CustodyRecorder(db)
    try:
        with pytest.raises(CustodyEventError):
            recorder.record("deposit", NOTARY, CustodyObject.document("d"), "not-an-address")
        with pytest.raises(CustodyEventError):
            record_event(db, "erase", NOTARY, CustodyObject.document("d"))
    finally:
        recorder.close()
    with db.session() as session:
        assert custody_store(session).size() == 0


def test_bytes_deposited_since_sums_one_institution_from_a_time(db: Database) -> None:
    from evidence.store.repository import NewDocument, add_documents

    day = datetime(2026, 11, 29, tzinfo=UTC)

    def doc(i: int, institution: str, when: datetime, size: int) -> NewDocument:
        return NewDocument(
            id=f"00000000-0000-4000-8000-{i:012d}",
            leaf_index=i,
            sha256=i.to_bytes(32, "big"),
            sm3=b"\x02" * 32,
            size=size,
            kind="notary",
            title="t",
            case_code=None,
            institution=institution,
            depositor=TOKEN,
            filename=None,
            salt=b"\x03" * 32,
            entry=b"e%d" % i,
            deposited_at=when,
        )

    with db.session() as session:
        add_documents(
            session,
            [
                doc(0, "A", day - timedelta(seconds=1), 1000),
                doc(1, "A", day, 10),
                doc(2, "A", day + timedelta(hours=5), 20),
                doc(3, "B", day + timedelta(hours=1), 400),
            ],
        )
        session.commit()
        assert bytes_deposited_since(session, "A", day) == 30
        assert bytes_deposited_since(session, "B", day) == 400
        assert bytes_deposited_since(session, "C", day) == 0


def test_a_deposit_and_its_custody_event_commit_together(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evidence.errors import InputError
    from evidence.services import deposits as service_module
    from evidence.services.deposits import Depositor, DepositRequest, DepositService
    from evidence.store.blob_store import LocalBlobStore
    from evidence.store.repository import get_document

    wakes: list[int] = []
    recorder = CustodyRecorder(db, on_append=lambda: wakes.append(1))
    deposits = DepositService(
        db, LocalBlobStore(tmp_path / "blobs"), max_upload_bytes=1 << 20, custody=recorder
    )
    depositor = Depositor(TOKEN, "城东公证处", "notary")
    request = DepositRequest("notary", "公证书")
    try:
        record = deposits.deposit([b"first"], request, depositor, "192.0.2.7")
        assert wakes == [1]  # the custody anchoring worker is woken

        def fails(*_args: object) -> None:
            raise RuntimeError("custody table unavailable")

        monkeypatch.setattr(service_module, "append_events", fails)
        with pytest.raises(RuntimeError):
            deposits.deposit([b"second"], request, depositor, "192.0.2.7")
        monkeypatch.undo()
        with pytest.raises(InputError):  # checked before anything is stored
            deposits.deposit([b"third"], request, depositor, "not-an-address")
    finally:
        deposits.close()
        recorder.close()

    with db.session() as session:
        rows = session.execute(custody_events_table.select()).all()
        assert SqlNodeStore(session).size() == 1  # the failed deposit left no log entry
        assert custody_store(session).size() == 1
        assert get_document(session, record.id) is not None
    (row,) = rows
    event = CustodyEvent.decode(bytes(row.event))
    assert (event.action, event.object, row.client) == (
        "deposit",
        CustodyObject.document(record.id),
        "192.0.2.7",
    )
    # Version 3: the token and address are kept beside the event and committed to in it.
    assert event.actor == Actor("notary", TOKEN, "城东公证处").without_token()
    assert (row.actor_token, event.client) == (TOKEN, None)
    opening = ActorDetail(bytes(row.detail_salt), row.actor_token, row.client)
    assert opening.commitment() == event.actor_detail
    assert wakes == [1]


def test_an_action_and_its_custody_event_commit_together(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``commit_with_custody``: the API's state-changing actions are stored with their event or
    not at all; and no route commits any other way."""
    from types import SimpleNamespace

    from api.deps import commit_with_custody
    from api.settings import Settings
    from evidence.access.enforcement import add_institution, get_institution

    recorder = CustodyRecorder(db)
    services = SimpleNamespace(custody=recorder, settings=Settings(trusted_proxies=""))
    request = SimpleNamespace(client=SimpleNamespace(host="192.0.2.9"), headers={})
    try:
        with db.session() as session:
            made = add_institution(session, name="甲律所", type="law_firm")
            obj = CustodyObject("institution", made.id)
            commit_with_custody(services, session, request, "institution_create", None, obj)  # type: ignore[arg-type]

        def fails(*_args: object) -> None:
            raise RuntimeError("custody table unavailable")

        monkeypatch.setattr(recorder, "record_in", fails)
        with pytest.raises(RuntimeError), db.session() as session:
            other = add_institution(session, name="乙律所", type="law_firm")
            obj = CustodyObject("institution", other.id)
            commit_with_custody(services, session, request, "institution_create", None, obj)  # type: ignore[arg-type]
    finally:
        recorder.close()
    with db.session() as session:
        assert get_institution(session, name="甲律所") is not None
        assert get_institution(session, name="乙律所") is None  # no event, no institution
        (row,) = session.execute(custody_events_table.select()).all()
    event = CustodyEvent.decode(bytes(row.event))
    assert (event.action, event.object.id, row.client, event.version) == (
        "institution_create",
        made.id,
        "192.0.2.9",
        3,
    )

    routes = Path(__file__).resolve().parents[2] / "api" / "routes"
    committing = [p.name for p in routes.glob("*.py") if ".commit()" in p.read_text()]
    assert committing == [], f"routes committing without their custody event: {committing}"
