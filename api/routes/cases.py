"""Cases (一案一码): open, share with law firms and courts, list, QR codes, public page."""

from __future__ import annotations

import html
import io
from typing import TYPE_CHECKING, Any

import segno
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import (
    CustodyEntry,
    PrincipalDep,
    Services,
    ServicesDep,
    commit_with_custody,
    commit_with_custody_events,
    limit_address,
)
from api.jsonbody import json_body, read_json
from api.negotiation import prefers_html
from api.schemas import (
    CaseCreate,
    CasePublic,
    DocumentSummary,
    ParticipantCreate,
    ParticipantPublic,
    ParticipantRemoved,
    PublicCaseView,
)
from evidence.access import enforcement
from evidence.access.policy import Action
from evidence.formats.custody_event import CustodyObject

if TYPE_CHECKING:
    from evidence.store.repository import DocumentRecord

router = APIRouter(prefix="/v1", tags=["cases"])

#: Pixels per QR module in the PNG, and quiet-zone modules around the code.
QR_SCALE = 8
QR_BORDER = 4
#: Error correction level: M restores up to 15 % of a damaged or smudged print.
QR_ERROR = "m"

_DENIED: dict[int | str, dict[str, Any]] = {400: {}, 401: {}, 403: {}, 404: {}}


def summary(record: DocumentRecord) -> DocumentSummary:
    return DocumentSummary(
        id=record.id,
        sha256=record.sha256.hex(),
        size=record.size,
        kind=record.kind,
        title=record.title,
        institution=record.institution,
        filename=record.filename,
        deposited_at=record.deposited_at,
        leaf_index=record.leaf_index,
    )


def _case_public(services: Services, view: enforcement.CaseView) -> CasePublic:
    case = view.case
    return CasePublic(
        code=case.code,
        type=case.type,
        title=case.title,
        institution=case.institution,
        created_at=case.created_at,
        relation="own" if view.relation.value == "own" else "participant",
        participants=[
            ParticipantPublic(institution=p.institution, type=p.type, added_at=p.added_at)
            for p in view.participants
        ],
        documents=[summary(d) for d in view.documents],
        verify_url=services.settings.public_case_url(case.code),
    )


@router.post(
    "/cases",
    status_code=201,
    response_model=CasePublic,
    openapi_extra=json_body(CaseCreate),
    responses={**_DENIED, 413: {}, 415: {}, 422: {}},
)
async def create_case(
    request: Request, principal: PrincipalDep, services: ServicesDep
) -> JSONResponse:
    """Open a case owned by the caller's institution; the answer carries its new code."""
    enforcement.require_role(principal, Action.CASE_CREATE)
    body = await read_json(request, CaseCreate)

    def work() -> CasePublic:
        with services.database.session() as session:
            case = enforcement.create_case(
                session, principal, case_type=body.type, title=body.title
            )
            commit_with_custody(
                services,
                session,
                request,
                "case_create",
                principal,
                CustodyObject("case", case.code),
            )
            return _case_public(services, enforcement.read_case(session, principal, case.code))

    created = await run_in_threadpool(work)
    return JSONResponse(created.model_dump(mode="json"), status_code=201)


@router.get("/cases/{code}", response_model=CasePublic, responses=_DENIED)
def read_case(code: str, principal: PrincipalDep, services: ServicesDep) -> CasePublic:
    """The case, its participants and the documents in it the caller may see."""
    with services.database.session() as session:
        return _case_public(services, enforcement.read_case(session, principal, code))


@router.post(
    "/cases/{code}/participants",
    status_code=201,
    response_model=ParticipantPublic,
    openapi_extra=json_body(ParticipantCreate),
    responses={**_DENIED, 409: {}, 413: {}, 415: {}, 422: {}},
)
async def add_participant(
    code: str, request: Request, principal: PrincipalDep, services: ServicesDep
) -> JSONResponse:
    """Share the case with a law firm or a court (by the owning institution)."""
    body = await read_json(request, ParticipantCreate)

    def work() -> ParticipantPublic:
        with services.database.session() as session:
            added = enforcement.add_participant(
                session, principal, code=code, institution=body.institution
            )
            # The event names the case by its canonical code, however the caller typed it.
            case = CustodyObject("case", enforcement.parse_case_code(code))
            commit_with_custody(services, session, request, "case_participant_add", principal, case)
        return ParticipantPublic(
            institution=added.institution, type=added.type, added_at=added.added_at
        )

    return JSONResponse((await run_in_threadpool(work)).model_dump(mode="json"), status_code=201)


