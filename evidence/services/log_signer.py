"""The log's signatures: the acknowledgement of each deposit (``formats.acknowledgement``),
signed with the log's key (``store.log_key``)."""

from __future__ import annotations

from dataclasses import dataclass

from evidence.formats.acknowledgement import Acknowledgement
from evidence.store.log_key import LogKey
from evidence.store.repository import DocumentRecord
from ledger.merkle import hash_leaf

__all__ = ["LogSigner"]


@dataclass(frozen=True)
class LogSigner:
    """Signs, with the log's key, what the log promises a depositor: this leaf, here, now."""

    key: LogKey

    @property
    def verifier_key(self) -> str:
        return self.key.verifier.to_text()

    def acknowledge(self, record: DocumentRecord) -> str:
        """The signed note acknowledging ``record``'s leaf (its text, as the 201 carries it)."""
        ack = Acknowledgement(
            origin=self.key.name,
            leaf_index=record.leaf_index,
            leaf_hash=hash_leaf(record.entry),
            time=record.deposited_at.replace(microsecond=0),
        )
        return ack.sign(self.key.private_key).to_bytes().decode("utf-8")
