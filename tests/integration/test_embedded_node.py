"""The embedded chain as a real JSON-RPC server: transactions, errors, persistence, tampering."""

from __future__ import annotations

import itertools
import json
import os
import shutil
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

from ledger.client import JsonDeploymentStore, LedgerClient, make_web3
from ledger.errors import ChainIntegrityError, KeystoreError, NodeError, StoredStateError
from ledger.merkle import MerkleLog, hash_leaf
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


def test_deeply_nested_body_is_refused_and_the_node_keeps_serving(tmp_path: Path) -> None:
    # A node process of its own: before the depth was checked ahead of parsing, this body
    # overflowed the C stack of json's parser and killed the node (exit -11).
    port = servers.free_port()
    log = tmp_path / "node.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*_SERVE, "--data-dir", str(tmp_path / "data"), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        servers.wait_for_rpc(url, proc, log)
        reply = post(url, b"[" * 100_000 + b"]" * 100_000)[1]
        assert reply["error"]["code"] == -32600
        assert "nested deeper than 16 levels" in reply["error"]["message"]
        # The same depth in UTF-16 (which json.loads guesses from bytes), behind a character
        # whose bytes pass for a quote: parsed only as the UTF-8 that was scanned.
        disguised = '["\u4e22",' + "[" * 100_000 + "]" * 100_000 + "]"
        assert post(url, disguised.encode("utf-16-le"))[1]["error"]["code"] == -32700
        assert proc.poll() is None, log.read_text()[-2000:]
        assert rpc(url, "eth_chainId")["result"] == hex(0x5A4C)
    finally:
        servers.stop(proc)


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


def test_call_that_cannot_be_paid_is_a_server_error(
    node: tuple[str, str, Web3], caplog: pytest.LogCaptureFixture
) -> None:
    url, _, _ = node
    pauper = Account.create().address  # no balance
    call = {"from": pauper, "to": "0x" + "11" * 20, "value": "0x1"}
    for method in ("eth_call", "eth_estimateGas"):
        err = rpc(url, method, [call, "latest"])["error"]
        assert err["code"] == -32000, err
        assert err["message"].startswith("invalid call:") and "enough balance" in err["message"]
    low_gas = rpc(url, "eth_call", [{**call, "value": "0x0", "gas": "0x1"}, "latest"])["error"]
    assert low_gas["code"] == -32000 and low_gas["message"].startswith("invalid call:")
    assert not [r for r in caplog.records if r.name == "ledger.node.rpc"]


def test_state_overrides_are_refused(node: tuple[str, str, Web3]) -> None:
    url, _, _ = node
    call = {"to": "0x" + "11" * 20}
    override = {"0x" + "11" * 20: {"code": "0x60006000fd"}}
    for method in ("eth_call", "eth_estimateGas"):
        err = rpc(url, method, [call, "latest", override])["error"]
        assert err["code"] == -32602 and "state overrides are not supported" in err["message"]
        assert "result" in rpc(url, method, [call, "latest", {}])  # an empty one alters nothing


# --- pool limits and block spacing ----------------------------------------------------------


def test_pool_errors_are_json_rpc_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ledger.node.txpool

    monkeypatch.setattr(ledger.node.txpool, "MAX_POOL_TXS", 3)
    with servers.embedded_node(tmp_path) as (url, _):
        w3 = make_web3(url)
        key = servers.embedded_anchorer_key(tmp_path)
        # Nonces 5.. ahead wait in the pool (0..4 are missing), so the pool keeps them.
        err = _send_error(url, transfer(w3, key, nonce=65))  # at most 64 ahead
        assert err["code"] == -32000 and err["message"] == "nonce too high: 65, next expected 0"
        w3.eth.send_raw_transaction(transfer(w3, key, nonce=5))
        err = _send_error(url, transfer(w3, key, nonce=5, value=1))
        assert err["code"] == -32000
        assert err["message"] == (
            "another transaction with nonce 5 from this sender is already pending"
        )
        w3.eth.send_raw_transaction(transfer(w3, key, nonce=6))
        w3.eth.send_raw_transaction(transfer(w3, key, nonce=7))
        err = _send_error(url, transfer(w3, key, nonce=8))
        assert err["code"] == -32000 and err["message"] == "transaction pool is full (3)"


