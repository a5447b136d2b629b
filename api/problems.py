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

from evidence.errors import (
    BlobTooLarge,
    Conflict,
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

#: Statuses every operation may answer with (validation, rate limit, backend unavailable).
COMMON_PROBLEMS = (400, 422, 429, 503)
#: Further statuses of operations that take a bearer token.
AUTHENTICATED_PROBLEMS = (401, 403, 404)

_TITLES = {
    400: "Bad request",
    401: "Missing, unknown, expired or revoked bearer token",
    403: "The caller's role may not do this",
    404: "Not found (or not visible to the caller)",
    409: "Conflict, or stored data found altered",
    410: "Gone (expired or used up)",
    413: "Request or upload too large",
    415: "Unsupported media type",
    422: "Request does not match the schema",
    429: "Rate limit or quota exceeded; retry after Retry-After seconds",
    503: "Storage or ledger unavailable",
}

#: The problem+json body (RFC 9457) as a JSON Schema, for the OpenAPI document.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                },
            },
        },
    },
}


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
    if isinstance(exc, DuplicateRecord | Conflict):
        return 409, "Conflict"
    if isinstance(exc, TamperingDetected):
        return 409, "Stored data altered"
    if isinstance(exc, StorageError):
        return 503, "Storage unavailable"
    return 500, "Internal error"


def _problem_response_doc(status: int, existing: dict[str, Any] | None) -> dict[str, Any]:
    doc = dict(existing or {})
    doc.setdefault("description", _TITLES.get(status, "Error"))
    if doc.get("description") in ("", "Validation Error"):
        doc["description"] = _TITLES.get(status, "Error")
    doc["content"] = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    if status == 401:
        doc.setdefault("headers", {})["WWW-Authenticate"] = {"schema": {"type": "string"}}
    if status == 429:
        doc.setdefault("headers", {})["Retry-After"] = {"schema": {"type": "integer"}}
    return doc


def document_problems(openapi: dict[str, Any]) -> dict[str, Any]:
    """Declare, in one place, the problem+json answers of every operation.

    Routes list only their specific error statuses (``responses={409: {}}``); this adds the
    statuses every operation shares and those of authenticated operations, and gives every
    4xx/5xx answer the :data:`PROBLEM_SCHEMA` body (FastAPI's default 422 says
    ``application/json``, which is not what the handlers above send).
    """
    openapi.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    openapi["components"]["schemas"].pop("HTTPValidationError", None)
    openapi["components"]["schemas"].pop("ValidationError", None)
    for path_item in openapi.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            statuses = set(COMMON_PROBLEMS)
            if operation.get("security"):
                statuses.update(AUTHENTICATED_PROBLEMS)
            statuses.update(int(code) for code in responses if code.isdigit() and int(code) >= 400)
            for status in sorted(statuses):
                responses[str(status)] = _problem_response_doc(status, responses.get(str(status)))
    return openapi


def install(app: FastAPI) -> None:
    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(original_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

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
        internal = isinstance(exc, StorageError) and exc.internal
        if status >= 500 or internal:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if internal:  # the database's own words (SQL, constraints) stay in the log
            detail = (
                "a record with these values is already stored"
                if isinstance(exc, DuplicateRecord)
                else "the metadata database failed; the failure was logged"
            )
            return problem_response(status, title, detail, headers)
        return problem_response(status, title, str(exc), headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return problem_response(500, "Internal error", "the failure was logged")

    @app.exception_handler(LedgerError)
    async def _ledger(request: Request, exc: LedgerError) -> JSONResponse:
        log.error("%s %s: ledger error: %s", request.method, request.url.path, exc)
        # The node's address and its words stay in the log.
        return problem_response(
            503, "Ledger unavailable", "the chain node did not answer; the failure was logged"
        )
