"""The ledger client against every kind of node: the embedded chain and a Hardhat/EDR node."""

from __future__ import annotations

import json
import logging
import typing
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from eth_account import Account
from web3.types import TxReceipt

from ledger.anchor_proof import AnchorProof, ChainTrust, verify_anchor_proof
from ledger.client import JsonDeploymentStore, LedgerClient, make_web3
from ledger.errors import (
    AnchorRejected,
    ClientError,
    ContractError,
    LedgerError,
    NodeDataError,
    NodeHttpError,
    NodeRpcError,
    NodeUnavailable,
)
from ledger.merkle import MerkleLog, hash_leaf
from tests.support.servers import free_port, http_server

pytestmark = pytest.mark.integration


@pytest.fixture()
def client(chain_endpoint: tuple[str, str], tmp_path: Path) -> LedgerClient:
    url, key = chain_endpoint
    c = LedgerClient(url, key)
    c.ensure_deployed(JsonDeploymentStore(tmp_path / "deployments.json"))
    return c


def _log(n: int, salt: str = "") -> MerkleLog:
    log = MerkleLog()
    log.append_many([hash_leaf(f"{salt}doc-{i}".encode()) for i in range(n)])
    return log


def test_deploy_once_then_attach(chain_endpoint: tuple[str, str], tmp_path: Path) -> None:
    url, key = chain_endpoint
    store = JsonDeploymentStore(tmp_path / "deployments.json")
    first = LedgerClient(url, key).ensure_deployed(store)
    again = LedgerClient(url, key).ensure_deployed(store)
    assert again == first
    saved = json.loads((tmp_path / "deployments.json").read_text())["LogAnchor"]
    assert len(saved) == 1 and saved[0]["chainId"] == first.chain_id


def test_attach_refuses_an_address_without_the_contract(client: LedgerClient) -> None:
    with pytest.raises(ContractError, match="no LogAnchor"):
        client.attach("0x" + "22" * 20)


def test_anchor_heads_with_consistency_proofs(client: LedgerClient) -> None:
    log = _log(1000)
    assert client.latest_head() is None
    first = client.anchor(10, log.root(10), [])
    assert (first.index, first.tree_size, first.root_hash) == (0, 10, log.root(10))
    second = client.anchor(1000, log.root(1000), log.consistency_proof(10, 1000).hashes)
    assert second.index == 1
    head = client.latest_head()
    assert head is not None
    assert (head.index, head.tree_size, head.root_hash) == (1, 1000, log.root(1000))
    assert head.block_number == second.block_number and head.timestamp > 0
    assert client.head_at(0).root_hash == log.root(10)
    assert client.head_count() == 2


def test_anchoring_refuses_a_rewritten_history(client: LedgerClient) -> None:
    log = _log(64)
    client.anchor(16, log.root(16), [])
    forged = _log(64, salt="forged ")
    with pytest.raises(AnchorRejected, match="RootMismatch"):
        client.anchor(64, forged.root(64), forged.consistency_proof(16, 64).hashes)
    proof = list(log.consistency_proof(16, 64).hashes)
    proof[0] = bytes([proof[0][0] ^ 1]) + proof[0][1:]
    with pytest.raises(AnchorRejected, match="RootMismatch"):
        client.anchor(64, log.root(64), proof)
    with pytest.raises(AnchorRejected, match="ConsistencyProofShape"):
        client.anchor(64, log.root(64), log.consistency_proof(16, 64).hashes[:-1])
    with pytest.raises(AnchorRejected, match="HeadNotLarger"):
        client.anchor(16, log.root(16), [])
    with pytest.raises(AnchorRejected, match="HeadNotLarger"):
        client.anchor(8, log.root(8), [])
    # Nothing was written by the refused attempts; the honest head still goes through.
    assert client.head_count() == 1
    assert client.anchor(64, log.root(64), log.consistency_proof(16, 64).hashes).index == 1


def test_pipelined_anchors_keep_nonces_in_order(client: LedgerClient) -> None:
    log = _log(40)
    client.anchor(5, log.root(5), [])
    sizes = [10, 20, 30, 40]
    hashes = []
    previous = 5
    for size in sizes:
        # submit without waiting: each proof is from the previous head, nonces n, n+1, ...
        hashes.append(
            client.submit_anchor(
                size, log.root(size), log.consistency_proof(previous, size).hashes, preflight=False
            )
        )
        previous = size
    receipts = [client.anchor_receipt(h) for h in hashes]
    assert [r.tree_size for r in receipts] == sizes
    assert [r.index for r in receipts] == [1, 2, 3, 4]


