"""Dependencies: the services, the database session and the authenticated principal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import MAX_TOKEN_CHARS, Principal
from api.problems import Problem
from api.settings import Settings
from evidence.access import authenticate
from evidence.anchoring import AnchoringWorker
from evidence.blobstore import BlobStore
from evidence.errors import Unauthenticated
from evidence.repository import Database
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


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}

#: Declares the bearer scheme in the OpenAPI document; the checks are ours (below).
_bearer = HTTPBearer(auto_error=False, description="An API token (`zl_...`) of one institution.")


def get_principal(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller of a route that needs a token: 401 (problem+json) without a valid one."""
    header = request.headers.get("authorization", "")
    if (
        credentials is None
        or len(header) > MAX_TOKEN_CHARS + 7
        or credentials.scheme.lower() != "bearer"
    ):
        raise Problem(401, "Unauthorized", "a bearer token is required", _UNAUTHORIZED)
    token = credentials.credentials.strip()
    try:
        with services.database.session() as session:
            return authenticate(session, token, datetime.now(UTC))
    except Unauthenticated as exc:
        raise Problem(401, "Unauthorized", str(exc), _UNAUTHORIZED) from None


PrincipalDep = Annotated[Principal, Depends(get_principal)]
