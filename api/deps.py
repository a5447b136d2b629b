"""Dependencies: the services, the database session and the authenticated principal."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import MAX_TOKEN_CHARS, PUBLIC, Principal
from api.problems import Problem
from api.ratelimit import ConcurrencyLimit, RateLimiter, UploadQuota
from api.settings import Settings
from evidence.access.enforcement import authenticate
from evidence.errors import Unauthenticated
from evidence.formats.custody_event import Actor, CustodyObject
from evidence.formats.trust_bundle import TrustBundle
from evidence.services.anchoring import AnchoringWorker
from evidence.services.audit import AuditThread
from evidence.services.certificate_registration import (
    CertificateRegistration,
    PendingCertificateWorker,
)
from evidence.services.cosigning import CheckpointCosigner
from evidence.services.custody_recording import (
    CustodyRecorder,
    append_events,
    client_address,
    fit_note,
    new_draft,
)
from evidence.services.deposits import DepositService
from evidence.services.log_signer import LogSigner
from evidence.services.online_verification import ServerTrust
from evidence.services.receipt_assembly import ReceiptPolicy
from evidence.verify.receipt_verifier import IndependenceTrust
from ledger.anchor_proof import ChainTrust
from ledger.client import LedgerClient

if TYPE_CHECKING:
    # Types only: storage is constructed by the composition root (zhenglian.composition).
    from sqlalchemy.orm import Session

    from evidence.store.blob_store import BlobStore
    from evidence.store.database import Database


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
    """Records custody events (``evidence.services.custody_recording``); see
    :func:`record_custody`."""
    custody_worker: AnchoringWorker | None = None
    custody_trust: ChainTrust | None = None
    token_limits: RateLimiter | None = None
    public_limits: RateLimiter | None = None
    object_event_limits: RateLimiter | None = None
    """Read events one token may add to one document it does not own (per hour)."""
    anonymous_verifications: ConcurrencyLimit | None = None
    """File verifications without a token in progress (``ZHENGLIAN_ANONYMOUS_VERIFY_*``)."""
    upload_quota: UploadQuota | None = None
    log_signer: LogSigner | None = None
    """Signs the log's acknowledgement of each deposit (the 201 carries it)."""
    audit: AuditThread | None = None
    """The background integrity sweep (``evidence.services.audit``), when enabled."""
    cosigner: CheckpointCosigner | None = None
    """Signs checkpoints of anchored heads, has witnesses cosign and an authority stamp them."""
    independence: IndependenceTrust | None = None
    """The log key, witnesses, quorum and time-stamp roots version 2 receipts are checked by."""
    receipt_policy: ReceiptPolicy | None = None
    """Which receipts are issued (None: version 1, anchored heads only)."""
    trust_bundle: TrustBundle | None = None
    """What a verifier of these receipts pins (``GET /v1/trust``)."""
    certificates: CertificateRegistration | None = None
    """Registers e-certificates and changes their status on the chain
    (``evidence.services.certificate_registration``); None: not served (503)."""
    certificate_worker: PendingCertificateWorker | None = None
    """Completes certificate changes the chain does not hold yet (the node was down)."""

    def server_trust(self) -> ServerTrust:
        return ServerTrust(self.trust, self.chain_info, self.independence, self.receipt_policy)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

log = logging.getLogger(__name__)

_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}

#: Declares the bearer scheme in the OpenAPI document; the checks are ours (below).
bearer_scheme = HTTPBearer(
    auto_error=False, description="An API token (`zl_...`) of one institution."
)


def get_principal(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The caller of a route that needs a token: 401 (problem+json) without a valid one.

    A refused token counts against the caller's address like a call without one (429 past the
    public rate) and is logged — its reason and the address, never the token."""
    header = request.headers.get("authorization", "")
    if (
        credentials is None
        or len(header) > MAX_TOKEN_CHARS + len("Bearer ")
        or credentials.scheme.lower() != "bearer"
    ):
        _refused(request, services, "no bearer token")
        raise Problem(401, "Unauthorized", "a bearer token is required", _UNAUTHORIZED)
    token = credentials.credentials.strip()
    try:
        with services.database.session() as session:
            principal = authenticate(session, token, datetime.now(UTC))
    except Unauthenticated as exc:
        _refused(request, services, str(exc))
        raise Problem(401, "Unauthorized", str(exc), _UNAUTHORIZED) from None
    if services.token_limits is not None and principal.token_id is not None:
        services.token_limits.check(principal.token_id, f"token {principal.token_id}")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_optional_principal(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The caller of a public route that shows more to some token holders: ``public`` without
    an ``Authorization`` header (rate-limited by address), else as :func:`get_principal` (a
    bad token is a 401, never silently public)."""
    if not request.headers.get("authorization"):
        limit_address(request, services)
        return PUBLIC
    return get_principal(request, services, credentials)


