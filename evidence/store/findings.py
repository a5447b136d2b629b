"""Findings of the integrity audit, kept in the database so that every process sees them:
``/healthz`` turns degraded while one is open, whoever found it (serve's background sweep or
``zhenglian audit`` beside it).

A finding is identified by its fingerprint (SHA-256 of its kind, subject and evidence), so a
sweep that sees the same thing again only moves ``last_seen_at``; a sweep that checked a kind
and no longer sees one of its findings marks it resolved. Functions take the caller's session
and never commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from evidence.store.database import audit_findings_table
from evidence.store.repository import check_text, check_time, rowcount, wrap_errors

__all__ = [
    "MAX_OPEN_FINDINGS_LISTED",
    "Finding",
    "StoredFinding",
    "count_open_findings",
    "open_findings",
    "record_findings",
]

MAX_OPEN_FINDINGS_LISTED = 100
"""Most open findings :func:`open_findings` returns (the count is exact)."""

_T = audit_findings_table


@dataclass(frozen=True)
class Finding:
    """Something the audit found: its ``kind`` (a name from ``evidence.services.audit``), what
    it is about (``subject``: a document id, ``leaf 12``, ``original ab12...``, ``anchor 40``),
    a sentence for people, and the evidence a person needs to check it (hashes, indices)."""

    kind: str
    subject: str
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> bytes:
        key = json.dumps([self.kind, self.subject, self.evidence], sort_keys=True, default=str)
        return hashlib.sha256(key.encode("utf-8")).digest()

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "detail": self.detail,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class StoredFinding:
    finding: Finding
    first_seen_at: datetime
    last_seen_at: datetime


@wrap_errors
def record_findings(
    session: Session, findings: Sequence[Finding], *, now: datetime, checked: Collection[str]
) -> list[Finding]:
    """Store what a sweep found at ``now``; return the findings not open before (new ones).

    Open findings of the kinds in ``checked`` that this sweep did not see are marked resolved.
    """
    check_time(now, "now")
    for finding in findings:
        check_text(finding.kind, "finding kind", 32)
    seen = {f.fingerprint: f for f in findings}
    open_rows = session.execute(
        select(_T.c.id, _T.c.fingerprint, _T.c.kind).where(_T.c.resolved_at.is_(None))
    ).all()
    already = set()
    for row in open_rows:
        fingerprint = bytes(row.fingerprint)
        if fingerprint in seen:
            already.add(fingerprint)
            session.execute(update(_T).where(_T.c.id == row.id).values(last_seen_at=now))
        elif row.kind in checked:
            session.execute(update(_T).where(_T.c.id == row.id).values(resolved_at=now))
    new = [f for fp, f in seen.items() if fp not in already]
    for finding in new:
        reopened = session.execute(
            update(_T)
            .where(_T.c.fingerprint == finding.fingerprint)
            .values(resolved_at=None, last_seen_at=now)
        )
        if not rowcount(reopened):
            session.execute(
                insert(_T).values(
                    fingerprint=finding.fingerprint,
                    kind=finding.kind,
                    subject=finding.subject,
                    detail=finding.detail,
                    evidence=json.dumps(finding.evidence, sort_keys=True, default=str),
                    first_seen_at=now,
                    last_seen_at=now,
                )
            )
    return new


@wrap_errors
def count_open_findings(session: Session) -> int:
    return int(
        session.execute(
            select(func.count()).select_from(_T).where(_T.c.resolved_at.is_(None))
        ).scalar_one()
    )


@wrap_errors
def open_findings(session: Session, limit: int = MAX_OPEN_FINDINGS_LISTED) -> list[StoredFinding]:
    """The open findings, oldest first (at most ``limit``)."""
    rows = session.execute(
        select(_T)
        .where(_T.c.resolved_at.is_(None))
        .order_by(_T.c.id)
        .limit(min(limit, MAX_OPEN_FINDINGS_LISTED))
    ).all()
    return [
        StoredFinding(
            Finding(row.kind, row.subject, row.detail, json.loads(row.evidence)),
            row.first_seen_at,
            row.last_seen_at,
        )
        for row in rows
    ]
