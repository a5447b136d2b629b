"""Chains of custody of a document and of a case: every custody event about it, with proofs
(an export)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import PrincipalDep, ServicesDep
from api.openapi import schema_ref
from api.problems import Problem
from api.schemas import ExportAfter, ExportLimit
from evidence.access import enforcement
from evidence.access.policy import Action
from evidence.formats.custody_event import CustodyObject
from evidence.formats.custody_export import MAX_EXPORT_EVENTS
from evidence.services.custody_recording import custody_export

router = APIRouter(prefix="/v1", tags=["custody"])

_EXPORT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the custody export, or one page of it "
        "(evidence/formats/schema/custody-export-v2.schema.json)",
        "content": schema_ref("CustodyExport"),
    },
    401: {},
    404: {},
    422: {},
    429: {},
}


@router.get("/documents/{document_id}/custody", responses=_EXPORT)
def get_custody(
    document_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    after: ExportAfter = None,
    limit: ExportLimit = MAX_EXPORT_EVENTS,
) -> JSONResponse:
    """Who deposited, fetched, shared and verified the document, when and from where: each
    event with its leaf bytes and an inclusion proof to the latest anchored custody head, and
    that head's offline anchor proof. Events after that head are marked ``pending``. The
    head's checkpoint and the custody map's proof say how many events there are and which is
    the latest, so an export missing any fails. Paged: ``total`` events in all; when ``next``
    is not null, ask again with ``after=next``. Check it offline, every page together, with
    ``zhenglian verify --custody``."""
    with services.database.session() as session:
        record = enforcement.visible_document(session, principal, document_id, Action.DOCUMENT_READ)
        if services.custody is None:
            raise Problem(503, "Service unavailable", "the custody log is not running")
        export = custody_export(
            session,
            CustodyObject.document(record.id),
            after=after,
            limit=limit,
            viewer=principal.institution,
        )
    return JSONResponse(export.to_json())


@router.get("/cases/{code}/custody", responses=_EXPORT)
def get_case_custody(
    code: str,
    principal: PrincipalDep,
    services: ServicesDep,
    after: ExportAfter = None,
    limit: ExportLimit = MAX_EXPORT_EVENTS,
) -> JSONResponse:
    """The case's own chain of custody: opened by whom, which law firms and courts were added
    and when, and every share code made for the whole case — who was given access to the
    case's documents. (Each document's own events are in its custody export.) For whoever may
    read the case; paged and checked offline like a document's."""
    with services.database.session() as session:
        case = enforcement.visible_case(session, principal, code)
        if services.custody is None:
            raise Problem(503, "Service unavailable", "the custody log is not running")
        export = custody_export(
            session,
            CustodyObject("case", case.code),
            after=after,
            limit=limit,
            viewer=principal.institution,
        )
    return JSONResponse(export.to_json())
