"""This process's SQLite writers queue on a mutex instead of polling SQLite's write lock
(``evidence.store.database.SqliteWriteMutex``): a writer starts when the one before returns its
connection, a writer that waits past the timeout fails as SQLite would, and the mutex comes
back after a rollback or an invalidated connection (never left held)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from evidence.store.database import SqliteWriteMutex, _sqlite_pragmas


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    event.listen(engine, "connect", _sqlite_pragmas)
    SqliteWriteMutex(timeout_s=1.0).install(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    yield engine
    engine.dispose()


def test_writers_queue_and_the_next_starts_when_the_first_returns_its_connection(
    engine: Engine,
) -> None:
    order: list[str] = []
    holding = threading.Event()

    def second() -> None:
        holding.wait(5)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
            order.append("second wrote")

    thread = threading.Thread(target=second)
    thread.start()
    with engine.connect() as conn:
        conn.execute(text("SELECT count(*) FROM t"))  # reads take no mutex
        conn.execute(text("INSERT INTO t VALUES (1)"))
        holding.set()
        time.sleep(0.3)  # the second writer waits on the mutex meanwhile, not on SQLite
        order.append("first commits")
        conn.commit()
    thread.join(5)
    assert order == ["first commits", "second wrote"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [1, 2]


def test_a_writer_waiting_past_the_timeout_fails_as_sqlite_would(engine: Engine) -> None:
    failed: list[BaseException] = []
    holding, done = threading.Event(), threading.Event()

    def second() -> None:
        holding.wait(5)
        try:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (2)"))
        except OperationalError as exc:
            failed.append(exc)
        done.set()

    thread = threading.Thread(target=second)
    thread.start()
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        holding.set()
        assert done.wait(5)
        conn.rollback()
    thread.join(5)
    assert len(failed) == 1 and "database is locked" in str(failed[0])


def test_the_mutex_comes_back_after_a_rollback_and_an_invalidated_connection(
    engine: Engine,
) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        raise RuntimeError("rolled back")
    conn = engine.connect()
    conn.execute(text("INSERT INTO t VALUES (2)"))
    conn.invalidate()
    conn.close()
    with engine.begin() as again:  # would wait the timeout, then fail, if the mutex were held
        again.execute(text("INSERT INTO t VALUES (3)"))
    with engine.connect() as check:
        assert check.execute(text("SELECT x FROM t")).scalars().all() == [3]