OptionalPrincipalDep = Annotated[Principal, Depends(get_optional_principal)]


def _refused(request: Request, services: Services, reason: str) -> None:
    """A failed authentication: rate-limited by address (raises 429 past the public rate) and
    logged at most once per address and :data:`REFUSAL_LOG_EVERY` seconds."""
    address = request_client(request, services) or "unknown"
    now = time.monotonic()
    with _refusal_lock:
        last = _last_refusal_logged.get(address)
        due = last is None or now - last >= REFUSAL_LOG_EVERY
        if due:
            if len(_last_refusal_logged) >= MAX_REFUSAL_ADDRESSES:
                _last_refusal_logged.clear()
            _last_refusal_logged[address] = now
    if due:
        log.warning("authentication refused from %s: %s", address, reason)
    if services.public_limits is not None:
        services.public_limits.check(address, f"client {address}")


#: Least seconds between two log lines about refused tokens from one address.
REFUSAL_LOG_EVERY = 10.0
#: Addresses remembered for that (forgotten all at once past this many).
MAX_REFUSAL_ADDRESSES = 10_000
_last_refusal_logged: dict[str, float] = {}
_refusal_lock = threading.Lock()


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
    :func:`get_principal` instead: only for routes that check the token they are sent)."""
    if request.headers.get("authorization"):
        return
    limit_address(request, services)


def limit_address(request: Request, services: ServicesDep) -> None:
    """Rate-limit a call by its client address, token or not (for routes that take none)."""
    if services.public_limits is None:
        return
    address = request_client(request, services) or "unknown"
    services.public_limits.check(address, f"client {address}")


def actor_of(principal: Principal | None) -> Actor:
    """The custody actor of an authenticated principal, or ``public``."""
    if principal is None:
        return Actor.public()
    return Actor(principal.role, principal.token_id, principal.institution)


def commit_with_custody(
    services: Services,
    session: Session,
    request: Request,
    action: str,
    principal: Principal | None,
    obj: Any,
) -> None:
    """Commit the action written in ``session`` together with its custody event (``obj`` a
    ``CustodyObject``): both are stored or neither is. Blocking, like :func:`record_custody`.
    """
    recorder = services.custody
    if recorder is not None:
        client = request_client(request, services)
        recorder.record_in(session, action, actor_of(principal), obj, client)
    session.commit()
    if recorder is not None:
        recorder.appended()


@dataclass(frozen=True)
class CustodyEntry:
    """One custody event of an action that records several (:func:`commit_with_custody_events`)."""

    action: str
    object: CustodyObject
    note: str | None = None
    """Free text (a version 2 event; fitted to the note's limits)."""


def commit_with_custody_events(
    services: Services,
    session: Session,
    request: Request,
    principal: Principal | None,
    entries: Sequence[CustodyEntry],
) -> None:
    """Commit the action written in ``session`` together with all its custody events, in
    order, by ``principal`` from the request's client address: all are stored or none is."""
    recorder = services.custody
    if recorder is not None and entries:
        actor, client = actor_of(principal), request_client(request, services)
        drafts = [
            new_draft(
                e.action,
                actor,
                e.object,
                client,
                note=None if e.note is None else fit_note(e.note),
            )
            for e in entries
        ]
        append_events(session, drafts)
    session.commit()
    if recorder is not None and entries:
        recorder.appended()


def record_custody(
    services: Services,
    request: Request,
    action: str,
    principal: Principal | None,
    obj: Any,
    *,
    owner: str | None = None,
) -> None:
    """Record one custody event (``evidence.formats.custody_event.ACTIONS``) about ``obj`` (a
    ``CustodyObject``) by ``principal`` from the request's client address; returns once it is
    committed. Blocking: call it from a worker thread (``run_in_threadpool``) in async routes.

    A read of a document whose ``owner`` (its institution) is not the caller's counts against
    the per-token, per-document limit first (429 past it: nothing is read, nothing recorded),
    so no party can bury a document's history under its own events.
    """
    if services.custody is None:
        return
    limits = services.object_event_limits
    if (
        limits is not None
        and owner is not None
        and principal is not None
        and principal.token_id is not None
        and principal.institution != owner
    ):
        limits.check(
            f"{principal.token_id} {obj.type} {obj.id}",
            f"token {principal.token_id} on {obj.type} {obj.id}",
        )
    services.custody.record(action, actor_of(principal), obj, request_client(request, services))