@router.delete(
    "/cases/{code}/participants/{institution}",
    response_model=ParticipantRemoved,
    responses={**_DENIED, 409: {"description": "the case's owner, which cannot leave its case"}},
)
def remove_participant(
    code: str, institution: str, request: Request, principal: PrincipalDep, services: ServicesDep
) -> ParticipantRemoved:
    """Take a law firm or court (by id or name) off the case (by the owning institution). Its
    tokens no longer see the case or its documents from the answer on, and the share codes
    still usable that name it for the case or a document in it are revoked with it. Recorded
    in the case's chain of custody (``case_participant_remove``, naming the institution), each
    revoked share code as a ``share_revoke`` of what it shared, all in one transaction."""
    with services.database.session() as session:
        removal = enforcement.remove_participant(
            session, principal, code=code, institution=institution
        )
        gone = removal.participant
        note = f"removed {gone.institution} ({gone.type}, {gone.institution_id})"
        if removal.revoked_shares:
            note += "; share codes revoked: " + ", ".join(s.id for s in removal.revoked_shares)
        # The event names the case by its canonical code, however the caller typed it.
        case = CustodyObject("case", enforcement.parse_case_code(code))
        entries = [CustodyEntry("case_participant_remove", case, note)]
        entries += [
            CustodyEntry("share_revoke", shared_object(share)) for share in removal.revoked_shares
        ]
        commit_with_custody_events(services, session, request, principal, entries)
    return ParticipantRemoved(
        institution=gone.institution,
        type=gone.type,
        added_at=gone.added_at,
        removed_at=removal.removed_at,
        revoked_shares=[share.id for share in removal.revoked_shares],
    )


def shared_object(share: enforcement.ShareRecord) -> CustodyObject:
    """What a share event is about: the shared document, or the shared case."""
    if share.document_id is not None:
        return CustodyObject.document(share.document_id)
    return CustodyObject("case", share.case_code or "")


def _qr(services: Services, principal: enforcement.Principal, code: str) -> segno.QRCode:
    with services.database.session() as session:
        case = enforcement.visible_case(session, principal, code)
    return segno.make(services.settings.public_case_url(case.code), error=QR_ERROR, micro=False)


@router.get(
    "/cases/{code}/qr.png",
    responses={**_DENIED, 200: {"content": {"image/png": {}}}},
    response_class=Response,
)
def case_qr_png(code: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    """QR code (PNG) opening the case's public verification page."""
    out = io.BytesIO()
    _qr(services, principal, code).save(out, kind="png", scale=QR_SCALE, border=QR_BORDER)
    return Response(out.getvalue(), media_type="image/png")


@router.get(
    "/cases/{code}/qr.svg",
    responses={**_DENIED, 200: {"content": {"image/svg+xml": {}}}},
    response_class=Response,
)
def case_qr_svg(code: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    """QR code (SVG) opening the case's public verification page."""
    out = io.BytesIO()
    _qr(services, principal, code).save(
        out, kind="svg", scale=QR_SCALE, border=QR_BORDER, xmldecl=True, svgns=True
    )
    return Response(out.getvalue(), media_type="image/svg+xml")


@router.get(
    "/public/cases/{code}",
    response_model=PublicCaseView,
    responses={400: {}, 404: {}, 429: {}, 200: {"content": {"text/html": {}}}},
    tags=["verify"],
    dependencies=[Depends(limit_address)],
)
def public_case(code: str, request: Request, services: ServicesDep) -> Any:
    """What a case's QR code opens, for anyone: that the case exists, its type, owning
    institution, and how many of its documents are deposited and anchored. An HTML page for
    browsers (``Accept`` preferring ``text/html`` over ``application/json``, q-values
    weighed: ``api.negotiation``), JSON otherwise."""
    with services.database.session() as session:
        found = enforcement.public_case(session, code)
    view = PublicCaseView(
        code=found.code,
        type=found.type,
        institution=found.institution,
        created_at=found.created_at,
        documents=found.documents,
        anchored=found.anchored,
    )
    if prefers_html(request.headers.get("accept")):
        return HTMLResponse(_public_page(view))
    return view


def _public_page(view: PublicCaseView) -> str:
    e = html.escape
    return f"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>证链 案件 {e(view.code)}</title></head>
<body>
<h1>案件 {e(view.code)}</h1>
<p>此案件码真实有效 (this case code is genuine).</p>
<table>
<tr><th>类型 type</th><td>{e(view.type)}</td></tr>
<tr><th>机构 institution</th><td>{e(view.institution)}</td></tr>
<tr><th>立案 opened</th><td>{e(view.created_at.strftime("%Y-%m-%d"))}</td></tr>
<tr><th>存证 documents</th><td>{view.documents}</td></tr>
<tr><th>已上链 anchored</th><td>{view.anchored}</td></tr>
</table>
<p>{e(view.detail)}</p>
</body></html>
"""
