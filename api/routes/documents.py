"""Deposits, document status and receipts."""

from __future__ import annotations

import base64
import itertools
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from api.auth import Principal
from api.deps import PrincipalDep, Services, ServicesDep, record_custody, request_client
from api.openapi import schema_ref
from api.problems import Problem
from api.routes.chain import trust_bundle
from api.routes.pki import published_pki
from api.schemas import DocumentPublic, PendingReceipt, SignaturePublic, SignerPublic
from api.uploads import multipart_schema, stream_upload, upload_text
from certs.errors import AuthorityError
from certs.verify.cms_signature import MAX_SIGNATURE_BYTES
from evidence.access import enforcement
from evidence.access.policy import Action
from evidence.errors import TamperingDetected
from evidence.formats.custody_event import Actor, CustodyObject
from evidence.formats.evidence_bundle import original_name, write_bundle
from evidence.formats.log_entry import KINDS, LogEntry
from evidence.services.deposits import Depositor, DepositRequest
from evidence.services.originals import (
    BundleNotReady,
    BundleTooLarge,
    PublishedTrust,
    bundle_members,
    checked_original,
)
from evidence.services.receipt_assembly import document_fields, document_view, receipt_for
from evidence.verify.document_signature import SignatureRefused

if TYPE_CHECKING:
    from evidence.store.repository import DocumentRecord

router = APIRouter(prefix="/v1/documents", tags=["documents"])

_DEPOSIT_FORM = multipart_schema(
    {
        "file": {"type": "string", "format": "binary"},
        "kind": {"type": "string", "enum": ["notary", "forensic", "legal_aid", "other"]},
        "title": {"type": "string", "minLength": 1, "maxLength": 500},
        "case_code": {"type": "string", "maxLength": 64},
        "signature": {
            "type": "string",
            "format": "binary",
            "description": "a detached CMS signature over the file (docs/signatures.md); "
            "before the file part",
        },
    },
    ["file", "kind", "title"],
)


@router.post(
    "",
    status_code=201,
    response_model=DocumentPublic,
    openapi_extra=_DEPOSIT_FORM,
    responses={
        401: {},
        403: {},
        413: {},
        415: {},
        422: {"description": "the signature does not hold (``reason`` names the check)"},
        429: {},
    },
)
async def deposit_document(
    request: Request, principal: PrincipalDep, services: ServicesDep
) -> JSONResponse:
    """Deposit a document: durable (blob, log entry, metadata) before this answers 201."""
    enforcement.require_role(principal, Action.DEPOSIT)
    holder = principal.holder()
    quota = services.upload_quota
    if quota is not None:  # refuse a declared size at once; what arrives is metered below
        incoming = request.headers.get("content-length", "")
        await run_in_threadpool(
            quota.check, holder.institution, int(incoming) if incoming.isdigit() else 0
        )
    upload = await stream_upload(
        request,
        services.settings.max_upload_bytes,
        fields=frozenset({"kind", "title", "case_code"}),
        file_field="file",
        binary_fields={"signature": MAX_SIGNATURE_BYTES},
    )
    kind = upload_text(upload, "kind") or ""
    if kind not in KINDS:
        raise Problem(400, "Bad request", f"kind must be one of {', '.join(KINDS)}")
    case_code = await run_in_threadpool(
        _deposit_case, services, principal, kind, upload_text(upload, "case_code", required=False)
    )
    req = DepositRequest(
        kind=kind,
        title=upload_text(upload, "title") or "",
        case_code=case_code,
        filename=upload.filename,
        signature=upload.binaries.get("signature"),
    )
    depositor = Depositor(holder.token_id, holder.institution, principal.role)
    meter = quota.meter(holder.institution) if quota is not None else None
    try:
        # Hashed and stored in one pass as the body arrives (the worker thread pulls it),
        # each chunk counted against the quota. Its custody event is committed in the same
        # transaction, before the 201 below.
        record = await run_in_threadpool(
            services.deposits.deposit,
            meter.chunks(upload.chunks()) if meter is not None else upload.chunks(),
            req,
            depositor,
            request_client(request, services),
        )
        if meter is not None:
            meter.deposited()
    except SignatureRefused as exc:
        raise Problem(422, "Signature refused", str(exc), extra={"reason": exc.reason}) from None
    finally:
        if meter is not None:
            meter.close()
    services.worker.poke()
    # Just committed, so pending: the anchoring worker sees an entry only once it is committed.
    view = DocumentPublic(**document_fields(record, None, services.chain_info))
    if services.log_signer is not None:
        view.acknowledgement = services.log_signer.acknowledge(record)
    return JSONResponse(view.model_dump(mode="json"), status_code=201)


def _view(services: Services, record: DocumentRecord) -> DocumentPublic:
    with services.database.session() as session:
        return DocumentPublic(**document_view(session, record, services.chain_info))


def _deposit_case(
    services: Services, principal: Principal, kind: str, case_code: str | None
) -> str | None:
    """The canonical code of the case deposited into, if the caller may deposit this kind
    (there)."""
    with services.database.session() as session:
        return enforcement.check_deposit(session, principal, kind, case_code or None)


