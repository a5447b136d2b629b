"""The anchoring worker heals from what the chain says, or stops and says why (issue 9).

Against the real embedded chain, each test with its own LogAnchor deployment: a head mined
while its re-send is refused is recorded, not discarded (the race that stalled anchoring for
good); a nonce lost to a failed database write is handed back; a head the chain holds without
a record is adopted; a stale record is dropped; a chain that lost recorded heads, or a head
the log does not contain, halts anchoring with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from web3.types import TxReceipt

from evidence.errors import ChainDivergence
from evidence.formats.custody_event import Actor, CustodyObject
from evidence.services.anchoring import RESEND_AFTER, AnchoringWorker, AnchorPolicy
from evidence.services.custody_recording import (
    CUSTODY_LOG,
    custody_store,
    last_event_about,
    record_event,
)
from evidence.store.database import custody_anchors_table, custody_events_table
from evidence.store.repository import (
    Database,
    latest_confirmed_anchor,
    open_database,
    pending_anchor,
    record_anchor_submitted,
)
from ledger.client import LedgerClient
from ledger.merkle import MerkleLog
from zhenglian.composition import record_halt

pytestmark = pytest.mark.integration

#: Seconds a test waits for a transaction to be mined (blocks come every second).
INCLUSION_TIMEOUT = 20.0

#: The custody log as a plain log: these tests count heads in events, so the worker does not
#: close each head with a checkpoint here (test_custody_e2e.py and test_security.py run it with).
CUSTODY_LOG_WITHOUT_CHECKPOINTS = replace(CUSTODY_LOG, checkpoint=None)


class Clock:
    """The worker's clock, moved by the test (to pass RESEND_AFTER without waiting)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class SlowLookupClient(LedgerClient):
    """The real client, except that the next ``misses`` receipt lookups answer "not mined
    yet" — the node's answer when the block is sealed just after the lookup."""

    misses = 0

    def receipt_if_mined(self, tx_hash: bytes) -> TxReceipt | None:
        if self.misses:
            self.misses -= 1
            return None
        return super().receipt_if_mined(tx_hash)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = open_database(f"sqlite:///{tmp_path / 'meta.sqlite'}")
    yield db
    db.dispose()


@pytest.fixture
def new_client(embedded_chain: tuple[str, str, Path]) -> Callable[[], SlowLookupClient]:
    """Clients of the embedded chain, each deploying a LogAnchor of its own when asked."""
    url, key, _ = embedded_chain

    def make() -> SlowLookupClient:
        return SlowLookupClient(url, key, inclusion_timeout=INCLUSION_TIMEOUT)

    return make


@pytest.fixture
def client(new_client: Callable[[], SlowLookupClient]) -> SlowLookupClient:
    c = new_client()
    c.deploy()
    return c


def _append(database: Database, count: int) -> None:
    for i in range(count):
        record_event(database, "case_create", Actor.operator(), CustodyObject("case", f"C-{i}"))


def _worker(database: Database, client: LedgerClient, clock: Clock) -> AnchoringWorker:
    return AnchoringWorker(
        database,
        client,
        AnchorPolicy(batch=1, interval=0.0),
        clock=clock,
        target=CUSTODY_LOG_WITHOUT_CHECKPOINTS,
    )


def _confirmed(database: Database) -> tuple[int, bytes] | None:
    with database.session() as session:
        anchor = latest_confirmed_anchor(session, table=custody_anchors_table)
    return None if anchor is None else (anchor.tree_size, anchor.tx_hash or b"")


def _root(database: Database, size: int) -> bytes:
    with database.session() as session:
        return MerkleLog(custody_store(session)).root(size)


def _settle_all(worker: AnchoringWorker, database: Database, size: int) -> None:
    """Run the worker until head ``size`` is confirmed."""
    for _ in range(200):
        confirmed = _confirmed(database)
        if confirmed is not None and confirmed[0] == size:
            return
        worker.run_once()
    raise AssertionError(f"head {size} not confirmed; last: {_confirmed(database)}")


