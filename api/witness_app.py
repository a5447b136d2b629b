"""The witness's HTTP interface (C2SP tlog-witness), served by ``zhenglian witness serve``.

Thin: it reads bodies (capped), calls :class:`evidence.services.witness.Witness` and turns its
records and refusals into the specification's answers.

* ``POST /add-checkpoint`` — 200 with the cosignature line(s) (``text/plain``); 409 with the
  latest cosigned size and a newline (``text/x.tlog.size``); 400, 403, 404, 422 as the
  specification says, and 413 for a body over
  :data:`~evidence.formats.witness_protocol.MAX_ADD_CHECKPOINT_BYTES`. Refusals are one line of
  ``text/plain`` saying why.
* ``GET /<SHA-256 of the origin, lowercase hex>/checkpoint`` — the specification's monitoring
  read, and ``GET /checkpoint?origin=<origin>`` for people: the latest checkpoint cosigned for
  that log with the log's signature(s) the witness verified and the witness's cosignature; 404
  if the log is not followed or nothing was cosigned yet.
* ``GET /healthz`` — ``ok``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Final

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from evidence.errors import EvidenceError
from evidence.formats.witness_protocol import (
    MAX_ADD_CHECKPOINT_BYTES,
    SIZE_CONTENT_TYPE,
    format_size,
)
from evidence.services.witness import (
    InconsistentCheckpoint,
    MalformedRequest,
    NotCosigned,
    OldSizeMismatch,
    UnknownLog,
    UntrustedCheckpoint,
    Witness,
    WitnessRefusal,
)

__all__ = ["MAX_REASON_CHARS", "create_witness_app"]

log = logging.getLogger(__name__)

MAX_REASON_CHARS: Final = 400
"""Longest reason given in a refusal's one line."""

NOTE_CONTENT_TYPE: Final = "text/plain; charset=utf-8"

_STATUS: Final[dict[type[WitnessRefusal], int]] = {
    MalformedRequest: 400,
    UntrustedCheckpoint: 403,
    UnknownLog: 404,
    NotCosigned: 404,
    InconsistentCheckpoint: 422,
}
_ORIGIN_HASH: Final = re.compile(r"[0-9a-f]{64}")


def _one_line(status: int, reason: str) -> Response:
    line = (reason.splitlines() or [""])[0][:MAX_REASON_CHARS]
    return PlainTextResponse(line + "\n", status_code=status)


def _refusal(exc: WitnessRefusal) -> Response:
    if isinstance(exc, OldSizeMismatch):
        # Content-Type set as a header: Starlette would add "; charset=" to a text/ media type.
        return Response(
            format_size(exc.latest_size),
            status_code=409,
            headers={"Content-Type": SIZE_CONTENT_TYPE},
        )
    return _one_line(_STATUS.get(type(exc), 400), str(exc))


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The request body, or None if it is larger than ``limit`` bytes (read no further)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def create_witness_app(witness: Witness) -> Starlette:
    """The witness's ASGI application."""

    async def add_checkpoint(request: Request) -> Response:
        body = await _read_capped(request, MAX_ADD_CHECKPOINT_BYTES)
        if body is None:
            return _one_line(413, f"the body is larger than {MAX_ADD_CHECKPOINT_BYTES} bytes")
        try:
            # Blocking (an fsync): in a worker thread; the witness serialises each log itself.
            cosigned = await run_in_threadpool(witness.add_checkpoint, body)
        except WitnessRefusal as exc:
            return _refusal(exc)
        except EvidenceError as exc:
            log.error("add-checkpoint failed: %s", exc)
            return _one_line(500, "the witness could not record the checkpoint; nothing cosigned")
        return Response(cosigned.lines, status_code=200, media_type=NOTE_CONTENT_TYPE)

    async def checkpoint_by_hash(request: Request) -> Response:
        hashed = request.path_params["origin_hash"]
        if _ORIGIN_HASH.fullmatch(hashed) is None:
            return _one_line(404, "not the SHA-256 of an origin in lowercase hex")
        return await _latest(witness.latest_checkpoint_by_hash, hashed)

    async def checkpoint_by_origin(request: Request) -> Response:
        origin = request.query_params.get("origin")
        if not origin:
            return _one_line(400, "say which log: ?origin=<origin>")
        return await _latest(witness.latest_checkpoint, origin)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok\n")

    return Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/checkpoint", checkpoint_by_origin, methods=["GET"]),
            Route("/{origin_hash}/checkpoint", checkpoint_by_hash, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


async def _latest(read: Callable[[str], bytes], key: str) -> Response:
    try:
        note = await run_in_threadpool(read, key)
    except WitnessRefusal as exc:
        return _refusal(exc)
    except EvidenceError as exc:
        log.error("reading the latest checkpoint failed: %s", exc)
        return _one_line(500, "the witness could not read its records")
    return Response(note, status_code=200, media_type=NOTE_CONTENT_TYPE)