def test_account_without_anchor_role_is_refused(
    chain_endpoint: tuple[str, str], client: LedgerClient
) -> None:
    url, _ = chain_endpoint
    outsider = LedgerClient(url, Account.create().key)
    assert client.contract_address is not None
    outsider.attach(client.contract_address)
    assert not outsider.has_anchor_role(outsider.account.address)
    log = _log(4)
    with pytest.raises(AnchorRejected, match="AccessControlUnauthorizedAccount"):
        outsider.anchor(4, log.root(4), [])


def test_malformed_anchor_input_is_refused_before_sending(client: LedgerClient) -> None:
    with pytest.raises(AnchorRejected, match="32 bytes"):
        client.anchor(4, b"short", [])
    with pytest.raises(AnchorRejected, match="out of range"):
        client.anchor(0, b"\x00" * 32, [])
    with pytest.raises(AnchorRejected, match="longer than"):
        client.anchor(4, b"\x00" * 32, [b"\x00" * 32] * 129)


def test_unreachable_node_is_a_typed_error() -> None:
    c = LedgerClient(f"http://127.0.0.1:{free_port()}", Account.create().key, timeout=1)
    with pytest.raises(NodeUnavailable):
        _ = c.chain_id
    assert issubclass(NodeUnavailable, ClientError)


def test_anchor_proof_verifies_offline(client: LedgerClient) -> None:
    log = _log(8)
    anchored = client.anchor(8, log.root(8), [])
    proof = AnchorProof.from_json(client.anchor_proof(anchored.tx_hash).to_json())
    assert client.contract_address is not None
    if client.chain_id == 0x5A4C:  # the embedded chain: sealed by its one validator
        # The validator list sits in the genesis extraData (Clique layout): vanity, signers, seal.
        genesis_extra = bytes(client.w3.eth.get_block(0)["proofOfAuthorityData"])
        signer = genesis_extra[32:-65]
        trust = ChainTrust.sealed(client.chain_id, [signer], contract=client.contract_address)
        result = verify_anchor_proof(proof, trust)
        assert result.seal.is_sealed and result.seal.signer == signer
    else:  # Hardhat seals nothing, and the verifier says so rather than pretending
        trust = ChainTrust.unsafe_unsealed(client.chain_id, contract=client.contract_address)
        result = verify_anchor_proof(proof, trust)
        assert not result.seal.is_sealed
    assert (result.tree_size, result.root_hash, result.anchor_index) == (8, log.root(8), 0)
    assert result.block_number == anchored.block_number


# --- a plain HTTP server that is not an Ethereum node -----------------------------------

#: What the fake node answers to every POST, by test case: (HTTP status, content type, body).
NOT_A_NODE_ANSWERS = {
    "http-501": (501, "text/plain", b"Unsupported method ('POST')"),
    "not-json": (200, "text/html", b"<html><body>hello</body></html>"),
    "rpc-error": (
        200,
        "application/json",
        json.dumps(
            {"jsonrpc": "2.0", "id": 0, "error": {"code": -32601, "message": "no such method"}}
        ).encode(),
    ),
    "bad-result": (200, "application/json", b'{"jsonrpc": "2.0", "id": 0, "result": "zz"}'),
}


