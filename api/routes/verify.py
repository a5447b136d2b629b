"""Public verification: by uploaded file, by SHA-256, or by file and receipt."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import (
    Services,
    ServicesDep,
    bearer_scheme,
    get_principal,
    limit_public,
    record_custody,
)
from api.jsonbody import read_body
from api.problems import Problem
from api.schemas import VerificationPublic, VerifyRequest
from api.uploads import file_chunks, form_file, multipart_schema, read_form
from evidence.digest import DocumentDigest, DualHasher, parse_sha256_hex
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
    """Is this document intact, altered, unknown or still pending? No token needed.

    Called with a bearer token, the verification is recorded in the document's chain of
    custody (``verify_by_token``)."""
    principal = None
    if request.headers.get("authorization"):
        credentials = await bearer_scheme(request)
        principal = await run_in_threadpool(get_principal, request, services, credentials)
    result = await _verify(request, services)
    if principal is not None and result.document_id:
        await run_in_threadpool(
            record_custody,
            services,
            request,
            "verify_by_token",
            principal,
            CustodyObject.document(result.document_id),
        )
    return result


async def _verify(request: Request, services: Services) -> VerificationPublic:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await read_body(request, MAX_DIGEST_REQUEST_BYTES)
        try:
            parsed = VerifyRequest.model_validate_json(body)
        except ValueError as exc:
            raise Problem(400, "Bad request", f'expected {{"sha256": <64 hex>}}: {exc}') from None
        sha256 = parse_sha256_hex(parsed.sha256)
        return VerificationPublic(
            **await run_in_threadpool(lambda: verify_digest(*_ctx(services), sha256, None))
        )
    form = await read_form(request, services.settings.max_upload_bytes)
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


def _ctx(services: Services) -> tuple[Any, Any, Any, Any]:
    return services.database, services.blobs, services.trust, services.chain_info
