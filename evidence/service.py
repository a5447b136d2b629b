"""Deposits: durable (blob + metadata + log entry committed) before they are acknowledged.

The original goes to the blob store first (content-addressed, idempotent). Then its log entry
and metadata row are committed together with the new Merkle nodes in one database
transaction. Deposits arriving together share that transaction (group commit), so throughput
is not capped by one fsync per request: each caller waits only for the commit that carries
its deposit, never for anchoring.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime

from evidence.blobstore import BlobStore
from evidence.entry import LogEntry, new_entry
from evidence.errors import EvidenceError, InputError
from evidence.repository import (
    Database,
    DocumentRecord,
    NewDocument,
    SqlNodeStore,
    add_documents,
)
from ledger.merkle import MerkleLog

log = logging.getLogger(__name__)

#: Most deposits committed in one database transaction.
GROUP_COMMIT_MAX = 256
#: Seconds a commit waits for more deposits to join it once the first has arrived.
GROUP_COMMIT_WINDOW = 0.002
#: Longest title (characters).
MAX_TITLE_CHARS = 500
#: Longest original file name kept as metadata (characters).
MAX_FILENAME_CHARS = 255
#: Seconds a depositor waits for its commit before giving up (the deposit is then unknown).
COMMIT_TIMEOUT = 60.0


@dataclass(frozen=True)
class Depositor:
    """Who deposits: from the authenticated token, never from the request body."""

    token_id: str
    institution: str
    role: str


@dataclass(frozen=True)
class DepositRequest:
    kind: str
    title: str
    case_code: str | None = None
    filename: str | None = None


def clean_filename(name: str | None) -> str | None:
    """The original file name as metadata only: no path, no control characters, bounded."""
    if name is None:
        return None
    if "\x00" in name:
        raise InputError("file name contains a NUL character")
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable())
    if not base or base in {".", ".."}:
        return None
    if len(base) > MAX_FILENAME_CHARS:
        raise InputError(f"file name longer than {MAX_FILENAME_CHARS} characters")
    return base


def check_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise InputError("title must not be empty")
    if len(title) > MAX_TITLE_CHARS:
        raise InputError(f"title longer than {MAX_TITLE_CHARS} characters")
    if any(not ch.isprintable() for ch in title):
        raise InputError("title contains control characters")
    return title


@dataclass
class _Pending:
    entry: LogEntry
    row: NewDocument
    future: Future[DocumentRecord]


class GroupCommitter:
    """One writer thread: appends entries to the log and commits rows in shared transactions."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="zl-commit", daemon=True)
        self._thread.start()

    def submit(self, entry: LogEntry, row: NewDocument) -> DocumentRecord:
        future: Future[DocumentRecord] = Future()
        self._queue.put(_Pending(entry, row, future))
        return future.result(timeout=COMMIT_TIMEOUT)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(10)

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + GROUP_COMMIT_WINDOW
            while len(batch) < GROUP_COMMIT_MAX:
                timeout = deadline - time.monotonic()
                try:
                    item = (
                        self._queue.get(timeout=max(timeout, 0))
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

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            with self._db.session() as session:
                store = SqlNodeStore(session)
                merkle = MerkleLog(store)
                start = merkle.size()
                merkle.append_many([p.entry.leaf_hash() for p in batch])
                rows = [p.row.with_leaf_index(start + i) for i, p in enumerate(batch)]
                records = add_documents(session, rows)
                session.commit()
        except Exception as exc:  # every waiting depositor learns the deposit failed
            log.error("commit of %d deposits failed: %s", len(batch), exc)
            for p in batch:
                p.future.set_exception(exc)
            return
        for p, record in zip(batch, records, strict=True):
            p.future.set_result(record)


class DepositService:
    def __init__(
        self,
        database: Database,
        blobs: BlobStore,
        *,
        max_upload_bytes: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.database = database
        self.blobs = blobs
        self.max_upload_bytes = max_upload_bytes
        self._clock = clock
        self._committer = GroupCommitter(database)

    def deposit(
        self, chunks: Iterable[bytes], request: DepositRequest, depositor: Depositor
    ) -> DocumentRecord:
        title = check_title(request.title)
        filename = clean_filename(request.filename)
        stored = self.blobs.put(chunks, max_size=self.max_upload_bytes)
        digest = stored.digest
        entry = new_entry(
            digest.sha256,
            digest.sm3,
            digest.size,
            request.kind,
            depositor.institution,
            request.case_code,
            self._clock(),
        )
        row = NewDocument(
            id=str(uuid.uuid4()),
            leaf_index=-1,
            sha256=digest.sha256,
            sm3=digest.sm3,
            size=digest.size,
            kind=entry.kind,
            title=title,
            case_code=entry.case_code,
            institution=depositor.institution,
            depositor=depositor.token_id,
            filename=filename,
            salt=entry.salt,
            entry=entry.encode(),
            deposited_at=entry.deposited_at,
        )
        try:
            return self._committer.submit(entry, row)
        except EvidenceError:
            raise
        except TimeoutError as exc:
            raise EvidenceError("the deposit was not committed in time") from exc

    def close(self) -> None:
        self._committer.close()
