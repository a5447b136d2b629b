"""Registered e-certificates (电子证照): register, read (public or full view), look up by
number, the issuer's PDF, revoke and supersede (docs/e-certificates.md §8).

Thin: the checks, the policy and the chain writes are
:class:`evidence.services.certificate_registration.CertificateRegistration`'s; this module
reads bounded JSON bodies, maps its typed errors to problems and shapes the answers.

Every answer about a certificate has the same shape (:func:`certificate_answer`): the view
(public — the holder's ID number and address masked — for everyone; full for those
``certificate.read`` allows: the issuer), the status as the chain holds it with the
transactions that made it, and the signed material a verifier checks offline. The encoded
certificate (``ID.json``) carries the holder's personal data unmasked, so only a full view
includes it; a public answer has its SHA-256, which the issue statement and the chain commit
to.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import (
    OptionalPrincipalDep,
    PrincipalDep,
    Services,
    ServicesDep,
    limit_address,
    request_client,
)
from api.jsonbody import json_body, media_type, parse_json, read_body
from api.negotiation import prefers_html
from api.problems import Problem
from api.schemas import (
    MAX_CERTIFICATE_BODY_BYTES,
    MAX_CHANGE_BODY_BYTES,
    CertificateRegister,
    CertificateRevoke,
    CertificateSupersede,
)
from certs.errors import CertsInputError
from certs.formats.status_statement import CertificateRevocationReason, certificate_key
from evidence.access.enforcement import Principal, require_role
from evidence.access.policy import Action
from evidence.formats.e_certificate_identifier import IdentifierError, parse_identifier
from evidence.formats.e_certificate_page import certificate_page, not_registered_page
from evidence.formats.e_certificate_views import full_view, public_view
from evidence.services.certificate_registration import (
    CertificatePending,
    CertificateRefused,
    CertificateRegistration,
    NumberTaken,
    RegisteredCertificate,
    StatusConflict,
)
from evidence.verify.verification_report import render_text

router = APIRouter(prefix="/v1/certificates", tags=["certificates"])

PDF = "application/pdf"

_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the certificate, its status on the chain and its signed material "
        "(docs/e-certificates.md §8.2)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
}
_CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {},
    403: {},
    404: {},
    409: {},
    413: {},
    415: {},
    422: {},
    503: {},
}


def _registration(services: Services) -> CertificateRegistration:
    if services.certificates is None:
        raise Problem(503, "Service unavailable", "certificate registration is not running")
    return services.certificates


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Problem(422, "Invalid request", f"{what}: not base64") from None


def _pem(der: bytes | None) -> str | None:
    if der is None:
        return None
    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode("ascii")


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def certificate_answer(found: RegisteredCertificate, *, full: bool) -> dict[str, Any]:
    """The JSON answer about one certificate (the module's docstring)."""
    record = found.record
    reason = record.change_reason if record.change_action == "revoke" else None
    change_done = record.change_action is not None and record.change_tx is not None
    return {
        "id": record.id,
        "view": full_view(found.certificate) if full else public_view(found.certificate),
        "status": {
            "state": record.status.value,
            "reason": None if reason is None or not change_done else reason,
            "reason_name": (
                CertificateRevocationReason(reason).rfc5280_name
                if reason is not None and change_done
                else None
            ),
            "effective_time": _time(record.change_effective_at) if change_done else None,
            "successor": record.change_successor if change_done else None,
            "pending": record.issue_pending or record.change_pending,
            "pending_change": record.change_action if record.change_pending else None,
            "registered_at": _time(record.registered_at),
            "issue": None
            if record.issue_tx is None
            else {"tx_hash": _hex(record.issue_tx), "block": record.issue_block},
            "change": None
            if not change_done
            else {
                "action": record.change_action,
                "tx_hash": _hex(record.change_tx),
                "block": record.change_block,
                "at": _time(record.changed_at),
            },
        },
        "chain": {
            "chain_id": found.chain_id,
            "registry": _hex(found.registry),
            "key": _hex(certificate_key(record.id)),
        },
        "signed": {
            "certificate": base64.b64encode(record.encoded).decode() if full else None,
            "certificate_sha256": record.certificate_sha256.hex(),
            "signature": base64.b64encode(record.signature).decode(),
            "signer_certificate": _pem(record.signer_certificate),
            "issue_statement": found.issue_statement.decode("ascii"),
            "issue_signature": base64.b64encode(record.issue_signature).decode(),
            "change_statement": (
                found.change_statement.decode("ascii")
                if found.change_statement is not None and change_done
                else None
            ),
            "change_signature": (
                base64.b64encode(record.change_signature).decode()
                if record.change_signature is not None and change_done
                else None
            ),
            "change_signer_certificate": (
                _pem(record.change_signer_certificate) if change_done else None
            ),
        },
        "pdf": f"/v1/certificates/{record.id}/pdf" if record.has_pdf else None,
    }


def _answer(
    registration: CertificateRegistration,
    principal: Principal,
    found: RegisteredCertificate,
    status: int = 200,
) -> JSONResponse:
    full = registration.may_read_full(principal, found.record)
    return JSONResponse(
        certificate_answer(found, full=full),
        status_code=status,
        headers={"Cache-Control": "no-store" if full else "no-cache"},
    )


def _problem(exc: Exception) -> Problem:
    """The problem of a refused registration or change."""
    if isinstance(exc, CertificateRefused):
        return Problem(422, "Certificate refused", str(exc), extra={"check": exc.check})
    if isinstance(exc, NumberTaken):
        return Problem(409, "Conflict", str(exc), extra={"existing": exc.existing})
    if isinstance(exc, StatusConflict):
        return Problem(409, "Conflict", str(exc))
    if isinstance(exc, CertificatePending):
        return Problem(
            503,
            "Pending on the chain",
            str(exc),
            headers={"Retry-After": "15"},
            extra={"pending": True, "id": exc.identifier},
        )
    raise exc


async def _read(request: Request, limit: int) -> bytes:
    if media_type(request) != "application/json":
        raise Problem(415, "Unsupported media type", "send application/json")
    return await read_body(request, limit)


@router.post(
    "",
    status_code=201,
    responses={201: _ANSWER[200], **_CHANGE_ERRORS},
    openapi_extra=json_body(CertificateRegister),
)
async def register_certificate(
    request: Request, principal: PrincipalDep, services: ServicesDep
) -> JSONResponse:
    """Register a certificate the caller's institution issued and signed (``zhenglian
    certificate register``): checked (encoding, signature, signer certificate against the
    PKI root and current CRL, the issuer's signature over the issue statement, the caller's
    institution is the issuer) and issued on the chain's CertificateRegistry. 409 names the
    identifier that holds the number already; 503 ``pending`` if the chain does not hold it
    yet (retry the same request)."""
    require_role(principal, Action.CERTIFICATE_REGISTER)
    registration = _registration(services)
    body = parse_json(await _read(request, MAX_CERTIFICATE_BODY_BYTES), CertificateRegister)
    pdf = None if body.pdf is None else _b64(body.pdf, "pdf")
    if pdf is not None and not pdf.startswith(b"%PDF-"):
        raise Problem(422, "Invalid request", "pdf: not a PDF")
    try:
        found = await run_in_threadpool(
            registration.register,
            principal,
            encoded=_b64(body.certificate, "certificate"),
            signature=_b64(body.signature, "signature"),
            signer_certificate=body.signer_certificate.encode("utf-8"),
            status_signature=_b64(body.status_signature, "status_signature"),
            pdf=pdf,
            client=request_client(request, services),
        )
    except (CertificateRefused, NumberTaken, StatusConflict, CertificatePending) as exc:
        raise _problem(exc) from None
    return _answer(registration, principal, found, 201)


@router.get("", responses={**_ANSWER, 401: {}, 404: {}, 422: {}})
def find_certificate(
    principal: OptionalPrincipalDep,
    services: ServicesDep,
    issuer: str = Query(min_length=18, max_length=18, description="the issuer's 统一社会信用代码"),
    type: str = Query(min_length=1, max_length=32, description="the catalogue type key"),
    number: str = Query(min_length=1, max_length=64, description="the certificate number"),
) -> JSONResponse:
    """The certificate an issuer registered under a type and number (public; the full view
    for the issuer)."""
    registration = _registration(services)
    found = registration.by_number(issuer_code=issuer, type=type, number=number)
    if found is None:
        raise Problem(404, "Not found", "no certificate of this issuer, type and number")
    return _answer(registration, principal, found)


_PAGE_HEADERS: Final = {"Cache-Control": "no-cache", "Vary": "Accept"}
"""Of the public page: revalidated on every view (the status may change), one per Accept."""


_PAGE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the certificate, its status on the chain and its signed material "
        "(docs/e-certificates.md §8.2); for a client that prefers text/html, its public page "
        "(§6.1)",
        "content": {"application/json": {"schema": {"type": "object"}}, "text/html": {}},
    },
    401: {},
    404: {
        "description": "not registered: a problem, or for a client that prefers text/html "
        "a page saying so"
    },
}


