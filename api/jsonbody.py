"""Reading JSON request bodies within named limits, after authentication.

Routes with a JSON body read it with :func:`read_json` (declaring its schema through
``openapi_extra``) rather than letting FastAPI parse it first: the size is capped while
reading, the nesting depth is checked before any parser builds objects, then the strict
pydantic model (unknown fields refused, every string bounded) is validated.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from api.problems import Problem
from ledger.jsondepth import json_nesting_depth

M = TypeVar("M", bound=BaseModel)

MAX_JSON_BODY_BYTES = 16 * 1024
"""Largest JSON request body (every access request is far smaller)."""

MAX_JSON_DEPTH = 4
"""Deepest nesting of objects and arrays in a JSON request body (ours are flat: depth 1)."""


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, never more than ``max_bytes`` of it in memory: 413 (problem+json) as
    soon as the declared length or the bytes received pass it."""
    too_large = Problem(413, "Request too large", f"a JSON body is at most {max_bytes} B")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise too_large
    return bytes(body)


def media_type(request: Request) -> str:
    """The request's media type, lowercased, without parameters (``application/json``)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_json(request: Request, model: type[M]) -> M:
    """The body as ``model``: 415 if not JSON, 413 if over :data:`MAX_JSON_BODY_BYTES`,
    400 if nested deeper than :data:`MAX_JSON_DEPTH` or malformed, 422 if it breaks the model."""
    if media_type(request) != "application/json":
        raise Problem(415, "Unsupported media type", "send application/json")
    body = await read_body(request, MAX_JSON_BODY_BYTES)
    return parse_json(body, model)


def parse_json(body: bytes, model: type[M]) -> M:
    """``body`` as ``model``, strictly: 400 for malformed JSON, nesting past
    :data:`MAX_JSON_DEPTH` or a key given twice; 422 for a value of the wrong type (``"3"`` is
    not the integer 3) or anything else the model refuses."""
    if json_nesting_depth(body) > MAX_JSON_DEPTH:
        raise Problem(400, "Bad request", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        json.loads(body, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise Problem(400, "Bad request", f"the key {exc.args[0]!r:.60} appears twice") from None
    except ValueError:
        raise Problem(400, "Bad request", "malformed JSON") from None
    try:
        return model.model_validate_json(body, strict=True)
    except ValidationError as exc:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()[:20]
        ]
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            raise Problem(400, "Bad request", "malformed JSON") from None
        raise Problem(422, "Invalid request", "see errors", extra={"errors": errors}) from None


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON body of ``model`` that the route reads itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }
