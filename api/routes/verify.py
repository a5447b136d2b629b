"""Public verification: by uploaded file, by SHA-256, or by file and receipt."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

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
from certs.verify.cms_signature import MAX_SIGNATURE_BYTES
from certs.verify.pades_signature import MAX_SIGNED_PDF_BYTES
from evidence.access import enforcement
from evidence.access.policy import Action
from evidence.digest import DocumentDigest, DualHasher, parse_sha256_hex
from evidence.errors import EvidenceError
from evidence.formats.custody_event import CustodyObject
from evidence.formats.receipt_format import MAX_RECEIPT_BYTES, Receipt
from evidence.services.online_verification import (
    proven_document_id,
    report_with_receipt,
    verify_digest,
    verify_with_receipt,
)
from evidence.verify.document_signature import SignatureRefused, SignatureTrust
from evidence.verify.receipt_verifier import VERDICT_RECEIPT_INVALID, VERDICT_UNTRUSTED
from evidence.verify.verification_report import VerificationReport

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
                    "signature": {"type": "string", "format": "binary"},
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
    responses={
        200: {
            "description": "With format=report: the verification report "
            "(evidence/formats/schema/verification-report-v1.schema.json, docs/report.md §6)",
        },
        400: {},
        401: {},
        413: {},
        415: {},
        429: {},
    },
    dependencies=[Depends(limit_public)],
)
async def verify(
    request: Request,
    services: ServicesDep,
    format: Literal["verdict", "report"] = "verdict",
) -> VerificationPublic | JSONResponse:
    """Is this document intact, altered, unknown or still pending? (``receipt-invalid``: a
    receipt given does not prove a deposit; ``untrusted``: its proofs hold but not by the keys
    this server trusts, or too few witnesses cosigned.)

    Without a token: by digest (``{"sha256": ...}``), or a file only where
    ``ZHENGLIAN_ANONYMOUS_VERIFY_MAX_BYTES`` allows (size and concurrency capped). The answer
    names the matched document (id, institution, kind, case, date) only to a caller who may
    read it; anyone else gets the verdict and the anchoring. A token holder's verification of
    a document it may read is recorded in the document's chain of custody
    (``verify_by_token``); one of a document it may not read is not an event of that
    document.

    ``format=report``: a file, its ``receipt`` and (for a detached-signed deposit) its
    ``signature``, answered with the verification report — the same JSON as ``zhenglian verify
    FILE --receipt R --signature S --trust B --crl C --json`` under a bundle and CRL equal to
    this server's (docs/report.md §6). It holds nothing beyond what the caller sent and the
    server's public trust and CRL."""
    principal = None
    if request.headers.get("authorization"):
        credentials = await bearer_scheme(request)
        principal = await run_in_threadpool(get_principal, request, services, credentials)
    if format == "report":
        return await _report_answer(request, services, principal)
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


async def _report_answer(
    request: Request, services: Services, principal: Principal | None
) -> JSONResponse:
    """``format=report``: the report; recorded in the custody of the receipt's document when
    the caller may read it, like any verification by token."""
    settings = services.settings
    if principal is None:
        if settings.anonymous_verify_max_bytes == 0:
            raise Problem(
                401,
                "Unauthorized",
                "a report of a file needs a token here; verify offline with `zhenglian verify`",
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
            report, _ = await _report(request, services, settings.anonymous_verify_max_bytes)
        finally:
            if slots is not None:
                slots.release()
        return JSONResponse(report.to_json())
    report, receipt = await _report(request, services, settings.max_upload_bytes)
    # Recorded against the log's own document at the proven leaf, never the receipt's label.
    document_id = None
    if report.verdict not in (VERDICT_RECEIPT_INVALID, VERDICT_UNTRUSTED):
        document_id = await run_in_threadpool(proven_document_id, services.database, receipt)
    readable = document_id is not None and await run_in_threadpool(
        _may_read, services, principal, document_id
    )
    if readable and document_id is not None:
        await run_in_threadpool(
            partial(
                record_custody,
                services,
                request,
                "verify_by_token",
                principal,
                CustodyObject.document(document_id),
                owner=receipt.entry.institution,
            )
        )
    return JSONResponse(report.to_json())


async def _report(
    request: Request, services: Services, limit: int
) -> tuple[VerificationReport, Receipt]:
    if media_type(request) != "multipart/form-data":
        raise Problem(415, "Unsupported media type", "format=report takes multipart/form-data")
    form = await read_form(request, limit, max_files=3)
    try:
        upload = form_file(form, "file")
        receipt_file = form_file(form, "receipt", required=False)
        if receipt_file is None:
            raise Problem(
                400,
                "Bad request",
                "format=report needs the file's receipt (multipart field receipt)",
            )
        receipt = Receipt.from_json_bytes(await receipt_file.read(MAX_RECEIPT_BYTES + 1))
        signature_file = form_file(form, "signature", required=False)
        signature = None
        if signature_file is not None:
            signature = await signature_file.read(MAX_SIGNATURE_BYTES + 1)
            if len(signature) > MAX_SIGNATURE_BYTES:
                raise Problem(413, "Payload too large", "the signature is too large")
        committed = receipt.entry.signature
        keep = signature is None and committed is not None and committed.form == "pades-embedded"

        def digest() -> tuple[DocumentDigest, bytes | None]:
            hasher = DualHasher()
            kept: list[bytes] = []
            size = 0
            for chunk in file_chunks(upload):
                hasher.update(chunk)
                size += len(chunk)
                if keep and size <= MAX_SIGNED_PDF_BYTES:
                    kept.append(chunk)
            whole = keep and size <= MAX_SIGNED_PDF_BYTES
            return hasher.finalize(), b"".join(kept) if whole else None

        document, pdf = await run_in_threadpool(digest)
    finally:
        await form.close()

    def build() -> VerificationReport:
        return report_with_receipt(
            services.server_trust(),
            _signature_trust(services),
            document,
            receipt,
            signature=signature,
            pdf=pdf,
            now=datetime.now(UTC),
        )

    return await run_in_threadpool(build), receipt


def _signature_trust(services: Services) -> SignatureTrust | None:
    """The PKI root and current CRL this server checks signatures by (None: no PKI)."""
    checking = services.deposits.signatures
    if checking is None:
        return None
    try:
        return checking.trust()
    except SignatureRefused:
        return None


def _ctx(services: Services) -> tuple[Any, Any, Any]:
    return services.database, services.blobs, services.server_trust()
