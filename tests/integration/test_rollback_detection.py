"""``zhenglian serve`` refuses to start on a log that is behind a head it anchored (the
metadata database restored from an older copy while the chain went on), and says so in one
line; its health names a halted anchoring worker (issue 9)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from evidence.formats.custody_event import CustodyEvent
from evidence.store.database import custody_events_table
from tests.integration.test_api_e2e import ANCHOR_DEADLINE, deposit, wait_receipt
from tests.support.zl_server import ZhenglianServer, running_server, serve_refusal
from zhenglian.composition import read_from

pytestmark = pytest.mark.integration


def _copy_database(data_dir: Path, to: Path) -> None:
    """A consistent copy of the SQLite metadata database (WAL included), as a backup is.

    Both connections are closed here: one left open in this process would keep SQLite's
    shared-memory mapping of the file that the restore deletes, and a later connection of
    this process to the restored file would then fail with "disk I/O error"."""
    with (
        contextlib.closing(sqlite3.connect(data_dir / "zhenglian.sqlite")) as source,
        contextlib.closing(sqlite3.connect(to)) as target,
    ):
        source.backup(target)


def _restore_database(data_dir: Path, backup: Path) -> None:
    for suffix in ("-wal", "-shm"):
        (data_dir / f"zhenglian.sqlite{suffix}").unlink(missing_ok=True)
    (data_dir / "zhenglian.sqlite").write_bytes(backup.read_bytes())


def test_serve_refuses_a_database_rolled_back_behind_the_chain(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    backup = tmp_path / "backup.sqlite"
    with running_server(data_dir) as srv:
        headers = {"Authorization": f"Bearer {srv.token('城东公证处', 'notary')}"}
        first = deposit(srv, headers, b"before the backup").json()
        wait_receipt(srv, headers, first["id"], ANCHOR_DEADLINE)
        _copy_database(data_dir, backup)
        second = deposit(srv, headers, b"after the backup").json()
        wait_receipt(srv, headers, second["id"], ANCHOR_DEADLINE)
    _restore_database(data_dir, backup)
    last = serve_refusal(data_dir)
    assert last.startswith("zhenglian: error: the chain holds head 2"), last
    assert "has only 1 entries" in last and "rolled back or forked" in last


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zhenglian.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _events_about_log(data_dir: Path, name: str) -> list[CustodyEvent]:
    c = custody_events_table.c
    query = (
        select(c.event).where(c.object_type == "log", c.object_id == name).order_by(c.leaf_index)
    )
    rows = read_from(data_dir, lambda session: session.execute(query).all())
    return [CustodyEvent.decode(bytes(row[0])) for row in rows]


def _verify_receipt(
    srv: ZhenglianServer, tmp_path: Path, content: bytes, receipt: Any, contract: str
) -> subprocess.CompletedProcess[str]:
    doc, path = tmp_path / "doc.bin", tmp_path / "receipt.json"
    doc.write_bytes(content)
    path.write_text(json.dumps(receipt))
    chain = httpx.get(f"{srv.url}/v1/chain").json()
    log_key = httpx.get(f"{srv.url}/v1/log/key").text.strip()
    return srv.cli(
        "verify",
        str(doc),
        "--receipt",
        str(path),
        *("--validators", ",".join(chain["validators"]), "--contract", contract),
        *("--log-key", log_key, "--quorum", "0"),
        check=False,
    )


def test_a_restore_on_purpose_is_resumed_in_a_new_contract_and_on_the_record(
    tmp_path: Path,
) -> None:
    """The operator procedure of docs/reliability.md#restore: serve refuses the restored
    database and records the halt; `zhenglian log resume-anchoring` retires the contract on
    the record; serve then anchors the whole log in a new contract, old receipts keep
    verifying against the retired one, and the log's own custody export shows both events."""
    data_dir = tmp_path / "data"
    backup = tmp_path / "backup.sqlite"
    before, after = b"deposited before the backup", b"deposited after the backup"
    with running_server(data_dir) as srv:
        headers = {"Authorization": f"Bearer {srv.token('城东公证处', 'notary')}"}
        first = deposit(srv, headers, before).json()
        old_receipt = wait_receipt(srv, headers, first["id"], ANCHOR_DEADLINE)
        _copy_database(data_dir, backup)
        second = deposit(srv, headers, after).json()
        wait_receipt(srv, headers, second["id"], ANCHOR_DEADLINE)
        old_contract = httpx.get(f"{srv.url}/v1/chain").json()["contract"]
    _restore_database(data_dir, backup)

    # Refused, and on the record once however often it is tried.
    for _ in range(2):
        assert "zhenglian log resume-anchoring" in serve_refusal(data_dir)
    halts = _events_about_log(data_dir, "documents")
    assert [e.action for e in halts] == ["anchoring_halted"]
    assert halts[0].version == 2 and halts[0].actor.role == "system"
    assert halts[0].note is not None and "rolled back or forked" in halts[0].note

    # Without --yes nothing changes; a reason is required.
    assert _cli("log", "resume-anchoring", "--data-dir", str(data_dir)).returncode == 2
    dry = _cli("log", "resume-anchoring", "--data-dir", str(data_dir), "--reason", "test")
    assert dry.returncode == 0 and "--yes" in dry.stdout
    assert len(_events_about_log(data_dir, "documents")) == 1
    reason = "恢复 2026-12-01 的备份 (restored the backup of 2026-12-01)"
    done = _cli("log", "resume-anchoring", "--data-dir", str(data_dir), "--reason", reason, "--yes")
    assert done.returncode == 0, done.stderr
    assert "documents log: retired contract" in done.stdout
    resumed = _events_about_log(data_dir, "documents")[-1]
    assert resumed.action == "anchoring_resumed" and resumed.actor.role == "operator"
    assert resumed.note is not None and reason in resumed.note
    assert old_contract.lower()[2:] in resumed.note.lower()

    with running_server(data_dir) as srv:
        chain = httpx.get(f"{srv.url}/v1/chain").json()
        assert chain["contract"] != old_contract
        assert {(r["log"], r["contract"].lower()) for r in chain["retired_contracts"]} >= {
            ("documents", old_contract.lower())
        }
        headers = {"Authorization": f"Bearer {srv.token('城东公证处', 'notary')}"}
        third = deposit(srv, headers, b"deposited after the restore").json()
        new_receipt = wait_receipt(srv, headers, third["id"], ANCHOR_DEADLINE)
        assert new_receipt["anchor"]["contract"].lower() == chain["contract"].lower()
        again = wait_receipt(srv, headers, first["id"], ANCHOR_DEADLINE)  # re-anchored too
        assert again["anchor"]["contract"].lower() == chain["contract"].lower()
        # The receipt issued before the restore still verifies against the retired contract,
        # the new one against the new contract.
        assert _verify_receipt(srv, tmp_path, before, old_receipt, old_contract).returncode == 0
        assert _verify_receipt(srv, tmp_path, before, again, chain["contract"]).returncode == 0
        assert _verify_receipt(srv, tmp_path, before, again, old_contract).returncode == 1
        # The log's own chain of custody, public and verifiable offline once anchored.
        deadline = time.monotonic() + ANCHOR_DEADLINE
        while True:
            export = httpx.get(f"{srv.url}/v1/log/custody", params={"log": "documents"}).json()
            if all(e["status"] == "anchored" for e in export["events"]):
                break
            assert time.monotonic() < deadline, export
            time.sleep(0.3)
        assert [e["fields"]["action"] for e in export["events"]] == [
            "anchoring_halted",
            "anchoring_resumed",
        ]
        path = tmp_path / "log-custody.json"
        path.write_text(json.dumps(export))
        checked = srv.cli(
            "verify",
            "--custody",
            str(path),
            "--validators",
            ",".join(chain["validators"]),
            "--contract",
            chain["custody_contract"],
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
