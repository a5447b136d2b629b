"""`zhenglian ledger deploy/head` against an external node (Hardhat standing in for Besu)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

from ledger.client import LedgerClient
from ledger.merkle import MerkleLog, hash_leaf
from ledger.node.keystore import PASSPHRASE_ENV

pytestmark = pytest.mark.integration


def zl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zhenglian.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_deploy_and_read_head_on_external_node(
    hardhat_rpc_url: str, hardhat_key: str, tmp_path: Path
) -> None:
    keystore = tmp_path / "anchorer.json"
    keystore.write_text(json.dumps(Account.encrypt(hardhat_key, "pw", iterations=2**12)))
    deployments = tmp_path / "deployments.json"
    env = {**os.environ, PASSPHRASE_ENV: "pw"}
    args = ["ledger", "deploy", "--rpc", hardhat_rpc_url, "--keystore", str(keystore)]
    first = zl(*args, "--deployments", str(deployments), env=env)
    assert first.returncode == 0, first.stderr
    dep = json.loads(first.stdout)
    again = zl(*args, "--deployments", str(deployments), env=env)
    assert json.loads(again.stdout)["address"] == dep["address"]

    empty = zl("ledger", "head", "--rpc", hardhat_rpc_url, "--contract", dep["address"])
    assert empty.returncode == 0 and empty.stdout.strip() == "null"

    client = LedgerClient(hardhat_rpc_url, hardhat_key)
    client.attach(dep["address"])
    log = MerkleLog()
    log.append_many([hash_leaf(b"a"), hash_leaf(b"b"), hash_leaf(b"c")])
    client.anchor(3, log.root(3), [])
    head = json.loads(
        zl("ledger", "head", "--rpc", hardhat_rpc_url, "--contract", dep["address"]).stdout
    )
    assert head["treeSize"] == 3 and head["rootHash"] == "0x" + log.root(3).hex()

    wrong = zl(*args, "--deployments", str(deployments), env={**env, PASSPHRASE_ENV: "nope"})
    assert wrong.returncode == 1 and "wrong passphrase" in wrong.stderr
    missing = zl(
        *args,
        "--deployments",
        str(deployments),
        env={k: v for k, v in env.items() if k != PASSPHRASE_ENV},
    )
    assert missing.returncode == 2
    bad = zl("ledger", "head", "--rpc", hardhat_rpc_url, "--contract", "0x12")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
