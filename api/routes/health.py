"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(services: ServicesDep) -> Any:
    """200 when the database and the chain answer; 503 naming what does not."""
    problems = []
    try:
        with services.database.session() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        problems.append(f"database: {type(exc).__name__}")
    try:
        services.client.block_number()
    except Exception as exc:
        problems.append(f"chain: {type(exc).__name__}")
    if services.worker.last_error:
        problems.append(f"anchoring: {services.worker.last_error[:200]}")
    custody = services.custody_worker
    if custody is not None and custody.last_error:
        problems.append(f"custody anchoring: {custody.last_error[:200]}")
    body = {"status": "ok" if not problems else "degraded", "problems": problems}
    return JSONResponse(body, status_code=200 if not problems else 503)
