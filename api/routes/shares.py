"""Share codes (证据提取码): one document or case, one named recipient, a count, an expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse

from api.deps import PrincipalDep, Services, ServicesDep, commit_with_custody
from api.jsonbody import json_body, read_json
from api.routes.cases import shared_object, summary
from api.routes.documents import require_receipt, stream_bundle, stream_original
from api.schemas import ShareCreate, ShareIssued, SharePublic, ShareView
from evidence.access import enforcement
from evidence.access.policy import Action
from evidence.formats.custody_event import CustodyObject

if TYPE_CHECKING:
    from evidence.store.repository import DocumentRecord

router = APIRouter(prefix="/v1/shares", tags=["shares"])

_ERRORS: dict[int | str, dict[str, Any]] = {400: {}, 401: {}, 403: {}, 404: {}, 410: {}}


def _public(share: enforcement.ShareRecord) -> dict[str, Any]:
    return SharePublic(
        id=share.id,
        document_id=share.document_id,
        case_code=share.case_code,
        recipient=share.recipient,
        created_at=share.created_at,
        expires_at=share.expires_at,
        max_uses=share.max_uses,
        uses=share.uses,
        revoked=share.revoked_at is not None,
    ).model_dump()


@router.post(
    "",
    status_code=201,
    response_model=ShareIssued,
    openapi_extra=json_body(ShareCreate),
    responses={**_ERRORS, 413: {}, 415: {}, 422: {}},
)
async def create_share(
    request: Request, principal: PrincipalDep, services: ServicesDep
) -> JSONResponse:
    """A share code for one document or case, for the institution named ``recipient``."""
    enforcement.require_role(principal, Action.SHARE_CREATE)
    body = await read_json(request, ShareCreate)

    def work() -> ShareIssued:
        with services.database.session() as session:
            code, share = enforcement.create_share(
                session,
                principal,
                recipient=body.recipient,
                expires_in=timedelta(seconds=body.expires_in),
                max_uses=body.max_uses,
                document_id=body.document_id,
                case_code=body.case_code,
            )
            commit_with_custody(
                services, session, request, "share_create", principal, shared_object(share)
            )
        return ShareIssued(code=str(code), **_public(share))

    issued = await run_in_threadpool(work)
    return JSONResponse(issued.model_dump(mode="json"), status_code=201)


@router.delete("/{code}", status_code=204, response_class=Response, responses=_ERRORS)
def revoke_share(
    code: str, request: Request, principal: PrincipalDep, services: ServicesDep
) -> Response:
    """Revoke a share code (by the institution that created it); it stops working at once."""
    with services.database.session() as session:
        share = enforcement.revoke_share(session, principal, code)
        commit_with_custody(
            services, session, request, "share_revoke", principal, shared_object(share)
        )
    return Response(status_code=204)


@router.get("/{code}", response_model=ShareView, responses=_ERRORS)
def read_share(code: str, principal: PrincipalDep, services: ServicesDep) -> ShareView:
    """What the share gives the recipient (does not count as a use)."""
    with services.database.session() as session:
        share = enforcement.redeem_share(session, principal, code, consume=False)
        documents = enforcement.shared_case_documents(session, share)
    return ShareView(documents=[summary(d) for d in documents], **_public(share))


def _redeem(
    services: Services,
    request: Request,
    principal: enforcement.Principal,
    code: str,
    document_id: str | None,
) -> DocumentRecord:
    with services.database.session() as session:
        share = enforcement.redeem_share(session, principal, code, consume=False)
        record = enforcement.shared_document(session, share, document_id)
        enforcement.redeem_share(session, principal, code, consume=True)
        commit_with_custody(
            services, session, request, "share_fetch", principal, CustodyObject.document(record.id)
        )
    return record


@router.get(
    "/{code}/content",
    response_class=StreamingResponse,
    responses={
        **_ERRORS,
        200: {"content": {"application/octet-stream": {}}},
        409: {"description": "the stored original was altered"},
    },
)
async def shared_content(
    code: str, request: Request, principal: PrincipalDep, services: ServicesDep
) -> StreamingResponse:
    """The shared document's original (one use of the code)."""
    record = await run_in_threadpool(_redeem, services, request, principal, code, None)
    return await stream_original(services, request, record)


@router.get(
    "/{code}/documents/{document_id}/content",
    response_class=StreamingResponse,
    responses={
        **_ERRORS,
        200: {"content": {"application/octet-stream": {}}},
        409: {"description": "the stored original was altered"},
    },
)
async def shared_case_content(
    code: str,
    document_id: str,
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
) -> StreamingResponse:
    """The original of one document of a shared case (one use of the code)."""
    record = await run_in_threadpool(_redeem, services, request, principal, code, document_id)
    return await stream_original(services, request, record)


def _ready(
    services: Services, principal: enforcement.Principal, code: str, document_id: str | None
) -> None:
    """A 409 ``receipt-pending`` before a use of the code is spent on a bundle that cannot be
    made yet (the code is checked, not redeemed)."""
    with services.database.session() as session:
        share = enforcement.redeem_share(session, principal, code, consume=False)
        record = enforcement.shared_document(session, share, document_id)
    require_receipt(services, record)


_BUNDLE: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    200: {"content": {"application/zip": {}}},
    409: {"description": "the receipt is not ready (receipt-pending) or the original altered"},
}


@router.get("/{code}/bundle", response_class=StreamingResponse, responses=_BUNDLE)
async def shared_bundle(
    code: str, request: Request, principal: PrincipalDep, services: ServicesDep
) -> StreamingResponse:
    """The shared document's evidence bundle (docs/bundle.md; one use of the code)."""
    await run_in_threadpool(_ready, services, principal, code, None)
    record = await run_in_threadpool(_redeem, services, request, principal, code, None)
    return await stream_bundle(services, request, principal, record)


@router.get(
    "/{code}/documents/{document_id}/bundle", response_class=StreamingResponse, responses=_BUNDLE
)
async def shared_case_bundle(
    code: str,
    document_id: str,
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
) -> StreamingResponse:
    """The evidence bundle of one document of a shared case (one use of the code)."""
    await run_in_threadpool(_ready, services, principal, code, document_id)
    record = await run_in_threadpool(_redeem, services, request, principal, code, document_id)
    return await stream_bundle(services, request, principal, record)
