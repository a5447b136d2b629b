"""Errors as RFC 9457 problem details (``application/problem+json``).

Domain errors are mapped here, in one place; routes raise domain errors or :class:`Problem`.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from evidence.blobstore import BlobTooLarge
from evidence.errors import (
    DuplicateRecord,
    EvidenceError,
    Forbidden,
    Gone,
    InputError,
    NotFound,
    StorageError,
    TamperingDetected,
    Unauthenticated,
)
from ledger.errors import LedgerError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An HTTP error with a problem+json body."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers
        self.extra = extra or {}
        """More members of the problem object (e.g. ``errors``)."""


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _status_for(exc: EvidenceError) -> tuple[int, str]:
    if isinstance(exc, BlobTooLarge):
        return 413, "Upload too large"
    if isinstance(exc, InputError):
        return 400, "Bad request"
    if isinstance(exc, NotFound):
        return 404, "Not found"
    if isinstance(exc, Unauthenticated):
        return 401, "Unauthorized"
    if isinstance(exc, Forbidden):
        return 403, "Forbidden"
    if isinstance(exc, Gone):
        return 410, "Gone"
    if isinstance(exc, DuplicateRecord):
        return 409, "Conflict"
    if isinstance(exc, TamperingDetected):
        return 409, "Stored data altered"
    if isinstance(exc, StorageError):
        return 503, "Storage unavailable"
    return 500, "Internal error"


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = getattr(exc, "headers", None)
        return problem_response(exc.status_code, str(exc.detail), None, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()[:20]
        ]
        return problem_response(422, "Invalid request", "see errors", errors=errors)

    @app.exception_handler(EvidenceError)
    async def _evidence(request: Request, exc: EvidenceError) -> JSONResponse:
        status, title = _status_for(exc)
        if status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return problem_response(status, title, str(exc), headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return problem_response(500, "Internal error", "the failure was logged")

    @app.exception_handler(LedgerError)
    async def _ledger(request: Request, exc: LedgerError) -> JSONResponse:
        log.error("%s %s: ledger error: %s", request.method, request.url.path, exc)
        return problem_response(503, "Ledger unavailable", str(exc))
