"""Administration (role ``admin`` only): the institutions and tokens of the admin's bureau.

An admin's token acts for its justice bureau (司法局): it sees, creates, disables and issues
tokens for only the bureau itself and the institutions that belong to it; another bureau's
institution or token is answered like a missing one (404). It never sees evidence, and what it
does to an institution is on that institution's record (``GET /v1/institutions/me/...``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from api.deps import PrincipalDep, ServicesDep, commit_with_custody
from api.jsonbody import json_body, read_json
from api.problems import Problem
from api.schemas import (
    InstitutionCreate,
    InstitutionPublic,
    TokenCreate,
    TokenIssued,
    TokenPublic,
)
from evidence.access import enforcement
from evidence.access.policy import Action, Relation
from evidence.formats.custody_event import CustodyObject

router = APIRouter(prefix="/v1/admin", tags=["admin"])

_ERRORS: dict[int | str, dict[str, Any]] = {401: {}, 403: {}}


def administrator(principal: PrincipalDep) -> enforcement.Principal:
    """The caller, if the policy lets it administer."""
    enforcement.authorize(principal, Action.ADMINISTER, Relation.NONE)
    return principal


AdminDep = Annotated[enforcement.Principal, Depends(administrator)]


def institution_public(r: enforcement.InstitutionRecord) -> InstitutionPublic:
    return InstitutionPublic(
        id=r.id,
        name=r.name,
        type=r.type,
        created_at=r.created_at,
        disabled_at=r.disabled_at,
        bureau_id=r.bureau_id,
    )


def token_public(r: enforcement.TokenRecord) -> TokenPublic:
    return TokenPublic(
        id=r.id,
        institution=r.institution,
        role=r.role,
        created_at=r.created_at,
        expires_at=r.expires_at,
        revoked_at=r.revoked_at,
    )


@router.post(
    "/institutions",
    status_code=201,
    response_model=InstitutionPublic,
    openapi_extra=json_body(InstitutionCreate),
    responses={**_ERRORS, 400: {}, 409: {}, 413: {}, 415: {}, 422: {}},
)
async def create_institution(
    request: Request, admin: AdminDep, services: ServicesDep
) -> JSONResponse:
    """Register an institution (name unique) of the caller's bureau. Not a justice bureau
    (403): bureaus are created by the operator."""
    body = await read_json(request, InstitutionCreate)

    def work() -> InstitutionPublic:
        with services.database.session() as session:
            made = enforcement.add_bureau_institution(
                session, admin, name=body.name, type=body.type
            )
            commit_with_custody(
                services,
                session,
                request,
                "institution_create",
                admin,
                CustodyObject("institution", made.id),
            )
        return institution_public(made)

    return JSONResponse((await run_in_threadpool(work)).model_dump(mode="json"), status_code=201)


@router.get("/institutions", response_model=list[InstitutionPublic], responses=_ERRORS)
def list_institutions(admin: AdminDep, services: ServicesDep) -> list[InstitutionPublic]:
    """The caller's bureau and the institutions that belong to it."""
    with services.database.session() as session:
        return [institution_public(r) for r in enforcement.bureau_institutions(session, admin)]


@router.post(
    "/institutions/{institution_id}/disable",
    status_code=204,
    response_class=Response,
    responses={**_ERRORS, 404: {}, 409: {"description": "the caller's own institution"}},
)
def disable_institution(
    institution_id: str, request: Request, admin: AdminDep, services: ServicesDep
) -> Response:
    """Disable an institution of the caller's bureau: every token of it is refused (401) from
    now on. Not the caller's own (that would lock out every admin of it): the operator does
    that with ``zhenglian institutions disable`` on the server."""
    if institution_id == admin.institution_id:
        raise Problem(
            409,
            "Conflict",
            "an admin cannot disable its own institution over the API (it would lock out every "
            "admin of it); use `zhenglian institutions disable` on the server",
        )
    with services.database.session() as session:
        enforcement.disable_bureau_institution(session, admin, institution_id, datetime.now(UTC))
        commit_with_custody(
            services,
            session,
            request,
            "institution_disable",
            admin,
            CustodyObject("institution", institution_id),
        )
    return Response(status_code=204)


@router.post(
    "/tokens",
    status_code=201,
    response_model=TokenIssued,
    openapi_extra=json_body(TokenCreate),
    responses={**_ERRORS, 400: {}, 404: {}, 413: {}, 415: {}, 422: {}},
)
async def create_token(request: Request, admin: AdminDep, services: ServicesDep) -> JSONResponse:
    """Issue a token for an existing institution of the caller's bureau, of the role's type;
    shown once. The institution sees it, and who issued it, on its own record."""
    body = await read_json(request, TokenCreate)

    def work() -> TokenIssued:
        expires = timedelta(days=body.expires_in_days)
        with services.database.session() as session:
            token, record = enforcement.issue_bureau_token(
                session, admin, institution=body.institution, role=body.role, expires_in=expires
            )
            commit_with_custody(
                services, session, request, "token_create", admin, CustodyObject("token", record.id)
            )
        return TokenIssued(token=token, **token_public(record).model_dump())

    return JSONResponse((await run_in_threadpool(work)).model_dump(mode="json"), status_code=201)


@router.get("/tokens", response_model=list[TokenPublic], responses=_ERRORS)
def list_tokens(admin: AdminDep, services: ServicesDep) -> list[TokenPublic]:
    """The tokens of the caller's bureau and of its institutions (never the tokens themselves)."""
    with services.database.session() as session:
        return [token_public(r) for r in enforcement.bureau_tokens(session, admin)]


@router.delete(
    "/tokens/{token_id}", status_code=204, response_class=Response, responses={**_ERRORS, 404: {}}
)
def revoke_token(
    token_id: str, request: Request, admin: AdminDep, services: ServicesDep
) -> Response:
    """Revoke a token of the caller's bureau or of one of its institutions: refused (401) from
    now on."""
    with services.database.session() as session:
        enforcement.revoke_bureau_token(session, admin, token_id, datetime.now(UTC))
        commit_with_custody(
            services, session, request, "token_revoke", admin, CustodyObject("token", token_id)
        )
    return Response(status_code=204)
