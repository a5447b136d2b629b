"""The anchoring worker: anchors the log's new head when N deposits wait or T seconds passed.

Crash safety: the anchoring transaction is signed first and recorded (tree size, root, tx
hash, raw bytes) in the database before it is sent. After a crash or kill at any point the
worker finds the recorded transaction and settles it: it re-sends the same bytes (harmless
if the node has them), waits for the receipt, collects the offline anchor proof and marks the
head confirmed. Nothing acknowledged is left unanchored, and no head is anchored twice — the
contract itself also refuses a head that is not larger than the last one.

Reconciliation: the chain, not the database, says which heads are anchored. On start and after
every error the worker reads the contract's heads past the last one it recorded as confirmed
(:meth:`AnchoringWorker.reconcile`): a head the chain holds is recorded as confirmed with the
transaction that put it there — whoever sent it, whatever the database thought — provided the
log contains it; a recorded transaction is given up only when the chain proves it can never be
mined (its head is covered by a larger one, it reverted, or its nonce is spent). What cannot be
healed — the chain lost heads recorded as anchored, holds another root for a recorded size, or
holds a head the log does not contain — raises :class:`~evidence.errors.ChainDivergence`:
the worker stops anchoring and :attr:`AnchoringWorker.halted` says why (``/healthz`` shows it).

Pipelining: a log that allows it (the document log) has up to :attr:`AnchorPolicy.in_flight`
anchoring transactions sent and not yet mined: the next head is sent ``interval`` seconds after
the previous one, proving consistency from it, without waiting for it to be mined — so a deposit
waits for the next send, not for the anchor in flight to be mined and recorded first. The
account's nonces order them on chain; they are settled oldest first. If one reverts, those
sent behind it revert too (their proofs start from a head the chain does not hold) and are
dropped in turn, and the log is anchored afresh. The custody log sends one at a time: its map
keeps the version of one unanchored checkpoint only.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Table
from sqlalchemy.orm import Session

from evidence.errors import ChainDivergence
from evidence.store.database import anchors_table, log_nodes_table, log_state_table
from evidence.store.repository import (
    AnchorRecord,
    Database,
    SqlNodeStore,
    anchor_of_size,
    confirm_anchor,
    discard_anchor,
    get_document_by_leaf,
    latest_confirmed_anchor,
    latest_submitted_anchor,
    pending_anchor,
    pending_anchor_count,
    record_anchor_submitted,
)
from ledger.anchor_proof import header_timestamp
from ledger.client import transaction_nonce
from ledger.errors import AnchorRejected, LedgerError
from ledger.merkle import MerkleLog

if TYPE_CHECKING:
    from ledger.client import LedgerClient, TreeHead

log = logging.getLogger(__name__)

#: Seconds between two looks at the log while idle.
POLL_INTERVAL = 0.2
#: Seconds between receipt queries while an anchoring transaction waits to be mined.
SETTLE_POLL_INTERVAL = 0.1
#: Seconds after which a recorded but unmined anchoring transaction is sent again.
RESEND_AFTER = 10.0
#: Seconds to back off after a ledger failure (node down, ...).
FAILURE_BACKOFF = 2.0


def _deposit_time(session: Session, leaf_index: int) -> datetime | None:
    document = get_document_by_leaf(session, leaf_index)
    return document.deposited_at if document is not None else None


@dataclass(frozen=True)
class AnchoredLog:
    """Which Merkle log a worker anchors: its tables, and when its leaf ``i`` was appended."""

    name: str
    nodes_table: Table
    state_table: Table
    anchors_table: Table
    appended_at: Callable[[Session, int], datetime | None]
    checkpoint: Callable[[Database], int] | None = None
    """Called (when given) once the worker decides to anchor: appends what must close the
    anchored head (the custody log's checkpoint) and returns the size to anchor."""
    prove_transaction: bool = False
    """Whether anchor proofs carry the anchoring transaction (the document log's do: version
    2 receipts require it; custody exports keep the proof without it)."""
    pipelined: bool = False
    """Whether the next head may be sent while earlier ones are in flight (see the module's
    docstring); the custody log may not (its map keeps one unanchored checkpoint's version)."""

    def store(self, session: Session) -> SqlNodeStore:
        return SqlNodeStore(session, nodes_table=self.nodes_table, state_table=self.state_table)


DOCUMENT_LOG = AnchoredLog(
    "documents",
    log_nodes_table,
    log_state_table,
    anchors_table,
    _deposit_time,
    prove_transaction=True,
    pipelined=True,
)
"""The document log (deposits), anchored in the first LogAnchor."""


@dataclass(frozen=True)
class Backlog:
    """What waits to be anchored: ``entries`` past the last confirmed head, the oldest of
    them appended ``oldest_age`` seconds ago (None when nothing waits)."""

    entries: int
    oldest_age: float | None


@dataclass(frozen=True)
class AnchorPolicy:
    """When to anchor: ``batch`` deposits waiting, or the oldest waiting for ``interval`` s;
    with at most ``in_flight`` anchoring transactions sent and not yet mined (a pipelined log)."""

    batch: int = 1000
    interval: float = 2.0
    in_flight: int = 3

    def __post_init__(self) -> None:
        if self.batch < 1 or self.interval < 0 or self.in_flight < 1:
            raise ValueError(f"invalid anchor policy {self}")


class AnchoringWorker:
    def __init__(
        self,
        database: Database,
        client: LedgerClient,
        policy: AnchorPolicy,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        target: AnchoredLog = DOCUMENT_LOG,
        on_halt: Callable[[str], None] | None = None,
    ) -> None:
        """Anchor ``target`` (default: the document log) through ``client``'s contract;
        ``on_halt(reason)`` runs once when anchoring halts (serve records a custody event)."""
        self.database = database
        self.target = target
        self.client = client
        self.policy = policy
        self._clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.halted: str | None = None
        """Why anchoring stopped for good (a :class:`ChainDivergence`), or None."""
        self._reconciled = False
        self._draining = False
        """An anchor in flight reverted: nothing is sent behind those left until they settle."""
        self._on_halt = on_halt
        self.on_confirm: Callable[[], None] | None = None
        """Called after a head is recorded as confirmed (serve pokes the cosigner)."""
        self._sender: threading.Thread | None = None
        """A pipelined log's second thread: sends heads while the first settles those in
        flight (collecting an anchor's proof takes long on a loaded server)."""
        self._send_wake = threading.Event()
        self._chain_lock = threading.RLock()
        """Held to send a head and to reconcile with the chain: never both at once."""
        self._due_in: float | None = None
        """Seconds until the next head is due, as the last look found (None: nothing waits)."""

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        name = f"zl-anchoring-{self.target.name}"
        if self.target.pipelined and self.policy.in_flight > 1:
            self._sender = threading.Thread(
                target=self._run_sender, name=f"{name}-sender", daemon=True
            )
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        if self._sender is not None:
            self._sender.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._send_wake.set()
        for thread in (self._thread, self._sender):
            if thread is not None:
                thread.join(30)

    def poke(self) -> None:
        """A deposit arrived: look now instead of at the next poll."""
        self._wake.set()
        self._send_wake.set()

    def _run_sender(self) -> None:
        """Send each head when it is due, up to the policy's number in flight; the main thread
        reconciles and settles (and halts both on a divergence)."""
        while not self._stop.is_set():
            sent = False
            try:
                if self.halted is not None:
                    return
                if self._reconciled:
                    with self.database.session() as session:
                        in_flight = pending_anchor_count(session, table=self.target.anchors_table)
                    limit = 1 if self._draining else self.policy.in_flight
                    sent = in_flight < limit and self._send()
            except Exception as exc:
                self._failed(exc, f"sending the {self.target.name} log's head")
                continue
            if sent:
                continue
            due_in = self._due_in
            if due_in is not None and self._reconciled:
                # A head is waiting for the interval: deposits' pokes cannot make it due sooner.
                self._stop.wait(min(max(due_in, 0.01), POLL_INTERVAL * 5))
            else:
                self._send_wake.wait(POLL_INTERVAL)
                self._send_wake.clear()

    def _send(self) -> bool:
        with self._chain_lock:
            return self._maybe_anchor()

    def _failed(self, exc: Exception, what: str) -> None:
        """After a failed step (called in its ``except``): say why, reconcile with the chain
        before the next, and back off. A ledger failure (node down, ...) is expected."""
        self.last_error = str(exc)
        self._reconciled = False
        if isinstance(exc, LedgerError):
            log.warning("%s failed, retrying: %s", what, exc)
        else:
            log.exception("%s failed", what)
        self._stop.wait(FAILURE_BACKOFF)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once(send=self._sender is None)
                self.last_error = None
            except ChainDivergence as exc:
                self.halted = self.last_error = str(exc)
                log.error("anchoring of the %s log halted: %s", self.target.name, exc)
                if self._on_halt is not None:
                    try:
                        self._on_halt(str(exc))
                    except Exception:
                        log.exception("the halt of the %s log was not recorded", self.target.name)
                return
            except Exception as exc:
                self._failed(exc, f"anchoring the {self.target.name} log")
                continue
            if not busy:
                self._wake.wait(POLL_INTERVAL)
                self._wake.clear()

    def backlog(self) -> Backlog:
        """The entries of the log not yet covered by a confirmed anchor, and the age of the
        oldest (for ``/healthz``: a stall shows as a growing age)."""
        with self.database.session() as session:
            size = self.target.store(session).size()
            last = latest_confirmed_anchor(session, table=self.target.anchors_table)
            last_size = last.tree_size if last is not None else 0
            if size <= last_size:
                return Backlog(0, None)
            oldest = self.target.appended_at(session, last_size)
        age = (self._clock() - oldest).total_seconds() if oldest is not None else None
        return Backlog(size - last_size, age)

    # --- one step ----------------------------------------------------------------------

    def run_once(self, *, send: bool = True) -> bool:
        """Do the next piece of anchoring work; True if there may be more to do right away.
        ``send=False``: settle only (the sender thread sends).

        :raises ChainDivergence: the database and the chain disagree beyond repair.
        """
        if self.halted is not None:
            raise ChainDivergence(self.halted)
        if not self._reconciled:
            self.reconcile()
            self._reconciled = True
        table = self.target.anchors_table
        with self.database.session() as session:
            pending = pending_anchor(session, table=table)
            in_flight = pending_anchor_count(session, table=table) if pending else 0
        if pending is None:
            self._draining = False
            return send and self._send()
        # A pipelined log sends the next head (if one is due) before settling the oldest in
        # flight, so that recording an anchor (its proof collected) never delays the next.
        limit = self.policy.in_flight if self.target.pipelined and not self._draining else 1
        sent = send and in_flight < limit and self._send()
        if self._settle(pending) or sent:
            return True
        # Not mined yet: wait for the block here — deposits' pokes must not turn this into a
        # busy loop of receipt queries while the chain seals the block.
        self._stop.wait(SETTLE_POLL_INTERVAL)
        return True

    def _maybe_anchor(self) -> bool:
        """Send the log's head if anchoring is due (past the last head sent, confirmed or in
        flight); True if one was sent."""
        with self.database.session() as session:
            store = self.target.store(session)
            size = store.size()
            last = latest_submitted_anchor(session, table=self.target.anchors_table)
            last_size = last.tree_size if last is not None else 0
            behind_pending = last is not None and not last.confirmed
            waiting = size - last_size
            if waiting <= 0:
                self._due_in = None
                return False
            if waiting < self.policy.batch:
                oldest = self.target.appended_at(session, last_size)
                age = (self._clock() - oldest).total_seconds() if oldest else 0.0
                if age < self.policy.interval:
                    self._due_in = self.policy.interval - age
                    return False
        self._due_in = None
        if self.target.checkpoint is not None:
            size = self.target.checkpoint(self.database)
            waiting = size - last_size
        with self.database.session() as session:
            merkle = MerkleLog(self.target.store(session))
            root = merkle.root(size)
            proof = merkle.consistency_proof(last_size, size).hashes if last_size else ()

        recorded: list[bytes] = []

        def record(tx_hash: bytes, raw: bytes) -> None:
            with self.database.session() as s:
                if recorded:
                    # The node refused the transaction recorded a moment ago (its nonce) and
                    # the client signed another: this one takes its place.
                    discard_anchor(s, tree_size=size, table=self.target.anchors_table)
                record_anchor_submitted(
                    s,
                    tree_size=size,
                    root_hash=root,
                    tx_hash=tx_hash,
                    raw_tx=raw,
                    table=self.target.anchors_table,
                )
                s.commit()
            recorded.append(tx_hash)

        # Behind an anchor in flight the proof starts from a head the chain does not hold yet:
        # no dry run (it would fail); the nonce orders the two on chain.
        self.client.submit_anchor(
            size, root, proof, before_send=record, preflight=not behind_pending
        )
        log.info("anchoring %s head %d (%d new entries)", self.target.name, size, waiting)
        return True

    def _settle(self, pending: AnchorRecord) -> bool:
        """Settle the oldest anchor in flight if it was mined (confirm it, or drop it if it
        reverted); re-send it if it waited too long. False: it is not mined yet."""
        assert pending.tx_hash is not None
        receipt = self.client.receipt_if_mined(pending.tx_hash)
        if receipt is None:
            age = (self._clock() - pending.created_at).total_seconds()
            if age > RESEND_AFTER and pending.raw_tx is not None:
                try:
                    self.client.send_raw(pending.raw_tx, f"anchor head {pending.tree_size}")
                except LedgerError as exc:
                    # The node refuses the old bytes: the transaction may have been mined a
                    # moment ago, or its nonce spent by another. Only the chain can say which.
                    log.warning(
                        "re-sending anchor %d refused (%s); reading the chain",
                        pending.tree_size,
                        exc,
                    )
                    self.reconcile()
                    self._give_up_if_unminable(pending)
                    return True
            return False
        if receipt["status"] != 1:
            log.error("anchor of head %d reverted on chain; reading the chain", pending.tree_size)
            # Those sent behind it revert too (their proofs start from its head): send no more
            # behind them, or each would, one after the other, for ever.
            self._draining = True
            self.reconcile()  # another transaction may have anchored this very head
            if self._still_pending(pending):
                self._discard(pending)
            return True
        anchored = self.client.anchor_receipt(pending.tx_hash, receipt)
        if (anchored.tree_size, anchored.root_hash) != (pending.tree_size, pending.root_hash):
            raise AnchorRejected(
                f"chain anchored head {anchored.tree_size} for recorded head {pending.tree_size}"
            )
        self._confirm(pending.tree_size, pending.tx_hash, anchored.block_number, anchored.index)
        return True

    def _confirm(
        self, tree_size: int, tx_hash: bytes, block_number: int, anchor_index: int
    ) -> None:
        """Record the submitted anchor of ``tree_size`` as confirmed by ``tx_hash``."""
        proof = self.client.anchor_proof(tx_hash, with_transaction=self.target.prove_transaction)
        block_time = header_timestamp(proof.header_rlp)  # the proven header's: no request
        with self.database.session() as session:
            confirm_anchor(
                session,
                tree_size=tree_size,
                block_number=block_number,
                anchor_index=anchor_index,
                block_time=datetime.fromtimestamp(block_time, UTC),
                proof_json=json.dumps(proof.to_json(), sort_keys=True),
                tx_hash=tx_hash,
                table=self.target.anchors_table,
            )
            session.commit()
        log.info("%s head %d anchored in block %d", self.target.name, tree_size, block_number)
        if self.on_confirm is not None:
            self.on_confirm()

    # --- reconciliation with the chain ---------------------------------------------------

    def reconcile(self) -> None:
        """Bring the database in line with the heads the contract holds.

        Every head on chain past the last one recorded as confirmed is recorded as confirmed
        (a submitted record of its size is confirmed with the transaction that anchored it; a
        head with no record gets one), after checking that the log contains it; a submitted
        record whose head the chain has passed is dropped (the contract refuses it for ever).

        :raises ChainDivergence: the chain lost a recorded head, holds another root for a
            recorded size, or holds a head the log does not contain.
        """
        with self._chain_lock:
            self._reconcile()

    def _reconcile(self) -> None:
        name = self.target.name
        with self.database.session() as session:
            confirmed = latest_confirmed_anchor(session, table=self.target.anchors_table)
        count = self.client.head_count()
        first_unrecorded = 0
        if confirmed is not None:
            index = confirmed.anchor_index
            on_chain = self.client.head_at(index) if index is not None and index < count else None
            if on_chain is None or (on_chain.tree_size, on_chain.root_hash) != (
                confirmed.tree_size,
                confirmed.root_hash,
            ):
                raise ChainDivergence(
                    f"the {name} log recorded head {confirmed.tree_size} "
                    f"(root {confirmed.root_hash.hex()}) as anchored as head #{index} of "
                    f"contract 0x{(self.client.contract_address or b'').hex()}, but the chain "
                    + (
                        f"holds only {count} heads"
                        if on_chain is None
                        else f"holds head {on_chain.tree_size} (root {on_chain.root_hash.hex()})"
                    )
                    + " there: the chain was reset, replaced or rolled back"
                )
            first_unrecorded = on_chain.index + 1
        for index in range(first_unrecorded, count):
            self._adopt(self.client.head_at(index))
        latest = self.client.head_at(count - 1).tree_size if count else 0
        with self.database.session() as session:
            stale = pending_anchor(session, table=self.target.anchors_table)
        while stale is not None and stale.tree_size <= latest:
            log.warning(
                "%s anchor of head %d dropped: the chain already holds head %d",
                name,
                stale.tree_size,
                latest,
            )
            self._discard(stale)
            with self.database.session() as session:
                stale = pending_anchor(session, table=self.target.anchors_table)

    def _adopt(self, head: TreeHead) -> None:
        """Record ``head``, which the chain holds, as confirmed — if the log contains it."""
        name = self.target.name
        with self.database.session() as session:
            store = self.target.store(session)
            size = store.size()
            root = MerkleLog(store).root(head.tree_size) if head.tree_size <= size else None
            record = anchor_of_size(
                session, table=self.target.anchors_table, tree_size=head.tree_size
            )
        if root != head.root_hash:
            raise ChainDivergence(
                f"the chain holds head {head.tree_size} (root {head.root_hash.hex()}) of the "
                f"{name} log, which "
                + (
                    f"has only {size} entries"
                    if root is None
                    else f"has root {root.hex()} at that size"
                )
                + ": the log's database was rolled back or forked"
            )
        tx_hash = self.client.anchoring_transaction(head)
        with self.database.session() as session:
            if record is None:
                record_anchor_submitted(
                    session,
                    tree_size=head.tree_size,
                    root_hash=head.root_hash,
                    tx_hash=tx_hash,
                    table=self.target.anchors_table,
                )
                session.commit()
        if record is not None and record.tx_hash != tx_hash:
            log.warning(
                "%s head %d was anchored by transaction 0x%s, not the recorded 0x%s",
                name,
                head.tree_size,
                tx_hash.hex(),
                (record.tx_hash or b"").hex(),
            )
        self._confirm(head.tree_size, tx_hash, head.block_number, head.index)

    def _still_pending(self, pending: AnchorRecord) -> bool:
        with self.database.session() as session:
            record = anchor_of_size(
                session, table=self.target.anchors_table, tree_size=pending.tree_size
            )
        return record is not None and not record.confirmed

    def _give_up_if_unminable(self, pending: AnchorRecord) -> None:
        """Drop a submitted anchor whose transaction can never be mined (its nonce is spent
        by a mined transaction), so the head is anchored afresh; keep waiting otherwise."""
        if pending.raw_tx is None or not self._still_pending(pending):
            return
        if transaction_nonce(pending.raw_tx) < self.client.mined_nonce():
            log.warning(
                "%s anchor of head %d can never be mined (its nonce is spent); re-anchoring",
                self.target.name,
                pending.tree_size,
            )
            self._discard(pending)

    def _discard(self, pending: AnchorRecord) -> None:
        self._draining = True  # any sent behind it prove consistency from its head
        with self.database.session() as session:
            discard_anchor(session, tree_size=pending.tree_size, table=self.target.anchors_table)
            session.commit()
