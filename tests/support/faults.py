"""Kill -9 under load, in cycles: the fault-injection soak of ``zhenglian serve``.

Each cycle starts serve on the same data directory, deposits from a few threads, and at a
random moment kills with SIGKILL either the whole process group (serve and its chain), the API
process alone (its chain then stops by itself), or the chain child alone (serve then exits).
After the last cycle a clean serve must anchor every acknowledged deposit (each one answered
201 in any cycle) and every custody event, and ``zhenglian audit`` against its chain must find
nothing: no lost, duplicated or forked head, no row without its leaf. Used by
``tests/integration/test_fault_injection.py`` (10 cycles) and ``python -m bench soak``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.zl_server import (
    ZhenglianServer,
    chain_pid,
    pid_alive,
    running_server,
    start_server,
)

#: The three ways a cycle ends.
KILL_KINDS = ("group", "api", "chain")
#: Deposit threads per cycle (the API process answers them concurrently).
LOAD_THREADS = 4
#: Seconds of load before the kill, drawn uniformly from this range.
LOAD_SECONDS = (0.5, 2.5)
#: Seconds to wait, after the last cycle, for every acknowledged deposit to be anchored.
SETTLE_DEADLINE = 90.0
#: Acknowledged deposits whose receipt is fetched at the end (every one is checked in the
#: database and by the audit; a receipt also records a custody event, so not all of them).
RECEIPT_SAMPLE = 25


@dataclass
class SoakResult:
    cycles: int = 0
    kills: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KILL_KINDS, 0))
    acknowledged: list[str] = field(default_factory=list)
    anchored: int = 0
    lost: list[str] = field(default_factory=list)
    audit_status: int | None = None
    audit_output: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)
    """What the final audit found (JSON lines of ``zhenglian audit``)."""
    health: dict[str, object] = field(default_factory=dict)
    """The clean serve's /healthz at the end (what to look at when something is lost)."""


def acknowledged_digests(data_dir: Path, ids: list[str]) -> set[str]:
    """The SHA-256 (hex) of the acknowledged documents, from their rows."""
    with sqlite3.connect(data_dir / "zhenglian.sqlite") as db:
        rows = db.execute("SELECT id, sha256 FROM documents").fetchall()
    wanted = set(ids)
    return {bytes(sha256).hex() for document_id, sha256 in rows if document_id in wanted}


def _stored_documents(data_dir: Path) -> dict[str, int]:
    with sqlite3.connect(data_dir / "zhenglian.sqlite") as db:
        return dict(db.execute("SELECT id, leaf_index FROM documents").fetchall())


def _anchored_size(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "zhenglian.sqlite") as db:
        row = db.execute("SELECT max(tree_size) FROM anchors WHERE status='confirmed'").fetchone()
    return int(row[0] or 0)


def _load(server: ZhenglianServer, token: str, stop: threading.Event, out: list[str]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            body = os.urandom(16).hex().encode()
            try:
                r = client.post(
                    f"{server.url}/v1/documents",
                    headers=headers,
                    files={"file": ("doc.txt", body, "text/plain")},
                    data={"kind": "notary", "title": "soak"},
                )
            except httpx.HTTPError:
                continue  # killed mid-request: not acknowledged
            if r.status_code == 201:
                out.append(r.json()["id"])


def _kill(server: ZhenglianServer, kind: str) -> None:
    chain = chain_pid(server)
    if kind in ("group", "api"):
        server.proc.send_signal(signal.SIGKILL)
    if kind in ("group", "chain"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(chain, signal.SIGKILL)
    server.proc.wait(60)
    deadline = time.monotonic() + 30  # the chain child stops by itself (stdin closed)
    while pid_alive(chain):
        if time.monotonic() > deadline:
            raise AssertionError(f"the chain process {chain} outlived its serve")
        time.sleep(0.1)


def soak(data_dir: Path, cycles: int, seed: int) -> SoakResult:
    """Run ``cycles`` kill cycles on ``data_dir``, then settle and audit (see the module)."""
    rng = random.Random(seed)
    result = SoakResult()
    token: str | None = None
    for cycle in range(cycles):
        server = start_server(data_dir)
        try:
            if token is None:
                token = server.token("城东公证处", "notary")
            stop = threading.Event()
            acknowledged: list[str] = []
            threads = [
                threading.Thread(target=_load, args=(server, token, stop, acknowledged))
                for _ in range(LOAD_THREADS)
            ]
            for thread in threads:
                thread.start()
            time.sleep(rng.uniform(*LOAD_SECONDS))
            kind = KILL_KINDS[cycle % len(KILL_KINDS)]  # each kind in turn, at random times
            _kill(server, kind)
            stop.set()
            for thread in threads:
                thread.join(30)
            result.kills[kind] += 1
            result.acknowledged.extend(acknowledged)
            result.cycles += 1
        finally:
            server.stop()
    with running_server(data_dir) as server:
        assert token is not None
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + SETTLE_DEADLINE
        while time.monotonic() < deadline:  # both logs anchored up to their ends
            backlog = httpx.get(f"{server.url}/healthz").json().get("anchoring", {})
            if all(backlog.get(log, {}).get("unanchored") == 0 for log in ("documents", "custody")):
                break
            time.sleep(0.2)
        stored = _stored_documents(data_dir)
        for document_id in result.acknowledged:
            if document_id not in stored:
                result.lost.append(f"{document_id}: no document row")
        anchored_size = _anchored_size(data_dir)
        result.lost.extend(
            f"{d}: leaf {stored[d]} not anchored (head {anchored_size})"
            for d in result.acknowledged
            if d in stored and stored[d] >= anchored_size
        )
        result.anchored = len(result.acknowledged) - len(result.lost)
        for document_id in rng.sample(result.acknowledged, min(RECEIPT_SAMPLE, len(stored))):
            r = httpx.get(f"{server.url}/v1/documents/{document_id}/receipt", headers=headers)
            if r.status_code != 200:
                result.lost.append(f"{document_id}: receipt {r.status_code} {r.text[:200]}")
        result.health = httpx.get(f"{server.url}/healthz").json()
        audit = subprocess.run(
            [
                sys.executable,
                "-m",
                "zhenglian.cli",
                "audit",
                "--data-dir",
                str(data_dir),
                "--rpc",
                server.rpc_url,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        result.audit_status = audit.returncode
        result.audit_output = (audit.stdout + audit.stderr)[-3000:]
        result.findings = [json.loads(line) for line in audit.stdout.splitlines() if line]
    return result