def test_a_head_mined_while_its_resend_is_refused_is_recorded_not_discarded(
    database: Database, client: SlowLookupClient
) -> None:
    clock = Clock()
    worker = _worker(database, client, clock)
    _append(database, 3)
    assert worker.run_once()  # reconciles (nothing on chain), then signs, records and sends
    with database.session() as session:
        pending = pending_anchor(session, table=custody_anchors_table)
    assert pending is not None and pending.tree_size == 3 and pending.tx_hash is not None
    client.wait_for_receipt(pending.tx_hash)  # sealed on chain ...
    client.misses = 1  # ... just after the worker's receipt lookup said "not yet"
    clock.now += timedelta(seconds=RESEND_AFTER + 1)
    worker.run_once()  # the re-send is refused ("nonce too low"): the chain is read instead
    assert _confirmed(database) == (3, pending.tx_hash)
    # Anchoring goes on: the next head is accepted (the old code re-anchored head 3 here
    # and the contract refused it, and every later head, for ever).
    _append(database, 2)
    _settle_all(worker, database, 5)
    head = client.latest_head()
    assert head is not None and (head.tree_size, head.root_hash) == (5, _root(database, 5))
    assert worker.halted is None


def test_a_nonce_lost_to_a_failed_record_is_handed_back(client: SlowLookupClient) -> None:
    log = MerkleLog()
    log.append_many([bytes([i]) * 32 for i in range(4)])

    def disk_full(tx_hash: bytes, raw: bytes) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        client.submit_anchor(2, log.root(2), (), before_send=disk_full)
    # The next transaction takes the nonce back: it is mined, nothing waits behind a gap.
    anchored = client.anchor(2, log.root(2), ())
    assert anchored.tree_size == 2
    again = client.anchor(4, log.root(4), log.consistency_proof(2, 4).hashes)
    assert again.tree_size == 4


def test_a_head_on_chain_without_a_record_is_adopted_with_its_transaction(
    database: Database, client: SlowLookupClient
) -> None:
    _append(database, 4)
    # Anchored, then the record was lost (a crash before the database commit, a restore).
    anchored = client.anchor(4, _root(database, 4), ())
    worker = _worker(database, client, Clock())
    worker.reconcile()
    assert _confirmed(database) == (4, anchored.tx_hash)
    with database.session() as session:
        record = latest_confirmed_anchor(session, table=custody_anchors_table)
    assert record is not None and record.proof and record.block_number == anchored.block_number
    assert not worker.run_once()  # nothing left to anchor


def test_a_stale_record_the_chain_has_passed_is_dropped(
    database: Database, client: SlowLookupClient
) -> None:
    _append(database, 3)
    with database.session() as session:  # signed and recorded for head 2, never sent
        record_anchor_submitted(
            session,
            tree_size=2,
            root_hash=_root(database, 2),
            tx_hash=b"\x11" * 32,
            table=custody_anchors_table,
        )
        session.commit()
    client.anchor(3, _root(database, 3), ())  # another process anchored head 3
    worker = _worker(database, client, Clock())
    worker.reconcile()
    with database.session() as session:
        assert pending_anchor(session, table=custody_anchors_table) is None
    assert _confirmed(database) is not None and _confirmed(database)[0] == 3  # type: ignore[index]


def test_a_chain_that_lost_recorded_heads_halts_anchoring_and_says_why(
    database: Database,
    client: SlowLookupClient,
    new_client: Callable[[], SlowLookupClient],
) -> None:
    worker = _worker(database, client, Clock())
    _append(database, 2)
    _settle_all(worker, database, 2)
    replaced = new_client()
    replaced.deploy()  # the chain reset, or LogAnchor redeployed: none of our heads
    _append(database, 1)
    again = _worker(database, replaced, Clock())
    with pytest.raises(ChainDivergence, match="reset, replaced or rolled back"):
        again.run_once()
    assert replaced.head_count() == 0  # nothing was anchored into the wrong contract


