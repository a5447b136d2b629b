"""The caller's own institution: its tokens, and who made and revoked them (custody exports).

An admin issues an institution's first tokens and may issue more; every token issued or revoked
for an institution, and the institution's own creation and disabling, are custody events. Here
any token holder of the institution sees every token of it and the chain of custody of the
institution and of each token, with the admin (or ``operator``) that acted as the actor.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import Principal
from api.deps import PrincipalDep, Services, ServicesDep
from api.openapi import schema_ref
from api.problems import Problem
from api.routes.admin import token_public
from api.schemas import ExportAfter, ExportLimit, TokenPublic
from evidence.access import enforcement
from evidence.formats.custody_event import CustodyObject
from evidence.formats.custody_export import MAX_EXPORT_EVENTS
from evidence.services.custody_recording import custody_export

router = APIRouter(prefix="/v1/institutions/me", tags=["institutions"])

_ERRORS: dict[int | str, dict[str, Any]] = {401: {}, 403: {}}
_EXPORT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the custody export (the CustodyExport schema, docs/custody.md)",
        "content": schema_ref("CustodyExport"),
    },
    **_ERRORS,
    404: {},
    429: {},
}


def _export(
    services: Services, principal: Principal, obj: CustodyObject, after: int | None, limit: int
) -> JSONResponse:
    if services.custody is None:
        raise Problem(503, "Service unavailable", "the custody log is not running")
    with services.database.session() as session:
        export = custody_export(
            session, obj, after=after, limit=limit, viewer=principal.institution
        )
    return JSONResponse(export.to_json())


@router.get("/tokens", response_model=list[TokenPublic], responses=_ERRORS)
def list_own_tokens(principal: PrincipalDep, services: ServicesDep) -> list[TokenPublic]:
    """Every token of the caller's institution, revoked and expired ones too, whoever issued
    them (never the tokens themselves)."""
    with services.database.session() as session:
        return [token_public(r) for r in enforcement.own_tokens(session, principal)]


@router.get("/custody", responses=_EXPORT)
def get_own_custody(
    principal: PrincipalDep,
    services: ServicesDep,
    after: ExportAfter = None,
    limit: ExportLimit = MAX_EXPORT_EVENTS,
) -> JSONResponse:
    """The chain of custody of the caller's institution: who created it and when, and whether
    it was disabled (``institution_create``, ``institution_disable``). Check it offline with
    ``zhenglian verify --custody``."""
    with services.database.session() as session:
        institution = enforcement.own_institution(session, principal)
    return _export(services, principal, CustodyObject("institution", institution.id), after, limit)


@router.get("/tokens/{token_id}/custody", responses=_EXPORT)
def get_own_token_custody(
    token_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    after: ExportAfter = None,
    limit: ExportLimit = MAX_EXPORT_EVENTS,
) -> JSONResponse:
    """The chain of custody of a token of the caller's institution: who issued it (an admin
    of the bureau — by institution and role: its token and address are its own bureau's to
    see — or ``operator``), when, and who revoked it (``token_create``, ``token_revoke``).
    404 for any other token. Check it offline with ``zhenglian verify --custody``."""
    with services.database.session() as session:
        token = enforcement.own_token(session, principal, token_id)
    return _export(services, principal, CustodyObject("token", token.id), after, limit)
