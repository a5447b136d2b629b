"""Checks across documents a depositor or a court holds: a receipt against the log's
acknowledgement of the same deposit, and two receipts against each other.

A log that replaces or drops an acknowledged leaf, or forks (two histories, for instance after
restoring an old backup and accepting new deposits), gives receipts that each verify alone;
only comparing them with what the log promised, or with each other, shows it. Pure.
"""

from __future__ import annotations

from evidence.errors import EvidenceError
from evidence.formats.acknowledgement import Acknowledgement
from evidence.formats.receipt_format import Receipt
from ledger.merkle import hash_leaf

__all__ = ["ForkDetected", "check_against_acknowledgement", "check_same_history"]


class ForkDetected(EvidenceError):
    """The log broke a promise: a receipt disagrees with its acknowledgement or with another
    receipt of the same leaf."""


def check_against_acknowledgement(receipt: Receipt, ack: Acknowledgement) -> str:
    """The receipt proves the leaf the log acknowledged at deposit; a line saying so.

    :raises ForkDetected: another leaf index or another leaf hash.
    """
    leaf = hash_leaf(receipt.entry_bytes)
    if (receipt.leaf_index, leaf) != (ack.leaf_index, ack.leaf_hash):
        raise ForkDetected(
            f"the log acknowledged leaf {ack.leaf_index} as {ack.leaf_hash.hex()} at "
            f"{ack.time.isoformat()}, the receipt proves leaf {receipt.leaf_index} as "
            f"{leaf.hex()}: the acknowledged leaf was replaced"
        )
    return f"leaf {ack.leaf_index} is the one the log acknowledged at {ack.time.isoformat()}"


def check_same_history(receipt: Receipt, other: Receipt) -> str:
    """Two receipts of one log never give one leaf index two entries; a line saying so.

    :raises ForkDetected: the same leaf index with different entries.
    """
    if receipt.leaf_index == other.leaf_index and receipt.entry_bytes != other.entry_bytes:
        raise ForkDetected(
            f"two receipts give leaf {receipt.leaf_index} different entries "
            f"({hash_leaf(receipt.entry_bytes).hex()} and {hash_leaf(other.entry_bytes).hex()}): "
            "the log forked"
        )
    return f"consistent with the receipt of leaf {other.leaf_index}"
