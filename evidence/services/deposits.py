"""Deposits: durable (blob + metadata + log entry committed) before they are acknowledged.

The original goes to the blob store first (content-addressed, idempotent). Then its log entry
and metadata row are committed together with the new Merkle nodes in one database
transaction, and so is the deposit's custody event when custody is recorded. Deposits
arriving together share that transaction (:mod:`evidence.store.group_commit`), so throughput is not
capped by one fsync per request: each caller waits only for the commit that carries its
deposit, never for anchoring.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from evidence.errors import InputError
from evidence.formats.custody_event import Actor, CustodyEventError, CustodyObject
from evidence.formats.log_entry import LogEntry, new_entry
from evidence.services.custody_recording import (
    CustodyRecorder,
    EventDraft,
    append_events,
    new_draft,
)
from evidence.services.signature_checking import SignatureChecking
from evidence.store.blob_store import BlobStore
from evidence.store.group_commit import GroupCommitter, commit_with_retry
from evidence.store.repository import (
    Database,
    DocumentRecord,
    NewDocument,
    SqlNodeStore,
    add_documents,
)
from evidence.verify.document_signature import DocumentSignature
from ledger.merkle import MerkleLog

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
    signature: bytes | None = None
    """A detached CMS signature over the original (checked, kept, committed to: entry v2)."""


def clean_filename(name: str | None) -> str | None:
    """The original file name, kept as metadata only and never used as a path.

    A name with a path separator, NUL or other control character is refused rather than
    repaired, so what is stored is exactly what the client sent. An empty name means none.
    """
    if name is None or name == "":
        return None
    if "\x00" in name:
        raise InputError("file name contains a NUL character")
    if "/" in name or "\\" in name:
        raise InputError("file name must not contain a path separator ('/' or '\\')")
    if any(not ch.isprintable() for ch in name):
        raise InputError("file name contains control characters")
    if name.strip() in {"", ".", ".."}:
        raise InputError(f"{name!r} is not a file name")
    if len(name) > MAX_FILENAME_CHARS:
        raise InputError(f"file name longer than {MAX_FILENAME_CHARS} characters")
    return name


def check_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise InputError("title must not be empty")
    if len(title) > MAX_TITLE_CHARS:
        raise InputError(f"title longer than {MAX_TITLE_CHARS} characters")
    if any(not ch.isprintable() for ch in title):
        raise InputError("title contains control characters")
    return title


@dataclass(frozen=True)
class _Deposit:
    entry: LogEntry
    row: NewDocument
    custody: EventDraft | None


class DepositService:
    """Stores originals and commits their log entries and metadata (group commit).

    With a ``custody`` recorder, each deposit's custody event (``deposit``, by the depositor,
    from the client address) is appended in the same transaction as the deposit: a deposit
    is never stored without its custody event, nor the event without the deposit.
    """

    def __init__(
        self,
        database: Database,
        blobs: BlobStore,
        *,
        max_upload_bytes: int,
        custody: CustodyRecorder | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        signatures: SignatureChecking | None = None,
    ) -> None:
        self.database = database
        self.signatures = signatures
        self.blobs = blobs
        self.max_upload_bytes = max_upload_bytes
        self._custody = custody
        self._clock = clock
        self._committer: GroupCommitter[_Deposit, DocumentRecord] = GroupCommitter(
            "deposit",
            self._commit,
            max_batch=GROUP_COMMIT_MAX,
            window=GROUP_COMMIT_WINDOW,
            timeout=COMMIT_TIMEOUT,
            after_commit=None if custody is None else custody.appended,
        )

    def deposit(
        self,
        chunks: Iterable[bytes],
        request: DepositRequest,
        depositor: Depositor,
        client_address: str | None = None,
    ) -> DocumentRecord:
        """Store the original, then commit its entry (and custody event); return the record.

        :raises InputError: bad title, file name or client address, or a signature that does
            not hold (:class:`~evidence.verify.document_signature.SignatureRefused`); nothing
            is stored.
        :raises EvidenceError: the deposit could not be committed (the caller must not assume
            it is stored).
        """
        title = check_title(request.title)
        filename = clean_filename(request.filename)
        document_id = str(uuid.uuid4())
        custody = None
        if self._custody is not None:
            actor = Actor(depositor.role, depositor.token_id, depositor.institution)
            try:
                custody = new_draft(
                    "deposit", actor, CustodyObject.document(document_id), client_address
                )
            except CustodyEventError as exc:
                raise InputError(f"cannot record the deposit's custody event: {exc}") from exc
        checked: Callable[[], DocumentSignature | None] | None = None
        if request.signature is not None:
            if self.signatures is None:
                raise InputError("this server does not check signatures: deposit without one")
            # Checked before the put's last piece: a refused signature stores nothing.
            chunks, checked = self.signatures.checked(chunks, request.signature)
        elif self.signatures is not None:  # a PDF may carry its signature inside
            chunks, checked = self.signatures.embedded(chunks)
        stored = self.blobs.put(chunks, max_size=self.max_upload_bytes)
        digest = stored.digest
        signature = None
        signed = checked() if checked is not None else None
        if signed is not None:
            assert self.signatures is not None
            self.signatures.keep(request.signature, signed)
            signature = signed.entry_signature()
        entry = new_entry(
            digest.sha256,
            digest.sm3,
            digest.size,
            request.kind,
            depositor.institution,
            request.case_code,
            self._clock(),
            signature=signature,
        )
        row = NewDocument(
            id=document_id,
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
        return self._committer.submit(_Deposit(entry, row, custody))

    def close(self) -> None:
        self._committer.close()

    def _commit(self, batch: list[_Deposit]) -> list[DocumentRecord]:
        return commit_with_retry(self.database, lambda session: self._append(session, batch))

    @staticmethod
    def _append(session: Session, batch: list[_Deposit]) -> list[DocumentRecord]:
        merkle = MerkleLog(SqlNodeStore(session))
        start = merkle.size()
        merkle.append_many([d.entry.leaf_hash() for d in batch])
        records = add_documents(
            session, [d.row.with_leaf_index(start + i) for i, d in enumerate(batch)]
        )
        drafts = [d.custody for d in batch if d.custody is not None]
        if drafts:
            append_events(session, drafts)
        return records
