"""`zhenglian ledger deploy/head` against an external node (Hardhat standing in for Besu),
and `zhenglian chain info` of an embedded chain's data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils.address import to_checksum_address

from ledger.certificate_registry import CERTIFICATE_REGISTRY, CertificateRegistryClient
from ledger.client import JsonDeploymentStore, LedgerClient
from ledger.merkle import MerkleLog, hash_leaf
from ledger.node.keystore import PASSPHRASE_ENV
from tests.support import servers
from zhenglian.common import CERTIFICATE_REGISTRY_DEPLOYMENTS, CUSTODY_DEPLOYMENTS

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


@pytest.fixture()
def file_server(tmp_path: Path) -> Iterator[str]:
    """What `python -m http.server` serves: an HTTP server that answers POST with 501."""
    with servers.http_server(SimpleHTTPRequestHandler) as url:
        yield url


def test_a_server_that_is_not_a_node_is_one_error_line(file_server: str, tmp_path: Path) -> None:
    head = zl("ledger", "head", "--rpc", file_server, "--contract", "0x" + "22" * 20)
    assert head.returncode == 1 and head.stdout == ""
    assert head.stderr.count("\n") == 1 and "Traceback" not in head.stderr
    assert head.stderr.startswith("zhenglian: error: ") and "501" in head.stderr

    keystore = tmp_path / "anchorer.json"
    keystore.write_text(json.dumps(Account.encrypt(Account.create().key, "pw", iterations=2**12)))
    deploy = zl(
        *("ledger", "deploy", "--rpc", file_server, "--keystore", str(keystore)),
        *("--deployments", str(tmp_path / "deployments.json")),
        env={**os.environ, PASSPHRASE_ENV: "pw"},
    )
    assert deploy.returncode == 1 and deploy.stderr.count("\n") == 1
    assert deploy.stderr.startswith("zhenglian: error: ") and "501" in deploy.stderr


def test_chain_info_lists_both_log_anchors(tmp_path: Path) -> None:
    def contracts() -> dict[str, str | None]:
        info = zl("chain", "info", "--data-dir", str(tmp_path), "--json")
        assert info.returncode == 0, info.stderr
        return dict(json.loads(info.stdout)["contracts"])

    with servers.embedded_node(tmp_path) as (url, _node):
        assert contracts() == {
            "LogAnchor": None,
            "CustodyLogAnchor": None,
            "CertificateRegistry": None,
        }
        # Both LogAnchors on the same chain, recorded where `zhenglian serve` records them.
        client = LedgerClient(url, servers.embedded_anchorer_key(tmp_path))
        documents = client.ensure_deployed(JsonDeploymentStore(tmp_path / "deployments.json"))
        custody = client.sibling().ensure_deployed(
            JsonDeploymentStore(tmp_path / CUSTODY_DEPLOYMENTS)
        )
        assert documents.address != custody.address
        registry = CertificateRegistryClient(client.sibling())
        registry.ensure_deployed(
            JsonDeploymentStore(
                tmp_path / CERTIFICATE_REGISTRY_DEPLOYMENTS, contract=CERTIFICATE_REGISTRY
            )
        )
        assert registry.address is not None
        assert contracts() == {
            "LogAnchor": to_checksum_address(documents.address),
            "CustodyLogAnchor": to_checksum_address(custody.address),
            "CertificateRegistry": to_checksum_address(registry.address),
        }
        text = zl("chain", "info", "--data-dir", str(tmp_path))
        assert f"custody log  {to_checksum_address(custody.address)}" in text.stdout
        assert f"certificates {to_checksum_address(registry.address)}" in text.stdout
