"""The chain of custody: recording custody events in the custody log, and exporting them.

Every deposit, fetch, share, verification by a token holder and administrative action
appends one :class:`~evidence.formats.custody_event.CustodyEvent` to a second RFC 6962 log (tables
``custody_*``), whose heads are anchored in a second LogAnchor contract by a second
:class:`~evidence.services.anchoring.AnchoringWorker` (:data:`CUSTODY_LOG`). Each event links to the
log's previous event and to the previous event about the same object (``docs/custody.md``).

Recording is durable before :meth:`CustodyRecorder.record` returns, and cheap under load:
events arriving together are appended and committed in one transaction by one writer thread
(as deposits are). An action that changes state (a case, a share, a token, an institution)
appends its event in its own transaction (:meth:`CustodyRecorder.record_in`; the ``zhenglian``
CLI likewise), so the action and its event are stored together or not at all; a deposit's
event too (:mod:`evidence.services.deposits`). :func:`record_event` appends one event in a
transaction of its own. Every append first locks the custody log's state row, so
writers in any process take turns and always link to the latest event; the log's append guard
(``SqlNodeStore.append_nodes``) would still refuse a stale append, so the chain never forks.

Before the custody log is anchored, :func:`append_checkpoint` appends a checkpoint leaf that
commits to the custody map — every object's number of events and latest event — and the
anchoring worker anchors the log exactly up to it (:data:`CUSTODY_LOG`). Exports
(:func:`custody_export`) are paged, and prove with that map that they list every event about
their object up to the anchored checkpoint (``docs/custody.md`` §4).
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from evidence.errors import StorageError
from evidence.formats.canonical_json import FORBIDDEN_IN_FREE_TEXT
from evidence.formats.custody_event import (
    ACTOR_DETAIL_SALT_BYTES,
    GENESIS_HASH,
    MAX_NOTE_CHARS,
    Actor,
    ActorDetail,
    CustodyEvent,
    CustodyEventError,
    CustodyObject,
)
from evidence.formats.custody_export import (
    MAX_EXPORT_EVENTS,
    CustodyExport,
    ExportedCheckpoint,
    ExportedEvent,
)
from evidence.formats.custody_map import (
    CustodyCheckpoint,
    CustodyMapError,
    ObjectState,
    object_key,
)
from evidence.services.anchoring import AnchoredLog
from evidence.store.database import (
    custody_anchors_table,
    custody_events_table,
    custody_nodes_table,
    custody_state_table,
)
from evidence.store.group_commit import GroupCommitter, commit_with_retry
from evidence.store.repository import Database, SqlNodeStore, latest_confirmed_anchor
from evidence.store.versioned_map import MapPlan, SqlCustodyMap
from ledger.anchor_proof import AnchorProof
from ledger.merkle import MerkleLog

__all__ = [
    "CHECKPOINT_ACTION",
    "COMMIT_MAX",
    "COMMIT_WINDOW",
    "CUSTODY_LOG",
    "RECORD_TIMEOUT",
    "CustodyRecord",
    "CustodyRecorder",
    "EventDraft",
    "append_checkpoint",
    "append_events",
    "client_address",
    "custody_export",
    "custody_store",
    "new_draft",
    "record_event",
]

COMMIT_MAX = 256
"""Most custody events committed in one transaction."""

COMMIT_WINDOW = 0.002
"""Seconds a commit waits for more events to join it once the first has arrived."""

RECORD_TIMEOUT = 60.0
"""Seconds :meth:`CustodyRecorder.record` waits for its commit before giving up."""


def _recorded_at(session: Session, leaf_index: int) -> datetime | None:
    row = session.execute(
        select(custody_events_table.c.recorded_at).where(
            custody_events_table.c.leaf_index == leaf_index
        )
    ).first()
    return None if row is None else row[0]


CHECKPOINT_ACTION = "checkpoint"
"""The ``action`` (and ``object_type``) column of a checkpoint leaf's row in ``custody_events``:
no custody action or object type has this name, so no object's events include it."""