@router.get("/{certificate_id}", responses=_PAGE)
def get_certificate(
    certificate_id: str,
    request: Request,
    principal: OptionalPrincipalDep,
    services: ServicesDep,
) -> Response:
    """A registered certificate (what its QR code opens): the public view — the holder's ID
    number and address masked — for everyone, the full view for its issuer; its status on
    the chain; the signed material to check it offline. A client that prefers ``text/html``
    to ``application/json`` (a browser; q-values weighed, ``*/*`` or no ``Accept`` is JSON)
    gets the public page instead — the public view whoever asks, the issuer included — and,
    for an identifier not registered, a 404 page."""
    registration = _registration(services)
    page = prefers_html(request.headers.get("accept"))
    found = registration.get(certificate_id)
    if found is None:
        if page:
            return _not_registered(certificate_id)
        raise Problem(404, "Not found", "no such certificate", {"Vary": "Accept"})
    if not page:
        response = _answer(registration, principal, found)
        response.headers["Vary"] = "Accept"
        return response
    text = certificate_page(
        certificate_answer(found, full=False),
        server_url=services.settings.public_url,
        checked_at=datetime.now(UTC),
    )
    return HTMLResponse(text, headers=_PAGE_HEADERS)


def _not_registered(certificate_id: str) -> HTMLResponse:
    try:
        parse_identifier(certificate_id)
        problem = None
    except IdentifierError as exc:
        problem = str(exc)
    return HTMLResponse(
        not_registered_page(certificate_id, problem=problem),
        status_code=404,
        headers=_PAGE_HEADERS,
    )


