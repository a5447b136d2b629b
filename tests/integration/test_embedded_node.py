"""The embedded chain as a real JSON-RPC server: transactions, errors, persistence, tampering."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from ledger.client import make_web3
from ledger.errors import ChainIntegrityError, KeystoreError, NodeError
from ledger.node.keystore import PASSPHRASE_ENV, PASSPHRASE_FILE, keystore_path
from ledger.node.server import EmbeddedNode, chain_db_path
from tests.support import servers

pytestmark = pytest.mark.integration


def post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, Any]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    status, reply = post(
        url,
        json.dumps({"jsonrpc": "2.0", "id": 7, "method": method, "params": params or []}).encode(),
    )
    assert status == 200
    return reply


def transfer(w3: Web3, key: str, nonce: int | None = None, **overrides: Any) -> bytes:
    acct = Account.from_key(key)
    tx = {
        "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(acct.address, "pending") if nonce is None else nonce,
        "to": "0x" + "11" * 20,
        "value": 0,
        "gas": 21_000,
        "maxFeePerGas": 0,
        "maxPriorityFeePerGas": 0,
        "type": 2,
        **overrides,
    }
    return bytes(acct.sign_transaction(tx).raw_transaction)


@pytest.fixture(scope="module")
def node(embedded_chain: tuple[str, str, Path]) -> tuple[str, str, Web3]:
    url, key, _ = embedded_chain
    return url, key, make_web3(url)


# --- standard methods -------------------------------------------------------------------


def test_identity_methods(node: tuple[str, str, Web3]) -> None:
    url, _, w3 = node
    assert w3.eth.chain_id == 0x5A4C
    assert w3.net.version == str(0x5A4C)
    assert w3.client_version.startswith("Zhenglian/")
    assert w3.eth.gas_price == 0
    assert rpc(url, "eth_syncing")["result"] is False


def test_transaction_round_trip(node: tuple[str, str, Web3]) -> None:
    _, key, w3 = node
    tx_hash = w3.eth.send_raw_transaction(transfer(w3, key))
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=15, poll_latency=0.1)
    assert receipt["status"] == 1 and receipt["gasUsed"] == 21_000
    tx = w3.eth.get_transaction(tx_hash)
    assert (
        tx["from"] == Account.from_key(key).address and tx["blockNumber"] == receipt["blockNumber"]
    )
    block = w3.eth.get_block(receipt["blockNumber"], full_transactions=False)
    assert bytes(tx_hash) in [bytes(h) for h in block["transactions"]]
    assert w3.eth.get_block(block["hash"])["number"] == block["number"]
    assert block["baseFeePerGas"] == 0 and len(block["proofOfAuthorityData"]) == 97


def test_blocks_only_when_transactions_wait(node: tuple[str, str, Web3]) -> None:
    _, _, w3 = node
    before = w3.eth.block_number
    time.sleep(2.5)
    assert w3.eth.block_number == before


def test_many_transactions_batch_into_few_blocks(node: tuple[str, str, Web3]) -> None:
    _, key, w3 = node
    start = w3.eth.get_transaction_count(Account.from_key(key).address, "pending")
    hashes = [w3.eth.send_raw_transaction(transfer(w3, key, nonce=start + i)) for i in range(40)]
    receipts = [
        w3.eth.wait_for_transaction_receipt(h, timeout=20, poll_latency=0.1) for h in hashes
    ]
    blocks = {r["blockNumber"] for r in receipts}
    assert len(blocks) <= 3
    assert w3.eth.get_transaction_count(Account.from_key(key).address) == start + 40


# --- rejected transactions ----------------------------------------------------------------


def _send_error(url: str, raw: bytes) -> dict[str, Any]:
    reply = rpc(url, "eth_sendRawTransaction", ["0x" + raw.hex()])
    assert "error" in reply, reply
    return dict(reply["error"])


def test_unallowlisted_sender_is_refused(node: tuple[str, str, Web3]) -> None:
    url, _, w3 = node
    stranger = Account.create().key.hex()
    err = _send_error(url, transfer(w3, "0x" + stranger.removeprefix("0x"), nonce=0))
    assert err["code"] == -32007 and "not authorized" in err["message"]


def test_wrong_chain_id_is_refused(node: tuple[str, str, Web3]) -> None:
    url, key, w3 = node
    err = _send_error(url, transfer(w3, key, chainId=1))
    assert "wrong chain id 1" in err["message"]


def test_replayed_nonce_is_refused(node: tuple[str, str, Web3]) -> None:
    url, key, w3 = node
    raw = transfer(w3, key)
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(raw), timeout=15)
    err = _send_error(url, raw)
    assert "nonce too low" in err["message"]


def test_unprotected_and_garbage_transactions_are_refused(node: tuple[str, str, Web3]) -> None:
    url, key, _ = node
    acct = Account.from_key(key)
    legacy = acct.sign_transaction(
        {"nonce": 0, "to": "0x" + "11" * 20, "value": 0, "gas": 21_000, "gasPrice": 0}
    ).raw_transaction
    assert "replay-protected" in _send_error(url, bytes(legacy))["message"]
    assert "invalid transaction" in _send_error(url, b"\x02garbage")["message"]
    assert rpc(url, "eth_sendRawTransaction", ["nothex"])["error"]["code"] == -32602
    assert "larger than" in _send_error(url, b"\x00" * (129 * 1024))["message"]


def test_intrinsic_gas_too_low(node: tuple[str, str, Web3]) -> None:
    url, key, w3 = node
    assert "intrinsic gas" in _send_error(url, transfer(w3, key, gas=20_000))["message"]


# --- malformed requests ---------------------------------------------------------------------


def test_malformed_requests_get_json_rpc_errors(node: tuple[str, str, Web3]) -> None:
    url, _, _ = node
    assert post(url, b"{not json")[1]["error"]["code"] == -32700
    assert post(url, b"[]")[1]["error"]["code"] == -32600
    assert post(url, b"42")[1]["error"]["code"] == -32600
    assert rpc(url, "eth_noSuchMethod")["error"]["code"] == -32601
    reply = post(url, json.dumps({"jsonrpc": "1.0", "id": 1, "method": "eth_chainId"}).encode())[1]
    assert reply["error"]["code"] == -32600
    assert rpc(url, "eth_getBalance", ["0x1234"])["error"]["code"] == -32602
    assert rpc(url, "eth_getBlockByNumber", [])["error"]["code"] == -32602
    assert rpc(url, "eth_getBlockByNumber", ["0x" + "f" * 70, False])["error"]["code"] == -32602
    deep = b"[" * 100 + b"]" * 100
    assert post(url, deep)[1]["error"]["code"] == -32600
    status, reply = post(
        url,
        b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["'
        + b"a" * (6 * 1024 * 1024)
        + b'"]}',
    )
    assert status == 413 and reply["error"]["code"] == -32005
    # The node is still well after all that.
    assert rpc(url, "eth_chainId")["result"] == hex(0x5A4C)


def test_batch_and_notifications(node: tuple[str, str, Web3]) -> None:
    url, _, _ = node
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "method": "eth_chainId"},  # notification: no reply
        {"jsonrpc": "2.0", "id": 2, "method": "nope"},
        5,
    ]
    status, reply = post(url, json.dumps(batch).encode())
    assert status == 200
    assert [r.get("id") for r in reply] == [1, 2, None]
    assert reply[0]["result"] == hex(0x5A4C) and reply[1]["error"]["code"] == -32601
    too_many = [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(101)]
    assert post(url, json.dumps(too_many).encode())[1]["error"]["code"] == -32005


def test_unknown_objects_are_null(node: tuple[str, str, Web3]) -> None:
    url, _, _ = node
    zero = "0x" + "00" * 32
    assert rpc(url, "eth_getTransactionReceipt", [zero])["result"] is None
    assert rpc(url, "eth_getTransactionByHash", [zero])["result"] is None
    assert rpc(url, "eth_getBlockByHash", [zero, False])["result"] is None
    assert rpc(url, "eth_getBlockByNumber", ["0xffffff", False])["result"] is None


# --- persistence, integrity, keys -------------------------------------------------------------


def _fresh_chain_with_blocks(data_dir: Path, blocks: int) -> tuple[bytes, int]:
    with servers.embedded_node(data_dir) as (url, _node):
        w3 = make_web3(url)
        key = servers.embedded_anchorer_key(data_dir)
        for _ in range(blocks):
            w3.eth.wait_for_transaction_receipt(
                w3.eth.send_raw_transaction(transfer(w3, key)), timeout=15
            )
        head = w3.eth.get_block("latest")
        return bytes(head["hash"]), int(head["number"])


def test_restart_continues_the_same_chain(tmp_path: Path) -> None:
    head_hash, number = _fresh_chain_with_blocks(tmp_path, 3)
    assert number == 3
    with servers.embedded_node(tmp_path) as (url, _):
        w3 = make_web3(url)
        assert bytes(w3.eth.get_block("latest")["hash"]) == head_hash
        key = servers.embedded_anchorer_key(tmp_path)
        receipt = w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(transfer(w3, key)), timeout=15
        )
        assert receipt["blockNumber"] == 4
        assert bytes(w3.eth.get_block(4)["parentHash"]) == head_hash


def _tamper_header(data_dir: Path, block_number: int) -> None:
    from ledger.node.chain import EmbeddedChain
    from ledger.node.config import load_config
    from ledger.node.db import SqliteAtomicDB

    db = SqliteAtomicDB(chain_db_path(data_dir), read_only=True)
    try:
        header = EmbeddedChain(db, load_config(data_dir), None).header_by_number(block_number)
        assert header is not None
        key = bytes(header.hash)
    finally:
        db.close()
    conn = sqlite3.connect(chain_db_path(data_dir))
    (value,) = conn.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
    flipped = bytearray(value)
    flipped[-40] ^= 0x01  # inside the header's extraData/mixHash region
    conn.execute("UPDATE kv SET v = ? WHERE k = ?", (bytes(flipped), key))
    conn.commit()
    conn.close()


def test_tampered_block_stops_the_node_naming_it(tmp_path: Path) -> None:
    _fresh_chain_with_blocks(tmp_path, 3)
    _tamper_header(tmp_path, 2)
    with pytest.raises(ChainIntegrityError) as info:
        EmbeddedNode(tmp_path)
    assert info.value.block_number == 2
    # ...and through the CLI: exit 1, one readable line.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "zhenglian.cli",
            "chain",
            "serve",
            "--data-dir",
            str(tmp_path),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith("zhenglian: error: stored block #2 is corrupt")
    )


def test_tampered_transaction_is_caught(tmp_path: Path) -> None:
    _fresh_chain_with_blocks(tmp_path, 2)
    from eth.db.trie import make_trie_root_and_nodes

    conn = sqlite3.connect(chain_db_path(tmp_path))
    # Find the transaction-trie leaf of block 1 by its content and alter one byte of it.
    rows = conn.execute("SELECT k, v FROM kv").fetchall()
    for k, v in rows:
        if len(k) == 32 and b"\x11" * 20 in v and v[0] != 0x02:
            altered = bytearray(v)
            pos = bytes(v).index(b"\x11" * 20)
            altered[pos] ^= 0xFF
            conn.execute("UPDATE kv SET v = ? WHERE k = ?", (bytes(altered), k))
            break
    else:  # pragma: no cover - layout changed
        pytest.fail("no transaction trie node found")
    conn.commit()
    conn.close()
    del make_trie_root_and_nodes
    with pytest.raises(ChainIntegrityError):
        EmbeddedNode(tmp_path)


def test_keystore_files_are_private_and_passphrase_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    with servers.embedded_node(tmp_path):
        pass
    for path in (tmp_path / PASSPHRASE_FILE, keystore_path(tmp_path, "validator")):
        assert path.stat().st_mode & 0o777 == 0o600
    ks = json.loads(keystore_path(tmp_path, "validator").read_text())
    assert ks["version"] == 3 and "ciphertext" in ks["crypto"]
    monkeypatch.setenv(PASSPHRASE_ENV, "not-the-passphrase")
    with pytest.raises(KeystoreError, match="wrong passphrase"):
        EmbeddedNode(tmp_path)


def test_passphrase_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse battery staple")
    with servers.embedded_node(tmp_path):
        pass
    assert not (tmp_path / PASSPHRASE_FILE).exists()
    with servers.embedded_node(tmp_path):
        pass


def test_one_node_per_data_dir(tmp_path: Path) -> None:
    with servers.embedded_node(tmp_path), pytest.raises(NodeError, match="already running"):
        EmbeddedNode(tmp_path)


def test_allowlist_edit_is_picked_up_while_running(tmp_path: Path) -> None:
    stranger = Account.create()
    with servers.embedded_node(tmp_path) as (url, _):
        w3 = make_web3(url)
        raw = transfer(w3, stranger.key.hex(), nonce=0)
        assert _send_error(url, raw)["code"] == -32007
        env = {**os.environ}
        cli = [sys.executable, "-m", "zhenglian.cli", "chain", "allow", "--data-dir", str(tmp_path)]
        subprocess.run([*cli, stranger.address], check=True, env=env, capture_output=True)
        time.sleep(0.05)
        receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(raw), timeout=15)
        assert receipt["status"] == 1
        bad = subprocess.run([*cli, "0x1234"], env=env, capture_output=True, text=True)
        assert bad.returncode == 2 and "not an Ethereum address" in bad.stderr


def test_chain_info_json(embedded_chain: tuple[str, str, Path]) -> None:
    _, key, data_dir = embedded_chain
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "zhenglian.cli",
            "chain",
            "info",
            "--data-dir",
            str(data_dir),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    info = json.loads(proc.stdout)
    assert info["chainId"] == 0x5A4C
    assert Account.from_key(key).address in info["allowlist"]
    assert len(info["validators"]) == 1 and info["head"]["number"] >= 0
    assert "LogAnchor" in info["contracts"]