def _checkpoint_for_anchoring(database: Database) -> int:
    # The map's update is worked out first, without the write lock (deposits append custody
    # events meanwhile); the write transaction then adds only what was appended since.
    with database.session() as session:
        plan = plan_checkpoint(session)
    return commit_with_retry(database, lambda session: append_checkpoint(session, plan=plan))


CUSTODY_LOG = AnchoredLog(
    "custody",
    custody_nodes_table,
    custody_state_table,
    custody_anchors_table,
    _recorded_at,
    checkpoint=_checkpoint_for_anchoring,
)
"""The custody log, for :class:`evidence.services.anchoring.AnchoringWorker`: anchored up to a
checkpoint (:func:`append_checkpoint`) each time."""


def custody_store(session: Session) -> SqlNodeStore:
    """The custody log's Merkle nodes, in the caller's transaction."""
    return CUSTODY_LOG.store(session)


def client_address(host: str | None) -> str | None:
    """The canonical text of a client's IP address; None if ``host`` is not one."""
    if not host:
        return None
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        return None


def _now_ms() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class EventDraft:
    action: str
    actor: Actor
    object: CustodyObject
    client: str | None
    time: datetime
    note: str | None = None

    def check(self) -> None:
        """Raise CustodyEventError now (in the caller) if the event would be malformed, as
        :func:`append_events` writes it: a token or address committed to (version 3 or 4)."""
        detail = None
        if self.actor.token_id is not None or self.client is not None:
            detail = ActorDetail(bytes(ACTOR_DETAIL_SALT_BYTES), self.actor.token_id, self.client)
        CustodyEvent(
            self.action,
            self.actor if detail is None else self.actor.without_token(),
            self.object,
            self.time,
            None if detail is not None else self.client,
            GENESIS_HASH,
            GENESIS_HASH,
            self.note,
            actor_detail=None if detail is None else detail.commitment(),
        )


@dataclass(frozen=True)
class CustodyRecord:
    """A stored custody event: its position in the custody log and its exact bytes."""

    leaf_index: int
    event: CustodyEvent
    event_bytes: bytes
    event_hash: bytes
    actor: Actor
    """Who acted, with the token (a version 3 event commits to it instead of naming it)."""
    client: str | None
    detail: ActorDetail | None
    """The opening of a version 3 event's ``actor_detail``."""


def append_events(session: Session, drafts: Sequence[EventDraft]) -> list[CustodyRecord]:
    """Append events in the caller's transaction (the caller commits); link each to the log's
    previous event and to the previous event about its object.

    Writers are serialised by a lock on the log's state row taken first; MerkleError (another
    writer appended anyway, which the lock should make impossible) means: roll back and try
    again (:func:`evidence.store.group_commit.commit_with_retry` does).
    """
    if not drafts:
        return []
    merkle, start = _lock_and_size(session)
    prev = _leaf_hash_at(session, start - 1) if start else GENESIS_HASH
    last_about: dict[CustodyObject, bytes] = {}
    c = custody_events_table.c
    for draft in drafts:
        if draft.object in last_about:
            continue
        found = session.execute(
            select(c.event_hash)
            .where(c.object_type == draft.object.type, c.object_id == draft.object.id)
            .order_by(c.leaf_index.desc())
            .limit(1)
        ).first()
        last_about[draft.object] = GENESIS_HASH if found is None else bytes(found[0])
    records = []
    for i, draft in enumerate(drafts):
        detail = None
        if draft.actor.token_id is not None or draft.client is not None:
            detail = ActorDetail(
                secrets.token_bytes(ACTOR_DETAIL_SALT_BYTES), draft.actor.token_id, draft.client
            )
        event = CustodyEvent(
            draft.action,
            draft.actor if detail is None else draft.actor.without_token(),
            draft.object,
            draft.time,
            None if detail is not None else draft.client,
            prev,
            last_about[draft.object],
            draft.note,
            actor_detail=None if detail is None else detail.commitment(),
        )
        data = event.encode()
        leaf = event.leaf_hash()
        records.append(
            CustodyRecord(start + i, event, data, leaf, draft.actor, draft.client, detail)
        )
        prev = leaf
        last_about[draft.object] = leaf
    merkle.append_many([r.event_hash for r in records])
    session.execute(
        insert(custody_events_table),
        [
            {
                "leaf_index": r.leaf_index,
                "event_hash": r.event_hash,
                "action": r.event.action,
                "object_type": r.event.object.type,
                "object_id": r.event.object.id,
                "actor_role": r.actor.role,
                "actor_token": r.actor.token_id,
                "actor_institution": r.actor.institution,
                "client": r.client,
                "recorded_at": r.event.time,
                "event": r.event_bytes,
                "detail_salt": None if r.detail is None else r.detail.salt,
            }
            for r in records
        ],
    )
    return records