def test_a_head_the_log_does_not_contain_halts_anchoring(
    database: Database, client: SlowLookupClient
) -> None:
    _append(database, 2)
    log = MerkleLog()
    log.append_many([bytes([i]) * 32 for i in range(5)])
    client.anchor(5, log.root(5), ())  # a head of 5 entries: the database holds 2
    for _ in range(2):  # halted twice for one reason: recorded once
        worker = AnchoringWorker(
            database,
            client,
            AnchorPolicy(batch=1, interval=0.0),
            target=CUSTODY_LOG_WITHOUT_CHECKPOINTS,
            on_halt=lambda reason: record_halt(database, "custody", reason),
        )
        worker.start()
        try:
            for _ in range(100):
                if worker.halted:
                    break
                worker._stop.wait(0.1)
        finally:
            worker.stop()
        assert worker.halted is not None and "rolled back or forked" in worker.halted
        assert "has only" in worker.halted
    assert _confirmed(database) is None
    # Loudly: a custody event about the log, by the system, saying why.
    with database.session() as session:
        last = last_event_about(session, CustodyObject.log("custody"))
        halts = session.execute(
            select(func.count()).where(custody_events_table.c.action == "anchoring_halted")
        ).scalar_one()
    assert last is not None and last.action == "anchoring_halted" and halts == 1
    assert last.actor == Actor.system() and last.note is not None
    assert "has only 2 entries" in last.note  # the first halt's reason


def test_the_backlog_counts_unanchored_entries_and_the_oldest_age(
    database: Database, client: SlowLookupClient
) -> None:
    clock = Clock()
    worker = _worker(database, client, clock)
    assert worker.backlog().entries == 0 and worker.backlog().oldest_age is None
    _append(database, 3)
    clock.now = datetime.now(UTC) + timedelta(seconds=30)
    backlog = worker.backlog()
    assert backlog.entries == 3
    assert backlog.oldest_age is not None and 29 <= backlog.oldest_age <= 60
    _settle_all(worker, database, 3)
    assert worker.backlog().entries == 0


def test_each_custody_head_ends_with_a_checkpoint_even_across_a_crash(
    database: Database, client: SlowLookupClient
) -> None:
    """The worker closes every custody head with a checkpoint and anchors exactly up to it; a
    checkpoint appended just before a crash is anchored as it is, not followed by another."""
    from evidence.formats.custody_export import CustodyExport
    from evidence.formats.custody_map import CustodyCheckpoint
    from evidence.services.custody_recording import append_checkpoint, custody_export
    from evidence.verify.custody_verifier import verify_custody_export
    from ledger.anchor_proof import ChainTrust

    worker = AnchoringWorker(
        database, client, AnchorPolicy(batch=1, interval=0.0), clock=Clock(), target=CUSTODY_LOG
    )
    _append(database, 3)
    _settle_all(worker, database, 4)
    _append(database, 2)
    with database.session() as session:
        assert append_checkpoint(session) == 7  # the crash comes right after this commit
        session.commit()
    _settle_all(worker, database, 7)
    assert not worker.run_once()  # nothing waits: no checkpoint of a checkpoint
    with database.session() as session:
        rows = session.execute(
            select(custody_events_table.c.leaf_index, custody_events_table.c.event).where(
                custody_events_table.c.action == "checkpoint"
            )
        ).all()
        export = custody_export(session, CustodyObject("case", "C-1"))
    checkpoints = [CustodyCheckpoint.decode(bytes(row.event)) for row in rows]
    assert [(c.leaf_index, c.objects) for c in checkpoints] == [(3, 3), (6, 3)]
    assert export.checkpoint is not None and export.checkpoint.leaf_index == 6
    data = CustodyExport.from_json_bytes(export.to_json_bytes())
    result = verify_custody_export(data, ChainTrust.unsafe_unsealed(data.anchor.chain_id))  # type: ignore[union-attr]
    assert result.complete_through == 6 and result.anchored == 2


#: The log as a pipelined one (the document log is): heads are sent behind those in flight.
PIPELINED_LOG = replace(CUSTODY_LOG_WITHOUT_CHECKPOINTS, pipelined=True)


def _submitted(database: Database) -> list[int]:
    """The tree sizes of the anchors in flight (submitted, not confirmed), smallest first."""
    c = custody_anchors_table.c
    with database.session() as session:
        return [
            int(size)
            for (size,) in session.execute(
                select(c.tree_size).where(c.status == "submitted").order_by(c.tree_size)
            ).all()
        ]


