"""The embedded node's pool of valid transactions waiting for a block."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from eth.abc import SignedTransactionAPI

from ledger.errors import TransactionRejected

#: Most transactions waiting in the pool.
MAX_POOL_TXS = 10_000

#: Most transactions one sender may have waiting.
MAX_PER_SENDER = 1_000

#: How far ahead of the account's next nonce a transaction may be queued.
MAX_NONCE_GAP = 64


class TxPool:
    """Transactions by sender and nonce. Not thread-safe: the chain's lock guards it."""

    def __init__(self) -> None:
        self._by_sender: dict[bytes, dict[int, SignedTransactionAPI]] = {}
        self._by_hash: dict[bytes, tuple[bytes, int]] = {}

    def __len__(self) -> int:
        return len(self._by_hash)

    def get(self, tx_hash: bytes) -> SignedTransactionAPI | None:
        loc = self._by_hash.get(tx_hash)
        return None if loc is None else self._by_sender[loc[0]][loc[1]]

    def next_nonce(self, sender: bytes, state_nonce: int) -> int:
        queued = self._by_sender.get(sender, {})
        nonce = state_nonce
        while nonce in queued:
            nonce += 1
        return nonce

    def add(self, tx: SignedTransactionAPI, sender: bytes, state_nonce: int) -> None:
        tx_hash = bytes(tx.hash)
        if tx_hash in self._by_hash:
            return  # resubmission of a transaction already waiting: idempotent
        queued = self._by_sender.setdefault(sender, {})
        if tx.nonce in queued:
            raise TransactionRejected(
                f"another transaction with nonce {tx.nonce} from this sender is already pending"
            )
        if tx.nonce > self.next_nonce(sender, state_nonce) + MAX_NONCE_GAP:
            raise TransactionRejected(
                f"nonce too high: {tx.nonce}, next expected {self.next_nonce(sender, state_nonce)}"
            )
        if len(self._by_hash) >= MAX_POOL_TXS:
            raise TransactionRejected(f"transaction pool is full ({MAX_POOL_TXS})")
        if len(queued) >= MAX_PER_SENDER:
            raise TransactionRejected(f"sender has {MAX_PER_SENDER} transactions pending")
        queued[tx.nonce] = tx
        self._by_hash[tx_hash] = (sender, tx.nonce)

    def executable(
        self, state_nonce: Callable[[bytes], int], limit: int
    ) -> list[SignedTransactionAPI]:
        """Up to ``limit`` transactions whose nonces follow on from the state, oldest sender first.

        Transactions whose nonce the state has already passed are dropped on the way.
        """
        out: list[SignedTransactionAPI] = []
        for sender in list(self._by_sender):
            queued = self._by_sender[sender]
            nonce = state_nonce(sender)
            self.remove([tx for n, tx in list(queued.items()) if n < nonce])
            while nonce in queued and len(out) < limit:
                out.append(queued[nonce])
                nonce += 1
            if len(out) >= limit:
                break
        return out

    def remove(self, txs: Iterable[SignedTransactionAPI]) -> None:
        for tx in txs:
            loc = self._by_hash.pop(bytes(tx.hash), None)
            if loc is None:
                continue
            queued = self._by_sender[loc[0]]
            queued.pop(loc[1], None)
            if not queued:
                del self._by_sender[loc[0]]
