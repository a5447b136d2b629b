"""``zhenglian audit`` and the stored findings: every row of the tamper list is detected with a
named finding, nothing is reported on an intact data directory (beside a running serve and
against its chain), and an open finding turns ``/healthz`` degraded and records
``tamper_detected`` in the custody log (issue 9)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from evidence.formats.custody_event import CustodyEvent
from tests.integration.test_api_e2e import ANCHOR_DEADLINE, deposit, wait_receipt
from tests.support.zl_server import running_server

pytestmark = pytest.mark.integration

#: Seconds one audit command may take here (three documents).
AUDIT_TIMEOUT = 120


def audit_cli(data_dir: Path, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    """Run ``zhenglian audit``: exit status, findings (JSON lines), stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "zhenglian.cli", "audit", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=AUDIT_TIMEOUT,
        env={k: v for k, v in os.environ.items() if k != "ZHENGLIAN_CHAIN_RPC_URL"},
    )
    findings = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, findings, proc.stderr


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """A data directory with three anchored documents, audited clean beside its server."""
    data_dir = tmp_path_factory.mktemp("audit") / "data"
    with running_server(data_dir) as srv:
        headers = {"Authorization": f"Bearer {srv.token('城东公证处', 'notary')}"}
        docs = [deposit(srv, headers, f"document {i}".encode()).json() for i in range(3)]
        for doc in docs:
            wait_receipt(srv, headers, doc["id"], ANCHOR_DEADLINE)
        view = httpx.get(f"{srv.url}/v1/documents/{docs[0]['id']}", headers=headers).json()
        assert "kind" in view["anchored_fields"] and "deposited_at" in view["anchored_fields"]
        assert view["unanchored_fields"] == ["title", "filename"]
        status, findings, err = audit_cli(data_dir, "--rpc", srv.rpc_url)
        assert (status, findings) == (0, []), err
        assert "checked against the chain" in err and "3 documents" in err
    return data_dir, docs


def _sql(data_dir: Path, statement: str, *params: object) -> None:
    with sqlite3.connect(data_dir / "zhenglian.sqlite") as db:
        assert db.execute(statement, params).rowcount >= 1


def _original(data_dir: Path, sha256_hex: str) -> Path:
    return data_dir / "blobs" / "sha256" / sha256_hex[:2] / sha256_hex[2:4] / sha256_hex


def _overwrite(path: Path, data: bytes) -> None:
    path.chmod(0o640)
    path.write_bytes(data)


Tamper = Callable[[Path, dict[str, Any]], None]

TAMPERS: dict[str, tuple[Tamper, str, str | None]] = {
    # name: (what is done to the copy, the finding kind expected, the differing column)
    "kind changed": (
        lambda d, doc: _sql(d, "UPDATE documents SET kind='forensic' WHERE id=?", doc["id"]),
        "row-disagrees-with-entry",
        "kind",
    ),
    "deposit time changed": (
        lambda d, doc: _sql(
            d,
            "UPDATE documents SET deposited_at='2020-01-01 00:00:00.000000' WHERE id=?",
            doc["id"],
        ),
        "row-disagrees-with-entry",
        "deposited_at",
    ),
    "sha256 changed": (
        lambda d, doc: _sql(d, "UPDATE documents SET sha256=? WHERE id=?", b"\x01" * 32, doc["id"]),
        "row-disagrees-with-entry",
        "sha256",
    ),
    "sm3 changed": (
        lambda d, doc: _sql(d, "UPDATE documents SET sm3=? WHERE id=?", b"\x02" * 32, doc["id"]),
        "row-disagrees-with-entry",
        "sm3",
    ),
    "size changed": (
        lambda d, doc: _sql(d, "UPDATE documents SET size=size+1 WHERE id=?", doc["id"]),
        "row-disagrees-with-entry",
        "size",
    ),
    "row deleted": (
        lambda d, doc: _sql(d, "DELETE FROM documents WHERE id=?", doc["id"]),
        "leaf-without-document",
        None,
    ),
    "entry bytes changed": (
        lambda d, doc: _sql(
            d,
            'UPDATE documents SET entry=CAST(replace(entry, \'"kind":"notary"\', '
            '\'"kind":"other"\') AS BLOB) WHERE id=?',
            doc["id"],
        ),
        "entry-not-in-log",
        None,
    ),
    "entry bytes garbled": (
        lambda d, doc: _sql(d, "UPDATE documents SET entry=? WHERE id=?", b"garbage", doc["id"]),
        "entry-undecodable",
        None,
    ),
    "log leaf changed": (
        lambda d, doc: _sql(
            d,
            "UPDATE log_nodes SET hash=? WHERE level=0 AND idx=?",
            b"\x03" * 32,
            doc["leaf_index"],
        ),
        "log-root-mismatch",
        None,
    ),
    "original deleted": (
        lambda d, doc: _original(d, doc["sha256"]).unlink(),
        "original-missing",
        None,
    ),
    "original altered": (
        lambda d, doc: _overwrite(_original(d, doc["sha256"]), b"forged bytes"),
        "original-altered",
        None,
    ),
    "custody event changed": (
        lambda d, doc: _sql(
            d,
            "UPDATE custody_events SET event=CAST(event || ' ' AS BLOB) "
            "WHERE leaf_index=(SELECT max(leaf_index) FROM custody_events)",
        ),
        "custody-event-altered",
        None,
    ),
}


