"""Dependencies: the services, the database session and the authenticated principal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request

from api.auth import MAX_TOKEN_CHARS, Principal, token_hash
from api.problems import Problem
from api.ratelimit import RateLimiter, UploadQuota
from api.settings import Settings
from evidence.anchoring import AnchoringWorker
from evidence.blobstore import BlobStore
from evidence.custody import CustodyRecorder, client_address
from evidence.custody_entry import Actor
from evidence.repository import Database, find_token_by_hash
from evidence.service import DepositService
from ledger.anchor_proof import ChainTrust
from ledger.client import LedgerClient


@dataclass
class Services:
    settings: Settings
    database: Database
    blobs: BlobStore
    deposits: DepositService
    worker: AnchoringWorker
    client: LedgerClient
    trust: ChainTrust
    chain_info: dict[str, Any] = field(default_factory=dict)
    custody: CustodyRecorder | None = None
    """Records custody events (``evidence.custody``); see :func:`record_custody`."""
    custody_worker: AnchoringWorker | None = None
    custody_trust: ChainTrust | None = None
    token_limits: RateLimiter | None = None
    public_limits: RateLimiter | None = None
    upload_quota: UploadQuota | None = None


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


def get_principal(request: Request, services: ServicesDep) -> Principal:
    header = request.headers.get("authorization", "")
    if len(header) > MAX_TOKEN_CHARS + 7 or not header.lower().startswith("bearer "):
        raise Problem(401, "Unauthorized", "a bearer token is required", _UNAUTHORIZED)
    token = header[7:].strip()
    with services.database.session() as session:
        record = find_token_by_hash(session, token_hash(token))
    now = datetime.now(UTC)
    if record is None or record.revoked_at is not None:
        raise Problem(401, "Unauthorized", "unknown or revoked token", _UNAUTHORIZED)
    if record.expires_at is not None and record.expires_at <= now:
        raise Problem(401, "Unauthorized", "token expired", _UNAUTHORIZED)
    if services.token_limits is not None:
        services.token_limits.check(record.id, f"token {record.id}")
    return Principal(token_id=record.id, institution=record.institution, role=record.role)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def request_client(request: Request, services: Services) -> str | None:
    """The caller's IP address: the peer's, or — only when the peer is a trusted proxy
    (``ZHENGLIAN_TRUSTED_PROXIES``) — the last address it appended to X-Forwarded-For."""
    peer = client_address(request.client.host if request.client else None)
    trusted = services.settings.trusted_proxies
    if peer is not None and trusted:
        proxies = {client_address(p.strip()) for p in trusted.split(",")} - {None}
        if peer in proxies:
            forwarded = request.headers.get("x-forwarded-for", "").split(",")[-1].strip()
            return client_address(forwarded) or peer
    return peer


def limit_public(request: Request, services: ServicesDep) -> None:
    """Rate-limit an unauthenticated call by its client address (a token is limited by
    :func:`get_principal` instead)."""
    if services.public_limits is None or request.headers.get("authorization"):
        return
    address = request_client(request, services) or "unknown"
    services.public_limits.check(address, f"client {address}")


def actor_of(principal: Principal | None) -> Actor:
    """The custody actor of an authenticated principal, or ``public``."""
    if principal is None:
        return Actor.public()
    return Actor(principal.role, principal.token_id, principal.institution)


def record_custody(
    services: Services,
    request: Request,
    action: str,
    principal: Principal | None,
    obj: Any,
) -> None:
    """Record one custody event (``evidence.custody_entry.ACTIONS``) about ``obj`` (a
    ``CustodyObject``) by ``principal`` from the request's client address; returns once it is
    committed. Blocking: call it from a worker thread (``run_in_threadpool``) in async routes.
    """
    if services.custody is None:
        return
    services.custody.record(action, actor_of(principal), obj, request_client(request, services))
