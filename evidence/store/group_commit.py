"""Group commit: work items arriving together are committed in one database transaction.

One writer thread per :class:`GroupCommitter` takes the first waiting item, lets others join
it for a short window, and commits the batch with one call of its ``commit`` function; each
caller waits only for the commit that carries its item. Throughput is then not capped by one
fsync per request, and the writer thread is the only writer of what it commits in this
process. Deposits (with their custody events) and other custody events use it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from evidence.errors import EvidenceError, StorageError
from evidence.store.repository import Database
from ledger.errors import MerkleError

__all__ = ["COMMIT_ATTEMPTS", "GroupCommitter", "commit_with_retry"]

log = logging.getLogger(__name__)

COMMIT_ATTEMPTS = 5
"""Attempts at one transaction when another writer (another process) appended first."""

T = TypeVar("T")
R = TypeVar("R")


def commit_with_retry(database: Database, work: Callable[[Session], R]) -> R:
    """Run ``work`` in a new transaction and commit it; run it again on a lost race.

    A lost race is MerkleError (another process appended to the log first, which the logs'
    state-row locks make rare) or StorageError (SQLite refused a stale snapshot: "database is
    locked"). ``work`` must therefore only write through the session it is given. Other errors
    and the last attempt's error leave unchanged.
    """
    for attempt in range(COMMIT_ATTEMPTS):
        try:
            with database.session() as session:
                result = work(session)
                session.commit()
                return result
        except (MerkleError, StorageError) as exc:
            if attempt == COMMIT_ATTEMPTS - 1:
                raise
            log.info("a commit lost a race (%s); retrying", exc)
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


@dataclass
class _Waiting(Generic[T, R]):
    item: T
    future: Future[R]


class GroupCommitter(Generic[T, R]):
    """A writer thread committing items in batches; :meth:`submit` returns once committed.

    ``commit(batch)`` commits every item of ``batch`` (all or none) and returns one result per
    item, in order. If it raises, every caller of that batch gets its exception.
    ``after_commit`` runs after each successful commit (e.g. to wake an anchoring worker).
    """

    def __init__(
        self,
        name: str,
        commit: Callable[[list[T]], Sequence[R]],
        *,
        max_batch: int,
        window: float,
        timeout: float,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._name = name
        self._commit_batch = commit
        self._max_batch = max_batch
        self._window = window
        self._timeout = timeout
        self._after_commit = after_commit
        self._queue: queue.Queue[_Waiting[T, R] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"zl-{name}", daemon=True)
        self._thread.start()

    def submit(self, item: T) -> R:
        """Commit ``item`` (with whatever arrives with it); return its result.

        :raises EvidenceError: not committed within the timeout (its fate is then unknown).
        """
        future: Future[R] = Future()
        self._queue.put(_Waiting(item, future))
        try:
            return future.result(timeout=self._timeout)
        except TimeoutError as exc:
            raise EvidenceError(f"the {self._name} was not committed in time") from exc

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        self._queue.put(None)
        self._thread.join(10)

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self._window
            while len(batch) < self._max_batch:
                timeout = deadline - time.monotonic()
                try:
                    item = (
                        self._queue.get(timeout=timeout)
                        if timeout > 0
                        else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Waiting[T, R]]) -> None:
        try:
            results = self._commit_batch([w.item for w in batch])
        except Exception as exc:  # every waiting caller learns its item was not committed
            log.error("commit of %d %s items failed: %s", len(batch), self._name, exc)
            for w in batch:
                w.future.set_exception(exc)
            return
        for w, result in zip(batch, results, strict=True):
            w.future.set_result(result)
        if self._after_commit is not None:
            try:
                self._after_commit()
            except Exception:  # a failed wake-up must not stop the writer
                log.exception("after-commit hook of %s failed", self._name)