def test_a_pipelined_log_sends_the_next_head_while_one_is_in_flight(
    database: Database, client: SlowLookupClient
) -> None:
    worker = AnchoringWorker(
        database, client, AnchorPolicy(batch=1, interval=0.0, in_flight=2), target=PIPELINED_LOG
    )
    _append(database, 2)
    assert worker.run_once() and _submitted(database) == [2]
    _append(database, 2)
    client.misses = 1  # head 2 is not mined yet: head 4 goes behind it, proving from 2
    assert worker.run_once() and _submitted(database) == [2, 4]
    _append(database, 1)
    client.misses = 1  # two in flight: the limit; head 5 waits
    worker.run_once()
    assert _submitted(database) == [2, 4]
    _settle_all(worker, database, 5)
    heads = [client.head_at(i) for i in range(client.head_count())]
    assert [(h.tree_size, h.root_hash) for h in heads] == [
        (n, _root(database, n)) for n in (2, 4, 5)
    ]
    assert worker.halted is None and _submitted(database) == []


def test_anchors_behind_one_that_reverts_are_dropped_and_the_log_anchored_afresh(
    database: Database, client: SlowLookupClient
) -> None:
    """A head sent behind one in flight proves consistency from it; when the chain holds
    another head in between (anchored by another process), it reverts: the worker adopts the
    chain's head, drops the reverted one, sends nothing more behind those left, and anchors
    the log again from the chain's head."""
    worker = AnchoringWorker(
        database, client, AnchorPolicy(batch=1, interval=0.0, in_flight=3), target=PIPELINED_LOG
    )
    _append(database, 2)
    assert worker.run_once() and _submitted(database) == [2]
    _append(database, 1)
    with database.session() as session:
        from_2 = MerkleLog(custody_store(session)).consistency_proof(2, 3).hashes
    # Another process anchors head 3, mined behind head 2 (the same account's nonces).
    client.anchor_receipt(client.submit_anchor(3, _root(database, 3), from_2, preflight=False))
    _append(database, 2)
    client.misses = 1
    assert worker.run_once() and _submitted(database) == [2, 5]  # from 2: the chain holds 3
    _append(database, 1)
    client.misses = 1
    assert worker.run_once() and _submitted(database) == [2, 5, 6]
    worker.run_once()  # head 2 is mined and confirmed
    assert _confirmed(database) is not None and _confirmed(database)[0] == 2  # type: ignore[index]
    for _ in range(200):  # head 5 reverts: head 3 is adopted, head 5 dropped
        worker.run_once()
        if 5 not in _submitted(database):
            break
    assert _confirmed(database)[0] == 3  # type: ignore[index]
    _append(database, 1)
    before = _submitted(database)
    assert before in ([6], [])  # head 6 reverts in turn (it proves from 5)
    if before:
        client.misses = 1
        worker.run_once()  # while it is in flight nothing is sent behind it
        assert _submitted(database) == [6]
    _settle_all(worker, database, 7)
    heads = [client.head_at(i).tree_size for i in range(client.head_count())]
    assert heads == [2, 3, 7] and worker.halted is None and _submitted(database) == []


def test_a_running_pipelined_worker_sends_heads_while_others_are_in_flight(
    database: Database, client: SlowLookupClient
) -> None:
    """Started, a pipelined worker sends from a thread of its own while its main thread
    settles: under a steady stream of entries several anchors are in flight at once, and in
    the end every head sent is confirmed, in order, each the log's root at its size."""
    worker = AnchoringWorker(
        database, client, AnchorPolicy(batch=1000, interval=0.3, in_flight=3), target=PIPELINED_LOG
    )
    worker.start()
    most_in_flight = 0
    try:
        for _ in range(40):  # about 4 s of entries: four blocks' worth
            _append(database, 1)
            worker.poke()
            most_in_flight = max(most_in_flight, len(_submitted(database)))
            time.sleep(0.1)
        size = 40
        for _ in range(300):
            confirmed = _confirmed(database)
            if confirmed is not None and confirmed[0] == size:
                break
            time.sleep(0.1)
    finally:
        worker.stop()
    assert worker.halted is None and worker.last_error is None
    assert most_in_flight >= 2
    heads = [client.head_at(i) for i in range(client.head_count())]
    assert heads[-1].tree_size == size
    sizes = [h.tree_size for h in heads]
    assert sizes == sorted(set(sizes))
    assert all(h.root_hash == _root(database, h.tree_size) for h in heads)
    assert _submitted(database) == []
