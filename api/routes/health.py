"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import ServicesDep
from evidence.services.audit import open_findings_now

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(services: ServicesDep) -> Any:
    """200 when the database and the chain answer and anchoring keeps up; 503 naming what
    does not. ``anchoring`` gives each log's backlog: entries not yet anchored and the age in
    seconds of the oldest (degraded past ``ZHENGLIAN_ANCHOR_STALL_SECONDS``). ``witnessing``
    gives the latest checkpoint, its cosignatures against the quorum, whether it is
    time-stamped, how long the oldest unwitnessed one waits (degraded past
    ``ZHENGLIAN_WITNESS_STALL_SECONDS``) and each witness's last failure."""
    problems = []
    backlogs: dict[str, Any] = {}
    stall = services.settings.anchor_stall_seconds
    for label, worker in (("documents", services.worker), ("custody", services.custody_worker)):
        if worker is None:
            continue
        try:
            backlog = worker.backlog()
        except Exception as exc:
            problems.append(f"{label} backlog: {type(exc).__name__}")
            continue
        backlogs[label] = {"unanchored": backlog.entries, "oldest_age_s": backlog.oldest_age}
        if backlog.oldest_age is not None and backlog.oldest_age > stall:
            problems.append(
                f"{label} anchoring stalled: {backlog.entries} entries waiting, the oldest for "
                f"{backlog.oldest_age:.0f} s (bound {stall:.0f} s)"
            )
    try:
        with services.database.session() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        problems.append(f"database: {type(exc).__name__}")
    try:
        services.client.block_number()
    except Exception as exc:
        problems.append(f"chain: {type(exc).__name__}")
    for label, worker in (
        ("anchoring", services.worker),
        ("custody anchoring", services.custody_worker),
    ):
        if worker is None:
            continue
        if worker.halted:
            problems.append(f"{label} halted: {worker.halted[:400]}")
        elif worker.last_error:
            problems.append(f"{label}: {worker.last_error[:200]}")
    witnessing: dict[str, Any] | None = None
    if services.cosigner is not None:
        try:
            status = services.cosigner.status()
        except Exception as exc:
            problems.append(f"witnessing: {type(exc).__name__}")
        else:
            witnessing = {
                "checkpoint": status.checkpoint,
                "cosigned": status.cosigned,
                "quorum": status.quorum,
                "time_stamped": status.time_stamped,
                "waiting_s": status.waiting_s,
                "errors": status.errors,
            }
            bound = services.settings.witness_stall_seconds
            if status.waiting_s is not None and status.waiting_s > bound:
                reasons = "; ".join(f"{k}: {v[:200]}" for k, v in sorted(status.errors.items()))
                problems.append(
                    f"witnessing stalled: checkpoint {status.checkpoint} has {status.cosigned} "
                    f"of {status.quorum} cosignatures"
                    + ("" if status.time_stamped in (None, True) else " and no time stamp")
                    + f", waiting {status.waiting_s:.0f} s (bound {bound:.0f} s)"
                    + (f" ({reasons})" if reasons else "")
                )
        if services.cosigner.last_error:
            problems.append(f"witnessing: {services.cosigner.last_error[:200]}")
    findings: dict[str, Any] = {"open": None}
    try:
        found = open_findings_now(services.database)
    except Exception as exc:
        problems.append(f"audit findings: {type(exc).__name__}")
    else:
        findings = {"open": found.count, "first": [f.to_json() for f in found.first]}
        if found.count:
            kinds = sorted({f.kind for f in found.first})
            problems.append(
                f"integrity audit: {found.count} open findings ({', '.join(kinds)}); "
                "see `zhenglian audit`"
            )
    if services.audit is not None and services.audit.last_error:
        problems.append(f"integrity audit: {services.audit.last_error[:200]}")
    body = {
        "status": "ok" if not problems else "degraded",
        "audit": findings,
        "problems": problems,
        "anchoring": backlogs,
        "witnessing": witnessing,
    }
    return JSONResponse(body, status_code=200 if not problems else 503)
