"""The ledger client: one web3.py client for the embedded chain, Hardhat and Besu alike.

It deploys ``LogAnchor`` on first start (the address is persisted beside the data), anchors
tree heads with their consistency proofs, reads heads back and waits for inclusion. Nonces
are managed locally (one client per anchoring key); transport failures are retried, and every
web3 exception is turned into a typed :mod:`ledger.errors` error where it enters.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import requests
import rlp
from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import is_hex_address, to_canonical_address, to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import (
    BadFunctionCallOutput,
    BadResponseFormat,
    BlockNotFound,
    ContractLogicError,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import TxReceipt

from contracts import load_artifact
from ledger.anchor_proof import AnchorProof
from ledger.errors import (
    AnchorRejected,
    ClientError,
    ContractError,
    DeploymentFormatError,
    InclusionTimeout,
    NodeDataError,
    NodeHttpError,
    NodeRpcError,
    NodeUnavailable,
)
from ledger.proof_collector import collect_anchor_proof, encode_header_json

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Called with (tx_hash, raw signed transaction) after signing, before sending.
BeforeSend = Callable[[bytes, bytes], None]

#: Seconds one JSON-RPC request may take.
RPC_TIMEOUT = 10.0
#: Attempts for a request that failed in transport (connection refused, timeout).
RPC_ATTEMPTS = 4
#: First back-off between attempts, doubled each time.
RPC_BACKOFF = 0.25
#: Seconds to wait for a transaction to be included in a block.
INCLUSION_TIMEOUT = 60.0
#: Seconds between two receipt polls while waiting for inclusion.
POLL_INTERVAL = 0.1
#: Seconds a fee quote is reused (fees cap at twice the base fee, so a short reuse is safe).
FEE_CACHE_SECONDS = 2.0
#: Safety margin over eth_estimateGas.
GAS_MARGIN_NUM, GAS_MARGIN_DEN = 5, 4
#: Most consistency-proof nodes the client sends (the contract has no cap of its own).
MAX_PROOF_NODES = 128
#: Gas limit of an anchor: bounds over the measured cost (docs/benchmarks.md: 124k–141k gas
#: for 9–15 proof nodes), so anchors are never estimated (eth_estimateGas runs a transaction
#: ~15 times to search for its limit).
ANCHOR_GAS_BASE = 150_000
ANCHOR_GAS_PER_NODE = 4_000

#: What web3 (or reading its result) raises on a node answer of the wrong shape: a body that
#: is not JSON, a result of the wrong type, a field missing from a block or receipt.
MALFORMED_ANSWER_ERRORS: tuple[type[Exception], ...] = (
    BadResponseFormat,
    BadFunctionCallOutput,
    DecodingError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
)

ANCHOR_EVENT_SIGNATURE = "TreeHeadAnchored(uint256,uint64,bytes32,address)"
ANCHOR_EVENT_TOPIC = keccak(text=ANCHOR_EVENT_SIGNATURE)


@dataclass(frozen=True)
class TreeHead:
    """A tree head as anchored on chain."""

    index: int
    tree_size: int
    root_hash: bytes
    timestamp: int
    block_number: int


@dataclass(frozen=True)
class AnchorReceipt:
    """What anchoring a head produced: where it is on chain."""

    index: int
    tree_size: int
    root_hash: bytes
    tx_hash: bytes
    block_number: int
    block_hash: bytes


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    genesis_hash: bytes
    address: bytes
    tx_hash: bytes
    block_number: int
    bytecode_sha256: str

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "genesisHash": "0x" + self.genesis_hash.hex(),
            "address": to_checksum_address(self.address),
            "txHash": "0x" + self.tx_hash.hex(),
            "blockNumber": self.block_number,
            "bytecodeSha256": self.bytecode_sha256,
        }

    @classmethod
    def from_json(cls, obj: Any) -> Deployment:
        """Parse a record as :meth:`to_json` writes it.

        :raises DeploymentFormatError: naming the first field that is missing, of the wrong
            type, not hex, of the wrong length, or (an address) with a broken checksum.
        """
        if not isinstance(obj, Mapping):
            raise DeploymentFormatError("(record)", f"not a JSON object: {obj!r:.80}")
        address = _hex_field(obj, "address", 20)
        text = str(obj["address"])
        if text[2:] not in (text[2:].lower(), text[2:].upper()) and text != to_checksum_address(
            address
        ):
            raise DeploymentFormatError("address", f"checksum does not match: {text}")
        sha = _field(obj, "bytecodeSha256")
        if not isinstance(sha, str) or not _SHA256_HEX.fullmatch(sha):
            raise DeploymentFormatError(
                "bytecodeSha256", f"not 64 lower-case hex digits: {sha!r:.80}"
            )
        return cls(
            chain_id=_int_field(obj, "chainId", minimum=1),
            genesis_hash=_hex_field(obj, "genesisHash", 32),
            address=address,
            tx_hash=_hex_field(obj, "txHash", 32),
            block_number=_int_field(obj, "blockNumber", minimum=0),
            bytecode_sha256=sha,
        )


_HEX = re.compile(r"0x[0-9a-fA-F]*")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _field(obj: Mapping[str, Any], name: str) -> Any:
    if name not in obj:
        raise DeploymentFormatError(name, "missing")
    return obj[name]


def _hex_field(obj: Mapping[str, Any], name: str, length: int) -> bytes:
    value = _field(obj, name)
    if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) % 2:
        raise DeploymentFormatError(name, f"not 0x-prefixed hex: {value!r:.80}")
    raw = bytes.fromhex(value[2:])
    if len(raw) != length:
        raise DeploymentFormatError(name, f"{len(raw)} bytes, expected {length}")
    return raw


def _int_field(obj: Mapping[str, Any], name: str, *, minimum: int) -> int:
    value = _field(obj, name)
    if type(value) is not int or value < minimum:
        raise DeploymentFormatError(name, f"not an integer >= {minimum}: {value!r:.80}")
    return value


def _address(value: bytes | str, what: str) -> bytes:
    """The 20 bytes of an address given as bytes or hex (checksummed or not)."""
    if isinstance(value, bytes) and len(value) == 20:
        return value
    if isinstance(value, str) and is_hex_address(value):
        return bytes(to_canonical_address(value))
    raise ClientError(f"{what} is not an Ethereum address: {value!r:.80}")


class DeploymentStore(Protocol):
    def load(self, chain_id: int, genesis_hash: bytes) -> Deployment | None: ...
    def save(self, deployment: Deployment) -> None: ...


class JsonDeploymentStore:
    """Deployments kept in a JSON file, one per (chain id, genesis hash); retired ones (an
    operator resumed anchoring in a new contract, ``zhenglian anchoring resume``) are kept
    under ``"Retired"`` with when and why."""

    def __init__(self, path: Path, *, contract: str = "LogAnchor") -> None:
        self.path = path
        self.contract = contract
        """The contract recorded (the file's key): ``LogAnchor`` or ``CertificateRegistry``."""

    def _read_all(self) -> dict[str, list[dict[str, Any]]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {self.contract: []}
        except (OSError, ValueError) as exc:
            raise ClientError(f"cannot read {self.path}: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get(self.contract), list):
            raise ClientError(f"{self.path} is not a deployments file")
        retired = data.get("Retired", [])
        if not isinstance(retired, list):
            raise ClientError(f"{self.path}: Retired is not a list")
        return {self.contract: list(data[self.contract]), "Retired": list(retired)}

    def _read(self) -> list[dict[str, Any]]:
        return self._read_all()[self.contract]

    def load(self, chain_id: int, genesis_hash: bytes) -> Deployment | None:
        for item in self._read():
            dep = Deployment.from_json(item)
            if dep.chain_id == chain_id and dep.genesis_hash == genesis_hash:
                return dep
        return None

    def save(self, deployment: Deployment) -> None:
        data = self._read_all()
        data[self.contract] = [
            i
            for i in data[self.contract]
            if not (
                Deployment.from_json(i).chain_id == deployment.chain_id
                and Deployment.from_json(i).genesis_hash == deployment.genesis_hash
            )
        ] + [deployment.to_json()]
        self._write(data)

    def current(self) -> list[Deployment]:
        """Every deployment in use (one per chain the data directory has met)."""
        return [Deployment.from_json(item) for item in self._read()]

    def retired(self) -> list[dict[str, Any]]:
        """The retired deployments: each record with ``retiredAt`` and ``reason``."""
        return self._read_all().get("Retired", [])

    def retire(self, reason: str, when: str) -> list[Deployment]:
        """Move every deployment in use to ``"Retired"`` (with ``when`` and ``reason``), so
        the next start deploys a new contract; returns what was retired."""
        data = self._read_all()
        retired = [Deployment.from_json(item) for item in data[self.contract]]
        data["Retired"] = data.get("Retired", []) + [
            dict(item, retiredAt=when, reason=reason) for item in data[self.contract]
        ]
        data[self.contract] = []
        self._write(data)
        return retired

    def _write(self, data: dict[str, list[dict[str, Any]]]) -> None:
        if not data.get("Retired"):
            data = {self.contract: data[self.contract]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


def _error_selectors(abi: Sequence[Mapping[str, Any]]) -> dict[bytes, tuple[str, list[str]]]:
    out = {}
    for item in abi:
        if item.get("type") == "error":
            types = [i["type"] for i in item.get("inputs", [])]
            sig = f"{item['name']}({','.join(types)})"
            out[bytes(function_signature_to_4byte_selector(sig))] = (item["name"], types)
    return out


def _hash32(value: Any) -> bytes:
    """A 32-byte hash from a node's answer (HexBytes or hex string)."""
    raw = bytes(HexBytes(value))
    if len(raw) != 32:
        raise NodeDataError(f"expected a 32-byte hash, got {len(raw)} bytes")
    return raw


def _rpc_error_of(exc: Web3RPCError) -> tuple[int | None, str]:
    """The code and message of the JSON-RPC error object web3 raised ``exc`` for."""
    response = exc.rpc_response
    error = response.get("error") if isinstance(response, Mapping) else None
    if isinstance(error, Mapping):
        code = error.get("code")
        return (code if isinstance(code, int) else None), str(error.get("message", exc.message))
    return None, str(error if isinstance(error, str) else exc.message)


def _refusal(what: str, exc: NodeRpcError) -> ContractError:
    code = "" if exc.code is None else f" (code {exc.code})"
    return ContractError(f"{what}: node refused the transaction: {exc.rpc_message}{code}")


def transaction_nonce(raw_tx: bytes) -> int:
    """The nonce of a signed transaction (EIP-2718 typed, or legacy RLP).

    :raises NodeDataError: the bytes are not a signed transaction.
    """
    try:
        if raw_tx and raw_tx[0] <= 0x7F:
            return int(TypedTransaction.from_bytes(HexBytes(raw_tx)).as_dict()["nonce"])
        return int.from_bytes(rlp.decode(raw_tx)[0], "big")
    except Exception as exc:
        raise NodeDataError(f"not a signed transaction: {exc}") from exc


def make_web3(rpc_url: str, *, timeout: float = RPC_TIMEOUT) -> Web3:
    """A Web3 for an HTTP JSON-RPC node; PoA (Clique/QBFT) extraData is accepted."""
    # No silent retries inside web3: LedgerClient retries transport failures itself.
    provider = Web3.HTTPProvider(
        rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
    )
    w3 = Web3(provider)
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


class _NonceCounter:
    """The next nonce of one account, shared by every client sending from that account."""

    __slots__ = ("lock", "next", "sending")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next: int | None = None
        self.sending = threading.RLock()
        """Held from taking a nonce to handing its transaction to the node, so that the
        account's transactions reach the node in nonce order whichever thread sends them (a
        node that mines each at once, as Hardhat does, refuses one that comes before a gap)."""


class LedgerClient:
    """Anchors tree heads in a LogAnchor contract through any Ethereum JSON-RPC node."""

    def __init__(
        self,
        rpc_url: str,
        private_key: bytes | str,
        *,
        timeout: float = RPC_TIMEOUT,
        inclusion_timeout: float = INCLUSION_TIMEOUT,
        contract_name: str = "LogAnchor",
    ) -> None:
        self.rpc_url = rpc_url
        self._timeout = timeout
        self.w3 = make_web3(rpc_url, timeout=timeout)
        self.account: LocalAccount = Account.from_key(private_key)
        self.inclusion_timeout = inclusion_timeout
        self.artifact = load_artifact(contract_name)
        self._errors = _error_selectors(self.artifact.abi)
        self._nonces = _NonceCounter()
        self._chain_id: int | None = None
        self.contract_address: bytes | None = None
        self._fee_quote: tuple[float, dict[str, int]] | None = None

    # --- transport ---------------------------------------------------------------------

    def _rpc(
        self, what: str, fn: Callable[[], T], *, refused: type[ContractError] = ContractError
    ) -> T:
        """Run ``fn`` — calls into web3 and the reading of their answers — and return its result.

        The one place the client calls web3: transport failures (connection refused, timeout)
        are retried, and every exception of web3 or requests becomes a typed ledger error:

        :raises NodeUnavailable: the node stayed unreachable for RPC_ATTEMPTS attempts.
        :raises NodeHttpError: the server answered with an HTTP error status.
        :raises NodeRpcError: the node answered with a JSON-RPC error object.
        :raises NodeDataError: the answer is not JSON-RPC or has the wrong shape.
        :raises ContractError: (``refused``) the contract reverted, naming its custom error.
        :raises ClientError: any other failure of web3 or of the request.
        """
        delay = RPC_BACKOFF
        for attempt in range(RPC_ATTEMPTS):
            try:
                return fn()
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == RPC_ATTEMPTS - 1:
                    raise NodeUnavailable(
                        f"{what}: node {self.rpc_url} unreachable: {exc}"
                    ) from exc
                time.sleep(delay)
                delay *= 2
            except requests.HTTPError as exc:
                response = exc.response
                raise NodeHttpError(
                    what,
                    self.rpc_url,
                    response.status_code if response is not None else 0,
                    response.reason or "" if response is not None else "",
                ) from exc
            except requests.RequestException as exc:
                raise ClientError(f"{what}: request to {self.rpc_url} failed: {exc}") from exc
            except ContractLogicError as exc:  # and ContractCustomError, its subclass
                raise refused(f"{what}: {self._decode_revert(exc.data)}") from exc
            except Web3RPCError as exc:
                code, message = _rpc_error_of(exc)
                raise NodeRpcError(what, code, message) from exc
            except MALFORMED_ANSWER_ERRORS as exc:
                raise NodeDataError(f"{what}: malformed answer from {self.rpc_url}: {exc}") from exc
            except Web3Exception as exc:
                raise ClientError(f"{what}: {exc}") from exc
        raise AssertionError("unreachable")

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self._rpc("eth_chainId", lambda: int(self.w3.eth.chain_id))
        return self._chain_id

    def genesis_hash(self) -> bytes:
        return self._rpc("eth_getBlockByNumber", lambda: _hash32(self.w3.eth.get_block(0)["hash"]))

    def block_number(self) -> int:
        return self._rpc("eth_blockNumber", lambda: int(self.w3.eth.block_number))

    def block_timestamp(self, number: int) -> int:
        """The timestamp (Unix seconds) of block ``number``."""
        return self._rpc(
            f"eth_getBlockByNumber {number}",
            lambda: int(self.w3.eth.get_block(number)["timestamp"]),
        )

    def latest_header(self) -> tuple[int, bytes]:
        """The number and consensus RLP header of the node's latest block."""

        def read() -> tuple[int, bytes]:
            block = self.w3.provider.make_request(
                "eth_getBlockByNumber",  # type: ignore[arg-type]
                ["latest", False],
            )
            result = block.get("result") if isinstance(block, dict) else None
            if not isinstance(result, dict):
                raise NodeDataError(f"eth_getBlockByNumber answered {str(block)[:200]}")
            return int(result["number"], 16), encode_header_json(result)

        return self._rpc("eth_getBlockByNumber latest", read)

    def block_hash(self, number: int) -> bytes | None:
        """The hash of block ``number`` on the node's chain, or None if it has no such block."""

        def read() -> bytes | None:
            try:
                return _hash32(self.w3.eth.get_block(number)["hash"])
            except BlockNotFound:
                return None

        return self._rpc(f"eth_getBlockByNumber {number}", read)

    # --- contract ----------------------------------------------------------------------

    def _contract(self) -> Any:
        if self.contract_address is None:
            raise ContractError(f"{self.artifact.name} is not deployed or attached yet")
        return self.w3.eth.contract(
            address=to_checksum_address(self.contract_address), abi=self.artifact.abi
        )

    def sibling(self, contract_name: str = "LogAnchor") -> LedgerClient:
        """A client of the same node and account for another LogAnchor (e.g. the custody
        log's) or another contract (``contract_name``: its artifact, custom errors and
        deployment): nothing attached yet, nonces shared with this client so the two can send
        concurrently."""
        other = LedgerClient(
            self.rpc_url,
            self.account.key,
            timeout=self._timeout,
            inclusion_timeout=self.inclusion_timeout,
            contract_name=contract_name,
        )
        other._nonces = self._nonces
        return other

    def attach(self, address: bytes | str) -> None:
        raw = _address(address, f"{self.artifact.name} address")
        code = self._rpc(
            "eth_getCode", lambda: bytes(self.w3.eth.get_code(to_checksum_address(raw)))
        )
        if code != self.artifact.deployed_bytecode:
            raise ContractError(
                f"no {self.artifact.name} (of this build) at {to_checksum_address(raw)} "
                f"on chain {self.chain_id}"
            )
        self.contract_address = raw

    def deploy(
        self, *, admin: bytes | str | None = None, anchorer: bytes | str | None = None
    ) -> Deployment:
        """Deploy the contract (LogAnchor, or the CertificateRegistry, whose constructor takes
        (admin, registrar) alike); admin and anchorer default to this client's account."""
        me = self.account.address
        admin_address = _address(admin or me, "admin")
        anchorer_address = _address(anchorer or me, "anchorer")
        factory = self.w3.eth.contract(abi=self.artifact.abi, bytecode=self.artifact.bytecode)
        data = factory.constructor(
            to_checksum_address(admin_address), to_checksum_address(anchorer_address)
        ).data_in_transaction
        name = self.artifact.name
        receipt = self._transact(None, HexBytes(data), f"deploy {name}")
        created = receipt["contractAddress"]
        if created is None or not is_hex_address(created):
            raise NodeDataError(f"deploy {name}: receipt names no contract: {created!r}")
        address = bytes(to_canonical_address(created))
        self.contract_address = address
        return Deployment(
            chain_id=self.chain_id,
            genesis_hash=self.genesis_hash(),
            address=address,
            tx_hash=bytes(receipt["transactionHash"]),
            block_number=int(receipt["blockNumber"]),
            bytecode_sha256=hashlib.sha256(self.artifact.deployed_bytecode).hexdigest(),
        )

    def ensure_deployed(self, store: DeploymentStore, **deploy_args: Any) -> Deployment:
        """Attach to the recorded deployment for this chain, or deploy and record one."""
        genesis = self.genesis_hash()
        existing = store.load(self.chain_id, genesis)
        if existing is not None:
            self.attach(existing.address)
            return existing
        deployment = self.deploy(**deploy_args)
        store.save(deployment)
        log.info("deployed %s at %s", self.artifact.name, to_checksum_address(deployment.address))
        return deployment

    # --- transactions ------------------------------------------------------------------

    def _fees(self) -> dict[str, int]:
        now = time.monotonic()
        if self._fee_quote is not None and now - self._fee_quote[0] < FEE_CACHE_SECONDS:
            return dict(self._fee_quote[1])
        fees = self._fetch_fees()
        self._fee_quote = (now, fees)
        return dict(fees)

    def _fetch_fees(self) -> dict[str, int]:
        base = self._rpc(
            "eth_getBlockByNumber",
            lambda: int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0),
        )
        if base == 0:
            return {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
        tip = self._rpc("eth_maxPriorityFeePerGas", lambda: int(self.w3.eth.max_priority_fee))
        return {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}

    def _decode_revert(self, data: Any) -> str:
        if isinstance(data, dict):  # some nodes (Hardhat) nest the revert data
            data = data.get("data")
        try:
            raw = bytes(HexBytes(data)) if data else b""
        except (TypeError, ValueError):
            return f"reverted ({data!r:.200})"
        if len(raw) >= 4 and raw[:4] in self._errors:
            name, types = self._errors[raw[:4]]
            try:
                values = abi_decode(types, raw[4:])
            except Exception:
                return f"{name}(<undecodable>)"
            shown = ", ".join("0x" + v.hex() if isinstance(v, bytes) else str(v) for v in values)
            return f"{name}({shown})"
        if raw[:4] == bytes.fromhex("08c379a0"):
            try:
                return f"Error({abi_decode(['string'], raw[4:])[0]!r})"
            except Exception:
                pass
        return f"reverted ({'0x' + raw.hex() if raw else 'no data'})"

    def _preflight(self, tx: dict[str, Any], what: str) -> int:
        """Estimate gas; a revert becomes AnchorRejected naming the contract's custom error."""
        return self._rpc(
            what,
            lambda: int(self.w3.eth.estimate_gas(tx)),  # type: ignore[arg-type]
            refused=AnchorRejected,
        )

    def _simulate(self, tx: dict[str, Any], what: str) -> None:
        """Run ``tx`` once with eth_call; a revert becomes a typed error as in :meth:`_preflight`.

        One execution, where eth_estimateGas searches for the gas limit by running it ~15 times
        (on the embedded chain 52 ms against 268 ms for an anchor, more under load).
        """
        self._rpc(
            what,
            lambda: self.w3.eth.call(tx),  # type: ignore[arg-type]
            refused=AnchorRejected,
        )

    def _reserve_nonce(self) -> int:
        nonces = self._nonces
        with nonces.lock:
            if nonces.next is None:
                nonces.next = self._rpc(
                    "eth_getTransactionCount",
                    lambda: int(self.w3.eth.get_transaction_count(self.account.address, "pending")),
                )
            nonce = nonces.next
            nonces.next += 1
            return nonce

    def _resync_nonce(self) -> None:
        with self._nonces.lock:
            self._nonces.next = None

    def send(
        self,
        to: bytes | None,
        data: bytes,
        what: str,
        *,
        gas: int | None = None,
        before_send: BeforeSend | None = None,
    ) -> bytes:
        """Sign and submit a transaction; return its hash (not waiting for inclusion).

        Without ``gas`` the transaction is first estimated, so a revert is reported with the
        contract's custom error before anything is sent. ``before_send(tx_hash, raw)`` runs
        after signing and before sending, so a caller can durably record the transaction
        first (crash recovery re-sends the same bytes with :meth:`send_raw`).
        """
        base: dict[str, Any] = {"from": self.account.address, "data": HexBytes(data)}
        if to is not None:
            base["to"] = to_checksum_address(to)
        if gas is None:
            gas = self._preflight(base, what) * GAS_MARGIN_NUM // GAS_MARGIN_DEN
        fees = self._fees()
        with self._nonces.sending:
            return self._send_in_order(base, gas, fees, what, before_send)

    def _send_in_order(
        self,
        base: dict[str, Any],
        gas: int,
        fees: dict[str, Any],
        what: str,
        before_send: BeforeSend | None,
    ) -> bytes:
        for attempt in range(2):
            nonce = self._reserve_nonce()
            tx: dict[str, Any] = {
                **base,
                "gas": gas,
                "nonce": nonce,
                "chainId": self.chain_id,
                "type": 2,
                **fees,
            }
            tx.pop("from")
            raw = bytes(self.account.sign_transaction(tx).raw_transaction)
            if before_send is not None:
                try:
                    before_send(keccak(raw), raw)
                except BaseException:
                    # Nothing was sent with this nonce (the caller could not record it, e.g.
                    # a full disk): hand it back, or every later transaction waits behind it.
                    self._resync_nonce()
                    raise
            try:
                return self._send_raw(raw, what)
            except NodeRpcError as exc:
                if "nonce" in exc.rpc_message.lower() and attempt == 0:
                    log.warning("nonce %d refused (%s); resynchronising", nonce, exc.rpc_message)
                    self._resync_nonce()
                    continue
                self._resync_nonce()
                raise _refusal(what, exc) from exc
            except ClientError:
                # The transaction may not have reached the node: count nonces from its again.
                self._resync_nonce()
                raise
        raise AssertionError("unreachable")

    def _send_raw(self, raw: bytes, what: str) -> bytes:
        """eth_sendRawTransaction; a transaction the node already has counts as sent."""
        try:
            return self._rpc(
                what,
                lambda: _hash32(self.w3.eth.send_raw_transaction(raw)),
            )
        except NodeRpcError as exc:
            message = exc.rpc_message.lower()
            if "already known" in message or "known transaction" in message:
                return keccak(raw)
            raise

    def send_raw(self, raw: bytes, what: str = "transaction") -> bytes:
        """(Re-)send an already signed transaction; sending it twice is harmless."""
        try:
            return self._send_raw(raw, what)
        except NodeRpcError as exc:
            raise _refusal(what, exc) from exc

    def receipt_if_mined(self, tx_hash: bytes) -> TxReceipt | None:
        """The receipt of a mined transaction, or None while it is not (yet) in a block."""

        def fetch() -> TxReceipt | None:
            try:
                return self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            except TransactionNotFound:
                return None

        return self._rpc(f"eth_getTransactionReceipt of 0x{tx_hash.hex()}", fetch)

    def wait_for_receipt(self, tx_hash: bytes, what: str = "transaction") -> TxReceipt:
        """Poll until ``tx_hash`` is mined; return its receipt.

        :raises ContractError: the transaction reverted on chain (receipt status is not 1).
        :raises InclusionTimeout: it was not mined within ``inclusion_timeout`` seconds.
        """
        deadline = time.monotonic() + self.inclusion_timeout
        while True:
            receipt = self.receipt_if_mined(tx_hash)
            if receipt is not None:
                if receipt["status"] != 1:
                    raise ContractError(f"{what} 0x{tx_hash.hex()} reverted on chain")
                return receipt
            if time.monotonic() > deadline:
                raise InclusionTimeout(
                    f"{what} 0x{tx_hash.hex()} not included within {self.inclusion_timeout}s"
                )
            time.sleep(POLL_INTERVAL)

    def _transact(self, to: bytes | None, data: bytes, what: str) -> TxReceipt:
        return self.wait_for_receipt(self.send(to, data, what), what)

    # --- anchoring ---------------------------------------------------------------------

    def submit_anchor(
        self,
        tree_size: int,
        root_hash: bytes,
        proof: Sequence[bytes],
        *,
        preflight: bool = True,
        before_send: BeforeSend | None = None,
    ) -> bytes:
        """Send an anchoring transaction; return its hash without waiting.

        With ``preflight`` (the default) the transaction is first run with eth_call, so a head
        the contract refuses is reported with its custom error and never sent.
        ``preflight=False`` skips that, for anchors pipelined behind earlier ones that are not
        mined yet (their proofs start from a head the chain does not know yet).
        """
        if len(proof) > MAX_PROOF_NODES:
            raise AnchorRejected(f"consistency proof longer than {MAX_PROOF_NODES} nodes")
        if len(root_hash) != 32 or any(len(p) != 32 for p in proof):
            raise AnchorRejected("root and proof nodes must be 32 bytes")
        if not 0 < tree_size < 2**64:
            raise AnchorRejected(f"tree size {tree_size} out of range")
        contract = self._contract()
        data = HexBytes(contract.encode_abi("anchor", args=[tree_size, root_hash, list(proof)]))
        assert self.contract_address is not None
        what = f"anchor head {tree_size}"
        if preflight:
            to = to_checksum_address(self.contract_address)
            self._simulate({"from": self.account.address, "to": to, "data": data}, what)
        # The gas of an anchor is known from its proof length (a bound over the measured cost),
        # so it is not estimated.
        gas = ANCHOR_GAS_BASE + ANCHOR_GAS_PER_NODE * len(proof)
        return self.send(self.contract_address, data, what, gas=gas, before_send=before_send)

    def anchor_receipt(self, tx_hash: bytes, receipt: TxReceipt | None = None) -> AnchorReceipt:
        """Wait for an anchoring transaction (unless its ``receipt`` is given, successful) and
        read its TreeHeadAnchored event."""
        if receipt is None:
            receipt = self.wait_for_receipt(tx_hash, "anchor")
        elif receipt["status"] != 1:
            raise ContractError(f"anchor 0x{tx_hash.hex()} reverted on chain")
        try:
            for entry in receipt["logs"]:
                topics = entry["topics"]
                if (
                    bytes(HexBytes(entry["address"])) == self.contract_address
                    and topics
                    and bytes(topics[0]) == ANCHOR_EVENT_TOPIC
                ):
                    size, root = abi_decode(["uint64", "bytes32"], bytes(entry["data"]))
                    return AnchorReceipt(
                        index=int.from_bytes(bytes(topics[1]), "big"),
                        tree_size=int(size),
                        root_hash=bytes(root),
                        tx_hash=bytes(tx_hash),
                        block_number=int(receipt["blockNumber"]),
                        block_hash=_hash32(receipt["blockHash"]),
                    )
        except MALFORMED_ANSWER_ERRORS as exc:
            raise NodeDataError(f"anchor 0x{tx_hash.hex()}: malformed receipt: {exc}") from exc
        raise ContractError(f"anchor 0x{tx_hash.hex()} emitted no TreeHeadAnchored event")

    def anchor(self, tree_size: int, root_hash: bytes, proof: Sequence[bytes]) -> AnchorReceipt:
        """Anchor a head with its consistency proof from the last anchored head; wait for it."""
        return self.anchor_receipt(self.submit_anchor(tree_size, root_hash, proof))

    def anchor_proof(self, tx_hash: bytes, *, with_transaction: bool = False) -> AnchorProof:
        """Collect the offline proof of an anchoring transaction (header, receipt proof; with
        ``with_transaction`` also the transaction and its transactions-trie proof)."""
        if self.contract_address is None:
            raise ContractError("LogAnchor is not deployed or attached yet")
        if len(tx_hash) != 32:
            raise ClientError(f"not a transaction hash: 0x{tx_hash.hex()}")
        contract = self.contract_address
        chain_id = self.chain_id
        return self._rpc(
            f"anchor proof of 0x{tx_hash.hex()}",
            lambda: collect_anchor_proof(
                self.w3,
                tx_hash,
                contract=contract,
                with_transaction=with_transaction,
                chain_id=chain_id,
            ),
        )

    def head_count(self) -> int:
        c = self._contract()
        return self._rpc("headCount", lambda: int(c.functions.headCount().call()))

    def head_at(self, index: int) -> TreeHead:
        c = self._contract()

        def read() -> TreeHead:
            raw = c.functions.headAt(index).call()
            return TreeHead(index, int(raw[0]), bytes(raw[1]), int(raw[2]), int(raw[3]))

        return self._rpc("headAt", read)

    def latest_head(self) -> TreeHead | None:
        count = self.head_count()
        return None if count == 0 else self.head_at(count - 1)

    def find_head(self, tree_size: int) -> TreeHead | None:
        """The anchored head of exactly ``tree_size``, or None (a binary search: heads are
        anchored in strictly increasing size, so this takes about log2(heads) calls)."""
        low, high = 0, self.head_count() - 1
        while low <= high:
            middle = (low + high) // 2
            head = self.head_at(middle)
            if head.tree_size == tree_size:
                return head
            if head.tree_size < tree_size:
                low = middle + 1
            else:
                high = middle - 1
        return None

    def anchoring_transaction(self, head: TreeHead) -> bytes:
        """The hash of the transaction that anchored ``head`` (its TreeHeadAnchored event in
        the head's block), whoever sent it.

        :raises NodeDataError: the node has no such event in that block.
        """
        if self.contract_address is None:
            raise ContractError("LogAnchor is not deployed or attached yet")
        address = to_checksum_address(self.contract_address)
        topics = ["0x" + ANCHOR_EVENT_TOPIC.hex(), "0x" + head.index.to_bytes(32, "big").hex()]

        def read() -> list[Any]:
            query = {
                "address": address,
                "topics": topics,
                "fromBlock": head.block_number,
                "toBlock": head.block_number,
            }
            return list(self.w3.eth.get_logs(query))  # type: ignore[arg-type]

        for entry in self._rpc(f"eth_getLogs for head {head.index}", read):
            return _hash32(entry["transactionHash"])
        raise NodeDataError(
            f"block {head.block_number} has no TreeHeadAnchored event of head {head.index}"
        )

    def mined_nonce(self) -> int:
        """How many transactions of this account are mined (its next nonce in the latest
        block): a signed transaction with a lower nonce can never be mined any more."""
        address = self.account.address
        return self._rpc(
            "eth_getTransactionCount",
            lambda: int(self.w3.eth.get_transaction_count(address, "latest")),
        )

    def has_anchor_role(self, account: bytes | str) -> bool:
        c = self._contract()
        role = keccak(text="ANCHOR_ROLE")
        addr = to_checksum_address(_address(account, "account"))
        return self._rpc("hasRole", lambda: bool(c.functions.hasRole(role, addr).call()))
