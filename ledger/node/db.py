"""A py-evm key-value database persisted in SQLite.

py-evm 0.12 ships only in-memory databases. :class:`SqliteAtomicDB` implements its
``BaseAtomicDB`` over one SQLite table, so a chain survives a restart.

Writes made inside :meth:`SqliteAtomicDB.block_transaction` are buffered in memory and
committed in one SQLite transaction: a block, its state, its transaction and receipt tries
and the new canonical head become durable together or not at all. The buffer belongs to the
thread that builds the block: other threads keep reading the committed chain meanwhile, so
RPC reads are not held up by block production and never see a half-built block.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eth.abc import AtomicWriteBatchAPI
from eth.db.atomic import AtomicDBWriteBatch
from eth.db.backends.base import BaseAtomicDB

from ledger.errors import NodeError

_DELETED = object()

#: SQLite page cache per connection, in KiB (negative value = KiB in SQLite's pragma).
SQLITE_CACHE_KIB = 64 * 1024

#: Rows read at a time by :meth:`SqliteAtomicDB.committed_items`.
SCAN_PAGE_ROWS = 10_000


class SqliteAtomicDB(BaseAtomicDB):
    """Key-value store for py-evm over SQLite (WAL, fsync on commit)."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        uri = f"file:{path}?mode={'ro' if read_only else 'rwc'}"
        try:
            self._conn = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False
            )
            self._conn.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            if not read_only:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=FULL")
                self._conn.execute(
                    "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) "
                    "WITHOUT ROWID"
                )
        except sqlite3.Error as exc:
            raise NodeError(f"cannot open chain database {path}: {exc}") from exc
        self._lock = threading.RLock()
        self._local = threading.local()

    @property
    def _pending(self) -> dict[bytes, object] | None:
        pending: dict[bytes, object] | None = getattr(self._local, "pending", None)
        return pending

    @_pending.setter
    def _pending(self, value: dict[bytes, object] | None) -> None:
        self._local.pending = value

    # --- BaseDB --------------------------------------------------------------------

    def __getitem__(self, key: bytes) -> bytes:
        pending = self._pending
        if pending is not None and key in pending:
            value = pending[key]
            if value is _DELETED:
                raise KeyError(key)
            assert isinstance(value, bytes)
            return value
        with self._lock:
            row = self._conn.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def __setitem__(self, key: bytes, value: bytes) -> None:
        pending = self._pending
        if pending is not None:
            pending[key] = bytes(value)
        else:
            self._write({key: bytes(value)})

    def __delitem__(self, key: bytes) -> None:
        if not self._exists(key):
            raise KeyError(key)
        pending = self._pending
        if pending is not None:
            pending[key] = _DELETED
        else:
            self._write({key: _DELETED})

    def _exists(self, key: bytes) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    @contextmanager
    def atomic_batch(self) -> Iterator[AtomicWriteBatchAPI]:
        with AtomicDBWriteBatch._commit_unless_raises(self) as batch:
            yield batch

    # --- block-level transactions ---------------------------------------------------

    @contextmanager
    def block_transaction(self) -> Iterator[None]:
        """Buffer this thread's writes and commit them in one SQLite transaction at the end."""
        if self._pending is not None:
            raise NodeError("block transactions do not nest")
        pending: dict[bytes, object] = {}
        self._pending = pending
        try:
            yield
        finally:
            self._pending = None
        self._write(pending)

    def _write(self, items: dict[bytes, object]) -> None:
        if self.read_only:
            raise NodeError(f"chain database {self.path} is open read-only")
        puts = [(k, v) for k, v in items.items() if v is not _DELETED]
        dels = [(k,) for k, v in items.items() if v is _DELETED]
        with self._lock:
            self._write_locked(puts, dels)

    def _write_locked(self, puts: list[tuple[bytes, object]], dels: list[tuple[bytes]]) -> None:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if puts:
                    self._conn.executemany("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", puts)
                if dels:
                    self._conn.executemany("DELETE FROM kv WHERE k = ?", dels)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise NodeError(f"cannot write chain database {self.path}: {exc}") from exc

    def committed_items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every committed key and value, in key order, read in pages of
        :data:`SCAN_PAGE_ROWS` (the lock is not held between pages)."""
        after = b""
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT k, v FROM kv WHERE k > ? ORDER BY k LIMIT ?", (after, SCAN_PAGE_ROWS)
                ).fetchall()
            for key, value in rows:
                yield bytes(key), bytes(value)
            if len(rows) < SCAN_PAGE_ROWS:
                return
            after = bytes(rows[-1][0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
