"""The integrity audit: every stored fact is either proven or checked.

A sweep reads the stored data directly (never through a cache) and reports, as
:class:`~evidence.store.findings.Finding` values with their evidence:

- **documents against their entries and the log** — each row's entry decodes, its leaf hash is
  the log's leaf at the row's index, and the row's columns (digests, size, kind, institution,
  case, time, salt) say what the entry says; every leaf of the log has its document row;
- **originals** — each entry's original is stored, and re-hashes to the entry's SHA-256, SM3
  and size (the entry, not the columns, says what the original must be, so a forged column
  never blames an intact original); every stored original belongs to an entry;
- **the log against its anchors** — the root recomputed from the stored leaves, and the root
  from the stored inner nodes, at every confirmed anchored size, are the anchored root;
- **the custody log** — each event's bytes are its leaf, its recorded hash and its hash link
  to the event before it;
- **the anchors against the chain** (given a client) — the contract holds every confirmed
  head, with the same root, at the recorded index.

It is safe beside a running serve: it only reads, in short transactions. Findings are stored by
:func:`run_audit` (so ``/healthz`` degrades while one is open) and each new finding about a
document is recorded in the custody log as a ``tamper_detected`` event (actor ``system``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from evidence.errors import EvidenceError, NotFound, TamperingDetected
from evidence.formats.custody_event import GENESIS_HASH, Actor, CustodyEvent, CustodyObject
from evidence.formats.custody_map import (
    CustodyCheckpoint,
    ObjectState,
    map_root,
    object_key,
)
from evidence.formats.log_entry import LogEntry
from evidence.store.blob_store import BlobStore, rehash
from evidence.store.database import (
    AnchorStatus,
    anchors_table,
    custody_anchors_table,
    custody_events_table,
    custody_nodes_table,
    custody_state_table,
    documents_table,
    log_nodes_table,
    log_state_table,
)
from evidence.store.findings import (
    Finding,
    count_open_findings,
    open_findings,
    record_findings,
)
from evidence.store.repository import Database, document_from_row
from ledger.errors import LedgerError
from ledger.merkle import hash_children, hash_leaf

if TYPE_CHECKING:
    from ledger.client import LedgerClient

log = logging.getLogger(__name__)

__all__ = [
    "BATCH_ROWS",
    "DOCUMENT_KINDS",
    "AuditReport",
    "Auditor",
    "run_audit",
]

BATCH_ROWS: Final = 1000
"""Rows (documents, nodes, events) read per query of a sweep."""

ENTRY_UNDECODABLE: Final = "entry-undecodable"
ENTRY_NOT_IN_LOG: Final = "entry-not-in-log"
ROW_DISAGREES: Final = "row-disagrees-with-entry"
DOCUMENT_BEYOND_LOG: Final = "document-beyond-log"
LEAF_WITHOUT_DOCUMENT: Final = "leaf-without-document"
ORIGINAL_MISSING: Final = "original-missing"
ORIGINAL_ALTERED: Final = "original-altered"
ORPHAN_ORIGINAL: Final = "orphan-original"
SIGNATURE_MISSING: Final = "signature-missing"
SIGNATURE_ALTERED: Final = "signature-altered"
LOG_ROOT_MISMATCH: Final = "log-root-mismatch"
CUSTODY_EVENT_ALTERED: Final = "custody-event-altered"
CUSTODY_LINK_BROKEN: Final = "custody-link-broken"
CUSTODY_LEAF_WITHOUT_EVENT: Final = "custody-leaf-without-event"
CUSTODY_ROOT_MISMATCH: Final = "custody-root-mismatch"
CUSTODY_MAP_MISMATCH: Final = "custody-map-mismatch"
ANCHOR_NOT_ON_CHAIN: Final = "anchor-not-on-chain"

DOCUMENT_KINDS: Final = (
    ENTRY_UNDECODABLE,
    ENTRY_NOT_IN_LOG,
    ROW_DISAGREES,
    DOCUMENT_BEYOND_LOG,
    LEAF_WITHOUT_DOCUMENT,
    LOG_ROOT_MISMATCH,
)
"""Kinds of the checks of documents against entries, the log and its anchors."""
ORIGINAL_KINDS: Final = (ORIGINAL_MISSING, ORIGINAL_ALTERED, ORPHAN_ORIGINAL)
SIGNATURE_KINDS: Final = (SIGNATURE_MISSING, SIGNATURE_ALTERED)
"""Kinds of the check of a signed deposit's kept signature and signer certificate (the files
its version 2 entry names, in the originals' blob store's ``signatures`` namespace, or for an
earlier release's deposits DATA_DIR/signatures: docs/signatures.md §4)."""
CUSTODY_KINDS: Final = (
    CUSTODY_EVENT_ALTERED,
    CUSTODY_LINK_BROKEN,
    CUSTODY_LEAF_WITHOUT_EVENT,
    CUSTODY_ROOT_MISMATCH,
    CUSTODY_MAP_MISMATCH,
)
CHAIN_KINDS: Final = (ANCHOR_NOT_ON_CHAIN,)

