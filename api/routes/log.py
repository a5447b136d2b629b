"""The Merkle log's head and consistency proofs (public)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, PlainTextResponse

from api.deps import ServicesDep
from api.openapi import schema_ref
from api.problems import Problem
from api.schemas import AnchorPublic, ConsistencyPublic, ExportAfter, ExportLimit, TreeHeadPublic
from evidence.errors import InputError
from evidence.formats.custody_event import CustodyObject
from evidence.formats.custody_export import MAX_EXPORT_EVENTS
from evidence.services.cosigning import cosigned_checkpoint
from evidence.services.custody_recording import custody_export
from evidence.services.receipt_assembly import anchor_view
from evidence.services.tree_heads import consistency_between, current_head
from ledger.merkle import MAX_TREE_SIZE

router = APIRouter(prefix="/v1/log", tags=["log"])


@router.get("/head", response_model=TreeHeadPublic)
def log_head(services: ServicesDep) -> TreeHeadPublic:
    """The log's current size and root, and the latest head anchored on chain."""
    with services.database.session() as session:
        head = current_head(session)
    anchor = head.anchored
    return TreeHeadPublic(
        tree_size=head.tree_size,
        root_hash=head.root_hash.hex(),
        anchored=AnchorPublic(**anchor_view(anchor, services.chain_info)) if anchor else None,
    )


@router.get("/key", response_class=PlainTextResponse)
def log_key(services: ServicesDep) -> str:
    """The log's verifier key (C2SP signed-note form, ``NAME+KEYID+KEY``): it signs the
    acknowledgements of deposits. Pin it from a source you trust, not only from here."""
    if services.log_signer is None:
        raise Problem(404, "Not found", "this log signs no acknowledgements")
    return services.log_signer.verifier_key + "\n"


@router.get("/checkpoint", response_class=PlainTextResponse, responses={404: {}})
def log_checkpoint(
    services: ServicesDep, size: int | None = Query(None, ge=1, le=MAX_TREE_SIZE)
) -> PlainTextResponse:
    """The log's checkpoint (C2SP tlog-checkpoint) of its latest anchored head, or of the head
    of ``size``: a signed note by the log's key followed by the cosignatures of the witnesses
    that vouched for it so far (C2SP tlog-cosignature). 404 while none is signed."""
    with services.database.session() as session:
        note = cosigned_checkpoint(session, size)
    if note is None:
        raise Problem(
            404, "Not found", "no checkpoint of that size" if size else "no checkpoint yet"
        )
    return PlainTextResponse(note, headers={"Cache-Control": "no-store"})


@router.get("/consistency", response_model=ConsistencyPublic, responses={400: {}})
def log_consistency(
    services: ServicesDep,
    first: int = Query(ge=1, le=MAX_TREE_SIZE),
    second: int = Query(ge=1, le=MAX_TREE_SIZE),
) -> ConsistencyPublic:
    """RFC 6962 consistency proof between two sizes of the log (first <= second <= size)."""
    try:
        with services.database.session() as session:
            view = consistency_between(session, first, second)
    except InputError as exc:
        raise Problem(400, "Bad request", str(exc)) from None
    return ConsistencyPublic(
        first=view.first,
        second=view.second,
        first_root=view.first_root.hex(),
        second_root=view.second_root.hex(),
        hashes=[h.hex() for h in view.hashes],
    )


@router.get(
    "/custody",
    responses={
        200: {
            "description": "the custody export of the log itself",
            "content": schema_ref("CustodyExport"),
        },
        503: {},
    },
)
def log_custody(
    services: ServicesDep,
    log: Literal["documents", "custody"] = Query("documents"),
    after: ExportAfter = None,
    limit: ExportLimit = MAX_EXPORT_EVENTS,
) -> JSONResponse:
    """The log's own chain of custody (public, like its head): when its anchoring halted and
    why (``anchoring_halted``), when an operator resumed it after a restore in a new contract
    and why (``anchoring_resumed``), and tampering the audit found in it
    (``tamper_detected``) — custody events version 2 about the object ``log``/``documents``
    (or ``custody``), with proofs. Check it offline with ``zhenglian verify --custody``."""
    if services.custody is None:
        raise Problem(503, "Service unavailable", "the custody log is not running")
    with services.database.session() as session:
        export = custody_export(session, CustodyObject.log(log), after=after, limit=limit)
    return JSONResponse(export.to_json())
