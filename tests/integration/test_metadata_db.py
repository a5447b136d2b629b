"""The metadata database on SQLite and PostgreSQL 15: the same tests on both.

Migrations, the SQL Merkle node store (against the in-memory one, and under concurrent
writers), documents, the digest index, anchors and tokens. Each PostgreSQL test gets a
database of its own on the session's server.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence.access.enforcement import (
    add_institution,
    add_token,
    find_token_by_hash,
    list_tokens,
    revoke_token,
)
from evidence.errors import DuplicateRecord, InputError, NotFound, StorageError
from evidence.store import repository
from evidence.store.database import alembic_config, head_revision, metadata, shipped_head
from evidence.store.repository import (
    AnchorStatus,
    Database,
    NewDocument,
    SqlNodeStore,
    add_documents,
    anchor_covering,
    confirm_anchor,
    digest_query,
    discard_anchor,
    find_by_sha256,
    forget_cached_nodes,
    get_document,
    get_document_by_leaf,
    latest_confirmed_anchor,
    open_database,
    pending_anchor,
    record_anchor_submitted,
)
from ledger.errors import MerkleError
from ledger.merkle import InMemoryNodeStore, MerkleLog, hash_leaf
from tests.support.postgres import fresh_database_url, postgres_url  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

TABLES = {
    "log_state",
    "log_nodes",
    "documents",
    "anchors",
    "api_tokens",
    "institutions",
    "cases",
    "case_participants",
    "share_codes",
    "custody_state",
    "custody_nodes",
    "custody_events",
    "custody_map_keys",
    "custody_map_states",
    "custody_map_nodes",
    "custody_anchors",
    "audit_findings",
    "retired_anchors",
    "checkpoints",
    "cosignatures",
    "certificates",
}
CST = timezone(timedelta(hours=8))  # China Standard Time


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database (never migrated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.sqlite'}"
    return fresh_database_url(request.getfixturevalue("postgres_url"))


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = open_database(url)  # migrates to head
    yield database
    database.dispose()


def _doc(i: int, sha: bytes | None = None, **changes: Any) -> NewDocument:
    fields: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "leaf_index": i,
        "sha256": sha if sha is not None else i.to_bytes(32, "big"),
        "sm3": b"\x02" * 32,
        "size": i,
        "kind": "notary",
        "title": f"遗嘱公证书 {i}",
        "case_code": None,
        "institution": "城东公证处",
        "depositor": "token-1",
        "filename": None,
        "salt": b"\x03" * 32,
        "entry": b"zhenglian/entry/v1\n{%d}" % i,
        "deposited_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    fields.update(changes)
    return NewDocument(**fields)


def _count(database: Database, table: str) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def _leaves(start: int, count: int) -> list[bytes]:
    return [hash_leaf(b"leaf %d" % i) for i in range(start, start + count)]


# --- Migrations ---------------------------------------------------------------------------


def test_migrations_run_to_head_on_an_empty_database_and_again_do_nothing(url: str) -> None:
    database = open_database(url, migrate=False)
    try:
        assert database.current_revision() is None
        assert not TABLES & set(sa.inspect(database.engine).get_table_names())
        database.migrate()
        assert database.current_revision() == head_revision()
        assert set(sa.inspect(database.engine).get_table_names()) == TABLES | {"alembic_version"}
        with database.session() as s:
            assert SqlNodeStore(s).size() == 0

        statements: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement.strip().split()[0].upper())

        sa.event.listen(database.engine, "before_cursor_execute", record)
        database.migrate()  # second run: reads the version, changes nothing
        sa.event.remove(database.engine, "before_cursor_execute", record)
        assert statements and not {"CREATE", "ALTER", "DROP", "INSERT", "UPDATE"} & set(statements)
        assert database.current_revision() == head_revision()
        assert _count(database, "log_state") == 1

        from alembic.autogenerate import compare_metadata
        from alembic.migration import MigrationContext

        with database.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == [], diff
    finally:
        database.dispose()


def test_a_database_from_a_newer_release_is_refused(url: str) -> None:
    database = open_database(url)
    try:
        with database.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(StorageError, match="newer than this version"):
            database.migrate()
    finally:
        database.dispose()


def test_concurrent_starters_migrate_one_after_the_other(url: str) -> None:
    databases = [open_database(url, migrate=False) for _ in range(3)]
    barrier = threading.Barrier(len(databases))
    errors: list[BaseException] = []

    def start(database: Database) -> None:
        barrier.wait()
        try:
            database.migrate()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(d,)) for d in databases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert databases[0].current_revision() == head_revision()
        assert _count(databases[0], "log_state") == 1
    finally:
        for d in databases:
            d.dispose()


def test_upgrade_from_0001_keeps_anchors_and_numbers_them(url: str) -> None:
    from alembic import command

    database = open_database(url, migrate=False)
    try:
        database.migrate("0001")
        old = sa.table(
            "anchors",
            sa.column("tree_size", sa.BigInteger),
            sa.column("root_hash", sa.LargeBinary),
            sa.column("status", sa.String),
            sa.column("tx_hash", sa.LargeBinary),
            sa.column("proof", sa.Text),
            sa.column("created_at", sa.DateTime(timezone=True)),
        )
        created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        with database.engine.begin() as conn:
            for size, status in ((5, "submitted"), (2, "confirmed")):
                conn.execute(
                    old.insert().values(
                        tree_size=size,
                        root_hash=bytes([size]) * 32,
                        status=status,
                        tx_hash=b"\x07" * 32,
                        proof="{}" if status == "confirmed" else None,
                        created_at=created,
                    )
                )
        database.migrate()
        assert database.current_revision() == head_revision()
        with database.session() as s:
            confirmed = latest_confirmed_anchor(s)
            pending = pending_anchor(s)
            assert confirmed is not None and pending is not None
            assert (confirmed.id, confirmed.tree_size, confirmed.root_hash) == (1, 2, b"\x02" * 32)
            assert (pending.id, pending.tree_size, pending.status) == (2, 5, "submitted")
            assert pending.created_at == created and pending.tx_hash == b"\x07" * 32
            new = record_anchor_submitted(
                s, tree_size=9, root_hash=b"\x09" * 32, tx_hash=b"\x08" * 32
            )
            s.commit()
            assert new.id == 3
        with database.engine.begin() as conn:  # and back, and forward again
            command.downgrade(alembic_config(conn), "0001")
        assert database.current_revision() == "0001"
        assert _count(database, "anchors") == 3
        database.migrate()
        assert database.current_revision() == head_revision()
        assert _count(database, "anchors") == 3
    finally:
        database.dispose()


def test_upgrade_from_0002_turns_free_text_institutions_into_institutions(url: str) -> None:
    from alembic import command

    from evidence.access.enforcement import authenticate, list_institutions, token_hash

    database = open_database(url, migrate=False)
    try:
        database.migrate("0002")
        old = sa.table(
            "api_tokens",
            sa.column("id", sa.String),
            sa.column("token_hash", sa.LargeBinary),
            sa.column("institution", sa.Text),
            sa.column("role", sa.String),
            sa.column("created_at", sa.DateTime(timezone=True)),
        )
        created = datetime(2026, 1, 2, tzinfo=UTC)
        rows = [
            ("t1", "notary-token", "城东公证处", "admin"),
            ("t2", "notary-token-2", "城东公证处", "notary"),
            ("t3", "lawyer-token", "金杜律师事务所", "lawyer"),
            ("t4", "court-token", "中级人民法院", "court"),
        ]
        with database.engine.begin() as conn:
            for token_id, token, name, role in rows:
                conn.execute(
                    old.insert().values(
                        id=token_id,
                        token_hash=token_hash(token),
                        institution=name,
                        role=role,
                        created_at=created,
                    )
                )
        database.migrate()
        with database.session() as s:
            found = {i.name: i.type for i in list_institutions(s)}
            assert found == {
                "城东公证处": "notary_office",  # notary wins over admin
                "金杜律师事务所": "law_firm",
                "中级人民法院": "court",
            }
            lawyer = authenticate(s, "lawyer-token")
            assert (lawyer.role, lawyer.institution, lawyer.institution_type) == (
                "lawyer",
                "金杜律师事务所",
                "law_firm",
            )
            assert authenticate(s, "notary-token").institution == "城东公证处"
            assert {t.id: t.institution for t in list_tokens(s)}["t4"] == "中级人民法院"
        with database.engine.begin() as conn:  # and back: the names return to the tokens
            command.downgrade(alembic_config(conn), "0002")
        with database.engine.connect() as conn:
            names = dict(conn.execute(sa.text("SELECT id, institution FROM api_tokens")).all())
        assert names == {r[0]: r[2] for r in rows}
        database.migrate()
        assert _count(database, "institutions") == 3
    finally:
        database.dispose()


@pytest.mark.parametrize("bureaus", [1, 2])
def test_upgrade_to_0008_links_institutions_to_the_only_bureau(url: str, bureaus: int) -> None:
    """Migration 0008: with exactly one enabled bureau, every other institution belongs to it;
    with several (or none), none does (only the operator manages them). And back again, with
    tokens, cases and shares still pointing at the institutions."""
    from alembic import command

    database = open_database(url, migrate=False)
    try:
        database.migrate("0007")
        created = datetime(2026, 1, 2, tzinfo=UTC)
        rows = [
            ("b1", "市司法局", "justice_bureau", None),
            ("n1", "城东公证处", "notary_office", None),
        ]
        rows += [("f1", "金杜律师事务所", "law_firm", None)]
        rows += [("b0", "旧司法局", "justice_bureau", created)]  # disabled: not counted
        if bureaus == 2:
            rows.append(("b2", "邻市司法局", "justice_bureau", None))
        with database.engine.begin() as conn:
            for id_, name, kind, disabled in rows:
                conn.execute(
                    sa.text(
                        "INSERT INTO institutions (id, name, type, created_at, disabled_at) "
                        "VALUES (:id, :name, :type, :created, :disabled)"
                    ),
                    {
                        "id": id_,
                        "name": name,
                        "type": kind,
                        "created": created,
                        "disabled": disabled,
                    },
                )
            conn.execute(
                sa.text(
                    "INSERT INTO api_tokens (id, token_hash, role, created_at, institution_id) "
                    "VALUES ('t1', :hash, 'notary', :created, 'n1')"
                ),
                {"hash": b"\x01" * 32, "created": created},
            )
        database.migrate("0008")

        def linked() -> dict[str, str | None]:
            with database.engine.connect() as conn:
                return dict(conn.execute(sa.text("SELECT id, bureau_id FROM institutions")).all())

        expected = "b1" if bureaus == 1 else None
        assert linked() == {r[0]: (expected if r[2] != "justice_bureau" else None) for r in rows}
        # A bureau must exist: the foreign key holds.
        with pytest.raises(sa.exc.IntegrityError), database.engine.begin() as conn:
            conn.execute(sa.text("UPDATE institutions SET bureau_id = 'nobody' WHERE id = 'n1'"))
        with database.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0007")
        with database.engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("institutions")}
        assert "bureau_id" not in columns and _count(database, "api_tokens") == 1
        database.migrate("0008")
        assert linked()["n1"] == expected
    finally:
        database.dispose()


# --- The SQL node store ---------------------------------------------------------------------


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(st.integers(1, 24), min_size=1, max_size=6))
def test_sql_node_store_gives_the_roots_and_proofs_of_the_memory_store(
    db: Database, batches: list[int]
) -> None:
    with db.session() as s:  # every example starts from an empty log
        s.execute(sa.text("DELETE FROM log_nodes"))
        s.execute(sa.text("UPDATE log_state SET size = 0"))
        s.commit()
    forget_cached_nodes(
        db.engine
    )  # the reset rewrites history, which the cache assumes never happens
    reference = MerkleLog(InMemoryNodeStore())
    n = 0
    for count in batches:
        leaves = _leaves(n, count)
        n += count
        reference.append_many(leaves)
        with db.session() as s:
            log = MerkleLog(SqlNodeStore(s))
            if count == 1:
                log.append(leaves[0])
            else:
                log.append_many(leaves)
            assert log.root() == reference.root()
            s.commit()
    with db.session() as s:
        log = MerkleLog(SqlNodeStore(s))
        assert log.size() == n
        assert _count(db, "log_nodes") == sum(n >> level for level in range(n.bit_length()))
        for size in sorted({1, n // 3 or 1, n // 2 or 1, n - 1 or 1, n}):
            assert log.root(size) == reference.root(size)
            assert log.inclusion_proof(size - 1, n) == reference.inclusion_proof(size - 1, n)
            assert log.inclusion_proof(0, size) == reference.inclusion_proof(0, size)
            assert log.consistency_proof(size, n) == reference.consistency_proof(size, n)


def test_nodes_read_in_a_transaction_that_rolls_back_are_never_cached(db: Database) -> None:
    with db.session() as s:
        MerkleLog(SqlNodeStore(s)).append_many(_leaves(0, 4))
        s.commit()
    doomed = [hash_leaf(b"doomed %d" % i) for i in range(4)]
    with db.session() as s:
        log = MerkleLog(SqlNodeStore(s))
        log.append_many(doomed)  # completes (1, 2), (1, 3), (2, 1) and (3, 0): uncommitted
        doomed_root = log.root()  # reads them back inside the same transaction
        for i in range(8):
            log.inclusion_proof(i, 8)
        s.rollback()
    with db.session() as s:  # another writer appends other leaves at the same positions
        MerkleLog(SqlNodeStore(s)).append_many(_leaves(4, 4))
        s.commit()
    reference = MerkleLog()
    reference.append_many(_leaves(0, 8))
    with db.session() as s:
        log = MerkleLog(SqlNodeStore(s))
        assert log.root() == reference.root() != doomed_root
        for i in range(8):
            assert log.inclusion_proof(i, 8) == reference.inclusion_proof(i, 8)


def test_committed_nodes_are_served_from_a_bounded_cache(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "MAX_CACHED_NODES", 10)
    n = 40
    reference = MerkleLog()
    reference.append_many(_leaves(0, n))
    with db.session() as s:
        MerkleLog(SqlNodeStore(s)).append_many(_leaves(0, n))
        s.commit()
    cache = repository._node_cache(db.engine, "log_nodes")
    with db.session() as s:
        log = MerkleLog(SqlNodeStore(s))
        for i in range(n):  # every proof right, whatever the cache holds or dropped
            assert log.inclusion_proof(i, n) == reference.inclusion_proof(i, n)
            assert 0 < len(cache) <= 10
            assert log.consistency_proof(i + 1, n) == reference.consistency_proof(i + 1, n)
            assert len(cache) <= 10
        proof = log.inclusion_proof(0, n)  # now cached: (0, 1), (1, 1), (2, 1), ...
    with db.session() as s:  # alter a cached node behind the application's back
        s.execute(
            sa.text("UPDATE log_nodes SET hash = :h WHERE level = 0 AND idx = 1"), {"h": b"x" * 32}
        )
        s.commit()
    with db.session() as s:
        assert MerkleLog(SqlNodeStore(s)).inclusion_proof(0, n) == proof  # from the cache
    forget_cached_nodes(db.engine)
    with db.session() as s:
        altered = MerkleLog(SqlNodeStore(s)).inclusion_proof(0, n)
        assert altered.hashes[0] == b"x" * 32 and altered != proof


def test_drivers_without_positional_placeholders_use_the_sqlalchemy_statement(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "_PLACEHOLDERS", {})  # as for a "named" paramstyle driver
    reference = MerkleLog()
    reference.append_many(_leaves(0, 13))
    with db.session() as s:
        log = MerkleLog(SqlNodeStore(s))
        log.append_many(_leaves(0, 13))
        s.commit()
        for i in range(13):
            assert log.inclusion_proof(i, 13) == reference.inclusion_proof(i, 13)
        with pytest.raises(MerkleError, match="not stored"):
            log.store.get_nodes([(0, 13)])


def test_node_store_driver_errors_are_storage_errors(url: str) -> None:
    database = open_database(url, migrate=False)  # no tables at all
    try:
        with database.session() as s:
            with pytest.raises(StorageError, match="log_state"):
                SqlNodeStore(s).size()
            s.rollback()
            with pytest.raises(StorageError, match="log_nodes"):
                SqlNodeStore(s).get_nodes([(0, 0)])
    finally:
        database.dispose()


class _Interleaved(SqlNodeStore):
    """A node store whose first size() lets another writer append and commit right after."""

    def __init__(self, session: Any, other_writer: Any) -> None:
        super().__init__(session)
        self._other: Any = other_writer

    def size(self) -> int:
        size = super().size()
        if self._other is not None:
            other, self._other = self._other, None
            other()
        return size


def test_a_writer_that_lost_the_race_gets_merkle_error_and_writes_nothing(db: Database) -> None:
    with db.session() as s:
        MerkleLog(SqlNodeStore(s)).append_many(_leaves(0, 3))
        s.commit()

    def other_writer() -> None:
        with db.session() as s2:
            MerkleLog(SqlNodeStore(s2)).append_many(_leaves(3, 2))
            add_documents(s2, [_doc(3), _doc(4)])
            s2.commit()

    with db.session() as s1:
        log = MerkleLog(_Interleaved(s1, other_writer))
        with pytest.raises(MerkleError, match="another writer"):
            log.append_many(_leaves(100, 2))  # read size 3, then the other writer moved it
        s1.rollback()
    with db.session() as s:
        log = MerkleLog(SqlNodeStore(s))
        assert log.size() == 5
        assert log.root() == _memory_root(5)
    assert _count(db, "log_nodes") == 5 + 2 + 1
    assert _count(db, "documents") == 2

    with db.session() as s:  # a stale start size is refused the same way, directly
        with pytest.raises(MerkleError):
            SqlNodeStore(s).append_nodes(3, [[hash_leaf(b"x")]])
        with pytest.raises(MerkleError, match="level 1 are missing"):
            SqlNodeStore(s).append_nodes(5, [[hash_leaf(b"x")]])  # 5 -> 6 completes (1, 2)
        with pytest.raises(MerkleError, match="wrong number"):
            SqlNodeStore(s).append_nodes(5, [[hash_leaf(b"x"), hash_leaf(b"y")], []])
    assert _count(db, "log_nodes") == 8


def _memory_root(n: int) -> bytes:
    log = MerkleLog()
    log.append_many(_leaves(0, n))
    return log.root()


def test_concurrent_writers_with_retries_build_one_consistent_log(db: Database) -> None:
    writers, batches_each, batch = 4, 5, 3
    errors: list[BaseException] = []
    lost_races = [0]

    def write(w: int) -> None:
        try:
            for b in range(batches_each):
                leaves = [hash_leaf(b"w%d b%d i%d" % (w, b, i)) for i in range(batch)]
                while True:
                    try:
                        with db.session() as s:
                            start = MerkleLog(SqlNodeStore(s)).append_many(leaves)
                            add_documents(s, [_doc(start + i) for i in range(batch)])
                            s.commit()
                        break
                    except MerkleError:
                        lost_races[0] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    total = writers * batches_each * batch
    with db.session() as s:
        store = SqlNodeStore(s)
        assert store.size() == total
        leaves = store.get_nodes([(0, i) for i in range(total)])
        reference = MerkleLog()
        reference.append_many(leaves)
        log = MerkleLog(store)
        for size in range(1, total + 1):
            assert log.root(size) == reference.root(size)
    assert _count(db, "documents") == total


def test_get_nodes_is_one_batch_in_order_and_refuses_missing_nodes(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []
    send = repository._driver_rows  # the store's one way to the driver: count what passes

    def record(connection: Any, sql: str, params: tuple[int, ...] = ()) -> list[Any]:
        statements.append(sql)
        return send(connection, sql, params)

    monkeypatch.setattr(repository, "_driver_rows", record)
    with db.session() as s:
        store = SqlNodeStore(s)
        MerkleLog(store).append_many(_leaves(0, 6))
        s.commit()
        statements.clear()
        got = store.get_nodes([(1, 2), (0, 0), (2, 0), (0, 0), (0, 5)])
        assert len(statements) == 1 and statements[0].count(" OR ") == 3  # 4 distinct nodes
        assert store.get_nodes([(0, 5), (2, 0)]) == [got[4], got[2]]
        assert len(statements) == 1  # committed nodes already read: served from memory
        assert got[1] == got[3] == _leaves(0, 1)[0]
        assert got[4] == _leaves(5, 1)[0]
        with pytest.raises(MerkleError, match="not stored"):
            store.get_nodes([(0, 6)])
        with pytest.raises(MerkleError, match="not stored"):
            store.get_node(2, 1)  # leaves 4..7: not complete at size 6
        with pytest.raises(MerkleError):
            store.get_nodes([(-1, 0)])


# --- Documents ------------------------------------------------------------------------------


def test_documents_round_trip_exactly(db: Database) -> None:
    local_time = datetime(2026, 3, 4, 20, 30, 1, 123456, tzinfo=CST)
    rows = [
        _doc(0),
        _doc(
            1,
            case_code="2026-ZHENG-0001",
            filename="合同 (最终版).pdf",
            entry=bytes(range(256)),
            deposited_at=local_time,
        ),
    ]
    with db.session() as s:
        assert add_documents(s, rows) == rows
        s.commit()
    with db.session() as s:
        first, second = (get_document(s, r.id) for r in rows)
        assert first == rows[0]
        assert second is not None
        assert second.deposited_at == local_time  # the same instant ...
        assert second.deposited_at.tzinfo == UTC  # ... returned in UTC
        assert second.deposited_at.hour == 12
        assert second.entry == bytes(range(256)) and second.filename == "合同 (最终版).pdf"
        assert get_document_by_leaf(s, 1) == second
        assert get_document(s, str(uuid.uuid4())) is None
        assert get_document(s, "x" * 100) is None
        assert get_document_by_leaf(s, 2) is None


def test_unique_leaf_index_and_id_are_enforced(db: Database) -> None:
    first = _doc(0)
    with db.session() as s:
        add_documents(s, [first])
        s.commit()
    for duplicate in (_doc(0), _doc(1, id=first.id)):
        with db.session() as s:
            with pytest.raises(DuplicateRecord):
                add_documents(s, [duplicate])
            s.rollback()
    with db.session() as s, pytest.raises(DuplicateRecord):
        add_documents(s, [_doc(5), _doc(5)])  # within one batch too
    assert _count(db, "documents") == 1


def test_malformed_rows_are_refused_alike_on_both_databases(db: Database) -> None:
    bad = [
        _doc(0, kind="k" * 17),
        _doc(0, case_code="C" * 65),
        _doc(0, sha256=b"\x01" * 31),
        _doc(0, leaf_index=-1),
        _doc(0, deposited_at=datetime(2026, 1, 1)),  # naive
        _doc(0, title="a\x00b"),
        _doc(0, id="i" * 37),
    ]
    for row in bad:
        with db.session() as s, pytest.raises(InputError):
            add_documents(s, [row])
    assert _count(db, "documents") == 0


def test_digest_lookup_uses_the_index(db: Database) -> None:
    shared = b"\xaa" * 32
    rows = [_doc(i) for i in range(3000)]
    rows[10] = _doc(10, shared)
    rows[2000] = _doc(2000, shared)
    with db.session() as s:
        add_documents(s, rows)
        s.commit()
    with db.session() as s:
        assert [d.leaf_index for d in find_by_sha256(s, shared)] == [10, 2000]
        assert find_by_sha256(s, b"\xbb" * 32) == []
        assert find_by_sha256(s, b"short") == []
        assert len(find_by_sha256(s, shared, limit=1)) == 1
    with db.engine.connect() as conn:
        conn.execute(sa.text("ANALYZE"))
        conn.commit()
        compiled = digest_query(shared).compile(dialect=conn.dialect)
        if compiled.positional:
            params: Any = tuple(compiled.params[k] for k in compiled.positiontup or ())
        else:
            params = compiled.params
        explain = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
        plan = " ".join(str(r) for r in conn.exec_driver_sql(explain + str(compiled), params))
    assert "ix_documents_sha256" in plan, plan
    if db.dialect == "sqlite":
        assert "USING INDEX ix_documents_sha256" in plan, plan


# --- Anchors --------------------------------------------------------------------------------


def test_anchor_lookups_read_one_index_entry_not_a_sort_of_all_anchors(db: Database) -> None:
    """Anchors accumulate (17,280 a day at 5 s): the lookups every document view and every
    anchoring step make must not sort all of them (migration 0005)."""
    now = datetime.now(UTC)
    with db.engine.begin() as conn:
        conn.execute(
            sa.insert(repository.anchors_table),
            [
                {
                    "tree_size": 10 * (i + 1),
                    "root_hash": i.to_bytes(32, "big"),
                    "status": "confirmed",
                    "tx_hash": i.to_bytes(32, "big"),
                    "block_number": i,
                    "anchor_index": i,
                    "block_time": now,
                    "proof": "{}",
                    "created_at": now,
                    "confirmed_at": now,
                }
                for i in range(3000)
            ],
        )
        conn.execute(sa.text("ANALYZE"))
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM anchors" in statement:
            statements.append((statement, params))

    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.session() as s:
            assert anchor_covering(s, 12_345) is not None
            latest = latest_confirmed_anchor(s)
            assert latest is not None and latest.tree_size == 30_000
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    assert len(statements) == 2
    explain = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
    with db.engine.connect() as conn:
        for statement, params in statements:
            plan = " ".join(str(r) for r in conn.exec_driver_sql(explain + statement, params))
            if db.dialect == "sqlite":
                assert "USING INDEX ix_anchors_status_tree_size" in plan, plan
                assert "TEMP B-TREE" not in plan, plan
            else:
                assert "Sort" not in plan, plan


def test_anchor_lifecycle_and_which_anchor_covers_a_leaf(db: Database) -> None:
    def submit(size: int) -> None:
        with db.session() as s:
            record_anchor_submitted(
                s,
                tree_size=size,
                root_hash=bytes([size]) * 32,
                tx_hash=bytes([100 + size]) * 32,
                raw_tx=b"raw %d" % size,
            )
            s.commit()

    def confirm(size: int) -> None:
        with db.session() as s:
            confirm_anchor(
                s,
                tree_size=size,
                block_number=size * 10,
                anchor_index=size,
                block_time=datetime(2026, 5, 1, 8, tzinfo=CST),
                proof_json=f'{{"p": {size}}}',
            )
            s.commit()

    with db.session() as s:
        assert latest_confirmed_anchor(s) is None and pending_anchor(s) is None
        assert anchor_covering(s, 0) is None
    submit(2)
    with db.session() as s:
        pending = pending_anchor(s)
        assert pending is not None and pending.status is AnchorStatus.SUBMITTED
        assert pending.raw_tx == b"raw 2" and not pending.confirmed
        assert latest_confirmed_anchor(s) is None and anchor_covering(s, 0) is None
    confirm(2)
    submit(5)
    confirm(5)
    submit(7)  # submitted, not confirmed: covers nothing
    with db.session() as s:
        latest = latest_confirmed_anchor(s)
        assert latest is not None and latest.tree_size == 5 and latest.confirmed
        assert latest.raw_tx is None and latest.proof == '{"p": 5}'
        assert latest.block_time == datetime(2026, 5, 1, tzinfo=UTC)
        assert latest.confirmed_at is not None and latest.confirmed_at.tzinfo == UTC
        covering = {i: getattr(anchor_covering(s, i), "tree_size", None) for i in range(8)}
        assert covering == {0: 2, 1: 2, 2: 5, 3: 5, 4: 5, 5: None, 6: None, 7: None}
        assert getattr(pending_anchor(s), "tree_size", None) == 7
    with db.session() as s:
        with pytest.raises(DuplicateRecord):
            record_anchor_submitted(s, tree_size=5, root_hash=b"\x00" * 32, tx_hash=b"\x00" * 32)
        s.rollback()
        with pytest.raises(NotFound):
            confirm_anchor(
                s,
                tree_size=4,
                block_number=1,
                anchor_index=0,
                block_time=datetime.now(UTC),
                proof_json="{}",
            )
        assert not discard_anchor(s, tree_size=5)  # confirmed: kept
        assert discard_anchor(s, tree_size=7)
        s.commit()
    submit(8)
    with db.session() as s:
        pending = pending_anchor(s)
        assert pending is not None and pending.id > 3  # the discarded id 3 is not reused
        assert [a.tree_size for a in filter(None, [latest_confirmed_anchor(s)])] == [5]


# --- Tokens ---------------------------------------------------------------------------------


def test_tokens(db: Database) -> None:
    now = datetime(2026, 6, 1, 9, 0, tzinfo=CST)
    with db.session() as s:
        court = add_institution(s, name="朝阳区人民法院", type="court", now=now)
        firm = add_institution(s, name="律所", type="law_firm", now=now)
        with pytest.raises(DuplicateRecord):
            add_institution(s, name="律所", type="law_firm", now=now)
        s.rollback()
        court = add_institution(s, name="朝阳区人民法院", type="court", now=now)
        firm = add_institution(s, name="律所", type="law_firm", now=now)
        added = add_token(
            s,
            id="t1",
            token_hash=b"\x07" * 32,
            institution_id=court.id,
            role="court",
            created_at=now,
            expires_at=now + timedelta(days=30),
        )
        add_token(
            s,
            id="t2",
            token_hash=b"\x08" * 32,
            institution_id=firm.id,
            role="lawyer",
            created_at=now + timedelta(seconds=1),
        )
        s.commit()
    with db.session() as s:
        found = find_token_by_hash(s, b"\x07" * 32)
        assert found == added and found.created_at.tzinfo == UTC
        assert found.institution == "朝阳区人民法院"
        assert found.expires_at == now + timedelta(days=30)
        assert find_token_by_hash(s, b"\x09" * 32) is None
        assert find_token_by_hash(s, b"short") is None
        assert [t.id for t in list_tokens(s)] == ["t1", "t2"]
        with pytest.raises(DuplicateRecord):
            add_token(
                s,
                id="t3",
                token_hash=b"\x07" * 32,
                institution_id=firm.id,
                role="admin",
                created_at=now,
            )
        s.rollback()
        assert revoke_token(s, "t1", now + timedelta(hours=1))
        assert not revoke_token(s, "t1", now + timedelta(hours=2))  # already revoked
        assert not revoke_token(s, "nope", now)
        s.commit()
    with db.session() as s:
        revoked = find_token_by_hash(s, b"\x07" * 32)
        assert revoked is not None and revoked.revoked_at == now + timedelta(hours=1)


# --- Opening ----------------------------------------------------------------------------------


def test_unusable_urls_are_storage_errors(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="unsupported database"):
        open_database("mysql://root:hunter2@localhost/x")
    with pytest.raises(StorageError) as caught:
        open_database("postgresql+psycopg://u:hunter2@")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(StorageError, match="migrate"):
        open_database(f"sqlite:///{tmp_path / 'missing-dir' / 'x.sqlite'}")


def test_sqlite_connections_are_configured(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'meta.sqlite'}")
    try:
        with database.engine.connect() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
        assert pragma == {
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": 10_000,
            "synchronous": 2,  # FULL
        }
    finally:
        database.dispose()


def test_a_current_schema_is_opened_without_alembic(url: str) -> None:
    """The shipped head read from the migration files is Alembic's; a database at it is
    opened with one query and without importing Alembic (9.5 MiB of a server's memory); one
    behind it, or without a schema, is migrated."""
    assert shipped_head() == head_revision()
    behind = open_database(url, migrate=False)
    try:
        assert not behind.at_shipped_head()  # no schema yet
        behind.migrate("0012")
        assert not behind.at_shipped_head()  # one migration behind
    finally:
        behind.dispose()
    probe = (
        "import sys\n"
        "from evidence.store.database import open_database\n"
        f"open_database({url!r}).dispose()\n"
        "print('alembic' in sys.modules)\n"
    )
    migrated = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert migrated.stdout.strip() == "True", migrated.stderr  # 0012 → head, with Alembic
    opened = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert opened.stdout.strip() == "False", opened.stderr  # at head: one query, no Alembic
    reopened = open_database(url, migrate=False)
    try:
        assert reopened.current_revision() == head_revision() and reopened.at_shipped_head()
    finally:
        reopened.dispose()
