"""``zhenglian verify`` says "could not check" (exit 3, one line, no traceback) when the node it
is told to cross-check against is down or lacks the receipt's block, and keeps the other
statuses of the table: 0 intact, 1 a check failed, 2 bad input (issue 9)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import REPO_ROOT, free_port

pytestmark = pytest.mark.integration

VECTORS = REPO_ROOT / "tests" / "assets" / "receipts"
MANIFEST = json.loads((VECTORS / "cases.json").read_text())


def _verify(tmp_path: Path, document: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "document.txt"
    path.write_text(MANIFEST["documents"][document]["text"], encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "zhenglian.cli", "verify", str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_rpc_alone_pins_nothing_and_is_refused(tmp_path: Path) -> None:
    receipt = str(VECTORS / "valid.json")
    proc = _verify(tmp_path, "deposited", "--receipt", receipt, "--rpc", "http://127.0.0.1:1")
    assert proc.returncode == 2
    assert "pin what you trust" in _one_line(proc) and "--contract" in _one_line(proc)


def test_a_node_that_does_not_answer_is_could_not_check(tmp_path: Path) -> None:
    receipt = str(VECTORS / "valid.json")
    down = f"http://127.0.0.1:{free_port()}"
    proc = _verify(tmp_path, "deposited", "--receipt", receipt, *_OFFLINE, "--rpc", down)
    assert proc.returncode == 3
    assert _one_line(proc).startswith("zhenglian: error: could not check against")


def test_a_node_without_the_block_is_could_not_check(
    tmp_path: Path, embedded_chain: tuple[str, str, Path]
) -> None:
    url, _, _ = embedded_chain  # a young chain: no block 4096
    receipt = str(VECTORS / "valid.json")
    proc = _verify(tmp_path, "deposited", "--receipt", receipt, *_OFFLINE, "--rpc", url)
    assert proc.returncode == 3
    assert "has no block 4096" in _one_line(proc)


_OFFLINE = [
    *("--validators", ",".join(MANIFEST["trust"]["validators"])),
    *("--contract", MANIFEST["trust"]["contract"]),
]


def test_the_other_statuses_of_the_table(tmp_path: Path) -> None:
    offline = _OFFLINE
    receipt = str(VECTORS / "valid.json")
    assert _verify(tmp_path, "deposited", "--receipt", receipt, *offline).returncode == 0
    assert _verify(tmp_path, "altered", "--receipt", receipt, *offline).returncode == 1
    bad = _verify(tmp_path, "deposited", "--receipt", str(tmp_path / "missing.json"), *offline)
    assert bad.returncode == 2 and _one_line(bad).startswith("zhenglian: error: cannot read")
