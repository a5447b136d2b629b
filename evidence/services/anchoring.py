"""The anchoring worker: anchors the log's new head when N deposits wait or T seconds passed.

Crash safety: the anchoring transaction is signed first and recorded (tree size, root, tx
hash, raw bytes) in the database before it is sent. After a crash or kill at any point the
worker finds the recorded transaction and settles it: it re-sends the same bytes (harmless
if the node has them), waits for the receipt, collects the offline anchor proof and marks the
head confirmed. Nothing acknowledged is left unanchored, and no head is anchored twice — the
contract itself also refuses a head that is not larger than the last one.
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

from evidence.store.database import anchors_table, log_nodes_table, log_state_table
from evidence.store.repository import (
    AnchorRecord,
    Database,
    SqlNodeStore,
    confirm_anchor,
    discard_anchor,
    get_document_by_leaf,
    latest_confirmed_anchor,
    pending_anchor,
    record_anchor_submitted,
)
from ledger.errors import AnchorRejected, LedgerError
from ledger.merkle import MerkleLog

if TYPE_CHECKING:
    from ledger.client import LedgerClient

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

    def store(self, session: Session) -> SqlNodeStore:
        return SqlNodeStore(session, nodes_table=self.nodes_table, state_table=self.state_table)


DOCUMENT_LOG = AnchoredLog(
    "documents", log_nodes_table, log_state_table, anchors_table, _deposit_time
)
"""The document log (deposits), anchored in the first LogAnchor."""


@dataclass(frozen=True)
class AnchorPolicy:
    """When to anchor: ``batch`` deposits waiting, or the oldest waiting for ``interval`` s."""

    batch: int = 1000
    interval: float = 2.0


class AnchoringWorker:
    def __init__(
        self,
        database: Database,
        client: LedgerClient,
        policy: AnchorPolicy,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        target: AnchoredLog = DOCUMENT_LOG,
    ) -> None:
        """Anchor ``target`` (default: the document log) through ``client``'s contract."""
        self.database = database
        self.target = target
        self.client = client
        self.policy = policy
        self._clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"zl-anchoring-{self.target.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)

    def poke(self) -> None:
        """A deposit arrived: look now instead of at the next poll."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
                self.last_error = None
            except LedgerError as exc:
                self.last_error = str(exc)
                log.warning("anchoring failed, retrying: %s", exc)
                self._stop.wait(FAILURE_BACKOFF)
                continue
            except Exception as exc:
                self.last_error = str(exc)
                log.exception("anchoring worker error")
                self._stop.wait(FAILURE_BACKOFF)
                continue
            if not busy:
                self._wake.wait(POLL_INTERVAL)
                self._wake.clear()

    # --- one step ----------------------------------------------------------------------

    def run_once(self) -> bool:
        """Do the next piece of anchoring work; True if there may be more to do right away."""
        with self.database.session() as session:
            pending = pending_anchor(session, table=self.target.anchors_table)
        if pending is not None:
            return self._settle(pending)
        return self._maybe_anchor()

    def _maybe_anchor(self) -> bool:
        with self.database.session() as session:
            store = self.target.store(session)
            size = store.size()
            last = latest_confirmed_anchor(session, table=self.target.anchors_table)
            last_size = last.tree_size if last is not None else 0
            waiting = size - last_size
            if waiting <= 0:
                return False
            if waiting < self.policy.batch:
                oldest = self.target.appended_at(session, last_size)
                age = (self._clock() - oldest).total_seconds() if oldest else 0.0
                if age < self.policy.interval:
                    return False
            merkle = MerkleLog(store)
            root = merkle.root(size)
            proof = merkle.consistency_proof(last_size, size).hashes if last_size else ()

        def record(tx_hash: bytes, raw: bytes) -> None:
            with self.database.session() as s:
                record_anchor_submitted(
                    s,
                    tree_size=size,
                    root_hash=root,
                    tx_hash=tx_hash,
                    raw_tx=raw,
                    table=self.target.anchors_table,
                )
                s.commit()

        self.client.submit_anchor(size, root, proof, before_send=record)
        log.info("anchoring %s head %d (%d new entries)", self.target.name, size, waiting)
        return True

    def _settle(self, pending: AnchorRecord) -> bool:
        assert pending.tx_hash is not None
        receipt = self.client.receipt_if_mined(pending.tx_hash)
        if receipt is None:
            age = (self._clock() - pending.created_at).total_seconds()
            if age > RESEND_AFTER and pending.raw_tx is not None:
                try:
                    self.client.send_raw(pending.raw_tx, f"anchor head {pending.tree_size}")
                except LedgerError as exc:
                    # The node refuses the old bytes (e.g. its nonce was used): start over.
                    log.warning(
                        "re-sending anchor %d refused (%s); re-anchoring", pending.tree_size, exc
                    )
                    self._discard(pending)
                    return True
            # Wait for the block here: deposits' pokes must not turn this into a busy loop
            # of receipt queries (one per deposit) while the chain seals the block.
            self._stop.wait(SETTLE_POLL_INTERVAL)
            return True
        if receipt["status"] != 1:
            log.error("anchor of head %d reverted on chain; re-anchoring", pending.tree_size)
            self._discard(pending)
            return True
        anchored = self.client.anchor_receipt(pending.tx_hash)
        if (anchored.tree_size, anchored.root_hash) != (pending.tree_size, pending.root_hash):
            raise AnchorRejected(
                f"chain anchored head {anchored.tree_size} for recorded head {pending.tree_size}"
            )
        proof = self.client.anchor_proof(pending.tx_hash)
        block_time = self.client.block_timestamp(anchored.block_number)
        with self.database.session() as session:
            confirm_anchor(
                session,
                tree_size=pending.tree_size,
                block_number=anchored.block_number,
                anchor_index=anchored.index,
                block_time=datetime.fromtimestamp(block_time, UTC),
                proof_json=json.dumps(proof.to_json(), sort_keys=True),
                table=self.target.anchors_table,
            )
            session.commit()
        log.info(
            "%s head %d anchored in block %d",
            self.target.name,
            pending.tree_size,
            anchored.block_number,
        )
        return True

    def _discard(self, pending: AnchorRecord) -> None:
        with self.database.session() as session:
            discard_anchor(session, tree_size=pending.tree_size, table=self.target.anchors_table)
            session.commit()
