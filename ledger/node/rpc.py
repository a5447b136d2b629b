"""Standard Ethereum JSON-RPC 2.0 over the embedded chain.

What web3.py and ethers need to deploy, transact, call, wait for receipts and read logs.
Malformed requests and unknown methods get JSON-RPC errors; nothing a client sends can
crash the node or change stored data except a valid signed transaction.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import rlp
from eth.abc import BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI
from eth.exceptions import Revert, VMError
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError

from ledger.errors import TransactionRejected
from ledger.jsondepth import json_nesting_depth
from ledger.node.chain import CallParams, EmbeddedChain

log = logging.getLogger(__name__)

CLIENT_VERSION = "Zhenglian/0.1.0/py-evm-0.12"

#: Largest JSON-RPC request body (geth's default HTTP body limit).
MAX_REQUEST_BYTES = 5 * 1024 * 1024
#: Most requests in one JSON-RPC batch.
MAX_BATCH = 100
#: Widest block range one eth_getLogs may scan.
MAX_LOG_BLOCK_RANGE = 10_000
#: Most logs one eth_getLogs may return.
MAX_LOGS = 10_000
#: Most topic alternatives per position in a log filter.
MAX_TOPIC_OPTIONS = 16
#: Deepest JSON nesting accepted in a request. It is checked on the raw bytes before parsing:
#: py-evm raises Python's recursion limit to 100,000, far past what the C stack of json's
#: parser survives, so a deeply nested body would otherwise crash the node.
MAX_JSON_DEPTH = 16
#: Blocks whose formatted receipts (and formatted block) are kept in memory.
RECEIPT_CACHE_BLOCKS = 64
#: Longest eth_feeHistory window.
MAX_FEE_HISTORY = 1024
#: Calls and gas estimates executing at once; further ones wait up to EXECUTION_WAIT seconds.
MAX_CONCURRENT_EXECUTIONS = 2
EXECUTION_WAIT = 5.0
#: Seconds of execution (eth_call, eth_estimateGas) one request body may use: a batch of
#: expensive calls stops there instead of running for minutes.
EXECUTION_BUDGET_SECONDS = 2.0

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000
NOT_AUTHORIZED = -32007  # Besu: sender account not authorized
LIMIT_EXCEEDED = -32005
EXECUTION_ERROR = 3  # reverted calls (geth convention, understood by web3.py and ethers)


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


# --- parameter parsing ------------------------------------------------------------------


def _hex_bytes(value: Any, what: str, length: int | None = None) -> bytes:
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise RpcError(INVALID_PARAMS, f"{what} must be a 0x-prefixed hex string")
    body = value[2:]
    if len(body) % 2:
        raise RpcError(INVALID_PARAMS, f"{what} has an odd number of hex digits")
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        raise RpcError(INVALID_PARAMS, f"{what} is not valid hex") from None
    if length is not None and len(raw) != length:
        raise RpcError(INVALID_PARAMS, f"{what} must be {length} bytes")
    return raw


def _quantity(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**256:
        return value
    if not isinstance(value, str) or not value.startswith(("0x", "0X")) or len(value) > 66:
        raise RpcError(INVALID_PARAMS, f"{what} must be a hex quantity")
    try:
        return int(value[2:] or "0", 16)
    except ValueError:
        raise RpcError(INVALID_PARAMS, f"{what} is not a hex quantity") from None


def _address(value: Any, what: str) -> bytes:
    return _hex_bytes(value, what, 20)


def _hash(value: Any, what: str) -> bytes:
    return _hex_bytes(value, what, 32)


def _q(n: int) -> str:
    return hex(n)


def _h(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def _params(params: list[Any], n_required: int, n_max: int, method: str) -> list[Any]:
    if not n_required <= len(params) <= n_max:
        raise RpcError(
            INVALID_PARAMS, f"{method} takes {n_required}..{n_max} params, got {len(params)}"
        )
    return params + [None] * (n_max - len(params))


# --- the dispatcher ---------------------------------------------------------------------


class JsonRpcDispatcher:
    def __init__(self, chain: EmbeddedChain) -> None:
        self.chain = chain
        self._receipts_cache: dict[bytes, list[dict[str, Any]]] = {}
        self._blocks_cache: dict[tuple[bytes, bool], dict[str, Any]] = {}
        self._cache_lock = threading.Lock()
        self._executions = threading.BoundedSemaphore(MAX_CONCURRENT_EXECUTIONS)
        self._spent = threading.local()
        self.methods: dict[str, Callable[[list[Any]], Any]] = {
            "web3_clientVersion": lambda p: CLIENT_VERSION,
            "web3_sha3": self.web3_sha3,
            "net_version": lambda p: str(chain.chain_id),
            "net_listening": lambda p: True,
            "net_peerCount": lambda p: "0x0",
            "eth_chainId": lambda p: _q(chain.chain_id),
            "eth_syncing": lambda p: False,
            "eth_mining": lambda p: True,
            "eth_accounts": lambda p: [],
            "eth_coinbase": lambda p: to_checksum_address(chain.validators[0]),
            "eth_blockNumber": lambda p: _q(chain.head().block_number),
            "eth_gasPrice": lambda p: _q(_base_fee(chain.head())),
            "eth_maxPriorityFeePerGas": lambda p: "0x0",
            "eth_feeHistory": self.eth_feeHistory,
            "eth_getBlockByNumber": self.eth_getBlockByNumber,
            "eth_getBlockByHash": self.eth_getBlockByHash,
            "eth_getBlockTransactionCountByNumber": self.eth_getBlockTransactionCountByNumber,
            "eth_getBlockTransactionCountByHash": self.eth_getBlockTransactionCountByHash,
            "eth_getTransactionByHash": self.eth_getTransactionByHash,
            "eth_getTransactionByBlockNumberAndIndex": self.eth_getTransactionByBlockNumberAndIndex,
            "eth_getTransactionByBlockHashAndIndex": self.eth_getTransactionByBlockHashAndIndex,
            "eth_getTransactionReceipt": self.eth_getTransactionReceipt,
            "eth_getBlockReceipts": self.eth_getBlockReceipts,
            "eth_getTransactionCount": self.eth_getTransactionCount,
            "eth_getBalance": self.eth_getBalance,
            "eth_getCode": self.eth_getCode,
            "eth_getStorageAt": self.eth_getStorageAt,
            "eth_sendRawTransaction": self.eth_sendRawTransaction,
            "eth_call": self.eth_call,
            "eth_estimateGas": self.eth_estimateGas,
            "eth_getLogs": self.eth_getLogs,
            "eth_getUncleCountByBlockNumber": lambda p: "0x0",
            "eth_getUncleCountByBlockHash": lambda p: "0x0",
        }

    # --- transport-independent entry point ---------------------------------------------

    def handle_body(self, body: bytes) -> bytes | None:
        """Answer a raw request body; None for a notification-only request (no reply)."""
        self._spent.seconds = 0.0  # the body's execution budget (EXECUTION_BUDGET_SECONDS)
        try:
            if len(body) > MAX_REQUEST_BYTES:
                raise RpcError(LIMIT_EXCEEDED, f"request larger than {MAX_REQUEST_BYTES} bytes")
            try:
                # Decoded here, as UTF-8 only: json.loads would guess UTF-16/32 from the bytes,
                # and in those a character's bytes may look like a quote or bracket to the scan.
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise RpcError(PARSE_ERROR, "parse error: body is not UTF-8") from None
            if json_nesting_depth(body) > MAX_JSON_DEPTH:
                raise RpcError(INVALID_REQUEST, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            try:
                payload = json.loads(text)
            except ValueError:
                raise RpcError(PARSE_ERROR, "parse error: body is not JSON") from None
        except RpcError as exc:
            return json.dumps(self._error(None, exc)).encode()
        if isinstance(payload, list):
            if not payload:
                return json.dumps(
                    self._error(None, RpcError(INVALID_REQUEST, "empty batch"))
                ).encode()
            if len(payload) > MAX_BATCH:
                err = RpcError(LIMIT_EXCEEDED, f"batch larger than {MAX_BATCH} requests")
                return json.dumps(self._error(None, err)).encode()
            replies = [r for r in (self.handle_one(p) for p in payload) if r is not None]
            return json.dumps(replies).encode() if replies else None
        reply = self.handle_one(payload)
        return None if reply is None else json.dumps(reply).encode()

    def handle_one(self, req: Any) -> dict[str, Any] | None:
        if not isinstance(req, dict):
            return self._error(None, RpcError(INVALID_REQUEST, "request must be an object"))
        req_id = req.get("id")
        valid_id = isinstance(req_id, (str, int)) and not isinstance(req_id, bool)
        if not (req_id is None or valid_id):
            return self._error(None, RpcError(INVALID_REQUEST, "id must be a string or number"))
        method = req.get("method")
        params = req.get("params", [])
        is_notification = "id" not in req
        try:
            if req.get("jsonrpc") != "2.0":
                raise RpcError(INVALID_REQUEST, 'jsonrpc must be "2.0"')
            if not isinstance(method, str):
                raise RpcError(INVALID_REQUEST, "method must be a string")
            if params is None:
                params = []
            if not isinstance(params, list):
                raise RpcError(INVALID_PARAMS, "params must be an array")
            fn = self.methods.get(method)
            if fn is None:
                raise RpcError(METHOD_NOT_FOUND, f"the method {method[:64]} does not exist")
            result = fn(params)
        except RpcError as exc:
            return None if is_notification else self._error(req_id, exc)
        except Exception:
            log.exception("JSON-RPC %s failed", str(method)[:64])
            err = RpcError(INTERNAL_ERROR, "internal error")
            return None if is_notification else self._error(req_id, err)
        return None if is_notification else {"jsonrpc": "2.0", "id": req_id, "result": result}

    @staticmethod
    def _error(req_id: Any, exc: RpcError) -> dict[str, Any]:
        error: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.data is not None:
            error["data"] = exc.data
        return {"jsonrpc": "2.0", "id": req_id, "error": error}

    # --- block selection ---------------------------------------------------------------

    def _header(self, tag: Any) -> BlockHeaderAPI:
        if tag is None or tag in ("latest", "pending", "safe", "finalized"):
            return self.chain.head()
        if tag == "earliest":
            number = 0
        elif isinstance(tag, dict):
            if "blockHash" in tag:
                header = self.chain.header_by_hash(_hash(tag["blockHash"], "blockHash"))
                if header is None:
                    raise RpcError(SERVER_ERROR, "header not found")
                return header
            number = _quantity(tag.get("blockNumber"), "blockNumber")
        else:
            number = _quantity(tag, "block number")
        header = self.chain.header_by_number(number)
        if header is None:
            raise RpcError(SERVER_ERROR, "header not found")
        return header

    def _maybe_header(self, tag: Any) -> BlockHeaderAPI | None:
        try:
            return self._header(tag)
        except RpcError as exc:
            if exc.code == SERVER_ERROR:
                return None
            raise

    # --- formatting --------------------------------------------------------------------

    def _format_tx(
        self, tx: SignedTransactionAPI, header: BlockHeaderAPI | None, index: int | None
    ) -> dict[str, Any]:
        type_id = getattr(tx, "type_id", None) or 0
        out: dict[str, Any] = {
            "hash": _h(tx.hash),
            "type": _q(type_id),
            "nonce": _q(tx.nonce),
            "blockHash": None if header is None else _h(header.hash),
            "blockNumber": None if header is None else _q(header.block_number),
            "transactionIndex": None if index is None else _q(index),
            "from": to_checksum_address(tx.sender),
            "to": to_checksum_address(tx.to) if tx.to else None,
            "value": _q(tx.value),
            "gas": _q(tx.gas),
            "input": _h(tx.data),
            "r": _q(tx.r),
            "s": _q(tx.s),
        }
        if type_id == 0:
            out["gasPrice"] = _q(tx.gas_price)
            out["v"] = _q(getattr(tx, "v", 0))
            if tx.chain_id is not None:
                out["chainId"] = _q(tx.chain_id)
        else:
            out["chainId"] = _q(tx.chain_id or 0)
            out["v"] = _q(tx.y_parity)
            out["yParity"] = _q(tx.y_parity)
            out["accessList"] = [
                {
                    "address": to_checksum_address(a),
                    "storageKeys": [_h(k.to_bytes(32, "big")) for k in keys],
                }
                for a, keys in tx.access_list
            ]
            if type_id == 1:
                out["gasPrice"] = _q(tx.gas_price)
            else:
                base = 0 if header is None else _base_fee(header)
                out["maxFeePerGas"] = _q(tx.max_fee_per_gas)
                out["maxPriorityFeePerGas"] = _q(tx.max_priority_fee_per_gas)
                out["gasPrice"] = _q(min(tx.max_fee_per_gas, base + tx.max_priority_fee_per_gas))
        return out

    def _format_block(self, header: BlockHeaderAPI, full: bool) -> dict[str, Any]:
        key = (bytes(header.hash), full)
        cached = self._blocks_cache.get(key)
        if cached is None:
            cached = self._format_block_uncached(header, full)
            with self._cache_lock:
                self._blocks_cache[key] = cached
                while len(self._blocks_cache) > RECEIPT_CACHE_BLOCKS:
                    self._blocks_cache.pop(next(iter(self._blocks_cache)))
        return cached

    def _format_block_uncached(self, header: BlockHeaderAPI, full: bool) -> dict[str, Any]:
        txs = self.chain.transactions(header)
        return {
            "number": _q(header.block_number),
            "hash": _h(header.hash),
            "parentHash": _h(header.parent_hash),
            "nonce": _h(header.nonce),
            "mixHash": _h(header.mix_hash),
            "sha3Uncles": _h(header.uncles_hash),
            "logsBloom": _h(header.bloom.to_bytes(256, "big")),
            "transactionsRoot": _h(header.transaction_root),
            "stateRoot": _h(header.state_root),
            "receiptsRoot": _h(header.receipt_root),
            "miner": to_checksum_address(header.coinbase),
            "difficulty": _q(header.difficulty),
            "totalDifficulty": _q(self.chain.score(header.hash)),
            "extraData": _h(header.extra_data),
            "size": _q(self.chain.block_size(header)),
            "gasLimit": _q(header.gas_limit),
            "gasUsed": _q(header.gas_used),
            "timestamp": _q(header.timestamp),
            "baseFeePerGas": _q(_base_fee(header)),
            "transactions": [
                self._format_tx(tx, header, i) if full else _h(tx.hash) for i, tx in enumerate(txs)
            ],
            "uncles": [],
        }

    def _format_receipts(self, header: BlockHeaderAPI) -> list[dict[str, Any]]:
        # Blocks never change once sealed, so their formatted receipts are cached by hash
        # (formatting recovers every sender, which is the expensive part).
        key = bytes(header.hash)
        cached = self._receipts_cache.get(key)
        if cached is None:
            cached = self._format_receipts_uncached(header)
            with self._cache_lock:
                self._receipts_cache[key] = cached
                while len(self._receipts_cache) > RECEIPT_CACHE_BLOCKS:
                    self._receipts_cache.pop(next(iter(self._receipts_cache)))
        return cached

    def _format_receipts_uncached(self, header: BlockHeaderAPI) -> list[dict[str, Any]]:
        txs = self.chain.transactions(header)
        receipts = self.chain.receipts(header)
        out = []
        log_index = 0
        previous_gas = 0
        for i, (tx, receipt) in enumerate(zip(txs, receipts, strict=True)):
            out.append(self._format_receipt(header, i, tx, receipt, previous_gas, log_index))
            log_index += len(receipt.logs)
            previous_gas = receipt.gas_used
        return out

    def _format_receipt(
        self,
        header: BlockHeaderAPI,
        index: int,
        tx: SignedTransactionAPI,
        receipt: ReceiptAPI,
        previous_gas: int,
        first_log_index: int,
    ) -> dict[str, Any]:
        type_id = getattr(tx, "type_id", None) or 0
        sender = tx.sender
        if type_id == 2:
            price = min(tx.max_fee_per_gas, _base_fee(header) + tx.max_priority_fee_per_gas)
        else:
            price = tx.gas_price
        contract = None
        if not tx.to:
            contract = to_checksum_address(keccak(rlp.encode([sender, tx.nonce]))[12:])
        common = {
            "transactionHash": _h(tx.hash),
            "transactionIndex": _q(index),
            "blockHash": _h(header.hash),
            "blockNumber": _q(header.block_number),
        }
        return {
            **common,
            "from": to_checksum_address(sender),
            "to": to_checksum_address(tx.to) if tx.to else None,
            "type": _q(type_id),
            "cumulativeGasUsed": _q(receipt.gas_used),
            "gasUsed": _q(receipt.gas_used - previous_gas),
            "effectiveGasPrice": _q(price),
            "contractAddress": contract,
            "logs": [
                {
                    **common,
                    "address": to_checksum_address(entry.address),
                    "topics": [_h(t.to_bytes(32, "big")) for t in entry.topics],
                    "data": _h(entry.data),
                    "logIndex": _q(first_log_index + j),
                    "removed": False,
                }
                for j, entry in enumerate(receipt.logs)
            ],
            "logsBloom": _h(receipt.bloom.to_bytes(256, "big")),
            "status": "0x1" if receipt.state_root == b"\x01" else "0x0",
        }

    # --- methods -----------------------------------------------------------------------

    def web3_sha3(self, params: list[Any]) -> str:
        (data,) = _params(params, 1, 1, "web3_sha3")
        return _h(keccak(_hex_bytes(data, "data")))

    def eth_getBlockByNumber(self, params: list[Any]) -> dict[str, Any] | None:
        tag, full = _params(params, 1, 2, "eth_getBlockByNumber")
        header = self._maybe_header(tag)
        return None if header is None else self._format_block(header, bool(full))

    def eth_getBlockByHash(self, params: list[Any]) -> dict[str, Any] | None:
        block_hash, full = _params(params, 1, 2, "eth_getBlockByHash")
        header = self.chain.header_by_hash(_hash(block_hash, "block hash"))
        return None if header is None else self._format_block(header, bool(full))

    def eth_getBlockTransactionCountByNumber(self, params: list[Any]) -> str | None:
        (tag,) = _params(params, 1, 1, "eth_getBlockTransactionCountByNumber")
        header = self._maybe_header(tag)
        return None if header is None else _q(len(self.chain.transactions(header)))

    def eth_getBlockTransactionCountByHash(self, params: list[Any]) -> str | None:
        (block_hash,) = _params(params, 1, 1, "eth_getBlockTransactionCountByHash")
        header = self.chain.header_by_hash(_hash(block_hash, "block hash"))
        return None if header is None else _q(len(self.chain.transactions(header)))

    def eth_getTransactionByHash(self, params: list[Any]) -> dict[str, Any] | None:
        (tx_hash,) = _params(params, 1, 1, "eth_getTransactionByHash")
        raw_hash = _hash(tx_hash, "transaction hash")
        loc = self.chain.locate_transaction(raw_hash)
        if loc is None:
            pending = self.chain.pending_transaction(raw_hash)
            return None if pending is None else self._format_tx(pending, None, None)
        header = self.chain.header_by_number(loc[0])
        assert header is not None
        return self._format_tx(self.chain.transactions(header)[loc[1]], header, loc[1])

    def _tx_by_index(self, header: BlockHeaderAPI | None, index: Any) -> dict[str, Any] | None:
        i = _quantity(index, "index")
        if header is None:
            return None
        txs = self.chain.transactions(header)
        return self._format_tx(txs[i], header, i) if i < len(txs) else None

    def eth_getTransactionByBlockNumberAndIndex(self, params: list[Any]) -> dict[str, Any] | None:
        tag, index = _params(params, 2, 2, "eth_getTransactionByBlockNumberAndIndex")
        return self._tx_by_index(self._maybe_header(tag), index)

    def eth_getTransactionByBlockHashAndIndex(self, params: list[Any]) -> dict[str, Any] | None:
        block_hash, index = _params(params, 2, 2, "eth_getTransactionByBlockHashAndIndex")
        return self._tx_by_index(self.chain.header_by_hash(_hash(block_hash, "block hash")), index)

    def eth_getTransactionReceipt(self, params: list[Any]) -> dict[str, Any] | None:
        (tx_hash,) = _params(params, 1, 1, "eth_getTransactionReceipt")
        loc = self.chain.locate_transaction(_hash(tx_hash, "transaction hash"))
        if loc is None:
            return None
        header = self.chain.header_by_number(loc[0])
        assert header is not None
        return self._format_receipts(header)[loc[1]]

    def eth_getBlockReceipts(self, params: list[Any]) -> list[dict[str, Any]] | None:
        (tag,) = _params(params, 1, 1, "eth_getBlockReceipts")
        header = self._maybe_header(tag)
        return None if header is None else self._format_receipts(header)

    def eth_getTransactionCount(self, params: list[Any]) -> str:
        address, tag = _params(params, 1, 2, "eth_getTransactionCount")
        addr = _address(address, "address")
        if tag == "pending":
            return _q(self.chain.nonce(addr, pending=True))
        return _q(self.chain.account(addr, self._header(tag))[1])

    def eth_getBalance(self, params: list[Any]) -> str:
        address, tag = _params(params, 1, 2, "eth_getBalance")
        return _q(self.chain.account(_address(address, "address"), self._header(tag))[0])

    def eth_getCode(self, params: list[Any]) -> str:
        address, tag = _params(params, 1, 2, "eth_getCode")
        return _h(self.chain.account(_address(address, "address"), self._header(tag))[2])

    def eth_getStorageAt(self, params: list[Any]) -> str:
        address, slot, tag = _params(params, 2, 3, "eth_getStorageAt")
        value = self.chain.storage_at(
            _address(address, "address"), _quantity(slot, "slot"), self._header(tag)
        )
        return _h(value.to_bytes(32, "big"))

    def eth_sendRawTransaction(self, params: list[Any]) -> str:
        (raw,) = _params(params, 1, 1, "eth_sendRawTransaction")
        data = _hex_bytes(raw, "raw transaction")
        try:
            return _h(self.chain.submit(data))
        except TransactionRejected as exc:
            code = NOT_AUTHORIZED if "not authorized" in str(exc) else SERVER_ERROR
            raise RpcError(code, str(exc)) from None

    def _call_params(self, obj: Any) -> CallParams:
        if not isinstance(obj, dict):
            raise RpcError(INVALID_PARAMS, "call object must be an object")
        data = obj.get("input", obj.get("data")) or "0x"
        return CallParams(
            sender=_address(obj["from"], "from") if obj.get("from") else b"\x00" * 20,
            to=_address(obj["to"], "to") if obj.get("to") else b"",
            gas=_quantity(obj["gas"], "gas") if obj.get("gas") is not None else None,
            value=_quantity(obj.get("value") or 0, "value"),
            data=_hex_bytes(data, "data"),
        )

    def _execute(self, fn: Callable[[], Any]) -> Any:
        """Run EVM code for a call or an estimate: at most MAX_CONCURRENT_EXECUTIONS at once,
        within the request body's EXECUTION_BUDGET_SECONDS, at most CALL_GAS_CAP gas each."""
        spent = getattr(self._spent, "seconds", 0.0)
        if spent >= EXECUTION_BUDGET_SECONDS:
            raise RpcError(
                LIMIT_EXCEEDED,
                f"this request used its {EXECUTION_BUDGET_SECONDS:g} s of execution; send "
                "the remaining calls in another request",
            )
        if not self._executions.acquire(timeout=EXECUTION_WAIT):
            raise RpcError(LIMIT_EXCEEDED, "the node is busy executing other calls; retry")
        start = time.monotonic()
        try:
            return fn()
        except Revert as exc:
            reason = exc.args[0] if exc.args and isinstance(exc.args[0], bytes) else b""
            raise RpcError(EXECUTION_ERROR, "execution reverted", _h(reason)) from None
        except VMError as exc:
            raise RpcError(SERVER_ERROR, f"execution failed: {type(exc).__name__}") from None
        except ValidationError as exc:
            # The call as a transaction is invalid before it runs (the sender cannot pay the
            # value, the gas is below the intrinsic gas, ...): geth answers -32000 as well.
            raise RpcError(SERVER_ERROR, f"invalid call: {exc}") from None
        finally:
            self._executions.release()
            self._spent.seconds = spent + time.monotonic() - start

    @staticmethod
    def _refuse_state_override(overrides: Any, method: str) -> None:
        # Running a call on altered state is not supported; an empty override alters nothing.
        if overrides is not None and overrides != {}:
            raise RpcError(INVALID_PARAMS, f"{method}: state overrides are not supported")

    def eth_call(self, params: list[Any]) -> str:
        obj, tag, overrides = _params(params, 1, 3, "eth_call")
        self._refuse_state_override(overrides, "eth_call")
        call, header = self._call_params(obj), self._header(tag)
        return _h(self._execute(lambda: self.chain.call(call, header)))

    def eth_estimateGas(self, params: list[Any]) -> str:
        obj, tag, overrides = _params(params, 1, 3, "eth_estimateGas")
        self._refuse_state_override(overrides, "eth_estimateGas")
        call, header = self._call_params(obj), self._header(tag)
        self._execute(lambda: self.chain.call(call, header))  # surface reverts with their data
        return _q(self._execute(lambda: self.chain.estimate_gas(call, header)))

    def eth_feeHistory(self, params: list[Any]) -> dict[str, Any]:
        count, newest, percentiles = _params(params, 2, 3, "eth_feeHistory")
        n = min(_quantity(count, "blockCount"), MAX_FEE_HISTORY)
        last = self._header(newest).block_number
        first = max(0, last - n + 1)
        headers = [self.chain.header_by_number(i) for i in range(first, last + 1)]
        pct = percentiles if isinstance(percentiles, list) else []
        return {
            "oldestBlock": _q(first),
            "baseFeePerGas": [_q(_base_fee(h)) for h in headers if h] + ["0x0"],
            "gasUsedRatio": [h.gas_used / h.gas_limit for h in headers if h],
            "reward": [["0x0"] * len(pct) for _ in headers],
        }

    def eth_getLogs(self, params: list[Any]) -> list[dict[str, Any]]:
        (flt,) = _params(params, 1, 1, "eth_getLogs")
        if not isinstance(flt, dict):
            raise RpcError(INVALID_PARAMS, "filter must be an object")
        if flt.get("blockHash") is not None:
            if flt.get("fromBlock") is not None or flt.get("toBlock") is not None:
                raise RpcError(INVALID_PARAMS, "blockHash excludes fromBlock/toBlock")
            header = self.chain.header_by_hash(_hash(flt["blockHash"], "blockHash"))
            if header is None:
                raise RpcError(SERVER_ERROR, "unknown block")
            headers: list[BlockHeaderAPI] = [header]
        else:
            first = self._header(flt.get("fromBlock") or "latest").block_number
            last = self._header(flt.get("toBlock") or "latest").block_number
            if last - first + 1 > MAX_LOG_BLOCK_RANGE:
                raise RpcError(LIMIT_EXCEEDED, f"block range wider than {MAX_LOG_BLOCK_RANGE}")
            headers = [h for i in range(first, last + 1) if (h := self.chain.header_by_number(i))]
        raw_addr = flt.get("address")
        addr_list = (
            raw_addr if isinstance(raw_addr, list) else ([] if raw_addr is None else [raw_addr])
        )
        if len(addr_list) > MAX_TOPIC_OPTIONS:
            raise RpcError(LIMIT_EXCEEDED, f"more than {MAX_TOPIC_OPTIONS} addresses")
        addresses = {_address(a, "address") for a in addr_list}
        topics_in = flt.get("topics") or []
        if not isinstance(topics_in, list) or len(topics_in) > 4:
            raise RpcError(INVALID_PARAMS, "topics must be a list of at most 4 positions")
        topics: list[set[bytes] | None] = []
        for pos in topics_in:
            if pos is None:
                topics.append(None)
                continue
            options = pos if isinstance(pos, list) else [pos]
            if len(options) > MAX_TOPIC_OPTIONS:
                raise RpcError(LIMIT_EXCEEDED, f"more than {MAX_TOPIC_OPTIONS} topic options")
            topics.append({_hash(t, "topic") for t in options})
        out: list[dict[str, Any]] = []
        for header in headers:
            bloom = header.bloom
            if not bloom or (addresses and not any(_in_bloom(bloom, a) for a in addresses)):
                continue
            for receipt in self._format_receipts(header):
                for entry in receipt["logs"]:
                    if addresses and _address(entry["address"], "a") not in addresses:
                        continue
                    if not _topics_match(entry["topics"], topics):
                        continue
                    out.append(entry)
                    if len(out) > MAX_LOGS:
                        raise RpcError(LIMIT_EXCEEDED, f"query returns more than {MAX_LOGS} logs")
        return out


def _base_fee(header: BlockHeaderAPI) -> int:
    return int(header.base_fee_per_gas or 0)


def _in_bloom(bloom: int, value: bytes) -> bool:
    digest = keccak(value)
    for i in (0, 2, 4):
        bit = int.from_bytes(digest[i : i + 2], "big") & 2047
        if not bloom >> bit & 1:
            return False
    return True


def _topics_match(log_topics: list[str], wanted: list[set[bytes] | None]) -> bool:
    if len(wanted) > len(log_topics):
        return False
    for want, have in zip(wanted, log_topics, strict=False):
        if want is not None and bytes.fromhex(have[2:]) not in want:
            return False
    return True


__all__ = ["MAX_REQUEST_BYTES", "JsonRpcDispatcher", "RpcError"]
