"""Which chain the log is anchored on: chain id, validators, contract (public)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServicesDep
from api.schemas import ChainPublic

router = APIRouter(prefix="/v1", tags=["chain"])


@router.get("/chain", response_model=ChainPublic)
def chain(services: ServicesDep) -> ChainPublic:
    """Everything a third party needs to cross-check receipts against the chain."""
    return ChainPublic(**services.chain_info)