#: Columns of a document row and the entry field each must equal.
_ENTRY_COLUMNS: Final = (
    ("sha256", "sha256"),
    ("sm3", "sm3"),
    ("size", "size"),
    ("kind", "kind"),
    ("institution", "institution"),
    ("case_code", "case_code"),
    ("deposited_at", "deposited_at"),
    ("salt", "salt"),
)


@dataclass
class AuditReport:
    """What a sweep looked at and found."""

    documents: int = 0
    leaves: int = 0
    originals: int = 0
    custody_events: int = 0
    anchors: int = 0
    chain_checked: bool = False
    findings: list[Finding] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)

    def summary(self) -> str:
        chain = "checked against the chain" if self.chain_checked else "chain not checked"
        return (
            f"{self.documents} documents, {self.leaves} log leaves, {self.originals} originals "
            f"re-hashed, {self.custody_events} custody events, {self.anchors} anchors ({chain}): "
            f"{len(self.findings)} findings"
        )


class _RootsAt:
    """RFC 6962 roots of a log at chosen sizes, from its leaves streamed in order, in
    O(log n) memory (a stack of the perfect subtrees the leaves so far form)."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []
        self.size = 0

    def push(self, leaf_hash: bytes) -> None:
        node, width = leaf_hash, 1
        while self._stack and self._stack[-1][0] == width:
            node = hash_children(self._stack.pop()[1], node)
            width *= 2
        self._stack.append((width, node))
        self.size += 1

    def root(self) -> bytes:
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = hash_children(left, node)
        return node


class Auditor:
    """One sweep over a database and a blob store (and, given one, the chain)."""

    def __init__(
        self,
        database: Database,
        blobs: BlobStore | None,
        *,
        client: LedgerClient | None = None,
        custody_client: LedgerClient | None = None,
        signatures: BlobStore | None = None,
    ) -> None:
        self.database = database
        self.blobs = blobs
        self.signatures = signatures
        self.client = client
        self.custody_client = custody_client

    def sweep(self) -> AuditReport:
        report = AuditReport()
        entry_digests: set[bytes] = set()
        report.findings.extend(self._documents(report, entry_digests))
        report.checked.update(DOCUMENT_KINDS)
        if self.signatures is not None:
            report.checked.update(SIGNATURE_KINDS)
        report.findings.extend(self._custody(report))
        report.checked.update(CUSTODY_KINDS)
        if self.blobs is not None:
            report.findings.extend(self._orphans(report, entry_digests))
            report.checked.update(ORIGINAL_KINDS)
        if self.client is not None:
            report.findings.extend(self._chain(report))
            report.checked.update(CHAIN_KINDS)
            report.chain_checked = True
        return report

    # --- documents, entries, log -------------------------------------------------------------

    def _documents(self, report: AuditReport, entry_digests: set[bytes]) -> Iterator[Finding]:
        size = self._size(log_state_table)
        report.leaves = size
        anchored = self._anchored_roots(anchors_table)
        roots = _RootsAt()
        documents = self._rows(documents_table, documents_table.c.leaf_index)
        document = next(documents, None)
        for index, leaf in self._leaves(log_nodes_table, size):
            roots.push(leaf)
            yield from self._root_check(roots, anchored, "document log", LOG_ROOT_MISMATCH)
            while document is not None and document.leaf_index < index:
                report.documents += 1
                yield Finding(
                    ENTRY_NOT_IN_LOG,
                    document.id,
                    f"document {document.id}: leaf {document.leaf_index} is missing from the log",
                    {"document_id": document.id, "leaf_index": document.leaf_index},
                )
                document = next(documents, None)
            if document is None or document.leaf_index > index:
                yield Finding(
                    LEAF_WITHOUT_DOCUMENT,
                    f"leaf {index}",
                    f"leaf {index} of the document log has no document row (deleted?)",
                    {"leaf_index": index, "leaf_hash": leaf.hex()},
                )
                continue
            while document is not None and document.leaf_index == index:
                report.documents += 1
                yield from self._document(document, leaf, report, entry_digests)
                document = next(documents, None)
        while document is not None:
            report.documents += 1
            yield Finding(
                DOCUMENT_BEYOND_LOG,
                document.id,
                f"document {document.id} claims leaf {document.leaf_index}, the log has {size}",
                {"document_id": document.id, "leaf_index": document.leaf_index, "log_size": size},
            )
            document = next(documents, None)

    def _document(
        self, row: Any, leaf: bytes, report: AuditReport, entry_digests: set[bytes]
    ) -> Iterator[Finding]:
        record = document_from_row(row)
        subject = record.id
        try:
            entry = LogEntry.decode(record.entry)
        except EvidenceError as exc:
            entry_digests.add(record.sha256)  # its original is not an orphan: the row is
            yield Finding(
                ENTRY_UNDECODABLE,
                subject,
                f"document {subject}: the stored entry does not decode ({exc})",
                {"document_id": subject, "leaf_index": record.leaf_index},
            )
            return
        entry_digests.add(entry.sha256)
        if hash_leaf(record.entry) != leaf:
            yield Finding(
                ENTRY_NOT_IN_LOG,
                subject,
                f"document {subject}: its entry is not leaf {record.leaf_index} of the log",
                {
                    "document_id": subject,
                    "leaf_index": record.leaf_index,
                    "entry_leaf_hash": hash_leaf(record.entry).hex(),
                    "log_leaf_hash": leaf.hex(),
                },
            )
        differ = {
            column: {"row": _shown(getattr(record, column)), "entry": _shown(getattr(entry, f))}
            for column, f in _ENTRY_COLUMNS
            if _normal(getattr(record, column)) != _normal(getattr(entry, f))
        }
        if differ:
            yield Finding(
                ROW_DISAGREES,
                subject,
                f"document {subject}: the row's {', '.join(differ)} differ from its log entry",
                {"document_id": subject, "leaf_index": record.leaf_index, "differ": differ},
            )
        if self.blobs is not None:
            report.originals += 1
            yield from self._original(subject, entry)
        if self.signatures is not None and entry.signature is not None:
            yield from self._signature(subject, entry)

    def _signature(self, subject: str, entry: LogEntry) -> Iterator[Finding]:
        """The kept signature (if detached) and signer certificate, re-hashed."""
        assert self.signatures is not None and entry.signature is not None
        named = [("signer certificate", entry.signature.signer_certificate)]
        if entry.signature.signature_sha256 is not None:
            named.insert(0, ("signature", entry.signature.signature_sha256))
        for what, sha256 in named:
            evidence = {"document_id": subject, "what": what, "sha256": sha256.hex()}
            try:
                rehash(self.signatures, sha256)
            except NotFound:
                yield Finding(
                    SIGNATURE_MISSING,
                    subject,
                    f"document {subject}: its {what} {sha256.hex()} is not kept",
                    evidence,
                )
            except TamperingDetected:
                yield Finding(
                    SIGNATURE_ALTERED,
                    subject,
                    f"document {subject}: the kept {what} no longer hashes to its entry",
                    evidence,
                )

    def _original(self, subject: str, entry: LogEntry) -> Iterator[Finding]:
        assert self.blobs is not None
        evidence = {"document_id": subject, "sha256": entry.sha256.hex()}
        try:
            digest = rehash(self.blobs, entry.sha256)
        except NotFound:
            yield Finding(
                ORIGINAL_MISSING,
                subject,
                f"document {subject}: its original {entry.sha256.hex()} is not stored",
                evidence,
            )
            return
        except TamperingDetected as exc:
            actual = getattr(exc, "actual", b"")
            yield Finding(
                ORIGINAL_ALTERED,
                subject,
                f"document {subject}: the stored original no longer hashes to its entry",
                {**evidence, "actual_sha256": actual.hex() if actual else None},
            )
            return
        if (digest.sm3, digest.size) != (entry.sm3, entry.size):
            yield Finding(
                ORIGINAL_ALTERED,
                subject,
                f"document {subject}: the stored original's SM3 or size is not its entry's",
                {**evidence, "actual_sm3": digest.sm3.hex(), "actual_size": digest.size},
            )

    def _orphans(self, report: AuditReport, entry_digests: set[bytes]) -> Iterator[Finding]:
        assert self.blobs is not None
        for sha256 in self.blobs.digests():
            if sha256 not in entry_digests:
                yield Finding(
                    ORPHAN_ORIGINAL,
                    f"original {sha256.hex()}",
                    f"the stored original {sha256.hex()} belongs to no log entry (its row was "
                    "deleted, or its upload was never acknowledged); kept, never deleted",
                    {"sha256": sha256.hex()},
                )

    # --- custody log -----------------------------------------------------------------------

    def _custody(self, report: AuditReport) -> Iterator[Finding]:
        size = self._size(custody_state_table)
        anchored = self._anchored_roots(custody_anchors_table)
        roots = _RootsAt()
        events = self._rows(custody_events_table, custody_events_table.c.leaf_index)
        event = next(events, None)
        previous = GENESIS_HASH
        custody_map = _MapReplay()
        for index, leaf in self._leaves(custody_nodes_table, size):
            roots.push(leaf)
            yield from self._root_check(roots, anchored, "custody log", CUSTODY_ROOT_MISMATCH)
            while event is not None and event.leaf_index < index:
                yield Finding(
                    CUSTODY_EVENT_ALTERED,
                    f"custody leaf {event.leaf_index}",
                    f"custody event {event.leaf_index}: its leaf is missing from the log",
                    {"leaf_index": int(event.leaf_index)},
                )
                event = next(events, None)
            if event is None or event.leaf_index > index:
                yield Finding(
                    CUSTODY_LEAF_WITHOUT_EVENT,
                    f"custody leaf {index}",
                    f"leaf {index} of the custody log has no event row (deleted?)",
                    {"leaf_index": index, "leaf_hash": leaf.hex()},
                )
                previous = leaf
                continue
            report.custody_events += 1
            data = bytes(event.event)
            evidence = {"leaf_index": index, "leaf_hash": leaf.hex()}
            if hash_leaf(data) != leaf or bytes(event.event_hash) != leaf:
                yield Finding(
                    CUSTODY_EVENT_ALTERED,
                    f"custody leaf {index}",
                    f"custody event {index}: its stored bytes or hash are not the log's leaf",
                    {**evidence, "event_leaf_hash": hash_leaf(data).hex()},
                )
            elif CustodyCheckpoint.is_checkpoint(data):
                yield from custody_map.checkpoint(index, data, previous, evidence)
            else:
                try:
                    decoded = CustodyEvent.decode(data)
                except EvidenceError:
                    decoded = None
                if decoded is not None:
                    custody_map.event(decoded.object, leaf)
                if decoded is not None and decoded.prev != previous:
                    yield Finding(
                        CUSTODY_LINK_BROKEN,
                        f"custody leaf {index}",
                        f"custody event {index} does not link to the event before it",
                        {**evidence, "prev": decoded.prev.hex(), "expected": previous.hex()},
                    )
            previous = leaf
            event = next(events, None)
        yield from custody_map.finish()

    # --- anchors -----------------------------------------------------------------------------

    def _chain(self, report: AuditReport) -> Iterator[Finding]:
        pairs: list[tuple[str, str, Table, LedgerClient | None]] = [
            ("document log", "documents", anchors_table, self.client),
            ("custody log", "custody", custody_anchors_table, self.custody_client),
        ]
        for name, log_name, table, client in pairs:
            if client is None:
                continue
            count = client.head_count()
            for size, (root, index) in self._anchored_roots(table).items():
                report.anchors += 1
                head = client.head_at(index) if index is not None and index < count else None
                if head is None or (head.tree_size, head.root_hash) != (size, root):
                    yield Finding(
                        ANCHOR_NOT_ON_CHAIN,
                        f"{name} anchor {size}",
                        f"the {name} head {size} recorded as anchored as head #{index} is not "
                        "on the chain",
                        {
                            "log": log_name,
                            "tree_size": size,
                            "root_hash": root.hex(),
                            "anchor_index": index,
                            "chain": None
                            if head is None
                            else {"tree_size": head.tree_size, "root_hash": head.root_hash.hex()},
                        },
                    )

    def _root_check(
        self,
        roots: _RootsAt,
        anchored: dict[int, tuple[bytes, int | None]],
        name: str,
        kind: str,
    ) -> Iterator[Finding]:
        claimed = anchored.get(roots.size)
        if claimed is None:
            return
        computed = roots.root()
        if computed != claimed[0]:
            yield Finding(
                kind,
                f"{name} anchor {roots.size}",
                f"the {name}'s leaves give root {computed.hex()} at size {roots.size}, the "
                f"anchored root is {claimed[0].hex()}",
                {"tree_size": roots.size, "anchored": claimed[0].hex(), "computed": computed.hex()},
            )

    # --- reading -----------------------------------------------------------------------------

    def _size(self, state: Table) -> int:
        with self.database.session() as session:
            return int(session.execute(select(state.c.size)).scalar_one())

    def _anchored_roots(self, table: Table) -> dict[int, tuple[bytes, int | None]]:
        with self.database.session() as session:
            rows = session.execute(
                select(table.c.tree_size, table.c.root_hash, table.c.anchor_index).where(
                    table.c.status == AnchorStatus.CONFIRMED.value
                )
            ).all()
        return {int(r.tree_size): (bytes(r.root_hash), r.anchor_index) for r in rows}

    def _leaves(self, nodes: Table, size: int) -> Iterator[tuple[int, bytes]]:
        """The log's leaf hashes (level 0) in order; a missing one ends the log early."""
        start = 0
        while start < size:
            with self.database.session() as session:
                rows = session.execute(
                    select(nodes.c.idx, nodes.c.hash)
                    .where(nodes.c.level == 0, nodes.c.idx >= start, nodes.c.idx < size)
                    .order_by(nodes.c.idx)
                    .limit(BATCH_ROWS)
                ).all()
            if not rows:
                return
            for row in rows:
                yield int(row.idx), bytes(row.hash)
            start = int(rows[-1].idx) + 1

    def _rows(self, table: Table, order: Any) -> Iterator[Any]:
        last: int | None = None
        while True:
            with self.database.session() as session:
                query = select(table).order_by(order).limit(BATCH_ROWS)
                if last is not None:
                    query = query.where(order > last)
                rows = session.execute(query).all()
            if not rows:
                return
            yield from rows
            last = int(getattr(rows[-1], order.key))


