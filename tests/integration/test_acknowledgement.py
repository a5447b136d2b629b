"""The 201 of a deposit carries the log's signed acknowledgement; `zhenglian verify` compares a
receipt with it (``--ack``) and with other receipts (``--also``). The fork of the review —
a whole data directory restored from a backup, then a new deposit — gives two receipts for one
leaf index that each verify alone: together, or against the acknowledgement, they fail
(issue 9)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_api_e2e import ANCHOR_DEADLINE, deposit, wait_receipt
from tests.support.zl_server import ZhenglianServer, running_server

pytestmark = pytest.mark.integration


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zhenglian.cli", *args], capture_output=True, text=True, timeout=120
    )


def _validators(srv: ZhenglianServer) -> str:
    return ",".join(httpx.get(f"{srv.url}/v1/chain").json()["validators"])


def _deposit_and_wait(
    srv: ZhenglianServer, token: str, content: bytes, tmp: Path, name: str
) -> tuple[dict[str, Any], Path, Path, Path]:
    headers = {"Authorization": f"Bearer {token}"}
    made = deposit(srv, headers, content).json()
    receipt = wait_receipt(srv, headers, made["id"], ANCHOR_DEADLINE)
    document, receipt_path, ack_path = (
        tmp / f"{name}.pdf",
        tmp / f"{name}.receipt.json",
        tmp / f"{name}.ack",
    )
    document.write_bytes(content)
    receipt_path.write_text(json.dumps(receipt))
    ack_path.write_text(made["acknowledgement"])
    return made, document, receipt_path, ack_path


def test_acknowledgements_catch_a_log_restored_from_a_backup(tmp_path: Path) -> None:
    data_dir, backup = tmp_path / "data", tmp_path / "backup"
    with running_server(data_dir) as srv:
        token = srv.token("城东公证处", "notary")
        log_key = httpx.get(f"{srv.url}/v1/log/key").text.strip()
    assert (
        _cli("log", "key", "--data-dir", str(data_dir)).stdout.strip().splitlines()[-1] == log_key
    )
    shutil.copytree(data_dir, backup)  # the operator's backup, before any deposit

    with running_server(data_dir) as srv:
        first, doc, receipt, ack = _deposit_and_wait(srv, token, b"the will", tmp_path, "first")
        offline = srv.trust_args(tmp_path)  # pins the log key too
    assert first["acknowledgement"].startswith("zhenglian/ack/v1\n")
    ok = _cli("verify", str(doc), "--receipt", str(receipt), *offline, "--ack", str(ack))
    assert ok.returncode == 0, ok.stderr
    assert "acknowledged leaf" in ok.stdout

    shutil.rmtree(data_dir)
    shutil.copytree(backup, data_dir)  # the whole directory, chain included, restored
    with running_server(data_dir) as srv:
        _, doc2, receipt2, _ = _deposit_and_wait(srv, token, b"another will", tmp_path, "second")
    assert (
        json.loads(receipt2.read_text())["leaf_index"]
        == json.loads(receipt.read_text())["leaf_index"]
    )
    alone = _cli("verify", str(doc2), "--receipt", str(receipt2), *offline)
    assert alone.returncode == 0, alone.stderr  # each receipt verifies alone ...
    against_ack = _cli("verify", str(doc2), "--receipt", str(receipt2), *offline, "--ack", str(ack))
    assert against_ack.returncode == 1  # ... but not against the first depositor's acknowledgement
    assert "the acknowledged leaf was replaced" in against_ack.stderr
    together = _cli(
        "verify", str(doc), "--receipt", str(receipt), *offline, "--also", str(receipt2)
    )
    assert together.returncode == 1  # ... nor together
    assert "the log forked" in together.stderr


def test_an_acknowledgement_by_another_key_is_bad_input(tmp_path: Path) -> None:
    with running_server(tmp_path / "data") as srv:
        token = srv.token("城东公证处", "notary")
        _, doc, receipt, ack = _deposit_and_wait(srv, token, b"a deed", tmp_path, "deed")
        validators = _validators(srv)
        contract = httpx.get(f"{srv.url}/v1/chain").json()["contract"]
    other = _cli("log", "key", "--data-dir", str(tmp_path / "elsewhere")).stdout.strip()
    bad = _cli(
        "verify",
        str(doc),
        "--receipt",
        str(receipt),
        *("--validators", validators, "--contract", contract, "--quorum", "0"),
        "--ack",
        str(ack),
        "--log-key",
        other.splitlines()[-1],
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("zhenglian: error: bad acknowledgement")