def _visible(
    services: Services, principal: Principal, document_id: str, action: Action
) -> DocumentRecord:
    """The document if the caller may do ``action`` to it; 404 alike for absent and hidden."""
    with services.database.session() as session:
        return enforcement.visible_document(session, principal, document_id, action)


@router.get("/{document_id}", response_model=DocumentPublic, responses={401: {}, 404: {}})
def get_document_status(
    document_id: str, principal: PrincipalDep, services: ServicesDep
) -> DocumentPublic:
    """A document's metadata and whether its log entry is anchored yet."""
    return _view(services, _visible(services, principal, document_id, Action.DOCUMENT_READ))


@router.get(
    "/{document_id}/receipt",
    responses={
        200: {"description": "the receipt (docs/receipt.md)", "content": schema_ref("Receipt")},
        202: {"model": PendingReceipt},
    },
)
def get_receipt(
    document_id: str, request: Request, principal: PrincipalDep, services: ServicesDep
) -> Any:
    """The document's receipt (version 2: anchored, cosigned by the configured witnesses'
    quorum and time-stamped when an authority is configured); 202 until then."""
    record = _visible(services, principal, document_id, Action.DOCUMENT_READ)
    with services.database.session() as session:
        receipt = receipt_for(session, record, services.receipt_policy)
    record_custody(
        services,
        request,
        "fetch_receipt",
        principal,
        CustodyObject.document(record.id),
        owner=record.institution,
    )
    if receipt is None:
        return JSONResponse(PendingReceipt(id=record.id).model_dump(), status_code=202)
    return JSONResponse(receipt.to_json())


#: Characters kept in the plain ``filename=`` of Content-Disposition (the rest become ``_``;
#: the exact name travels in ``filename*``, RFC 6266 / RFC 5987).
_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


def content_disposition(record: DocumentRecord) -> str:
    name = record.filename or f"{record.id}.bin"
    plain = _SAFE_FILENAME.sub("_", name)[:100] or "document"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


async def stream_original(
    services: Services, request: Request, record: DocumentRecord
) -> StreamingResponse:
    """The original, re-hashed while streamed (:mod:`evidence.services.originals`).

    The first chunk is read before the answer starts, so a missing or (small) altered
    original is an error response; a larger altered one is cut off before its last chunk.
    Either way the detection is recorded as a ``tamper_detected`` custody event of the
    document (actor ``system``, the client whose download found it).
    """

    def report(_: TamperingDetected) -> None:
        if services.custody is not None:
            services.custody.record(
                "tamper_detected",
                Actor.system(),
                CustodyObject.document(record.id),
                request_client(request, services),
            )

    chunks = checked_original(services.blobs, record, report)
    first = await run_in_threadpool(next, chunks, None)
    body = itertools.chain([first] if first is not None else [], chunks)
    return StreamingResponse(
        body,
        media_type="application/octet-stream",
        headers={
            "Content-Length": str(record.size),
            "Content-Disposition": content_disposition(record),
            "ETag": f'"{record.sha256.hex()}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Link": f'</v1/documents/{record.id}/receipt>; rel="describedby"; '
            'type="application/json"',
        },
    )


@router.get(
    "/{document_id}/content",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "the original"},
        401: {},
        403: {},
        404: {},
        409: {"description": "the stored original was altered"},
    },
)
async def get_content(
    document_id: str, request: Request, principal: PrincipalDep, services: ServicesDep
) -> StreamingResponse:
    """The original bytes, digest re-checked while streaming; its receipt is linked beside."""
    record = await run_in_threadpool(
        _visible, services, principal, document_id, Action.DOCUMENT_CONTENT
    )
    await run_in_threadpool(
        record_custody,
        services,
        request,
        "fetch_content",
        principal,
        CustodyObject.document(record.id),
        owner=record.institution,
    )
    return await stream_original(services, request, record)


@router.get(
    "/{document_id}/signature",
    response_model=SignaturePublic,
    responses={401: {}, 404: {}, 409: {"description": "the kept signature was altered"}},
)
def get_signature(
    document_id: str, principal: PrincipalDep, services: ServicesDep
) -> SignaturePublic:
    """The document's signature (detached CMS, base64 DER; none when embedded in the PDF) and
    its signer's certificate (PEM), with what the log entry commits to; ``signed: false`` for
    an unsigned deposit. Same access as the original (docs/signatures.md)."""
    record = _visible(services, principal, document_id, Action.DOCUMENT_SIGNATURE)
    entry = LogEntry.decode(record.entry)
    signed = entry.signature
    checking = services.deposits.signatures
    if signed is None or checking is None:
        return SignaturePublic(document_id=record.id, signed=False)
    kept = checking.kept(entry)
    assert kept is not None
    certificate = x509.load_der_x509_certificate(kept.certificate)
    return SignaturePublic(
        document_id=record.id,
        signed=True,
        form=signed.form,
        signature=base64.b64encode(kept.signature).decode() if kept.signature else None,
        signature_media_type="application/pkcs7-signature" if kept.signature else None,
        certificate=certificate.public_bytes(Encoding.PEM).decode(),
        signer=SignerPublic(
            institution=signed.signer_name,
            credit_code=signed.signer_credit_code,
            certificate_sha256=signed.signer_certificate.hex(),
            signed_at=signed.signed_at,
            signed_at_proof=signed.signed_at_proof,
        ),
    )