def _normal(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(microsecond=0)
    return value


def _shown(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def run_audit(
    auditor: Auditor,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    record_tamper: Callable[[Session, Sequence[Finding]], None] | None = None,
) -> tuple[AuditReport, list[Finding]]:
    """Sweep, store the findings, and record new findings about documents in the custody log
    (``record_tamper`` appends their events in the same transaction). Returns the report and
    the findings that are new."""
    report = auditor.sweep()
    with auditor.database.session() as session:
        new = record_findings(session, report.findings, now=now(), checked=report.checked)
        if record_tamper is not None and new:
            record_tamper(session, new)
        session.commit()
    for finding in new:
        log.error("audit: %s: %s", finding.kind, finding.detail)
    return report, new


def record_tamper_events(session: Session, findings: Sequence[Finding]) -> None:
    """Append ``tamper_detected`` custody events (actor ``system``) in the caller's
    transaction: one per document that ``findings`` are about, and one per log (``documents``
    or ``custody``) for the findings about no document (log leaves, anchors, custody events),
    its note naming them."""
    from evidence.services.custody_recording import append_events, fit_note, new_draft

    drafts = [
        new_draft("tamper_detected", Actor.system(), obj) for obj in document_subjects(findings)
    ]
    for name, about in log_subjects(findings).items():
        note = "; ".join(f"{f.kind}: {f.detail}" for f in about)
        drafts.append(
            new_draft(
                "tamper_detected", Actor.system(), CustodyObject.log(name), note=fit_note(note)
            )
        )
    if drafts:
        append_events(session, drafts)


def log_subjects(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    """The findings about no document, by the log they are about (``documents``,
    ``custody``)."""
    out: dict[str, list[Finding]] = {}
    for finding in findings:
        if isinstance(finding.evidence.get("document_id"), str):
            continue
        custody = finding.kind in CUSTODY_KINDS or finding.evidence.get("log") == "custody"
        out.setdefault("custody" if custody else "documents", []).append(finding)
    return out


@dataclass(frozen=True)
class OpenFindings:
    """How many findings are open, and the first few (for ``/healthz``)."""

    count: int
    first: tuple[Finding, ...]


def open_findings_now(database: Database, shown: int = 5) -> OpenFindings:
    with database.session() as session:
        return OpenFindings(
            count_open_findings(session),
            tuple(f.finding for f in open_findings(session, shown)),
        )


def document_subjects(findings: Sequence[Finding]) -> list[CustodyObject]:
    """The documents that ``findings`` are about, once each (for ``tamper_detected``)."""
    out: list[CustodyObject] = []
    for finding in findings:
        document_id = finding.evidence.get("document_id")
        if isinstance(document_id, str):
            obj = CustodyObject.document(document_id)
            if obj not in out:
                out.append(obj)
    return out


class AuditThread:
    """Runs :func:`run_audit` every ``interval`` seconds in the background (serve)."""

    def __init__(self, run: Callable[[], object], interval: float) -> None:
        self._run = run
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="zl-audit", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._run()
                self.last_error = None
            except (EvidenceError, LedgerError) as exc:
                self.last_error = str(exc)
                log.warning("audit sweep failed: %s", exc)
            except Exception as exc:
                self.last_error = str(exc)
                log.exception("audit sweep error")


class _MapReplay:
    """The custody map rebuilt from the events, to check the checkpoints: each one's position
    and link, and the latest one's root and object count against the map of the events before
    it (one map computed per sweep: the older checkpoints are in the anchored log, and their
    roots were checked when they were the latest)."""

    def __init__(self) -> None:
        self.states: dict[bytes, ObjectState] = {}
        self.before_checkpoint: dict[bytes, ObjectState | None] = {}
        self.latest: tuple[int, CustodyCheckpoint, dict[str, object]] | None = None

    def event(self, obj: CustodyObject, leaf: bytes) -> None:
        key = object_key(obj)
        state = self.states.get(key)
        if key not in self.before_checkpoint:
            self.before_checkpoint[key] = state
        self.states[key] = ObjectState((0 if state is None else state.events) + 1, leaf)

    def checkpoint(
        self, index: int, data: bytes, previous: bytes, evidence: dict[str, object]
    ) -> Iterator[Finding]:
        try:
            checkpoint = CustodyCheckpoint.decode(data)
        except EvidenceError as exc:
            yield Finding(
                CUSTODY_EVENT_ALTERED,
                f"custody leaf {index}",
                f"custody checkpoint {index} does not decode: {exc}",
                evidence,
            )
            return
        if checkpoint.leaf_index != index or checkpoint.prev != previous:
            yield Finding(
                CUSTODY_LINK_BROKEN,
                f"custody leaf {index}",
                f"custody checkpoint {index} says it is leaf {checkpoint.leaf_index} or does not "
                "link to the leaf before it",
                {**evidence, "prev": checkpoint.prev.hex(), "expected": previous.hex()},
            )
        self.before_checkpoint = {}
        self.latest = (index, checkpoint, evidence)

    def finish(self) -> Iterator[Finding]:
        if self.latest is None:
            return
        index, checkpoint, evidence = self.latest
        snapshot = dict(self.states)
        for key, state in self.before_checkpoint.items():
            if state is None:
                del snapshot[key]
            else:
                snapshot[key] = state
        root = map_root(snapshot)
        if (root, len(snapshot)) != (checkpoint.root, checkpoint.objects):
            yield Finding(
                CUSTODY_MAP_MISMATCH,
                f"custody leaf {index}",
                f"custody checkpoint {index} commits to a map of {checkpoint.objects} objects "
                f"with root {checkpoint.root.hex()}, but the events before it give "
                f"{len(snapshot)} objects with root {root.hex()}",
                {**evidence, "expected_root": root.hex(), "objects": len(snapshot)},
            )
