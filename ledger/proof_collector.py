"""Collect an offline :class:`~ledger.anchor_proof.AnchorProof` from an Ethereum JSON-RPC node.

This is the I/O side of anchor proofs: it asks a node for the anchoring transaction's
receipt, its block header and every receipt of that block, re-encodes them in consensus
form, and checks each step against the hashes the node itself committed to (block hash,
receiptsRoot) before building the proof. The result is then verified structurally with
:func:`~ledger.anchor_proof.verify_anchor_proof` under an unsealed trust (the collector
has no trust of its own: the reader of the proof brings it).

Requests go straight to the provider (``w3.provider.make_request``), not through web3's
middleware and result formatters: we need the node's raw JSON to re-encode it, and web3's
validation middleware rejects Clique extraData longer than 32 bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import rlp
from trie.hexary import HexaryTrie
from web3 import Web3
from web3.exceptions import Web3Exception
from web3.types import RPCEndpoint

from ledger.anchor_proof import (
    TREE_HEAD_ANCHORED_TOPIC,
    AnchorProof,
    ChainTrust,
    header_block_hash,
    receipt_from_proof,
    verify_anchor_proof,
)
from ledger.errors import (
    AnchorEventNotFound,
    BlockTooLargeError,
    ClientError,
    ContractError,
    HeaderReencodingError,
    NodeDataError,
    NodeUnavailable,
    ReceiptsRootMismatchError,
    TransactionNotFound,
)

#: Most transactions in a block whose receipts we fetch to rebuild its receipts trie.
#: 10 000 is above any block that fits in a 30-60 Mgas limit (at 21 000 gas per transfer).
MAX_BLOCK_TRANSACTIONS: Final = 10_000

#: Receipts requested per JSON-RPC batch (nodes commonly cap batches at 100-1000 calls).
RECEIPT_BATCH_SIZE: Final = 100

_BYTES32: Final = 32
_ADDRESS: Final = 20
_BLOOM: Final = 256
_NONCE: Final = 8

#: Header fields every block has, in RLP order, with their encoding (int or byte length).
_CLASSIC_HEADER_FIELDS: Final[tuple[tuple[str, int | None], ...]] = (
    ("parentHash", _BYTES32),
    ("sha3Uncles", _BYTES32),
    ("miner", _ADDRESS),
    ("stateRoot", _BYTES32),
    ("transactionsRoot", _BYTES32),
    ("receiptsRoot", _BYTES32),
    ("logsBloom", _BLOOM),
    ("difficulty", None),
    ("number", None),
    ("gasLimit", None),
    ("gasUsed", None),
    ("timestamp", None),
    ("extraData", -1),
    ("mixHash", _BYTES32),
    ("nonce", _NONCE),
)

#: Fork fields appended after the classic ones, in canonical order (London .. Prague).
_FORK_HEADER_FIELDS: Final[tuple[tuple[str, int | None], ...]] = (
    ("baseFeePerGas", None),  # London (EIP-1559)
    ("withdrawalsRoot", _BYTES32),  # Shanghai (EIP-4895)
    ("blobGasUsed", None),  # Cancun (EIP-4844)
    ("excessBlobGas", None),  # Cancun (EIP-4844)
    ("parentBeaconBlockRoot", _BYTES32),  # Cancun (EIP-4788)
    ("requestsHash", _BYTES32),  # Prague (EIP-7685)
)

_VARIABLE: Final = -1


# --- JSON-RPC --------------------------------------------------------------------------------


def _result(method: str, response: Any) -> Any:
    if not isinstance(response, Mapping):
        raise NodeDataError(f"{method}: response is not a JSON object")
    if response.get("error") is not None:
        raise ClientError(f"{method} failed: {response['error']}")
    if "result" not in response:
        raise NodeDataError(f"{method}: response has neither result nor error")
    return response["result"]


def _call(w3: Web3, method: str, params: list[Any]) -> Any:
    try:
        response = w3.provider.make_request(RPCEndpoint(method), params)
    except OSError as exc:  # requests' exceptions are OSErrors too
        raise NodeUnavailable(f"{method}: {exc}") from exc
    except (Web3Exception, ValueError) as exc:
        raise ClientError(f"{method}: {exc}") from exc
    return _result(method, response)


def _batch(w3: Web3, method: str, params: Sequence[list[Any]]) -> list[Any]:
    """One batch of calls of ``method``; sequential calls if the provider cannot batch."""
    requests = [(RPCEndpoint(method), p) for p in params]
    try:
        responses = w3.provider.make_batch_request(requests)  # type: ignore[attr-defined]
    except (NotImplementedError, AttributeError):
        return [_call(w3, method, p) for p in params]
    except OSError as exc:
        raise NodeUnavailable(f"{method} batch: {exc}") from exc
    except (Web3Exception, ValueError) as exc:
        raise ClientError(f"{method} batch: {exc}") from exc
    if not isinstance(responses, list):  # a single error object for the whole batch
        _result(method, responses)
        raise NodeDataError(f"{method} batch: response is not a list")
    if len(responses) != len(params):
        raise NodeDataError(f"{method} batch: {len(responses)} answers to {len(params)} calls")
    return [_result(method, response) for response in responses]


# --- JSON to consensus encoding ----------------------------------------------------------


def _quantity(name: str, value: Any) -> int:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) < 3:
        raise NodeDataError(f"{name} is not a hex quantity: {value!r}")
    try:
        return int(value, 16)
    except ValueError as exc:
        raise NodeDataError(f"{name} is not a hex quantity: {value!r}") from exc


def _data(name: str, value: Any, length: int | None = None) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) % 2:
        raise NodeDataError(f"{name} is not hex data: {value!r}")
    try:
        data = bytes.fromhex(value[2:])
    except ValueError as exc:
        raise NodeDataError(f"{name} is not hex data: {value!r}") from exc
    if length is not None and len(data) != length:
        raise NodeDataError(f"{name} is {len(data)} bytes, expected {length}")
    return data


def _uint_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _header_field(block: Mapping[str, Any], name: str, kind: int | None) -> bytes:
    if kind is None:
        return _uint_bytes(_quantity(name, block[name]))
    return _data(name, block[name], None if kind == _VARIABLE else kind)


def encode_header_json(block: Mapping[str, Any]) -> bytes:
    """The consensus RLP of a block header from its JSON-RPC block object.

    The 15 classic fields, then each fork field present (non-null) in canonical order;
    a fork field present after an absent one cannot be encoded.

    :raises NodeDataError: a field is missing or malformed.
    """
    fields = []
    for name, kind in _CLASSIC_HEADER_FIELDS:
        if block.get(name) is None:
            raise NodeDataError(f"block has no {name}")
        fields.append(_header_field(block, name, kind))
    absent: str | None = None
    for name, kind in _FORK_HEADER_FIELDS:
        if block.get(name) is None:
            absent = absent or name
            continue
        if absent is not None:
            raise NodeDataError(f"block has {name} but not the earlier fork field {absent}")
        fields.append(_header_field(block, name, kind))
    return rlp.encode(fields)  # type: ignore[no-any-return]


def encode_receipt_json(receipt: Mapping[str, Any]) -> bytes:
    """The consensus encoding of a receipt (as stored in the receipts trie) from its JSON.

    Legacy (type 0): ``rlp([status, cumulativeGasUsed, logsBloom, logs])``; typed:
    ``type byte || rlp(...)``. Pre-Byzantium receipts carry a ``root`` instead of a status.

    :raises NodeDataError: a field is missing or malformed.
    """
    if receipt.get("status") is not None:
        status = _uint_bytes(_quantity("status", receipt["status"]))
    elif receipt.get("root") is not None:
        status = _data("root", receipt["root"], _BYTES32)
    else:
        raise NodeDataError("receipt has neither status nor root")
    logs_json = receipt.get("logs")
    if not isinstance(logs_json, list):
        raise NodeDataError("receipt logs are not a list")
    logs = []
    for log in logs_json:
        if not isinstance(log, Mapping) or not isinstance(log.get("topics"), list):
            raise NodeDataError("receipt log is not an object with topics")
        logs.append(
            [
                _data("log address", log.get("address"), _ADDRESS),
                [_data("log topic", topic, _BYTES32) for topic in log["topics"]],
                _data("log data", log.get("data")),
            ]
        )
    payload: bytes = rlp.encode(
        [
            status,
            _uint_bytes(_quantity("cumulativeGasUsed", receipt.get("cumulativeGasUsed"))),
            _data("logsBloom", receipt.get("logsBloom"), _BLOOM),
            logs,
        ]
    )
    tx_type = _quantity("type", receipt["type"]) if receipt.get("type") is not None else 0
    if tx_type == 0:
        return payload
    if not 1 <= tx_type <= 0x7F:
        raise NodeDataError(f"receipt has an invalid transaction type {tx_type}")
    return bytes([tx_type]) + payload


# --- Collection --------------------------------------------------------------------------------


def _fetch_receipts(w3: Web3, tx_hashes: Sequence[str]) -> list[Any]:
    receipts: list[Any] = []
    for start in range(0, len(tx_hashes), RECEIPT_BATCH_SIZE):
        chunk = tx_hashes[start : start + RECEIPT_BATCH_SIZE]
        receipts.extend(_batch(w3, "eth_getTransactionReceipt", [[h] for h in chunk]))
    return receipts


def _receipts_trie_proof(
    block_hash: bytes, receipts_root: bytes, encoded: Sequence[bytes], tx_index: int
) -> tuple[bytes, ...]:
    trie = HexaryTrie({})
    for index, receipt in enumerate(encoded):
        trie.set(rlp.encode(index), receipt)  # type: ignore[no-untyped-call]
    if trie.root_hash != receipts_root:
        raise ReceiptsRootMismatchError(block_hash, receipts_root, trie.root_hash)
    raw_nodes = trie.get_proof(rlp.encode(tx_index))  # type: ignore[no-untyped-call]
    nodes = [rlp.encode(node) for node in raw_nodes]
    # Nodes shorter than 32 bytes are embedded in their parent, not referenced by hash.
    return (nodes[0], *(node for node in nodes[1:] if len(node) >= 32))


def _anchor_log_index(receipt: Mapping[str, Any], tx_hash: bytes, contract: bytes) -> int:
    """Index (within the receipt) of the first TreeHeadAnchored log emitted by ``contract``."""
    for index, log in enumerate(receipt["logs"]):
        topics = log["topics"]
        if (
            _data("log address", log["address"]) == contract
            and topics
            and _data("log topic", topics[0]) == TREE_HEAD_ANCHORED_TOPIC
        ):
            return index
    raise AnchorEventNotFound(tx_hash, contract)


def _checked(what: str, got: Any, want: Any, convert: Callable[[str, Any], Any]) -> None:
    if convert(what, got) != want:
        raise NodeDataError(f"{what} is {got!r}, expected {want!r}")


def collect_anchor_proof(w3: Web3, tx_hash: bytes, *, contract: bytes) -> AnchorProof:
    """Build the offline proof of the TreeHeadAnchored event that ``tx_hash`` emitted.

    :param contract: 20-byte address of the anchoring contract; the proof names the first
        TreeHeadAnchored log from it in the transaction's receipt.
    :raises TransactionNotFound: the node knows no mined transaction ``tx_hash``.
    :raises AnchorEventNotFound: the receipt has no TreeHeadAnchored log from ``contract``.
    :raises BlockTooLargeError: the block has more than MAX_BLOCK_TRANSACTIONS transactions.
    :raises NodeDataError: the node's JSON is malformed or does not re-encode to the block
        hash (:class:`HeaderReencodingError`) or receiptsRoot
        (:class:`ReceiptsRootMismatchError`), e.g. after a reorganisation mid-collection.
    :raises NodeUnavailable: the node cannot be reached or times out.
    :raises ClientError: the node answered with an error.
    :raises AnchorProofError: the collected proof does not verify structurally (e.g. the
        event is malformed).
    """
    if len(tx_hash) != _BYTES32 or len(contract) != _ADDRESS:
        raise ValueError("tx_hash must be 32 bytes and contract 20 bytes")
    receipt = _call(w3, "eth_getTransactionReceipt", ["0x" + tx_hash.hex()])
    if receipt is None or (isinstance(receipt, Mapping) and receipt.get("blockHash") is None):
        raise TransactionNotFound(tx_hash)
    if not isinstance(receipt, Mapping):
        raise NodeDataError("eth_getTransactionReceipt: result is not an object")
    encode_receipt_json(receipt)  # checks the shape of the logs searched below
    if receipt.get("status") is not None and _quantity("status", receipt["status"]) != 1:
        raise ContractError(f"anchoring transaction 0x{tx_hash.hex()} reverted")
    log_index = _anchor_log_index(receipt, tx_hash, contract)
    block_hash = _data("blockHash", receipt["blockHash"], _BYTES32)
    tx_index = _quantity("transactionIndex", receipt.get("transactionIndex"))

    block = _call(w3, "eth_getBlockByHash", ["0x" + block_hash.hex(), False])
    if block is None:
        raise NodeDataError(f"block {block_hash.hex()} of the receipt is unknown (reorg?)")
    header_rlp = encode_header_json(block)
    # QBFT names a block by the header without its round and committed seals.
    calculated_hash = header_block_hash(header_rlp)
    if calculated_hash != block_hash:
        raise HeaderReencodingError(block_hash, calculated_hash)
    tx_hashes = block.get("transactions")
    if not isinstance(tx_hashes, list) or not all(isinstance(h, str) for h in tx_hashes):
        raise NodeDataError("block transactions are not a list of hashes")
    if len(tx_hashes) > MAX_BLOCK_TRANSACTIONS:
        raise BlockTooLargeError(block_hash, len(tx_hashes), MAX_BLOCK_TRANSACTIONS)
    if not tx_index < len(tx_hashes) or _data("tx", tx_hashes[tx_index]) != tx_hash:
        raise NodeDataError(f"block does not hold transaction {tx_hash.hex()} at {tx_index}")

    receipts = _fetch_receipts(w3, tx_hashes)
    for index, block_receipt in enumerate(receipts):
        if not isinstance(block_receipt, Mapping):
            raise NodeDataError(f"receipt {index} of block {block_hash.hex()} is missing")
        _checked("receipt blockHash", block_receipt.get("blockHash"), block_hash, _data)
        _checked(
            "receipt transactionIndex", block_receipt.get("transactionIndex"), index, _quantity
        )
    encoded = [encode_receipt_json(r) for r in receipts]
    receipts_root = _data("receiptsRoot", block["receiptsRoot"], _BYTES32)
    proof_nodes = _receipts_trie_proof(block_hash, receipts_root, encoded, tx_index)
    if receipt_from_proof(receipts_root, tx_index, proof_nodes) != encoded[tx_index]:
        raise NodeDataError("receipt proof does not prove the receipt")  # a bug of ours

    proof = AnchorProof(
        chain_id=_quantity("chainId", _call(w3, "eth_chainId", [])),
        contract=contract,
        tx_hash=tx_hash,
        block_number=_quantity("number", block["number"]),
        block_hash=block_hash,
        header_rlp=header_rlp,
        tx_index=tx_index,
        receipt=encoded[tx_index],
        receipt_proof=proof_nodes,
        log_index=log_index,
    )
    verify_anchor_proof(proof, ChainTrust.unsafe_unsealed(proof.chain_id, contract))
    return proof