def _lock_and_size(session: Session) -> tuple[MerkleLog, int]:
    # Take the custody log's write lock first (a no-op UPDATE of its state row: the row lock
    # on PostgreSQL, the database write lock on SQLite), so the links read next are the
    # latest and no other writer can append before this transaction ends.
    state = custody_state_table
    session.execute(update(state).where(state.c.id == 1).values(size=state.c.size))
    merkle = MerkleLog(custody_store(session))
    return merkle, merkle.size()


def _leaf_hash_at(session: Session, index: int) -> bytes:
    row = session.execute(
        select(custody_events_table.c.event_hash).where(custody_events_table.c.leaf_index == index)
    ).first()
    if row is None:
        raise StorageError(f"custody event {index} is missing")
    return bytes(row[0])


def _latest_checkpoint(session: Session, below: int) -> tuple[int, bytes] | None:
    """The leaf index and bytes of the latest checkpoint below leaf ``below``."""
    c = custody_events_table.c
    row = session.execute(
        select(c.leaf_index, c.event)
        .where(c.action == CHECKPOINT_ACTION, c.leaf_index < below)
        .order_by(c.leaf_index.desc())
        .limit(1)
    ).first()
    return None if row is None else (int(row.leaf_index), bytes(row.event))


def _decode_checkpoint(index: int, data: bytes) -> CustodyCheckpoint:
    try:
        return CustodyCheckpoint.decode(data)
    except CustodyMapError as exc:
        raise StorageError(f"custody checkpoint {index} is corrupt: {exc}") from exc


@dataclass(frozen=True)
class CheckpointPlan:
    """The custody map's update for the events up to ``size`` after the checkpoint at leaf
    ``since`` (-1: none), worked out by reading only (:func:`plan_checkpoint`)."""

    since: int
    size: int
    objects: int
    """The number of objects in the map once the plan is written."""
    map_plan: MapPlan


def _map_changes(
    session: Session, custody_map: SqlCustodyMap, start: int, end: int, version: int | None
) -> tuple[dict[bytes, ObjectState], int]:
    """The map's changes for the events at leaves ``start`` to ``end - 1``, from the states as
    of ``version`` (None: an empty map), and how many of their objects it does not hold."""
    c = custody_events_table.c
    changes: dict[bytes, ObjectState] = {}
    new_objects = 0
    rows = session.execute(
        select(c.leaf_index, c.object_type, c.object_id, c.event_hash, c.action)
        .where(c.leaf_index >= start, c.leaf_index < end)
        .order_by(c.leaf_index)
    )
    for row in rows:
        if row.action == CHECKPOINT_ACTION:
            raise StorageError(f"custody checkpoint {row.leaf_index} is out of place")
        key = object_key(CustodyObject(row.object_type, row.object_id))
        state = changes.get(key)
        if state is None:
            state = custody_map.state(key, version) if version is not None else None
            if state is None:
                new_objects += 1
        changes[key] = ObjectState(
            (0 if state is None else state.events) + 1, bytes(row.event_hash)
        )
    return changes, new_objects


