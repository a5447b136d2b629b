"""Deposits, document status and receipts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.auth import DEPOSITING_ROLES, READ_ALL_ROLES, Principal
from api.deps import PrincipalDep, Services, ServicesDep, record_custody
from api.problems import Problem
from api.schemas import DocumentPublic, PendingReceipt
from api.uploads import file_chunks, form_file, form_text, multipart_schema, read_form
from evidence.custody_entry import CustodyObject
from evidence.receipts import document_view, receipt_for
from evidence.repository import DocumentRecord, get_document
from evidence.service import Depositor, DepositRequest

router = APIRouter(prefix="/v1/documents", tags=["documents"])

#: The document kind each depositing role deposits (every role may also deposit "other").
ROLE_KIND = {"notary": "notary", "forensic": "forensic", "legal_aid": "legal_aid"}

_DEPOSIT_FORM = multipart_schema(
    {
        "file": {"type": "string", "format": "binary"},
        "kind": {"type": "string", "enum": ["notary", "forensic", "legal_aid", "other"]},
        "title": {"type": "string", "maxLength": 500},
        "case_code": {"type": "string", "maxLength": 64},
    },
    ["file", "kind", "title"],
)


@router.post(
    "",
    status_code=201,
    response_model=DocumentPublic,
    openapi_extra=_DEPOSIT_FORM,
    responses={401: {}, 403: {}, 413: {}, 415: {}, 429: {}},
)
async def deposit_document(
    request: Request, principal: PrincipalDep, services: ServicesDep
) -> JSONResponse:
    """Deposit a document: durable (blob, log entry, metadata) before this answers 201."""
    if principal.role not in DEPOSITING_ROLES:
        raise Problem(403, "Forbidden", f"role {principal.role!r} does not deposit documents")
    limit = services.settings.max_upload_bytes
    quota = services.upload_quota
    if quota is not None:
        incoming = request.headers.get("content-length", "")
        await run_in_threadpool(
            quota.check, principal.institution, int(incoming) if incoming.isdigit() else 0
        )
    form = await read_form(request, limit)
    try:
        upload = form_file(form, "file")
        assert upload is not None
        kind = form_text(form, "kind") or ""
        if kind not in (ROLE_KIND[principal.role], "other"):
            raise Problem(
                400,
                "Bad request",
                f"kind must be {ROLE_KIND[principal.role]!r} or 'other' "
                f"for role {principal.role!r}",
            )
        req = DepositRequest(
            kind=kind,
            title=form_text(form, "title") or "",
            case_code=form_text(form, "case_code", required=False) or None,
            filename=upload.filename,
        )
        depositor = Depositor(principal.token_id, principal.institution, principal.role)
        record = await run_in_threadpool(
            services.deposits.deposit, file_chunks(upload), req, depositor
        )
    finally:
        await form.close()
    services.worker.poke()
    if quota is not None:
        quota.add(principal.institution, record.size)
    # Committed before the deposit is acknowledged (the 201 below).
    await run_in_threadpool(
        record_custody,
        services,
        request,
        "deposit",
        principal,
        CustodyObject.document(record.id),
    )
    view = await run_in_threadpool(_view, services, record)
    return JSONResponse(view.model_dump(mode="json"), status_code=201)


def _view(services: Services, record: DocumentRecord) -> DocumentPublic:
    with services.database.session() as session:
        return DocumentPublic(**document_view(session, record, services.chain_info))


def _visible(services: Services, principal: Principal, document_id: str) -> DocumentRecord:
    """The document if the caller may see it; 404 alike for absent and forbidden."""
    with services.database.session() as session:
        record = get_document(session, document_id)
    if record is None or not (
        principal.role in READ_ALL_ROLES or record.institution == principal.institution
    ):
        raise Problem(404, "Not found", "no such document")
    return record


@router.get("/{document_id}", response_model=DocumentPublic, responses={401: {}, 404: {}})
def get_document_status(
    document_id: str, principal: PrincipalDep, services: ServicesDep
) -> DocumentPublic:
    """A document's metadata and whether its log entry is anchored yet."""
    return _view(services, _visible(services, principal, document_id))


@router.get(
    "/{document_id}/receipt",
    responses={200: {"description": "the receipt (JSON)"}, 202: {"model": PendingReceipt}},
)
def get_receipt(
    document_id: str, request: Request, principal: PrincipalDep, services: ServicesDep
) -> Any:
    """The document's receipt; 202 while its entry is not anchored yet."""
    record = _visible(services, principal, document_id)
    with services.database.session() as session:
        receipt = receipt_for(session, record)
    record_custody(services, request, "fetch_receipt", principal, CustodyObject.document(record.id))
    if receipt is None:
        return JSONResponse(PendingReceipt(id=record.id).model_dump(), status_code=202)
    return JSONResponse(receipt.to_json())
