"""The metadata database on SQLite and PostgreSQL: schema, log nodes, documents, anchors, tokens."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from evidence.repository import (
    Database,
    NewDocument,
    SqlNodeStore,
    add_documents,
    add_token,
    anchor_covering,
    confirm_anchor,
    find_by_sha256,
    find_token_by_hash,
    get_document,
    latest_confirmed_anchor,
    metadata,
    open_database,
    pending_anchor,
    record_anchor_submitted,
    revoke_token,
)
from ledger.errors import MerkleError
from ledger.merkle import InMemoryNodeStore, MerkleLog, hash_leaf
from tests.support.postgres import postgres_url  # noqa: F401 - fixture

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'meta.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    database = open_database(url)
    if request.param == "postgresql":
        metadata.drop_all(database.engine)
        with database.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    database.migrate()
    database.migrate()  # idempotent
    yield database
    database.engine.dispose()


def _doc(i: int, sha: bytes) -> NewDocument:
    return NewDocument(
        id=str(uuid.uuid4()),
        leaf_index=i,
        sha256=sha,
        sm3=b"\x02" * 32,
        size=i,
        kind="notary",
        title=f"文书 {i}",
        case_code=None,
        institution="公证处",
        depositor="t",
        filename=None,
        salt=b"\x03" * 32,
        entry=b"e%d" % i,
        deposited_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.integers(1, 20), min_size=1, max_size=5))
def test_sql_node_store_matches_memory(db: Database, batches: list[int]) -> None:
    with db.session() as s:
        s.execute(text("DELETE FROM log_nodes"))
        s.execute(text("UPDATE log_state SET size = 0"))
        s.commit()
    ref = MerkleLog(InMemoryNodeStore())
    n = 0
    for count in batches:
        leaves = [hash_leaf(b"%d" % (n + i)) for i in range(count)]
        n += count
        ref.append_many(leaves)
        with db.session() as s:
            MerkleLog(SqlNodeStore(s)).append_many(leaves)
            s.commit()
    with db.session() as s:
        log = MerkleLog(SqlNodeStore(s))
        assert log.size() == n
        for size in range(1, n + 1, max(1, n // 5)):
            assert log.root(size) == ref.root(size)
            assert log.inclusion_proof(size - 1, n) == ref.inclusion_proof(size - 1, n)
            assert log.consistency_proof(size, n) == ref.consistency_proof(size, n)


def test_a_writer_that_lost_the_race_writes_nothing(db: Database) -> None:
    with db.session() as a:
        MerkleLog(SqlNodeStore(a)).append_many([hash_leaf(b"a")])
        a.commit()
    with db.session() as s1:
        stale = SqlNodeStore(s1)
        assert stale.size() == 1
        with db.session() as s2:
            MerkleLog(SqlNodeStore(s2)).append_many([hash_leaf(b"b")])
            s2.commit()
        with pytest.raises(MerkleError):
            stale.append_nodes(1, [[hash_leaf(b"c")]])
        s1.rollback()
    with db.session() as s:
        assert SqlNodeStore(s).size() == 2


def test_documents_anchors_tokens(db: Database) -> None:
    sha = b"\x01" * 32
    with db.session() as s:
        add_documents(s, [_doc(0, sha), _doc(1, sha), _doc(2, b"\x09" * 32)])
        s.commit()
    with db.session() as s:
        found = find_by_sha256(s, sha)
        assert [d.leaf_index for d in found] == [0, 1]
        assert get_document(s, found[0].id) == found[0]
        assert get_document(s, "x" * 100) is None
    with db.session() as s, pytest.raises(Exception):  # noqa: B017 - unique leaf index
        add_documents(s, [_doc(0, sha)])
        s.commit()
    with db.session() as s:
        record_anchor_submitted(
            s, tree_size=2, root_hash=b"\x05" * 32, tx_hash=b"\x06" * 32, raw_tx=b"r"
        )
        s.commit()
        assert pending_anchor(s) is not None and latest_confirmed_anchor(s) is None
        confirm_anchor(
            s,
            tree_size=2,
            block_number=7,
            anchor_index=0,
            block_time=datetime.now(UTC),
            proof_json="{}",
        )
        s.commit()
        assert pending_anchor(s) is None
        assert anchor_covering(s, 1).tree_size == 2  # type: ignore[union-attr]
        assert anchor_covering(s, 2) is None
        add_token(
            s,
            id="t1",
            token_hash=b"\x07" * 32,
            institution="法院",
            role="court",
            created_at=datetime.now(UTC),
            expires_at=datetime.now(UTC) + timedelta(days=1),
        )
        s.commit()
        tok = find_token_by_hash(s, b"\x07" * 32)
        assert tok is not None and tok.institution == "法院" and tok.expires_at is not None
        assert revoke_token(s, "t1", datetime.now(UTC)) and not revoke_token(
            s, "t1", datetime.now(UTC)
        )
        s.commit()


def test_digest_lookup_uses_the_index(db: Database) -> None:
    with db.session() as s:
        if db.engine.dialect.name == "sqlite":
            plan = " ".join(
                str(r)
                for r in s.execute(
                    text("EXPLAIN QUERY PLAN SELECT * FROM documents WHERE sha256 = x'00'")
                )
            )
            assert "INDEX" in plan.upper()
        else:
            s.execute(text("SET enable_seqscan = off"))
            plan = " ".join(
                str(r)
                for r in s.execute(
                    text("EXPLAIN SELECT * FROM documents WHERE sha256 = '\\x00'::bytea")
                )
            )
            assert "ix_documents_sha256" in plan


def test_migrations_match_the_models(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], diff