@pytest.mark.parametrize("name", list(TAMPERS))
def test_each_tampering_is_found_with_a_named_finding(
    clean: tuple[Path, list[dict[str, Any]]], tmp_path: Path, name: str
) -> None:
    source, docs = clean
    data_dir = tmp_path / "data"
    shutil.copytree(source, data_dir)
    tamper, kind, column = TAMPERS[name]
    doc = docs[1]
    tamper(data_dir, doc)
    status, findings, err = audit_cli(data_dir)
    assert status == 1, err
    assert kind in {f["kind"] for f in findings}, findings
    found = next(f for f in findings if f["kind"] == kind)
    if column is not None:
        assert found["subject"] == doc["id"]
        assert list(found["evidence"]["differ"]) == [column]
    # A forged column never blames the intact original (the entry says what it must be).
    if kind == "row-disagrees-with-entry":
        assert {f["kind"] for f in findings} == {kind}, findings
    assert "chain not checked" in err


def test_a_deleted_row_leaves_its_original_reported_as_an_orphan_never_deleted(
    clean: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    source, docs = clean
    data_dir = tmp_path / "data"
    shutil.copytree(source, data_dir)
    _sql(data_dir, "DELETE FROM documents WHERE id=?", docs[2]["id"])
    status, findings, _ = audit_cli(data_dir)
    assert status == 1
    orphans = [f for f in findings if f["kind"] == "orphan-original"]
    assert [f["evidence"]["sha256"] for f in orphans] == [docs[2]["sha256"]]
    assert _original(data_dir, docs[2]["sha256"]).exists()


def test_an_open_finding_degrades_health_and_is_a_custody_event(
    clean: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    source, docs = clean
    data_dir = tmp_path / "data"
    shutil.copytree(source, data_dir)
    doc = docs[0]
    _sql(data_dir, "UPDATE documents SET kind='forensic' WHERE id=?", doc["id"])
    assert audit_cli(data_dir)[0] == 1
    with sqlite3.connect(data_dir / "zhenglian.sqlite") as db:
        events = db.execute(
            "SELECT object_id FROM custody_events WHERE action='tamper_detected'"
        ).fetchall()
    assert events == [(doc["id"],)]
    status, _, _ = audit_cli(data_dir)  # seen again: still open, no second event
    assert status == 1
    with sqlite3.connect(data_dir / "zhenglian.sqlite") as db:
        count = db.execute("SELECT count(*) FROM audit_findings WHERE resolved_at IS NULL")
        assert count.fetchone() == (1,)
    with running_server(data_dir) as srv:
        health = httpx.get(f"{srv.url}/healthz")
        assert health.status_code == 503
        body = health.json()
        assert body["audit"]["open"] == 1
        assert any("integrity audit" in p for p in body["problems"]), body
        # The view shows what the entry proves, not the forged column.
        headers = {"Authorization": f"Bearer {srv.token('城东公证处', 'notary')}"}
        view = httpx.get(f"{srv.url}/v1/documents/{doc['id']}", headers=headers).json()
        assert view["kind"] == "notary"
    # Undone: the next sweep resolves the finding.
    _sql(data_dir, "UPDATE documents SET kind='notary' WHERE id=?", doc["id"])
    status, findings, _ = audit_cli(data_dir)
    assert (status, findings) == (0, [])
    with sqlite3.connect(data_dir / "zhenglian.sqlite") as db:
        count = db.execute("SELECT count(*) FROM audit_findings WHERE resolved_at IS NULL")
        assert count.fetchone() == (0,)


def test_a_deleted_original_is_tampering_on_download_not_an_unknown_document(
    clean: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    source, docs = clean
    data_dir = tmp_path / "data"
    shutil.copytree(source, data_dir)
    doc = docs[1]
    _original(data_dir, doc["sha256"]).unlink()
    with running_server(data_dir) as srv:
        headers = {"Authorization": f"Bearer {srv.token('城东公证处', 'notary')}"}
        got = httpx.get(f"{srv.url}/v1/documents/{doc['id']}/content", headers=headers)
        assert got.status_code == 409, got.text
        assert "missing" in got.json()["detail"]
    with sqlite3.connect(data_dir / "zhenglian.sqlite") as db:
        events = db.execute(
            "SELECT object_id FROM custody_events WHERE action='tamper_detected'"
        ).fetchall()
    assert events == [(doc["id"],)]


def test_an_anchor_the_chain_does_not_hold_is_found_against_the_chain(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with running_server(data_dir) as srv:
        headers = {"Authorization": f"Bearer {srv.token('城东公证处', 'notary')}"}
        doc = deposit(srv, headers, b"one document").json()
        wait_receipt(srv, headers, doc["id"], ANCHOR_DEADLINE)
        _sql(data_dir, "UPDATE anchors SET root_hash=? WHERE tree_size=1", b"\x04" * 32)
        status, findings, err = audit_cli(data_dir, "--rpc", srv.rpc_url)
    assert status == 1, err
    assert {"anchor-not-on-chain", "log-root-mismatch"} <= {f["kind"] for f in findings}
    # Findings about no document are recorded against the log itself (custody event v2).
    with sqlite3.connect(data_dir / "zhenglian.sqlite") as db:
        rows = db.execute(
            "SELECT object_type, object_id, event FROM custody_events "
            "WHERE action='tamper_detected'"
        ).fetchall()
    assert [(t, i) for t, i, _ in rows] == [("log", "documents")]
    event = CustodyEvent.decode(bytes(rows[0][2]))
    assert event.version == 2 and event.note is not None
    assert "anchor-not-on-chain" in event.note and "log-root-mismatch" in event.note


def test_an_audit_that_cannot_run_says_why_with_status_2(tmp_path: Path) -> None:
    status, findings, err = audit_cli(tmp_path / "nothing-here")
    assert (status, findings) == (2, [])
    assert err.strip().startswith("zhenglian: error:") and len(err.strip().splitlines()) == 1