def test_block_time_spaces_blocks(tmp_path: Path) -> None:
    with servers.embedded_node(tmp_path, block_time=1.0) as (url, node):
        sealed_at: list[float] = []
        produce = node.chain.produce_block  # type: ignore[attr-defined]

        def timed_produce() -> Any:
            block = produce()
            if block is not None:
                sealed_at.append(time.monotonic())
            return block

        node.chain.produce_block = timed_produce  # type: ignore[attr-defined]
        w3 = make_web3(url)
        key = servers.embedded_anchorer_key(tmp_path)
        for _ in range(3):  # each sent as soon as the one before is in a block
            w3.eth.wait_for_transaction_receipt(
                w3.eth.send_raw_transaction(transfer(w3, key)), timeout=15, poll_latency=0.02
            )
    assert len(sealed_at) == 3
    gaps = [b - a for a, b in itertools.pairwise(sealed_at)]
    assert all(gap >= 1.0 for gap in gaps), gaps


# --- persistence, integrity, keys -------------------------------------------------------------

_SERVE = [sys.executable, "-m", "zhenglian.cli", "chain", "serve"]


def _serve_refusal(data_dir: Path) -> str:
    """Run `zhenglian chain serve` on a data dir it must refuse; its one error line."""
    proc = subprocess.run(
        [*_SERVE, "--data-dir", str(data_dir), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr.strip().splitlines()[-1]


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


def _read_header(data_dir: Path, block_number: int | None) -> Any:
    """Header ``block_number`` of a stopped chain; its head for None."""
    from ledger.node.chain import EmbeddedChain
    from ledger.node.config import load_config
    from ledger.node.db import SqliteAtomicDB

    db = SqliteAtomicDB(chain_db_path(data_dir), read_only=True)
    try:
        chain = EmbeddedChain(db, load_config(data_dir), None)
        header = chain.head() if block_number is None else chain.header_by_number(block_number)
        assert header is not None
        return header
    finally:
        db.close()


def _alter_value(data_dir: Path, key: bytes, alter: Any) -> None:
    """Replace the stored value of ``key`` in chain.sqlite by ``alter(value)``."""
    conn = sqlite3.connect(chain_db_path(data_dir))
    try:
        (value,) = conn.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        conn.execute("UPDATE kv SET v = ? WHERE k = ?", (alter(bytes(value)), key))
        conn.commit()
    finally:
        conn.close()


def _flip(position: int) -> Any:
    def flip(value: bytes) -> bytes:
        altered = bytearray(value)
        altered[position] ^= 0x01
        return bytes(altered)

    return flip


def test_tampered_block_stops_the_node_naming_it(tmp_path: Path) -> None:
    _fresh_chain_with_blocks(tmp_path, 3)
    _alter_value(tmp_path, bytes(_read_header(tmp_path, 2).hash), _flip(-40))  # mixHash
    with pytest.raises(ChainIntegrityError) as info:
        EmbeddedNode(tmp_path)
    assert info.value.block_number == 2
    # ...and through the CLI: exit 1, one readable line.
    assert _serve_refusal(tmp_path).startswith("zhenglian: error: stored block #2 is corrupt")


def test_tampered_transaction_is_caught(tmp_path: Path) -> None:
    _fresh_chain_with_blocks(tmp_path, 3)
    # Block 2's one transaction is the root node of its transaction trie: alter its `to`.
    root = bytes(_read_header(tmp_path, 2).transaction_root)
    _alter_value(tmp_path, root, lambda v: v.replace(b"\x11" * 20, b"\x12" * 20))
    with pytest.raises(ChainIntegrityError) as info:
        EmbeddedNode(tmp_path)
    assert info.value.block_number == 2
    assert info.value.reason == "transactions do not match transactionsRoot"


def test_rehashed_forged_block_is_refused_for_its_seal(tmp_path: Path) -> None:
    """A forger who re-hashes the altered block and all after it keeps every hash link valid;
    only the seal, which needs a validator's key, gives the forgery away."""
    import rlp
    from eth.db.schema import SchemaV1

    from ledger.node.db import SqliteAtomicDB

    _fresh_chain_with_blocks(tmp_path, 3)
    block2, block3 = _read_header(tmp_path, 2), _read_header(tmp_path, 3)
    forged2 = block2.copy(timestamp=block2.timestamp + 1)
    forged3 = block3.copy(parent_hash=forged2.hash)
    db = SqliteAtomicDB(chain_db_path(tmp_path))
    try:
        with db.block_transaction():
            for old, new in ((block2, forged2), (block3, forged3)):
                db[new.hash] = rlp.encode(new)
                db[SchemaV1.make_block_number_to_hash_lookup_key(new.block_number)] = rlp.encode(
                    new.hash
                )
                old_score = SchemaV1.make_block_hash_to_score_lookup_key(old.hash)
                db[SchemaV1.make_block_hash_to_score_lookup_key(new.hash)] = db[old_score]
                del db[old_score]
            db[SchemaV1.make_canonical_head_hash_lookup_key()] = forged3.hash
    finally:
        db.close()
    with pytest.raises(ChainIntegrityError) as info:
        EmbeddedNode(tmp_path)
    assert info.value.block_number == 2
    assert "not a validator" in info.value.reason


@pytest.fixture(scope="module")
def anchored_data_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A stopped chain with LogAnchor deployed and one head anchored: (data dir, its root)."""
    data_dir = tmp_path_factory.mktemp("anchored")
    log = MerkleLog()
    log.append_many([hash_leaf(bytes([i])) for i in range(5)])
    with servers.embedded_node(data_dir) as (url, _):
        client = LedgerClient(url, servers.embedded_anchorer_key(data_dir))
        client.ensure_deployed(JsonDeploymentStore(data_dir / "deployments.json"))
        client.anchor(5, log.root(5), [])
    return data_dir, log.root(5)


def _copy(data_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    return copy


def test_altered_contract_storage_is_refused(
    anchored_data_dir: tuple[Path, bytes], tmp_path: Path
) -> None:
    """The auditor's repro: the anchored root in LogAnchor's storage replaced by 0xff..ff."""
    data_dir = _copy(anchored_data_dir[0], tmp_path)
    root = anchored_data_dir[1]
    conn = sqlite3.connect(chain_db_path(data_dir))
    # The storage trie leaf is short; the transaction and the receipt holding the root are not.
    leaves = [
        bytes(k)
        for k, v in conn.execute("SELECT k, v FROM kv WHERE length(v) < 100")
        if len(k) == 32 and root in bytes(v)
    ]
    conn.close()
    assert len(leaves) == 1
    _alter_value(data_dir, leaves[0], lambda v: v.replace(root, b"\xff" * 32))
    with pytest.raises(StoredStateError) as info:
        EmbeddedNode(data_dir)
    assert info.value.key == leaves[0]
    line = _serve_refusal(data_dir)
    assert line.startswith("zhenglian: error: the chain's state database was altered: ")
    assert f"entry 0x{leaves[0].hex()} does not hash to its key" in line


def test_altered_state_trie_node_is_refused_naming_it(
    anchored_data_dir: tuple[Path, bytes], tmp_path: Path
) -> None:
    data_dir = _copy(anchored_data_dir[0], tmp_path)
    head = _read_header(data_dir, None)
    state_root = bytes(head.state_root)
    _alter_value(data_dir, state_root, _flip(-1))
    with pytest.raises(StoredStateError) as info:
        EmbeddedNode(data_dir)
    assert info.value.key == state_root
    assert f"entry 0x{state_root.hex()} does not hash to its key" in str(info.value)


def test_lookup_past_the_head_is_refused(
    anchored_data_dir: tuple[Path, bytes], tmp_path: Path
) -> None:
    """An extra number -> hash entry would serve a made-up block past the head."""
    from eth.db.schema import SchemaV1

    data_dir = _copy(anchored_data_dir[0], tmp_path)
    head = _read_header(data_dir, None)
    conn = sqlite3.connect(chain_db_path(data_dir))
    key = SchemaV1.make_block_number_to_hash_lookup_key(head.block_number + 1)
    conn.execute("INSERT INTO kv (k, v) VALUES (?, ?)", (key, b"\xa0" + bytes(head.hash)))
    conn.commit()
    conn.close()
    with pytest.raises(StoredStateError, match="block-number-to-hash:"):
        EmbeddedNode(data_dir)


# --- genesis and the database itself ---------------------------------------------------------


def _genesis_only_chain(data_dir: Path) -> bytes:
    EmbeddedNode(data_dir).close()
    from ledger.node.config import load_config

    genesis_hash = load_config(data_dir).genesis_hash
    assert genesis_hash is not None
    return genesis_hash


def test_genesis_with_one_flipped_byte_is_named(tmp_path: Path) -> None:
    genesis_hash = _genesis_only_chain(tmp_path)
    validator = _read_header(tmp_path, 0).extra_data[32:52]

    def flip_validator(value: bytes) -> bytes:
        return _flip(value.index(validator))(value)

    _alter_value(tmp_path, genesis_hash, flip_validator)
    with pytest.raises(ChainIntegrityError) as info:
        EmbeddedNode(tmp_path)
    assert info.value.block_number == 0
    assert info.value.reason == "header bytes do not hash to the block hash"
    assert _serve_refusal(tmp_path).startswith("zhenglian: error: stored block #0 is corrupt")


def test_genesis_that_does_not_decode_is_named(tmp_path: Path) -> None:
    genesis_hash = _genesis_only_chain(tmp_path)
    _alter_value(tmp_path, genesis_hash, lambda v: b"\xf9\xff" + v[3:])
    with pytest.raises(ChainIntegrityError) as info:
        EmbeddedNode(tmp_path)
    assert info.value.block_number == 0
    assert _serve_refusal(tmp_path).startswith("zhenglian: error: stored block #0 is corrupt")


def test_validators_edited_in_the_configuration_are_refused(tmp_path: Path) -> None:
    _genesis_only_chain(tmp_path)
    config_file = tmp_path / "chain" / "config.json"
    config = json.loads(config_file.read_text())
    forged = Account.create().address
    config["validators"] = [forged]
    config_file.write_text(json.dumps(config))
    with pytest.raises(ChainIntegrityError, match="the configuration was edited") as info:
        EmbeddedNode(tmp_path)
    assert info.value.block_number == 0 and forged.lower()[2:] in info.value.reason
    assert _serve_refusal(tmp_path).startswith("zhenglian: error: stored block #0 is corrupt")
    info_cmd = subprocess.run(
        [sys.executable, "-m", "zhenglian.cli", "chain", "info", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert info_cmd.returncode == 1 and forged not in info_cmd.stdout
    assert "the configuration was edited" in info_cmd.stderr.strip().splitlines()[-1]


def test_deleted_chain_database_is_named_and_not_recreated(tmp_path: Path) -> None:
    _genesis_only_chain(tmp_path)
    db_path = chain_db_path(tmp_path)
    for path in db_path.parent.glob(db_path.name + "*"):
        path.unlink()
    with pytest.raises(NodeError, match=r"chain database .* is missing"):
        EmbeddedNode(tmp_path)
    line = _serve_refusal(tmp_path)
    assert line.startswith("zhenglian: error: the chain database ") and "is missing" in line
    assert not list(db_path.parent.glob(db_path.name + "*"))


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


# --- JSON-RPC hardening (issue 10) ------------------------------------------------------

#: Init code returning the runtime code JUMPDEST PUSH1 0 JUMP: a loop until gas runs out.
LOOP_INIT = bytes.fromhex("635b600056" + "600052" + "6004601cf3")


def test_a_web_page_cannot_reach_the_node(node: tuple[str, str, Web3]) -> None:
    """DNS rebinding and cross-origin posts: text/plain bodies, a browser Origin and a Host
    that is a foreign name are refused before the body is read."""
    url, _, _ = node
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}).encode()
    assert post(url, body, "text/plain")[0] == 415
    for headers in ({"Origin": "https://evil.example"}, {"Host": "rebind.evil.example"}):
        req = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json", **headers}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=10)
        assert refused.value.code == 403
    assert post(url, body)[0] == 200  # the node's own clients: JSON, no Origin, an IP Host


def test_expensive_calls_are_bounded_per_request(node: tuple[str, str, Web3]) -> None:
    """A batch of calls that loop until their gas runs out stops at the request's execution
    budget, and each call at the node's gas cap, however much gas it asks for."""
    url, key, w3 = node
    raw = transfer(w3, key, to=None, data=LOOP_INIT, gas=100_000)
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(raw), timeout=15, poll_latency=0.1
    )
    loop = receipt["contractAddress"]
    assert receipt["status"] == 1 and w3.eth.get_code(loop) == bytes.fromhex("5b600056")
    call = {"to": loop, "gas": hex(30_000_000)}
    batch = [
        {"jsonrpc": "2.0", "id": i, "method": "eth_call", "params": [call, "latest"]}
        for i in range(20)
    ]
    started = time.monotonic()
    status, replies = post(url, json.dumps(batch).encode())
    elapsed = time.monotonic() - started
    assert status == 200 and len(replies) == 20
    limited = [r for r in replies if r["error"]["code"] == -32005]
    assert len(limited) >= 15, replies[:3]
    assert "execution" in limited[0]["error"]["message"]
    assert elapsed < 2.0 + 8, elapsed  # the budget, plus the call that crossed it