@router.get(
    "/{certificate_id}/report",
    dependencies=[Depends(limit_address)],
    responses={
        200: {
            "description": "the verification report (evidence/formats/schema/"
            "verification-report-v1.schema.json), or its text with format=text",
            "content": {"application/json": {"schema": {"type": "object"}}, "text/plain": {}},
        },
        404: {},
        422: {},
    },
)
def get_certificate_report(
    certificate_id: str,
    services: ServicesDep,
    at: Annotated[
        datetime | None,
        Query(description="the time asked about (ISO 8601 with a zone); default now"),
    ] = None,
    format: Annotated[Literal["json", "text"], Query()] = "json",
    source: Annotated[
        Literal["record", "chain"],
        Query(
            description="where the registry status comes from: the service's record of the "
            "mined transactions (default), or the chain read now"
        ),
    ] = "record",
) -> Response:
    """The verification report of a registered certificate, as `zhenglian verify
    --certificate` makes it: the issuer's signature over the stored certificate, the issuer's
    certificate against the served root and current CRL, the status read from the chain's
    CertificateRegistry now, the validity window at `at`. Public, like the certificate's
    public view: the report names the holder only as that view does (its subject carries the
    certificate's identifier, type, number and issuer, never the holder's data), and
    rate-limited by client address as the other public routes. The status
    is the service's record of the mined transactions (the service is the registry's only
    registrar), or with `source=chain` the chain read now. A court that must not rely on this
    server checks the same with `zhenglian verify --certificate ... --rpc` against its own
    node."""
    if at is not None and at.tzinfo is None:
        raise Problem(422, "Unprocessable", "at: give the time with its zone (e.g. +08:00)")
    report = _registration(services).report(certificate_id, at=at, from_chain=source == "chain")
    if report is None:
        raise Problem(404, "Not found", "no such certificate")
    if format == "text":
        return Response(render_text(report), media_type="text/plain; charset=utf-8")
    return JSONResponse(report.to_json())


