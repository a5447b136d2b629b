"""The log's public tree heads: its current head (with the latest anchored one) and consistency
proofs between two of its sizes, read from the stored Merkle nodes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from evidence.errors import InputError
from evidence.store.repository import AnchorRecord, SqlNodeStore, latest_confirmed_anchor
from ledger.errors import MerkleError
from ledger.merkle import MerkleLog

__all__ = ["ConsistencyView", "HeadView", "consistency_between", "current_head"]


@dataclass(frozen=True)
class HeadView:
    """The log's size and root now, and the latest head confirmed on chain (None: none yet)."""

    tree_size: int
    root_hash: bytes
    anchored: AnchorRecord | None


@dataclass(frozen=True)
class ConsistencyView:
    """An RFC 6962 consistency proof from size ``first`` to size ``second`` with both roots."""

    first: int
    second: int
    first_root: bytes
    second_root: bytes
    hashes: tuple[bytes, ...]


def current_head(session: Session) -> HeadView:
    """The log's current head and its latest anchored head, read in one session."""
    store = SqlNodeStore(session)
    size = store.size()
    root = MerkleLog(store).root(size)
    return HeadView(size, root, latest_confirmed_anchor(session))


def consistency_between(session: Session, first: int, second: int) -> ConsistencyView:
    """The consistency proof between two sizes of the log.

    :raises InputError: unless ``1 <= first <= second <=`` the log's size.
    """
    merkle = MerkleLog(SqlNodeStore(session))
    size = merkle.size()
    if not 1 <= first <= second <= size:
        raise InputError(f"need 1 <= first <= second <= {size}")
    try:
        proof = merkle.consistency_proof(first, second)
        roots = merkle.root(first), merkle.root(second)
    except MerkleError as exc:
        raise InputError(str(exc)) from None
    return ConsistencyView(first, second, roots[0], roots[1], tuple(proof.hashes))
