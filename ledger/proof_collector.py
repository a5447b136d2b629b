"""Collect an offline :class:`~ledger.anchor_proof.AnchorProof` from an Ethereum JSON-RPC node.

This is the I/O side of anchor proofs: it asks a node for the anchoring transaction's
receipt, its block header and every receipt of that block, re-encodes them in consensus
form, and checks each step against the hashes the node itself committed to (block hash,
receiptsRoot) before building the proof. With ``with_transaction=True`` it also takes the
block's transactions (``eth_getBlockByHash`` with full transactions: neither the embedded
node nor Hardhat answers ``eth_getRawTransactionByHash``), re-encodes each one from its JSON,
checks it against its hash and all of them against transactionsRoot, and adds the anchoring
transaction and its transactions-trie proof (an anchor proof with transaction). The result
is then verified structurally with :func:`~ledger.anchor_proof.verify_anchor_proof` under
an unsealed trust (the collector has no trust of its own: the reader of the proof brings it).

Requests go straight to the provider (``w3.provider.make_request``), not through web3's
middleware and result formatters: we need the node's raw JSON to re-encode it, and web3's
validation middleware rejects Clique extraData longer than 32 bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import rlp
from eth_hash.auto import keccak
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
    value_from_proof,
    verify_anchor_proof,
    verify_proven_log,
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
    TransactionReencodingError,
    TransactionsRootMismatchError,
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


def _access_list_json(value: Any) -> list[list[Any]]:
    if not isinstance(value, list):
        raise NodeDataError(f"transaction accessList is not a list: {value!r}")
    entries = []
    for entry in value:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("storageKeys"), list):
            raise NodeDataError("transaction accessList entry is not {address, storageKeys}")
        entries.append(
            [
                _data("accessList address", entry.get("address"), _ADDRESS),
                [_data("accessList storage key", k, _BYTES32) for k in entry["storageKeys"]],
            ]
        )
    return entries


def encode_transaction_json(tx: Mapping[str, Any]) -> bytes:
    """The consensus encoding of a signed transaction (as in the transactions trie, and
    hashed to its hash) from its JSON-RPC transaction object.

    Legacy (type 0): ``rlp([nonce, gasPrice, gas, to, value, input, v, r, s])``; type 1
    (EIP-2930) and type 2 (EIP-1559): ``type byte || rlp([chainId, ..., accessList,
    yParity, r, s])``, ``yParity`` read from ``yParity`` or, if absent (Hardhat), ``v``.

    :raises NodeDataError: a field is missing or malformed, or the type is not 0, 1 or 2.
    """

    def uint(name: str) -> bytes:
        return _uint_bytes(_quantity(name, tx.get(name)))

    tx_type = _quantity("type", tx["type"]) if tx.get("type") is not None else 0
    to = b"" if tx.get("to") is None else _data("to", tx["to"], _ADDRESS)
    data = _data("input", tx["input"] if tx.get("input") is not None else tx.get("data"))
    if tx_type == 0:
        legacy = [uint("nonce"), uint("gasPrice"), uint("gas"), to, uint("value"), data]
        return rlp.encode([*legacy, uint("v"), uint("r"), uint("s")])  # type: ignore[no-any-return]
    if tx_type not in (1, 2):
        raise NodeDataError(
            f"cannot re-encode a type {tx_type} transaction from JSON (only types 0, 1, 2)"
        )
    y_parity = _quantity("yParity", tx["yParity"]) if tx.get("yParity") is not None else None
    v = _quantity("v", tx["v"]) if tx.get("v") is not None else None
    if y_parity is not None and v is not None and y_parity != v:
        raise NodeDataError(f"transaction yParity {y_parity} and v {v} disagree")
    parity = y_parity if y_parity is not None else v
    if parity is None:
        raise NodeDataError("typed transaction has neither yParity nor v")
    fees = (
        [uint("gasPrice")] if tx_type == 1 else [uint("maxPriorityFeePerGas"), uint("maxFeePerGas")]
    )
    fields = [
        uint("chainId"),
        uint("nonce"),
        *fees,
        uint("gas"),
        to,
        uint("value"),
        data,
        _access_list_json(tx.get("accessList")),
        _uint_bytes(parity),
        uint("r"),
        uint("s"),
    ]
    payload: bytes = rlp.encode(fields)
    return bytes([tx_type]) + payload


# --- Collection --------------------------------------------------------------------------------


def _fetch_receipts(w3: Web3, tx_hashes: Sequence[str]) -> list[Any]:
    receipts: list[Any] = []
    for start in range(0, len(tx_hashes), RECEIPT_BATCH_SIZE):
        chunk = tx_hashes[start : start + RECEIPT_BATCH_SIZE]
        receipts.extend(_batch(w3, "eth_getTransactionReceipt", [[h] for h in chunk]))
    return receipts


def _index_trie_proof(values: Sequence[bytes], index: int) -> tuple[bytes, tuple[bytes, ...]]:
    """``(root, proof of values[index])`` of the trie ``rlp(i) -> values[i]`` of a block
    (its receipts or its transactions)."""
    trie = HexaryTrie({})
    for i, value in enumerate(values):
        trie.set(rlp.encode(i), value)  # type: ignore[no-untyped-call]
    raw_nodes = trie.get_proof(rlp.encode(index))  # type: ignore[no-untyped-call]
    nodes = [rlp.encode(node) for node in raw_nodes]
    # Nodes shorter than 32 bytes are embedded in their parent, not referenced by hash.
    return trie.root_hash, (nodes[0], *(node for node in nodes[1:] if len(node) >= 32))


def _receipts_trie_proof(
    block_hash: bytes, receipts_root: bytes, encoded: Sequence[bytes], tx_index: int
) -> tuple[bytes, ...]:
    calculated_root, nodes = _index_trie_proof(encoded, tx_index)
    if calculated_root != receipts_root:
        raise ReceiptsRootMismatchError(block_hash, receipts_root, calculated_root)
    return nodes


def _block_transactions(block_hash: bytes, transactions: Sequence[Any]) -> list[bytes]:
    """The raw transactions of a block from its JSON transaction objects, each checked
    against its own hash, block and position."""
    encoded = []
    for index, tx in enumerate(transactions):
        _checked("transaction blockHash", tx.get("blockHash"), block_hash, _data)
        _checked("transaction transactionIndex", tx.get("transactionIndex"), index, _quantity)
        tx_hash = _data("transaction hash", tx.get("hash"), _BYTES32)
        raw = encode_transaction_json(tx)
        calculated_hash = keccak(raw)
        if calculated_hash != tx_hash:
            raise TransactionReencodingError(tx_hash, calculated_hash)
        encoded.append(raw)
    return encoded


def _transactions_trie_proof(
    block_hash: bytes, transactions_root: bytes, encoded: Sequence[bytes], tx_index: int
) -> tuple[bytes, ...]:
    calculated_root, nodes = _index_trie_proof(encoded, tx_index)
    if calculated_root != transactions_root:
        raise TransactionsRootMismatchError(block_hash, transactions_root, calculated_root)
    return nodes


def _anchor_log_index(
    receipt: Mapping[str, Any],
    tx_hash: bytes,
    contract: bytes,
    event_topics: tuple[bytes, ...] = (TREE_HEAD_ANCHORED_TOPIC,),
) -> int:
    """Index (within the receipt) of the first log emitted by ``contract`` whose topic0 is one
    of ``event_topics`` (by default: TreeHeadAnchored)."""
    for index, log in enumerate(receipt["logs"]):
        topics = log["topics"]
        if (
            _data("log address", log["address"]) == contract
            and topics
            and _data("log topic", topics[0]) in event_topics
        ):
            return index
    raise AnchorEventNotFound(tx_hash, contract)


def _checked(what: str, got: Any, want: Any, convert: Callable[[str, Any], Any]) -> None:
    if convert(what, got) != want:
        raise NodeDataError(f"{what} is {got!r}, expected {want!r}")


def collect_anchor_proof(
    w3: Web3,
    tx_hash: bytes,
    *,
    contract: bytes,
    with_transaction: bool = False,
    chain_id: int | None = None,
    event_topics: tuple[bytes, ...] = (TREE_HEAD_ANCHORED_TOPIC,),
) -> AnchorProof:
    """Build the offline proof of the TreeHeadAnchored event that ``tx_hash`` emitted (or,
    with ``event_topics``, of the first log of ``contract`` with one of those topic0s: the
    CertificateRegistry's status events).

    :param contract: 20-byte address of the anchoring contract; the proof names the first
        TreeHeadAnchored log from it in the transaction's receipt.
    :param with_transaction: also prove the anchoring transaction itself in the block's
        transactions trie (an anchor proof with transaction, for version 2 receipts).
        Off by default: version 1 receipts and custody exports embed the stored proof as
        it is, and their readers refuse the two extra keys.
    :param chain_id: the node's chain id when the caller knows it already (one request
        less); None: asked.
    :raises TransactionNotFound: the node knows no mined transaction ``tx_hash``.
    :raises AnchorEventNotFound: the receipt has no TreeHeadAnchored log from ``contract``.
    :raises BlockTooLargeError: the block has more than MAX_BLOCK_TRANSACTIONS transactions.
    :raises NodeDataError: the node's JSON is malformed or does not re-encode to the block
        hash (:class:`HeaderReencodingError`), receiptsRoot
        (:class:`ReceiptsRootMismatchError`), a transaction's hash
        (:class:`TransactionReencodingError`) or transactionsRoot
        (:class:`TransactionsRootMismatchError`), e.g. after a reorganisation
        mid-collection, or holds a transaction type that cannot be re-encoded.
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
    log_index = _anchor_log_index(receipt, tx_hash, contract, event_topics)
    block_hash = _data("blockHash", receipt["blockHash"], _BYTES32)
    tx_index = _quantity("transactionIndex", receipt.get("transactionIndex"))

    block = _call(w3, "eth_getBlockByHash", ["0x" + block_hash.hex(), with_transaction])
    if block is None:
        raise NodeDataError(f"block {block_hash.hex()} of the receipt is unknown (reorg?)")
    header_rlp = encode_header_json(block)
    # QBFT names a block by the header without its round and committed seals.
    calculated_hash = header_block_hash(header_rlp)
    if calculated_hash != block_hash:
        raise HeaderReencodingError(block_hash, calculated_hash)
    transactions = block.get("transactions")
    if with_transaction:
        if not isinstance(transactions, list) or not all(
            isinstance(t, Mapping) and isinstance(t.get("hash"), str) for t in transactions
        ):
            raise NodeDataError("block transactions are not a list of transaction objects")
        tx_hashes = [t["hash"] for t in transactions]
    else:
        tx_hashes = transactions
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

    transaction: bytes | None = None
    transaction_nodes: tuple[bytes, ...] | None = None
    if with_transaction:
        raw_transactions = _block_transactions(block_hash, transactions)
        transactions_root = _data("transactionsRoot", block["transactionsRoot"], _BYTES32)
        transaction = raw_transactions[tx_index]
        transaction_nodes = _transactions_trie_proof(
            block_hash, transactions_root, raw_transactions, tx_index
        )
        if value_from_proof(transactions_root, rlp.encode(tx_index), transaction_nodes) != (
            transaction
        ):
            raise NodeDataError("transaction proof does not prove the transaction")  # ours

    proof = AnchorProof(
        chain_id=(
            chain_id if chain_id is not None else _quantity("chainId", _call(w3, "eth_chainId", []))
        ),
        contract=contract,
        tx_hash=tx_hash,
        block_number=_quantity("number", block["number"]),
        block_hash=block_hash,
        header_rlp=header_rlp,
        tx_index=tx_index,
        receipt=encoded[tx_index],
        receipt_proof=proof_nodes,
        log_index=log_index,
        transaction=transaction,
        transaction_proof=transaction_nodes,
    )
    trust = ChainTrust.unsafe_unsealed(
        proof.chain_id, contract, require_transaction=with_transaction
    )
    if event_topics == (TREE_HEAD_ANCHORED_TOPIC,):
        verify_anchor_proof(proof, trust)
    else:  # the caller decodes its own event; the block, receipt and transaction still hold
        verify_proven_log(proof, trust, lambda topics, data: None)
    return proof
