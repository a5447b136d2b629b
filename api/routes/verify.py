"""Public verification: by uploaded file, by SHA-256, or by file and receipt."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from api.auth import Principal
from api.deps import (
    Services,
    ServicesDep,
    bearer_scheme,
    get_principal,
    limit_public,
    record_custody,
)
from api.jsonbody import media_type, parse_json, read_body
from api.problems import Problem
from api.schemas import VerificationPublic, VerifyRequest
from api.uploads import file_chunks, form_file, multipart_schema, read_form
from evidence.access import enforcement
from evidence.access.policy import Action
from evidence.digest import DocumentDigest, DualHasher, parse_sha256_hex
from evidence.errors import EvidenceError
from evidence.formats.custody_event import CustodyObject
from evidence.formats.receipt_format import MAX_RECEIPT_BYTES, Receipt
from evidence.services.online_verification import verify_digest, verify_with_receipt

router = APIRouter(prefix="/v1", tags=["verify"])

MAX_DIGEST_REQUEST_BYTES = 1024
"""Largest JSON digest request (``{"sha256": ...}`` needs under 100 bytes)."""

_VERIFY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": VerifyRequest.model_json_schema()},
            **multipart_schema(
                {
                    "file": {"type": "string", "format": "binary"},
                    "receipt": {"type": "string", "format": "binary"},
                },
                ["file"],
            )["requestBody"]["content"],
        },
    }
}


@router.post(
    "/verify",
    response_model=VerificationPublic,
    openapi_extra=_VERIFY_BODY,
    responses={400: {}, 401: {}, 413: {}, 415: {}, 429: {}},
    dependencies=[Depends(limit_public)],
)
async def verify(request: Request, services: ServicesDep) -> VerificationPublic:
    """Is this document intact, altered, unknown or still pending? (``receipt-invalid``: a
    receipt given does not prove a deposit; ``untrusted``: its proofs hold but not by the keys
    this server trusts, or too few witnesses cosigned.)

    Without a token: by digest (``{"sha256": ...}``), or a file only where
    ``ZHENGLIAN_ANONYMOUS_VERIFY_MAX_BYTES`` allows (size and concurrency capped). The answer
    names the matched document (id, institution, kind, case, date) only to a caller who may
    read it; anyone else gets the verdict and the anchoring. A token holder's verification of
    a document it may read is recorded in the document's chain of custody
    (``verify_by_token``); one of a document it may not read is not an event of that
    document."""
    principal = None
    if request.headers.get("authorization"):
        credentials = await bearer_scheme(request)
        principal = await run_in_threadpool(get_principal, request, services, credentials)
    if principal is None and media_type(request) != "application/json":
        result = await _anonymous_file(request, services)
    else:
        result = await _verify(request, services, services.settings.max_upload_bytes)
    readable = principal is not None and await run_in_threadpool(
        _may_read, services, principal, result.document_id
    )
    if readable and result.document_id:
        await run_in_threadpool(
            partial(
                record_custody,
                services,
                request,
                "verify_by_token",
                principal,
                CustodyObject.document(result.document_id),
                owner=result.institution,
            )
        )
    return result if readable else _verdict_only(result)


def _may_read(services: Services, principal: Principal, document_id: str | None) -> bool:
    """Whether ``principal`` may read the matched document (then the answer names it and the
    verification is a custody event of it; otherwise it is neither)."""
    if document_id is None:
        return False
    try:
        with services.database.session() as session:
            enforcement.visible_document(session, principal, document_id, Action.DOCUMENT_READ)
    except EvidenceError:
        return False
    return True


def _verdict_only(result: VerificationPublic) -> VerificationPublic:
    """What a caller who may not read the document learns: the verdict, the digest it sent,
    when and how it was anchored, witnessed and time-stamped — not which document,
    institution, case, kind or date."""
    return VerificationPublic(
        result=result.result,
        sha256=result.sha256,
        anchor=result.anchor,
        seal=result.seal,
        seal_kind=result.seal_kind,
        receipt_version=result.receipt_version,
        proven_time=result.proven_time,
        witnesses=result.witnesses,
        checks=result.checks,
    )


async def _anonymous_file(request: Request, services: Services) -> VerificationPublic:
    """A file sent without a token: refused unless ``ZHENGLIAN_ANONYMOUS_VERIFY_MAX_BYTES``
    allows files, then at most that large and ``_CONCURRENCY`` at once."""
    settings = services.settings
    if settings.anonymous_verify_max_bytes == 0:
        raise Problem(
            401,
            "Unauthorized",
            'without a token, verify by digest: send {"sha256": "<64 hex>"} as '
            "application/json (`zhenglian digest FILE` computes it), or verify the file "
            "offline with `zhenglian verify`",
            {"WWW-Authenticate": "Bearer"},
        )
    slots = services.anonymous_verifications
    if slots is not None and not slots.try_acquire():
        raise Problem(
            429,
            "Too many requests",
            "too many files are being verified without a token; try again shortly",
            {"Retry-After": "1"},
        )
    try:
        return await _verify(request, services, settings.anonymous_verify_max_bytes)
    finally:
        if slots is not None:
            slots.release()


async def _verify(request: Request, services: Services, limit: int) -> VerificationPublic:
    if media_type(request) == "application/json":
        body = await read_body(request, MAX_DIGEST_REQUEST_BYTES)
        sha256 = parse_sha256_hex(parse_json(body, VerifyRequest).sha256)
        return VerificationPublic(
            **await run_in_threadpool(lambda: verify_digest(*_ctx(services), sha256, None))
        )
    form = await read_form(request, limit)
    try:
        upload = form_file(form, "file")
        receipt_file = form_file(form, "receipt", required=False)
        receipt = None
        if receipt_file is not None:
            data = await receipt_file.read(MAX_RECEIPT_BYTES + 1)
            receipt = Receipt.from_json_bytes(data)

        def digest() -> DocumentDigest:
            hasher = DualHasher()
            for chunk in file_chunks(upload):
                hasher.update(chunk)
            return hasher.finalize()

        document = await run_in_threadpool(digest)
    finally:
        await form.close()
    if receipt is not None:
        return VerificationPublic(
            **await run_in_threadpool(
                lambda: verify_with_receipt(*_ctx(services), document, receipt)
            )
        )
    return VerificationPublic(
        **await run_in_threadpool(lambda: verify_digest(*_ctx(services), document.sha256, document))
    )


def _ctx(services: Services) -> tuple[Any, Any, Any]:
    return services.database, services.blobs, services.server_trust()
