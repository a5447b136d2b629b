"""The Merkle log's head and consistency proofs (public)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import ServicesDep
from api.problems import Problem
from api.schemas import AnchorPublic, ConsistencyPublic, TreeHeadPublic
from evidence.services.receipt_assembly import anchor_view
from evidence.store.repository import SqlNodeStore, latest_confirmed_anchor
from ledger.errors import MerkleError
from ledger.merkle import MAX_TREE_SIZE, MerkleLog

router = APIRouter(prefix="/v1/log", tags=["log"])


@router.get("/head", response_model=TreeHeadPublic)
def log_head(services: ServicesDep) -> TreeHeadPublic:
    """The log's current size and root, and the latest head anchored on chain."""
    with services.database.session() as session:
        store = SqlNodeStore(session)
        size = store.size()
        root = MerkleLog(store).root(size)
        anchor = latest_confirmed_anchor(session)
    return TreeHeadPublic(
        tree_size=size,
        root_hash=root.hex(),
        anchored=AnchorPublic(**anchor_view(anchor, services.chain_info)) if anchor else None,
    )


@router.get("/consistency", response_model=ConsistencyPublic, responses={400: {}})
def log_consistency(
    services: ServicesDep,
    first: int = Query(ge=1, le=MAX_TREE_SIZE),
    second: int = Query(ge=1, le=MAX_TREE_SIZE),
) -> ConsistencyPublic:
    """RFC 6962 consistency proof between two sizes of the log (first <= second <= size)."""
    with services.database.session() as session:
        merkle = MerkleLog(SqlNodeStore(session))
        size = merkle.size()
        if not first <= second <= size:
            raise Problem(400, "Bad request", f"need 1 <= first <= second <= {size}")
        try:
            proof = merkle.consistency_proof(first, second)
            roots = merkle.root(first), merkle.root(second)
        except MerkleError as exc:
            raise Problem(400, "Bad request", str(exc)) from None
    return ConsistencyPublic(
        first=first,
        second=second,
        first_root=roots[0].hex(),
        second_root=roots[1].hex(),
        hashes=[h.hex() for h in proof.hashes],
    )