def plan_checkpoint(session: Session) -> CheckpointPlan | None:
    """The map's update for the next checkpoint, for the events appended so far: worked out
    by reading only, before :func:`append_checkpoint` takes the write lock (None: the log is
    empty or ends with a checkpoint)."""
    size = MerkleLog(custody_store(session)).size()
    if size == 0:
        return None
    c = custody_events_table.c
    last_row = session.execute(select(c.action).where(c.leaf_index == size - 1)).first()
    if last_row is None or last_row.action == CHECKPOINT_ACTION:
        return None
    previous = _latest_checkpoint(session, size)
    since = -1 if previous is None else previous[0]
    custody_map = SqlCustodyMap(session)
    keep = None if previous is None else since
    changes, new_objects = _map_changes(session, custody_map, since + 1, size, keep)
    objects = new_objects + (0 if previous is None else _decode_checkpoint(*previous).objects)
    # Read as of ``size``: no version of the map lies between ``since`` and it.
    map_plan = custody_map.plan(size, changes, keep=keep)
    return CheckpointPlan(since, size, objects, map_plan)


def append_checkpoint(session: Session, *, plan: CheckpointPlan | None = None) -> int:
    """Append a checkpoint of the custody map for every leaf before it, in the caller's
    transaction (the caller commits), and return the tree size to anchor: up to and including
    that checkpoint. If the log's last leaf is a checkpoint already, nothing is appended.

    The map is updated with the events since the previous checkpoint (their objects' new
    counts and latest events) as the version of the new checkpoint's leaf index, keeping what
    it was as of the previous checkpoint (which exports prove against until the new one is
    anchored). With a ``plan`` worked out earlier (:func:`plan_checkpoint`) from the same
    previous checkpoint, only the events appended after it are worked out here, under the lock.
    """
    merkle, size = _lock_and_size(session)
    if size == 0:
        return 0
    c = custody_events_table.c
    last_row = session.execute(select(c.action).where(c.leaf_index == size - 1)).first()
    if last_row is None:
        raise StorageError(f"custody event {size - 1} is missing")
    if last_row.action == CHECKPOINT_ACTION:
        return size
    previous = _latest_checkpoint(session, size)
    since = -1 if previous is None else previous[0]
    keep = None if previous is None else since
    custody_map = SqlCustodyMap(session)
    if plan is not None and plan.since == since and plan.size <= size:
        custody_map.apply(plan.map_plan, size)
        changes, new_objects = _map_changes(session, custody_map, plan.size, size, size)
        objects = plan.objects + new_objects
        root = custody_map.update(size, changes, keep=keep) if changes else plan.map_plan.root
    else:
        changes, new_objects = _map_changes(session, custody_map, since + 1, size, keep)
        objects = new_objects + (0 if previous is None else _decode_checkpoint(*previous).objects)
        root = custody_map.update(size, changes, keep=keep)
    checkpoint = CustodyCheckpoint(size, objects, _leaf_hash_at(session, size - 1), root, _now_ms())
    data = checkpoint.encode()
    leaf = checkpoint.leaf_hash()
    merkle.append_many([leaf])
    session.execute(
        insert(custody_events_table).values(
            leaf_index=size,
            event_hash=leaf,
            action=CHECKPOINT_ACTION,
            object_type=CHECKPOINT_ACTION,
            object_id=str(size),
            actor_role="system",
            actor_token=None,
            actor_institution=None,
            client=None,
            recorded_at=checkpoint.time,
            event=data,
        )
    )
    return size + 1


def record_event(
    database: Database,
    action: str,
    actor: Actor,
    obj: CustodyObject,
    client: str | None = None,
) -> CustodyRecord:
    """Append one event now, in its own transaction (for processes without a recorder)."""
    draft = new_draft(action, actor, obj, client)
    return commit_with_retry(database, lambda session: append_events(session, [draft]))[0]