@router.get(
    "/{certificate_id}/pdf",
    response_class=Response,
    responses={
        200: {"description": "the issuer's public PDF", "content": {PDF: {}}},
        401: {},
        404: {},
    },
)
def get_certificate_pdf(
    certificate_id: str, principal: OptionalPrincipalDep, services: ServicesDep
) -> Response:
    """The public PDF the issuer uploaded with the certificate (the holder's data masked);
    404 if none was."""
    pdf = _registration(services).pdf(certificate_id)
    if pdf is None:
        raise Problem(404, "Not found", "no PDF of this certificate")
    return Response(
        pdf,
        media_type=PDF,
        headers={
            "Content-Disposition": f'inline; filename="{certificate_id}.pdf"',
            "Cache-Control": "no-cache",
        },
    )


@router.post(
    "/{certificate_id}/revoke",
    responses={**_ANSWER, **_CHANGE_ERRORS},
    openapi_extra=json_body(CertificateRevoke),
)
async def revoke_certificate(
    certificate_id: str, request: Request, principal: PrincipalDep, services: ServicesDep
) -> JSONResponse:
    """Revoke a certificate with the issuer's signed revoke statement (``zhenglian
    certificate revoke``): only its issuer (403 otherwise, the chain untouched); 409 if it is
    revoked or superseded already."""
    require_role(principal, Action.CERTIFICATE_REVOKE)
    registration = _registration(services)
    body = parse_json(await _read(request, MAX_CHANGE_BODY_BYTES), CertificateRevoke)
    reason: int | str = int(body.reason) if body.reason.isdigit() else body.reason
    try:
        code = int(CertificateRevocationReason.parse(str(reason)))
    except CertsInputError as exc:
        raise _problem(CertificateRefused("reason", str(exc))) from None
    try:
        found = await run_in_threadpool(
            registration.revoke,
            principal,
            certificate_id,
            reason=code,
            effective_time=body.effective_time,
            signature=_b64(body.signature, "signature"),
            signer_certificate=body.signer_certificate.encode("utf-8"),
            client=request_client(request, services),
        )
    except (CertificateRefused, NumberTaken, StatusConflict, CertificatePending) as exc:
        raise _problem(exc) from None
    return _answer(registration, principal, found)


@router.post(
    "/{certificate_id}/supersede",
    responses={**_ANSWER, **_CHANGE_ERRORS},
    openapi_extra=json_body(CertificateSupersede),
)
async def supersede_certificate(
    certificate_id: str, request: Request, principal: PrincipalDep, services: ServicesDep
) -> JSONResponse:
    """Mark a certificate replaced by another issued certificate of the same issuer, with the
    issuer's signed supersede statement: only its issuer; 409 if final already."""
    require_role(principal, Action.CERTIFICATE_REVOKE)
    registration = _registration(services)
    body = parse_json(await _read(request, MAX_CHANGE_BODY_BYTES), CertificateSupersede)
    try:
        found = await run_in_threadpool(
            registration.supersede,
            principal,
            certificate_id,
            successor=body.successor,
            signature=_b64(body.signature, "signature"),
            signer_certificate=body.signer_certificate.encode("utf-8"),
            client=request_client(request, services),
        )
    except (CertificateRefused, NumberTaken, StatusConflict, CertificatePending) as exc:
        raise _problem(exc) from None
    return _answer(registration, principal, found)
