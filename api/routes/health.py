"""Liveness and readiness."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import Services, ServicesDep
from certs.formats.revocation_list import crl_number
from evidence.services.audit import open_findings_now
from evidence.verify.document_signature import SignatureRefused

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(services: ServicesDep) -> Any:
    """200 when the database and the chain answer and anchoring keeps up; 503 naming what
    does not. ``anchoring`` gives each log's backlog: entries not yet anchored and the age in
    seconds of the oldest (degraded past ``ZHENGLIAN_ANCHOR_STALL_SECONDS``). ``witnessing``
    gives the latest checkpoint, its cosignatures against the quorum, whether it is
    time-stamped, how long the oldest unwitnessed one waits (degraded past
    ``ZHENGLIAN_WITNESS_STALL_SECONDS``) and each witness's last failure. ``pki`` gives the
    served CRL's number and nextUpdate (degraded once it has passed: every signed deposit is
    then refused as ``crl-stale`` until ``zhenglian pki crl`` runs; the hours left are shown so
    that a monitor can warn before). ``certificates`` gives how many e-certificate
    registrations or revocations are pending on the chain (degraded while any is)."""
    problems: list[str] = []
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
    pki = _pki_status(services, problems)
    certificates: dict[str, Any] | None = None
    if services.certificates is not None:
        try:
            pending = services.certificates.pending_count()
        except Exception as exc:
            problems.append(f"certificates: {type(exc).__name__}")
        else:
            certificates = {"pending": pending}
            if pending:
                problems.append(
                    f"certificates: {pending} registrations or revocations the chain does not "
                    "hold yet (retried every 15 s)"
                )
    body = {
        "status": "ok" if not problems else "degraded",
        "audit": findings,
        "problems": problems,
        "anchoring": backlogs,
        "witnessing": witnessing,
        "pki": pki,
        "certificates": certificates,
    }
    return JSONResponse(body, status_code=200 if not problems else 503)


def _pki_status(services: Services, problems: list[str]) -> dict[str, Any] | None:
    """The served CRL's freshness (None: this server checks no signatures or has no PKI)."""
    checking = services.deposits.signatures
    if checking is None:
        return None
    try:
        trust = checking.trust()
    except SignatureRefused:
        return None  # no `zhenglian pki init` here: unsigned deposits only, nothing to warn of
    except Exception as exc:
        problems.append(f"pki: {type(exc).__name__}: {str(exc)[:200]}")
        return {"crl": None}
    crl = trust.crl
    if crl is None:
        problems.append("pki: no CRL is served: every signed deposit is refused")
        return {"crl": None}
    next_update = crl.next_update_utc
    now = datetime.now(UTC)
    left = None if next_update is None else (next_update - now).total_seconds()
    if next_update is not None and left is not None and left <= 0:
        problems.append(
            f"pki: the CRL expired at {next_update.isoformat()} (nextUpdate): every signed "
            "deposit is refused as crl-stale until `zhenglian pki crl` issues a new one"
        )
    return {
        "crl": {
            "number": crl_number(crl),
            "this_update": crl.last_update_utc.isoformat(),
            "next_update": None if next_update is None else next_update.isoformat(),
            "hours_left": None if left is None else round(left / 3600, 1),
        }
    }