def new_draft(
    action: str,
    actor: Actor,
    obj: CustodyObject,
    client: str | None = None,
    note: str | None = None,
) -> EventDraft:
    """A custody event about to be appended, stamped now.

    :raises CustodyEventError: the event would be malformed (so nothing gets written).
    """
    draft = EventDraft(action, actor, obj, client, _now_ms(), note)
    draft.check()
    return draft


_NUMBERS = re.compile(r"[0-9]+")


def fit_note(text: str) -> str:
    """``text`` as a note: control characters other than line feed and tab made spaces, cut
    to :data:`~evidence.formats.custody_event.MAX_NOTE_CHARS` (with an ellipsis)."""
    cleaned = FORBIDDEN_IN_FREE_TEXT.sub(" ", text).strip() or "(no detail)"
    if len(cleaned) > MAX_NOTE_CHARS:
        cleaned = cleaned[: MAX_NOTE_CHARS - 1] + "…"
    return cleaned


def last_event_about(session: Session, obj: CustodyObject) -> CustodyEvent | None:
    """The latest custody event about ``obj``, decoded (None if there is none)."""
    c = custody_events_table.c
    row = session.execute(
        select(c.leaf_index, c.event)
        .where(c.object_type == obj.type, c.object_id == obj.id)
        .order_by(c.leaf_index.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    try:
        return CustodyEvent.decode(bytes(row.event))
    except CustodyEventError as exc:
        raise StorageError(f"custody event {row.leaf_index} is corrupt: {exc}") from exc


def record_log_event(
    database: Database, action: str, actor: Actor, log_name: str, note: str
) -> CustodyRecord | None:
    """Append an event about one of the two logs (``documents`` or ``custody``) in its own
    transaction — unless the log's latest event is the same action with the same note but
    for its numbers (a refused start repeated, a halt seen again: recording it in the custody
    log changes that log's size, which the note may quote), which it does not repeat (returns
    None)."""
    obj = CustodyObject.log(log_name)
    draft = new_draft(action, actor, obj, note=fit_note(note))

    def same(a: str | None, b: str | None) -> bool:
        return _NUMBERS.sub("#", a or "") == _NUMBERS.sub("#", b or "")

    def append(session: Session) -> list[CustodyRecord]:
        last = last_event_about(session, obj)
        if last is not None and last.action == draft.action and same(last.note, draft.note):
            return []
        return append_events(session, [draft])

    records = commit_with_retry(database, append)
    return records[0] if records else None


class CustodyRecorder:
    """Records custody events durably; concurrent events share one commit (one writer thread).

    ``record(action, actor, object, client_address)`` returns once the event is committed.
    Deposits append their own event in the deposit's transaction (:mod:`evidence.services.deposits`)
    and then call :meth:`appended`.
    """

    def __init__(self, database: Database, *, on_append: Callable[[], None] | None = None) -> None:
        """``on_append`` runs after each commit (e.g. to wake the custody anchoring worker)."""
        self._db = database
        self._on_append = on_append
        self._committer: GroupCommitter[EventDraft, CustodyRecord] = GroupCommitter(
            "custody event",
            self._commit,
            max_batch=COMMIT_MAX,
            window=COMMIT_WINDOW,
            timeout=RECORD_TIMEOUT,
            after_commit=self.appended,
        )

    def record(
        self,
        action: str,
        actor: Actor,
        obj: CustodyObject,
        client_address: str | None = None,
    ) -> CustodyRecord:
        """Append one custody event; return it once committed.

        :raises CustodyEventError: the event would be malformed (nothing is recorded).
        :raises EvidenceError: it could not be committed in time.
        """
        return self._committer.submit(new_draft(action, actor, obj, client_address))

    def record_in(
        self,
        session: Session,
        action: str,
        actor: Actor,
        obj: CustodyObject,
        client_address: str | None = None,
    ) -> CustodyRecord:
        """Append one custody event in the caller's transaction, beside the action it records,
        so both commit or neither does. The caller commits, then calls :meth:`appended`.

        :raises CustodyEventError: the event would be malformed (the caller rolls back).
        """
        return append_events(session, [new_draft(action, actor, obj, client_address)])[0]

    def appended(self) -> None:
        """Custody events were committed (by this recorder or beside a deposit)."""
        if self._on_append is not None:
            self._on_append()

    def close(self) -> None:
        self._committer.close()

    def _commit(self, drafts: list[EventDraft]) -> list[CustodyRecord]:
        return commit_with_retry(self._db, lambda session: append_events(session, drafts))


# --- Export ---------------------------------------------------------------------------------


def custody_export(
    session: Session,
    obj: CustodyObject,
    *,
    after: int | None = None,
    limit: int = MAX_EXPORT_EVENTS,
    viewer: str | None = None,
) -> CustodyExport:
    """The custody export of ``obj`` (version 2): its events after leaf ``after`` (at most
    ``limit``; ``next`` says where the following page starts), with inclusion proofs to the
    latest anchored custody head, its anchor proof, the head's latest checkpoint and the
    custody map's proof of the object's state there, and the number of events held about it.
    Version 3 events are opened (their token and client given) only for the institution
    ``viewer`` (a name) when it is the actor's: everyone else sees institution and role.

    Built from the stored leaf bytes, custody log nodes and map; StorageError if a stored
    event no longer decodes (the database was altered behind the server's back).
    """
    if not 1 <= limit <= MAX_EXPORT_EVENTS:
        raise ValueError(f"limit must be 1..{MAX_EXPORT_EVENTS}")
    anchor = latest_confirmed_anchor(session, table=custody_anchors_table)
    tree_size = anchor.tree_size if anchor is not None and anchor.proof is not None else 0
    c = custody_events_table.c
    about = (c.object_type == obj.type, c.object_id == obj.id)
    query = (
        select(c.leaf_index, c.event, c.actor_institution, c.actor_token, c.client, c.detail_salt)
        .where(*about)
        .order_by(c.leaf_index)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(c.leaf_index > after)
    rows = session.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    total = int(session.execute(select(func.count()).where(*about)).scalar_one())
    merkle = MerkleLog(custody_store(session))
    events = []
    for row in rows:
        leaf_index, data = int(row.leaf_index), bytes(row.event)
        try:
            event = CustodyEvent.decode(data)
        except CustodyEventError as exc:
            raise StorageError(f"custody event {leaf_index} is corrupt: {exc}") from exc
        inclusion = (
            merkle.inclusion_proof(leaf_index, tree_size) if leaf_index < tree_size else None
        )
        disclosed = None
        if (
            event.actor_detail is not None
            and row.detail_salt is not None
            and viewer is not None
            and row.actor_institution == viewer
        ):
            try:
                disclosed = ActorDetail(bytes(row.detail_salt), row.actor_token, row.client)
            except CustodyEventError as exc:
                raise StorageError(f"custody event {leaf_index}: {exc}") from exc
            if disclosed.commitment() != event.actor_detail:
                raise StorageError(
                    f"custody event {leaf_index}: its stored token, client or salt do not "
                    "open its commitment (the row was altered)"
                )
        events.append(ExportedEvent(leaf_index, data, event, inclusion, disclosed))
    proof: AnchorProof | None = None
    checkpoint: ExportedCheckpoint | None = None
    if tree_size:
        assert anchor is not None and anchor.proof is not None
        proof = AnchorProof.from_json(json.loads(anchor.proof))
        found = _latest_checkpoint(session, tree_size)
        if found is not None:
            index, data = found
            checkpoint = ExportedCheckpoint(
                index,
                data,
                _decode_checkpoint(index, data),
                merkle.inclusion_proof(index, tree_size),
                SqlCustodyMap(session).proof(object_key(obj), index),
            )
    return CustodyExport(
        subject=obj,
        tree_size=tree_size,
        root_hash=anchor.root_hash if tree_size and anchor is not None else None,
        anchor=proof,
        events=tuple(events),
        checkpoint=checkpoint,
        total=total,
        after=after,
        next=events[-1].leaf_index if more and events else None,
    )
