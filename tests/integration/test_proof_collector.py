"""Collect anchor proofs from a real Hardhat node and verify them offline."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from web3 import Web3
from web3.types import RPCEndpoint

import contracts
from ledger.anchor_proof import (
    TREE_HEAD_ANCHORED_SIGNATURE,
    AnchorProof,
    ChainTrust,
    SealStatus,
    verify_anchor_proof,
)
from ledger.client import JsonDeploymentStore, LedgerClient, make_web3
from ledger.errors import (
    AnchorEventNotFound,
    AnchoringAccountMismatchError,
    HeaderReencodingError,
    NodeDataError,
    NodeUnavailable,
    ReceiptsRootMismatchError,
    SealError,
    TransactionChainIdError,
    TransactionNotFound,
    TransactionReencodingError,
    TransactionsRootMismatchError,
)
from ledger.proof_collector import (
    _transactions_trie_proof,
    collect_anchor_proof,
    encode_header_json,
    encode_receipt_json,
    encode_transaction_json,
)
from tests.support.servers import free_port

HARDHAT_CHAIN_ID = 31337
ANCHOR_GAS = 400_000
ANCHOR_SELECTOR = keccak(b"anchor(uint64,bytes32,bytes32[])")[:4]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


# RFC 6962 heads of the log [d0, d1]: size 1, then size 2 with consistency proof [h(d1)].
D0, D1 = leaf_hash(b"evidence 0"), leaf_hash(b"evidence 1")
ROOT_1 = D0
ROOT_2 = node_hash(D0, D1)


def rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    response = w3.provider.make_request(RPCEndpoint(method), params)
    assert "error" not in response, response
    return response["result"]


class Sender:
    """Signs transactions locally (never a node-managed account) and tracks the nonce."""

    def __init__(
        self, w3: Web3, account: LocalAccount, *, chain_id: int = HARDHAT_CHAIN_ID
    ) -> None:
        self.w3 = w3
        self.account = account
        self.chain_id = chain_id
        self.nonce = w3.eth.get_transaction_count(account.address, "pending")

    def send(self, *, to: bytes | None, data: bytes, gas: int, legacy: bool = False) -> bytes:
        tx: dict[str, Any] = {
            "chainId": self.chain_id,
            "nonce": self.nonce,
            "gas": gas,
            "value": 0,
            "data": data,
        }
        if to is not None:
            tx["to"] = Web3.to_checksum_address(to)
        # Fees from the latest base fee (the embedded chain's is 0: its accounts hold no ether).
        base_fee = int(rpc(self.w3, "eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16)
        tip = 10**9 if base_fee else 0
        if legacy:
            tx["gasPrice"] = 2 * base_fee + tip
        else:
            tx.update(type=2, maxFeePerGas=2 * base_fee + tip, maxPriorityFeePerGas=tip)
        signed = self.account.sign_transaction(tx)
        self.nonce += 1
        return bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction))


def anchor_call(tree_size: int, root_hash: bytes, proof: list[bytes]) -> bytes:
    arguments = abi_encode(["uint64", "bytes32", "bytes32[]"], [tree_size, root_hash, proof])
    return ANCHOR_SELECTOR + arguments


@dataclass(frozen=True)
class AnchoredBlock:
    w3: Web3
    contract: bytes
    anchorer: bytes
    transfer_tx: bytes
    first_anchor_tx: bytes
    second_anchor_tx: bytes


@pytest.fixture(scope="module")
def anchored_block(hardhat_rpc_url: str, hardhat_key: str) -> Iterator[AnchoredBlock]:
    """Deploy LogAnchor, then mine one block with a transfer and two anchoring transactions."""
    artifact = contracts.load_artifact("LogAnchor")
    events = [e for e in artifact.abi if e.get("type") == "event"]
    signatures = {f"{e['name']}({','.join(i['type'] for i in e['inputs'])})" for e in events}
    assert TREE_HEAD_ANCHORED_SIGNATURE in signatures

    w3 = make_web3(hardhat_rpc_url)
    account: LocalAccount = Account.from_key(hardhat_key)
    anchorer = bytes.fromhex(account.address[2:])
    sender = Sender(w3, account)
    constructor = abi_encode(["address", "address"], [account.address, account.address])
    deploy_tx = sender.send(to=None, data=artifact.bytecode + constructor, gas=5_000_000)
    deployed = w3.eth.wait_for_transaction_receipt(deploy_tx, timeout=30)
    assert deployed["status"] == 1
    contract = bytes.fromhex(deployed["contractAddress"][2:])

    rpc(w3, "evm_setAutomine", [False])
    try:
        transfer_tx = sender.send(to=bytes(19) + b"\x01", data=b"", gas=30_000, legacy=True)
        first = sender.send(to=contract, data=anchor_call(1, ROOT_1, []), gas=ANCHOR_GAS)
        second = sender.send(to=contract, data=anchor_call(2, ROOT_2, [D1]), gas=ANCHOR_GAS)
        rpc(w3, "evm_mine", [])
    finally:
        rpc(w3, "evm_setAutomine", [True])
    receipts = [w3.eth.get_transaction_receipt(h) for h in (transfer_tx, first, second)]
    assert [r["status"] for r in receipts] == [1, 1, 1]
    assert len({r["blockHash"] for r in receipts}) == 1, "transactions not in one block"
    yield AnchoredBlock(w3, contract, anchorer, transfer_tx, first, second)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("which", "index", "tree_size", "root_hash"),
    [("first_anchor_tx", 0, 1, ROOT_1), ("second_anchor_tx", 1, 2, ROOT_2)],
)
def test_collected_proof_verifies_offline(
    anchored_block: AnchoredBlock, which: str, index: int, tree_size: int, root_hash: bytes
) -> None:
    tx_hash = getattr(anchored_block, which)
    proof = collect_anchor_proof(anchored_block.w3, tx_hash, contract=anchored_block.contract)
    assert proof.chain_id == HARDHAT_CHAIN_ID
    assert proof.tx_index == index + 1  # the transfer comes first in the block

    # Offline from here on: only the JSON document.
    document = json.loads(json.dumps(proof.to_json()))
    restored = AnchorProof.from_json(document)
    assert restored == proof
    trust = ChainTrust.unsafe_unsealed(HARDHAT_CHAIN_ID, anchored_block.contract)
    result = verify_anchor_proof(restored, trust)
    assert result.seal == SealStatus.unsealed()
    assert (result.anchor_index, result.tree_size, result.root_hash) == (
        index,
        tree_size,
        root_hash,
    )
    assert result.anchorer == anchored_block.anchorer
    assert result.tx_hash == tx_hash

    block = anchored_block.w3.eth.get_block(proof.block_hash)
    assert result.block_number == block["number"]
    assert result.timestamp == block["timestamp"]


@pytest.mark.integration
@pytest.mark.parametrize("which", ["first_anchor_tx", "second_anchor_tx"])
def test_collected_proof_with_transaction_names_the_anchoring_account(
    anchored_block: AnchoredBlock, which: str
) -> None:
    """The block holds a legacy transfer and two EIP-1559 anchors: a trie of mixed types."""
    w3, contract, anchorer = anchored_block.w3, anchored_block.contract, anchored_block.anchorer
    tx_hash = getattr(anchored_block, which)
    proof = collect_anchor_proof(w3, tx_hash, contract=contract, with_transaction=True)
    assert proof.transaction is not None and proof.transaction[0] == 2
    assert keccak(proof.transaction) == tx_hash
    # Without the transaction, it is exactly the proof collected as before.
    assert proof.without_transaction() == collect_anchor_proof(w3, tx_hash, contract=contract)

    restored = AnchorProof.from_json(json.loads(json.dumps(proof.to_json())))
    assert restored == proof
    trust = ChainTrust.unsafe_unsealed(
        HARDHAT_CHAIN_ID, contract, anchoring_account=anchorer, require_transaction=True
    )
    result = verify_anchor_proof(restored, trust)
    assert result.anchoring_account == anchorer == result.anchorer
    with pytest.raises(AnchoringAccountMismatchError):
        verify_anchor_proof(restored, replace(trust, anchoring_account=b"\x01" * 20))


@pytest.mark.integration
def test_default_collection_keeps_the_first_release_layout(anchored_block: AnchoredBlock) -> None:
    """Version 1 receipts and custody exports embed the stored proof: no new keys in it."""
    proof = collect_anchor_proof(
        anchored_block.w3, anchored_block.first_anchor_tx, contract=anchored_block.contract
    )
    assert not proof.has_transaction
    assert "transaction" not in proof.to_json() and "transactionProof" not in proof.to_json()


@pytest.mark.integration
def test_hardhat_blocks_are_not_sealed(anchored_block: AnchoredBlock) -> None:
    proof = collect_anchor_proof(
        anchored_block.w3, anchored_block.first_anchor_tx, contract=anchored_block.contract
    )
    trust = ChainTrust.sealed(HARDHAT_CHAIN_ID, [anchored_block.anchorer])
    with pytest.raises(SealError):
        verify_anchor_proof(proof, trust)


@pytest.mark.integration
def test_transaction_without_the_event(anchored_block: AnchoredBlock) -> None:
    with pytest.raises(AnchorEventNotFound):
        collect_anchor_proof(
            anchored_block.w3, anchored_block.transfer_tx, contract=anchored_block.contract
        )


@pytest.mark.integration
def test_event_of_another_contract_is_not_taken(anchored_block: AnchoredBlock) -> None:
    with pytest.raises(AnchorEventNotFound):
        collect_anchor_proof(
            anchored_block.w3, anchored_block.first_anchor_tx, contract=b"\x42" * 20
        )


@pytest.mark.integration
def test_unknown_transaction(anchored_block: AnchoredBlock) -> None:
    with pytest.raises(TransactionNotFound):
        collect_anchor_proof(
            anchored_block.w3, keccak(b"never sent"), contract=anchored_block.contract
        )


@pytest.mark.integration
def test_unreachable_node() -> None:
    w3 = make_web3(f"http://127.0.0.1:{free_port()}", timeout=2.0)
    with pytest.raises(NodeUnavailable):
        collect_anchor_proof(w3, keccak(b"x"), contract=b"\x42" * 20)


class TamperingProvider(Web3.HTTPProvider):
    """Passes requests to the node and alters its answers, like a buggy or lying node."""

    def __init__(self, url: str, method: str, change: Any) -> None:
        super().__init__(url, request_kwargs={"timeout": 10})
        self.tampered_method = method
        self.change = change

    def _tamper(self, method: str, response: Any) -> Any:
        if method == self.tampered_method and isinstance(response.get("result"), dict):
            response = {**response, "result": self.change(dict(response["result"]))}
        return response

    def make_request(self, method: RPCEndpoint, params: Any) -> Any:
        return self._tamper(method, super().make_request(method, params))

    def make_batch_request(self, requests: list[tuple[RPCEndpoint, Any]]) -> Any:
        responses = super().make_batch_request(requests)
        assert isinstance(responses, list)
        return [self._tamper(m, r) for (m, _), r in zip(requests, responses, strict=True)]


def _bump_hex(value: str) -> str:
    return hex(int(value, 16) + 1)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("method", "change", "error"),
    [
        (
            "eth_getBlockByHash",
            lambda block: {**block, "gasUsed": _bump_hex(block["gasUsed"])},
            HeaderReencodingError,
        ),
        (
            "eth_getBlockByHash",
            lambda block: {k: v for k, v in block.items() if k != "baseFeePerGas"},
            HeaderReencodingError,
        ),
        (
            "eth_getTransactionReceipt",
            lambda r: {**r, "cumulativeGasUsed": _bump_hex(r["cumulativeGasUsed"])},
            ReceiptsRootMismatchError,
        ),
        (
            "eth_getTransactionReceipt",
            lambda r: {**r, "logsBloom": "0x" + "00" * 256},
            ReceiptsRootMismatchError,
        ),
        ("eth_getTransactionReceipt", lambda r: {**r, "logs": "none"}, NodeDataError),
    ],
)
def test_node_answers_that_do_not_match_their_hashes(
    anchored_block: AnchoredBlock, hardhat_rpc_url: str, method: str, change: Any, error: type
) -> None:
    w3 = Web3(TamperingProvider(hardhat_rpc_url, method, change))
    with pytest.raises(error):
        collect_anchor_proof(w3, anchored_block.first_anchor_tx, contract=anchored_block.contract)


def _in_full_block(index: int, change: Any) -> Any:
    """Change transaction ``index`` of a block with full transactions (others pass as is)."""

    def tamper(block: dict[str, Any]) -> dict[str, Any]:
        transactions = block.get("transactions")
        if not transactions or not isinstance(transactions[0], dict):
            return block
        transactions = [dict(tx) for tx in transactions]
        transactions[index] = change(transactions[index])
        return {**block, "transactions": transactions}

    return tamper


def _swap_first_and_last(block: dict[str, Any]) -> dict[str, Any]:
    transactions = block.get("transactions")
    if not transactions or not isinstance(transactions[0], dict):
        return block
    swapped = [dict(tx) for tx in transactions]
    swapped[0], swapped[-1] = swapped[-1], swapped[0]
    return {**block, "transactions": swapped}


@pytest.mark.integration
@pytest.mark.parametrize(
    ("change", "error"),
    [
        (_in_full_block(0, lambda tx: {**tx, "value": _bump_hex(tx["value"])}), None),
        (_in_full_block(1, lambda tx: {**tx, "input": tx["input"] + "00"}), None),
        (_in_full_block(1, lambda tx: {**tx, "maxFeePerGas": _bump_hex(tx["maxFeePerGas"])}), None),
        (_in_full_block(1, lambda tx: {**tx, "chainId": "0x1"}), None),
        (_in_full_block(0, lambda tx: {**tx, "type": "0x3"}), NodeDataError),
        (
            _in_full_block(
                1, lambda tx: {k: v for k, v in tx.items() if k not in ("v", "yParity")}
            ),
            NodeDataError,
        ),
        (_in_full_block(0, lambda tx: {**tx, "transactionIndex": "0x1"}), NodeDataError),
        (_swap_first_and_last, NodeDataError),
    ],
)
def test_node_transactions_that_do_not_match_their_hashes(
    anchored_block: AnchoredBlock, hardhat_rpc_url: str, change: Any, error: type | None
) -> None:
    w3 = Web3(TamperingProvider(hardhat_rpc_url, "eth_getBlockByHash", change))
    with pytest.raises(error or TransactionReencodingError):
        collect_anchor_proof(
            w3,
            anchored_block.first_anchor_tx,
            contract=anchored_block.contract,
            with_transaction=True,
        )


# --- JSON re-encoding (no node) --------------------------------------------------------------

PRAGUE_BLOCK = {
    "parentHash": "0x" + "11" * 32,
    "sha3Uncles": "0x" + "22" * 32,
    "miner": "0x" + "33" * 20,
    "stateRoot": "0x" + "44" * 32,
    "transactionsRoot": "0x" + "55" * 32,
    "receiptsRoot": "0x" + "66" * 32,
    "logsBloom": "0x" + "00" * 256,
    "difficulty": "0x0",
    "number": "0x1b4",
    "gasLimit": "0x1c9c380",
    "gasUsed": "0x5208",
    "timestamp": "0x6650b000",
    "extraData": "0x",
    "mixHash": "0x" + "77" * 32,
    "nonce": "0x0000000000000000",
    "baseFeePerGas": "0x7",
    "withdrawalsRoot": "0x" + "88" * 32,
    "blobGasUsed": "0x0",
    "excessBlobGas": "0x20000",
    "parentBeaconBlockRoot": "0x" + "99" * 32,
    "requestsHash": "0x" + "aa" * 32,
    "hash": "0x" + "ff" * 32,  # not a header field: ignored
    "transactions": [],
}


def _expected_fields(count: int) -> list[bytes]:
    fields = [
        b"\x11" * 32,
        b"\x22" * 32,
        b"\x33" * 20,
        b"\x44" * 32,
        b"\x55" * 32,
        b"\x66" * 32,
        bytes(256),
        b"",
        bytes.fromhex("01b4"),
        bytes.fromhex("01c9c380"),
        bytes.fromhex("5208"),
        bytes.fromhex("6650b000"),
        b"",
        b"\x77" * 32,
        bytes(8),
        b"\x07",
        b"\x88" * 32,
        b"",
        bytes.fromhex("020000"),
        b"\x99" * 32,
        b"\xaa" * 32,
    ]
    return fields[:count]


@pytest.mark.parametrize(
    ("last_field", "count"),
    [
        ("nonce", 15),
        ("baseFeePerGas", 16),
        ("withdrawalsRoot", 17),
        ("parentBeaconBlockRoot", 20),
        ("requestsHash", 21),
    ],
)
def test_header_fields_of_each_fork(last_field: str, count: int) -> None:
    names = list(PRAGUE_BLOCK)
    kept = names[: names.index(last_field) + 1]
    block: dict[str, Any] = {k: v for k, v in PRAGUE_BLOCK.items() if k in kept}
    block.update({k: None for k in names[len(kept) : 21]})  # absent fork fields may be null
    assert encode_header_json(block) == rlp.encode(_expected_fields(count))


def test_fork_field_after_a_missing_one_is_refused() -> None:
    block = {k: v for k, v in PRAGUE_BLOCK.items() if k != "withdrawalsRoot"}
    with pytest.raises(NodeDataError, match="withdrawalsRoot"):
        encode_header_json(block)


@pytest.mark.parametrize(
    "change",
    [
        {"number": "1b4"},
        {"number": "0x"},
        {"miner": "0x" + "33" * 19},
        {"logsBloom": "0x00"},
        {"extraData": "0xabc"},
        {"parentHash": None},
    ],
)
def test_malformed_block_json(change: dict[str, Any]) -> None:
    with pytest.raises(NodeDataError):
        encode_header_json({**PRAGUE_BLOCK, **change})


def test_receipt_json_encodings() -> None:
    log = {"address": "0x" + "c0" * 20, "topics": ["0x" + "01" * 32], "data": "0x1234"}
    receipt = {
        "status": "0x1",
        "cumulativeGasUsed": "0x5208",
        "logsBloom": "0x" + "00" * 256,
        "logs": [log],
    }
    payload = rlp.encode(
        [b"\x01", bytes.fromhex("5208"), bytes(256), [[b"\xc0" * 20, [b"\x01" * 32], b"\x12\x34"]]]
    )
    assert encode_receipt_json(receipt) == payload
    assert encode_receipt_json({**receipt, "type": "0x0"}) == payload
    assert encode_receipt_json({**receipt, "type": "0x2"}) == b"\x02" + payload
    failed = rlp.encode([b"", bytes.fromhex("5208"), bytes(256), []])
    assert encode_receipt_json({**receipt, "status": "0x0", "logs": []}) == failed
    with pytest.raises(NodeDataError):
        encode_receipt_json({**receipt, "type": "0x80"})
    with pytest.raises(NodeDataError):
        encode_receipt_json({k: v for k, v in receipt.items() if k != "status"})


_TX_ACCOUNT = Account.from_key(keccak(b"test_proof_collector transaction json"))


def _transaction_json(tx: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """(raw, the JSON-RPC object a node returns) of ``tx`` signed by eth-account."""
    signed = _TX_ACCOUNT.sign_transaction(tx)
    document: dict[str, Any] = {
        "hash": "0x" + bytes(signed.hash).hex(),
        "nonce": hex(tx["nonce"]),
        "to": tx.get("to"),
        "value": hex(tx["value"]),
        "gas": hex(tx["gas"]),
        "input": "0x" + tx["data"].hex(),
        "v": hex(signed.v),
        "r": hex(signed.r),
        "s": hex(signed.s),
    }
    if "type" in tx:
        document.update(
            type=hex(tx["type"]),
            chainId=hex(tx["chainId"]),
            yParity=hex(signed.v),
            accessList=tx["accessList"],
        )
    for fee in ("gasPrice", "maxFeePerGas", "maxPriorityFeePerGas"):
        if fee in tx:
            document[fee] = hex(tx[fee])
    return bytes(signed.raw_transaction), document


_ACCESS_LIST = [
    {"address": Web3.to_checksum_address("0x" + "c0" * 20), "storageKeys": ["0x" + "01" * 32]}
]
_TX_COMMON = {"nonce": 9, "gas": 90_000, "value": 1, "data": b"\x01\x02", "chainId": 1234}


@pytest.mark.parametrize(
    "tx",
    [
        {**_TX_COMMON, "gasPrice": 7, "to": Web3.to_checksum_address("0x" + "c0" * 20)},
        {k: v for k, v in _TX_COMMON.items() if k != "chainId"} | {"gasPrice": 7},  # pre-EIP-155
        {**_TX_COMMON, "type": 1, "gasPrice": 7, "accessList": _ACCESS_LIST},
        {**_TX_COMMON, "type": 2, "maxFeePerGas": 9, "maxPriorityFeePerGas": 2, "accessList": []},
    ],
    ids=["legacy", "pre-eip155", "type-1", "type-2-creation"],
)
def test_transaction_json_encodings(tx: dict[str, Any]) -> None:
    raw, document = _transaction_json(tx)
    assert encode_transaction_json(document) == raw
    assert keccak(raw).hex() == document["hash"][2:]
    if "type" in tx:  # Hardhat writes v but no yParity
        assert encode_transaction_json({**document, "yParity": None}) == raw
        with pytest.raises(NodeDataError, match="disagree"):
            encode_transaction_json({**document, "v": hex(1 - int(document["yParity"], 16))})
    with pytest.raises(NodeDataError):
        encode_transaction_json({**document, "gas": None})
    with pytest.raises(NodeDataError):
        encode_transaction_json({**document, "to": "0x" + "c0" * 19})


def test_transaction_json_of_other_types_is_refused() -> None:
    _, document = _transaction_json(
        {**_TX_COMMON, "type": 2, "maxFeePerGas": 9, "maxPriorityFeePerGas": 2, "accessList": []}
    )
    for tx_type in ("0x3", "0x4", "0x7e"):
        with pytest.raises(NodeDataError, match="cannot re-encode"):
            encode_transaction_json({**document, "type": tx_type})


def test_transactions_root_is_checked() -> None:
    raws = [_transaction_json({**_TX_COMMON, "nonce": n, "gasPrice": 7})[0] for n in range(3)]
    with pytest.raises(TransactionsRootMismatchError) as info:
        _transactions_trie_proof(b"\xbb" * 32, b"\xaa" * 32, raws, 1)
    assert info.value.transactions_root == b"\xaa" * 32


# --- Embedded chain (Clique-sealed) ------------------------------------------------------------


@pytest.mark.integration
def test_embedded_chain_proof_is_sealed_by_its_validator(
    embedded_chain: tuple[str, str, Any],
) -> None:
    url, key, _data_dir = embedded_chain
    w3 = make_web3(url)
    chain_id = w3.eth.chain_id
    account: LocalAccount = Account.from_key(key)
    artifact = contracts.load_artifact("LogAnchor")
    sender = Sender(w3, account, chain_id=chain_id)
    constructor = abi_encode(["address", "address"], [account.address, account.address])
    deploy_tx = sender.send(to=None, data=artifact.bytecode + constructor, gas=5_000_000)
    deployed = w3.eth.wait_for_transaction_receipt(deploy_tx, timeout=60)
    contract = bytes.fromhex(deployed["contractAddress"][2:])
    anchor_tx = sender.send(to=contract, data=anchor_call(1, ROOT_1, []), gas=ANCHOR_GAS)
    assert w3.eth.wait_for_transaction_receipt(anchor_tx, timeout=60)["status"] == 1

    proof = collect_anchor_proof(w3, anchor_tx, contract=contract)

    # The validator set, as an operator would configure it: from the genesis extraData.
    genesis_extra = bytes.fromhex(rpc(w3, "eth_getBlockByNumber", ["0x0", False])["extraData"][2:])
    signers = genesis_extra[32:-65]
    validators = [signers[i : i + 20] for i in range(0, len(signers), 20)]
    assert validators
    result = verify_anchor_proof(proof, ChainTrust.sealed(chain_id, validators, contract))
    assert result.seal.is_sealed and result.seal.signer in validators
    assert (result.anchor_index, result.tree_size, result.root_hash) == (0, 1, ROOT_1)
    with pytest.raises(SealError):
        verify_anchor_proof(proof, ChainTrust.sealed(chain_id, [b"\x01" * 20], contract))


def _trust_of(w3: Web3, contract: bytes, **transaction_trust: Any) -> ChainTrust:
    """Sealed by the validators of the genesis extraData (embedded chain), else unsafe."""
    chain_id = w3.eth.chain_id
    genesis_extra = bytes.fromhex(rpc(w3, "eth_getBlockByNumber", ["0x0", False])["extraData"][2:])
    signers = genesis_extra[32:-65]
    if not signers:  # Hardhat: no validators, no seals
        return ChainTrust.unsafe_unsealed(chain_id, contract, **transaction_trust)
    validators = [signers[i : i + 20] for i in range(0, len(signers), 20)]
    return ChainTrust.sealed(chain_id, validators, contract, **transaction_trust)


@pytest.mark.integration
def test_client_anchor_proves_chain_id_and_anchoring_account(
    chain_endpoint: tuple[str, str], tmp_path: Path
) -> None:
    """The anchoring client's own EIP-1559 transaction, on the embedded node and on Hardhat."""
    url, key = chain_endpoint
    client = LedgerClient(url, key)
    client.ensure_deployed(JsonDeploymentStore(tmp_path / "deployments.json"))
    contract = client.contract_address
    assert contract is not None
    anchored = client.anchor(1, ROOT_1, [])
    proof = collect_anchor_proof(
        client.w3, anchored.tx_hash, contract=contract, with_transaction=True
    )
    assert proof.transaction is not None and proof.transaction[0] == 2  # EIP-1559
    account = bytes.fromhex(client.account.address[2:])

    restored = AnchorProof.from_json(json.loads(json.dumps(proof.to_json())))
    trust = _trust_of(client.w3, contract, anchoring_account=account, require_transaction=True)
    result = verify_anchor_proof(restored, trust)
    assert result.anchoring_account == account == result.anchorer
    assert result.seal.is_sealed == trust.require_seal
    assert (result.tree_size, result.root_hash) == (1, ROOT_1)

    with pytest.raises(AnchoringAccountMismatchError) as info:
        verify_anchor_proof(restored, replace(trust, anchoring_account=b"\x01" * 20))
    assert account.hex() in str(info.value) and "01" * 20 in str(info.value)
    # The same block relabelled as another chain's: neither the header nor its seal nor the
    # receipt names the chain, the signed transaction does.
    relabelled = replace(restored, chain_id=trust.chain_id + 1)
    other_chain = replace(trust, chain_id=trust.chain_id + 1)
    without = verify_anchor_proof(
        relabelled.without_transaction(), replace(other_chain, require_transaction=False)
    )
    assert without.chain_id == trust.chain_id + 1  # without the transaction: not detected
    with pytest.raises(TransactionChainIdError) as chain_info:
        verify_anchor_proof(relabelled, other_chain)
    assert (chain_info.value.trusted_chain_id, chain_info.value.transaction_chain_id) == (
        trust.chain_id + 1,
        trust.chain_id,
    )