BUNDLE_MEDIA_TYPE = "application/zip"
"""The bundle is a plain zip (docs/bundle.md)."""


def _published(request: Request, services: Services) -> PublishedTrust:
    """The trust bundle as ``GET /v1/trust`` answers it, and the PKI root and CRL as served."""
    try:
        trust: bytes | None = bytes(trust_bundle(request, services).body)
    except Problem as exc:
        if exc.status != 404:
            raise
        trust = None
    try:
        pki = published_pki(request, services)
        return PublishedTrust(
            trust, pki.root_pem(), pki.crl_der(), pki.sm2_root_pem(), pki.sm2_crl_der()
        )
    except AuthorityError as exc:
        raise Problem(503, "Storage or ledger unavailable", "the PKI files cannot be read") from exc


def _pending(exc: BundleNotReady) -> Problem:
    return Problem(
        409,
        "Receipt not ready",
        str(exc),
        headers={"Retry-After": "5"},
        extra={"reason": "receipt-pending"},
    )


def require_receipt(services: Services, record: DocumentRecord) -> None:
    """Nothing if ``record``'s receipt is ready; else the 409 ``receipt-pending`` problem
    (asked before anything is recorded or a share code's use is spent)."""
    with services.database.session() as session:
        if receipt_for(session, record, services.receipt_policy) is None:
            raise _pending(
                BundleNotReady(
                    f"document {record.id} has no receipt yet (not anchored, cosigned or "
                    "time-stamped yet): ask again once its receipt is ready"
                )
            )


def _bundle_members(
    services: Services, request: Request, principal: Principal, record: DocumentRecord
) -> list[Any]:
    published = _published(request, services)
    try:
        with services.database.session() as session:
            return bundle_members(
                session,
                record,
                receipt_policy=services.receipt_policy,
                signatures=services.deposits.signatures,
                published=published,
                data_dir=services.settings.data_dir,
                viewer=principal.institution,
                custody=services.custody is not None,
            )
    except BundleNotReady as exc:
        raise _pending(exc) from None
    except BundleTooLarge as exc:
        raise Problem(409, "Bundle too large", str(exc), extra={"reason": "too-large"}) from None


@router.get(
    "/{document_id}/bundle",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {BUNDLE_MEDIA_TYPE: {}},
            "description": "the evidence bundle (docs/bundle.md): original, signature, "
            "signer's chain, receipt, custody export, trust bundle and a manifest, one zip",
        },
        401: {},
        403: {},
        404: {},
        409: {
            "description": "the receipt is not ready yet (``reason`` receipt-pending, "
            "Retry-After), the bundle would be too large to build (too-large), or the stored "
            "original or signature was altered"
        },
    },
)
async def get_bundle(
    document_id: str, request: Request, principal: PrincipalDep, services: ServicesDep
) -> StreamingResponse:
    """Everything a court needs to check the document offline, in one zip: the original, its
    signature and signer's certificate, the bureau's root and CRLs, the receipt, every page
    of the custody export, the trust bundle and a manifest (each member's SHA-256). Same
    access as the original (``document.content``); recorded as a ``fetch_content`` custody
    event, which the bundle's own custody export already lists (pending). Check it with
    ``zhenglian verify --bundle``."""
    record = await run_in_threadpool(
        _visible, services, principal, document_id, Action.DOCUMENT_CONTENT
    )
    # Ready first: a fetch that is refused for a pending receipt records nothing.
    await run_in_threadpool(require_receipt, services, record)
    await run_in_threadpool(
        record_custody,
        services,
        request,
        "fetch_content",
        principal,
        CustodyObject.document(record.id),
        owner=record.institution,
    )
    return await stream_bundle(services, request, principal, record)


async def stream_bundle(
    services: Services, request: Request, principal: Principal, record: DocumentRecord
) -> StreamingResponse:
    """``record``'s evidence bundle for ``principal`` (already allowed and recorded), the
    original re-checked while streamed as :func:`stream_original` does."""
    members = await run_in_threadpool(_bundle_members, services, request, principal, record)

    def report(_: TamperingDetected) -> None:
        if services.custody is not None:
            services.custody.record(
                "tamper_detected",
                Actor.system(),
                CustodyObject.document(record.id),
                request_client(request, services),
            )

    chunks = checked_original(services.blobs, record, report)
    first = await run_in_threadpool(next, chunks, None)  # a missing original: an error answer
    body = write_bundle(
        document_id=record.id,
        document_sha256=record.sha256,
        document_size=record.size,
        original=original_name(record.filename, record.id),
        original_chunks=itertools.chain([first] if first is not None else [], chunks),
        members=members,
        created_at=datetime.now(UTC),
        deposited_at=record.deposited_at,
    )
    plain = _SAFE_FILENAME.sub("_", record.id)
    return StreamingResponse(
        body,
        media_type=BUNDLE_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{plain}.bundle.zip"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
