"""``zhenglian serve`` on an external node (Hardhat), as a new operator sets it up: every
missing setting named at once, validators claimed for an unsealed node refused, deposits
anchored with ``ZHENGLIAN_CHAIN_VALIDATORS=none``, and a node restarted from scratch (its
chain reset) refused at start instead of anchored into for ever (issue 9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from tests.integration.test_api_e2e import ANCHOR_DEADLINE, deposit, wait_receipt
from tests.support.servers import HARDHAT_KEY_0, hardhat_node
from tests.support.zl_server import running_server, serve_refusal

pytestmark = pytest.mark.integration

PASSPHRASE = "external node test passphrase"


def _keystore(tmp_path: Path) -> Path:
    """Hardhat's first funded account in a keystore, as an operator would import it."""
    path = tmp_path / "anchorer.json"
    path.write_text(json.dumps(Account.encrypt(HARDHAT_KEY_0, PASSPHRASE, iterations=2**12)))
    return path


def _env(**values: str) -> dict[str, str]:
    import os

    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ZHENGLIAN_CHAIN_") and k != "ZHENGLIAN_KEY_PASSPHRASE"
    }
    return {**base, **values}


def test_every_missing_setting_is_named_at_once(tmp_path: Path, hardhat_rpc_url: str) -> None:
    line = serve_refusal(tmp_path / "data", _env(ZHENGLIAN_CHAIN_RPC_URL=hardhat_rpc_url))
    assert line.startswith("zhenglian: error: with ZHENGLIAN_CHAIN_RPC_URL, set ")
    for name in (
        "ZHENGLIAN_CHAIN_KEYSTORE",
        "ZHENGLIAN_KEY_PASSPHRASE",
        "ZHENGLIAN_CHAIN_VALIDATORS",
    ):
        assert name in line


def test_validators_claimed_for_an_unsealed_node_are_refused(
    tmp_path: Path, hardhat_rpc_url: str
) -> None:
    env = _env(
        ZHENGLIAN_CHAIN_RPC_URL=hardhat_rpc_url,
        ZHENGLIAN_CHAIN_KEYSTORE=str(_keystore(tmp_path)),
        ZHENGLIAN_KEY_PASSPHRASE=PASSPHRASE,
        ZHENGLIAN_CHAIN_VALIDATORS=Account.create().address,
    )
    line = serve_refusal(tmp_path / "data", env)
    assert "is not sealed by them" in line and "ZHENGLIAN_CHAIN_VALIDATORS=none" in line


def test_a_reset_node_is_refused_instead_of_anchored_into(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    keystore = _keystore(tmp_path)
    with hardhat_node(tmp_path) as url:
        env = _env(
            ZHENGLIAN_CHAIN_RPC_URL=url,
            ZHENGLIAN_CHAIN_KEYSTORE=str(keystore),
            ZHENGLIAN_KEY_PASSPHRASE=PASSPHRASE,
            ZHENGLIAN_CHAIN_VALIDATORS="none",
        )
        with running_server(data_dir, env) as srv:
            headers = {"Authorization": f"Bearer {srv.token('城东公证处', 'notary')}"}
            doc = deposit(srv, headers, b"anchored on the first run of the node").json()
            receipt = wait_receipt(srv, headers, doc["id"], ANCHOR_DEADLINE)
            assert receipt["anchor"]["block_number"] >= 1
    with hardhat_node(tmp_path) as url:  # the same node restarted: a fresh chain
        line = serve_refusal(data_dir, {**env, "ZHENGLIAN_CHAIN_RPC_URL": url})
    assert "reset, replaced or rolled back" in line, line