@pytest.fixture()
def not_a_node(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of an HTTP server answering every POST with ``NOT_A_NODE_ANSWERS[request.param]``."""
    status, content_type, body = NOT_A_NODE_ANSWERS[request.param]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with http_server(Handler) as url:
        yield url


@pytest.mark.parametrize(
    ("not_a_node", "error"),
    [
        ("http-501", NodeHttpError),
        ("not-json", NodeDataError),
        ("rpc-error", NodeRpcError),
        ("bad-result", NodeDataError),
    ],
    indirect=["not_a_node"],
)
def test_a_server_that_is_not_a_node_gives_typed_errors(
    not_a_node: str, error: type[ClientError]
) -> None:
    c = LedgerClient(not_a_node, Account.create().key, timeout=2)
    calls = {
        "chain_id": lambda: c.chain_id,
        "genesis_hash": c.genesis_hash,
        "block_number": c.block_number,
        "block_timestamp": lambda: c.block_timestamp(1),
        "attach": lambda: c.attach("0x" + "22" * 20),
        "ensure_deployed": lambda: c.ensure_deployed(JsonDeploymentStore(Path("/nonexistent"))),
        "deploy": c.deploy,
        "wait_for_receipt": lambda: c.wait_for_receipt(b"\x01" * 32),
        "receipt_if_mined": lambda: c.receipt_if_mined(b"\x01" * 32),
    }
    for name, call in calls.items():
        with pytest.raises(error) as caught:
            call()
        assert isinstance(caught.value, LedgerError), name
    # An error answer to a transaction is the node refusing it.
    with pytest.raises(ContractError if error is NodeRpcError else error):
        c.send_raw(b"\x02")
    c.contract_address = b"\x22" * 20
    with pytest.raises(error):
        c.latest_head()
    with pytest.raises(error):
        c.anchor(4, b"\x00" * 32, [])


@pytest.mark.parametrize("not_a_node", ["http-501"], indirect=True)
def test_an_http_error_names_the_status(not_a_node: str) -> None:
    with pytest.raises(NodeHttpError) as caught:
        _ = LedgerClient(not_a_node, Account.create().key).chain_id
    assert (caught.value.request, caught.value.status) == ("eth_chainId", 501)
    assert "HTTP 501" in str(caught.value)


@pytest.mark.parametrize("not_a_node", ["rpc-error"], indirect=True)
def test_a_json_rpc_error_carries_code_and_message(not_a_node: str) -> None:
    with pytest.raises(NodeRpcError) as caught:
        _ = LedgerClient(not_a_node, Account.create().key).chain_id
    assert (caught.value.code, caught.value.rpc_message) == (-32601, "no such method")
    assert caught.value.request == "eth_chainId"


# --- nonces -----------------------------------------------------------------------------


def test_nonce_is_resynchronised_after_a_transaction_sent_out_of_band(
    client: LedgerClient, caplog: pytest.LogCaptureFixture
) -> None:
    log = _log(8)
    client.anchor(4, log.root(4), [])  # the client now counts nonces itself
    # Another program sends from the same key: the client's next nonce is used up.
    w3 = make_web3(client.rpc_url)
    me = client.account
    base = int(w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
    tip = int(w3.eth.max_priority_fee) if base else 0
    tx = {
        "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(me.address, "pending"),
        "to": "0x" + "11" * 20,
        "value": 0,
        "gas": 21_000,
        "maxFeePerGas": 2 * base + tip,
        "maxPriorityFeePerGas": tip,
        "type": 2,
    }
    sent = w3.eth.send_raw_transaction(me.sign_transaction(tx).raw_transaction)
    assert w3.eth.wait_for_transaction_receipt(sent, timeout=30)["status"] == 1
    with caplog.at_level(logging.WARNING, logger="ledger.client"):
        anchored = client.anchor(8, log.root(8), log.consistency_proof(4, 8).hashes)
    assert (anchored.index, anchored.tree_size) == (1, 8)
    assert any("resynchronising" in r.getMessage() for r in caplog.records)
    # Later sends use the resynchronised count (no second refusal).
    caplog.clear()
    more = _log(9)
    with caplog.at_level(logging.WARNING, logger="ledger.client"):
        assert client.anchor(9, more.root(9), more.consistency_proof(8, 9).hashes).index == 2
    assert not caplog.records


# --- receipts ---------------------------------------------------------------------------


def test_wait_for_receipt_returns_a_typed_receipt(client: LedgerClient) -> None:
    assert typing.get_type_hints(LedgerClient.wait_for_receipt)["return"] is TxReceipt
    log = _log(2)
    anchored = client.anchor(2, log.root(2), [])
    receipt = client.wait_for_receipt(anchored.tx_hash)
    assert receipt["status"] == 1 and int(receipt["gasUsed"]) > 0
    assert bytes(receipt["blockHash"]) == anchored.block_hash
    assert client.block_timestamp(anchored.block_number) == client.head_at(0).timestamp


def test_threads_sending_from_one_account_reach_the_node_in_nonce_order(
    client: LedgerClient,
) -> None:
    """A thread that took a nonce and is still recording its transaction (``before_send``) is
    not overtaken by another thread's next nonce: Hardhat, which mines each transaction at
    once, refuses one that comes before a gap, and the refused sender had to sign and record
    again. Each transaction is now recorded once and mined."""
    import threading
    import time

    from eth_utils.abi import function_signature_to_4byte_selector
    from hexbytes import HexBytes

    assert client.contract_address is not None
    data = function_signature_to_4byte_selector("headCount()")
    recorded: dict[str, int] = {"first": 0, "second": 0}
    sent: dict[str, bytes] = {}

    def send(name: str, delay: float) -> None:
        def before_send(tx_hash: bytes, raw: bytes) -> None:
            recorded[name] += 1
            time.sleep(delay)  # a slow database write

        assert client.contract_address is not None
        sent[name] = client.send(
            client.contract_address, data, name, gas=100_000, before_send=before_send
        )

    first = threading.Thread(target=send, args=("first", 0.5))
    second = threading.Thread(target=send, args=("second", 0.0))
    first.start()
    time.sleep(0.1)  # the first holds its nonce, recording
    second.start()
    first.join(30)
    second.join(30)
    assert recorded == {"first": 1, "second": 1}
    receipts = [client.wait_for_receipt(sent[name]) for name in ("first", "second")]
    assert all(r["status"] == 1 for r in receipts)
    nonces = [
        int(client.w3.eth.get_transaction(HexBytes(sent[n]))["nonce"]) for n in ("first", "second")
    ]
    assert nonces[1] == nonces[0] + 1
