"""Response schemas (the public shape of records)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class AnchorPublic(BaseModel):
    tree_size: int
    root_hash: str
    chain_id: int
    contract: str
    tx_hash: str
    block_number: int
    block_time: datetime | None = None


class DocumentPublic(BaseModel):
    id: str
    sha256: str
    sm3: str
    size: int
    kind: str
    title: str
    case_code: str | None
    institution: str
    filename: str | None
    deposited_at: datetime
    leaf_index: int
    status: Literal["pending", "anchored"]
    anchor: AnchorPublic | None = None


class PendingReceipt(BaseModel):
    id: str
    status: Literal["pending"] = "pending"
    detail: str = "the document is in the log but its tree head is not anchored yet"


class TreeHeadPublic(BaseModel):
    tree_size: int
    root_hash: str
    anchored: AnchorPublic | None = None


class ConsistencyPublic(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    hashes: list[str]


class ChainPublic(BaseModel):
    chain_id: int
    validators: list[str]
    contract: str | None
    rpc_url: str | None = None
    sealed: bool
    custody_contract: str | None = None
    """The LogAnchor of the custody log (``docs/custody.md``)."""


class CheckPublic(BaseModel):
    name: str
    ok: bool
    detail: str


class VerifyRequest(BaseModel):
    sha256: str = Field(min_length=64, max_length=64, pattern="^[0-9a-fA-F]{64}$")


class VerificationPublic(BaseModel):
    result: Literal["intact", "altered", "unknown", "pending"]
    sha256: str | None = None
    document_id: str | None = None
    institution: str | None = None
    kind: str | None = None
    case_code: str | None = None
    deposited_at: datetime | None = None
    anchor: AnchorPublic | None = None
    seal: str | None = None
    checks: list[CheckPublic] = []
    matches: int = 0
