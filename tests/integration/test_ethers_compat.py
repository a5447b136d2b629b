"""ethers v6 (from npm) can deploy, transact, call and read logs on every node we support."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.support.servers import REPO_ROOT

pytestmark = pytest.mark.integration

SCRIPT = REPO_ROOT / "tests" / "integration" / "ethers_client.js"


def test_ethers_round_trip(chain_endpoint: tuple[str, str]) -> None:
    node = shutil.which("node")
    if node is None or not (REPO_ROOT / "node_modules" / "ethers").is_dir():
        pytest.skip("node or node_modules/ethers missing (run npm ci)")
    url, key = chain_endpoint
    try:
        proc = subprocess.run(
            [node, str(SCRIPT), url, key], capture_output=True, text=True, timeout=120, check=False
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr
        pytest.fail(f"ethers client timed out; its progress:\n{stderr}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["status"] == 1
    assert seen["event"] == "TreeHeadAnchored"
    assert seen["headSize"] == 1 and seen["headRoot"] == seen["root"]
    assert seen["logs"] == 1
    assert seen["revert"] == "HeadNotLarger"
    assert seen["blockHash"] == seen["receiptBlockHash"]
