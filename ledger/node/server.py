"""Running the embedded chain: data dir set-up, block production, JSON-RPC over HTTP.

Data dir layout::

    DATA_DIR/chain/config.json       chain id, validators, allowlist, genesis hash
    DATA_DIR/chain/chain.sqlite      blocks, state, receipts (py-evm key-value store)
    DATA_DIR/chain/LOCK              held while a node runs (one node per data dir)
    DATA_DIR/keystore/validator.json sealing key (keystore v3, encrypted)
    DATA_DIR/keystore/anchorer.json  key that anchors tree heads (keystore v3, encrypted)
    DATA_DIR/keystore-passphrase     only when ZHENGLIAN_KEY_PASSPHRASE is unset (mode 0600)
"""

from __future__ import annotations

import fcntl
import ipaddress
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import uvicorn
from eth_keys.datatypes import PrivateKey
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ledger.errors import NodeError
from ledger.node.chain import EmbeddedChain
from ledger.node.config import (
    DEFAULT_CHAIN_ID,
    DEFAULT_GAS_LIMIT,
    ChainConfig,
    config_path,
    load_config,
    save_config,
)
from ledger.node.db import SqliteAtomicDB
from ledger.node.keystore import keystore_path, load_key, load_or_create_key, resolve_passphrase
from ledger.node.rpc import (
    INVALID_REQUEST,
    LIMIT_EXCEEDED,
    MAX_REQUEST_BYTES,
    JsonRpcDispatcher,
)

log = logging.getLogger(__name__)

#: Default and smallest time between two blocks, in seconds (timestamps are whole seconds
#: and must strictly increase, so blocks more often than this would run ahead of the clock).
DEFAULT_BLOCK_TIME = 1.0
MIN_BLOCK_TIME = 1.0
MAX_BLOCK_TIME = 3600.0

#: Seconds between two attempts at the data dir's lock while waiting for it.
LOCK_RETRY_INTERVAL = 0.1

#: Longest the block producer sleeps on an empty pool before it looks whether to stop (a new
#: transaction wakes it at once).
PRODUCER_IDLE_WAIT = 0.5

#: Seconds the JSON-RPC server may take to listen before :meth:`EmbeddedNode.start` gives up.
SERVER_START_TIMEOUT = 30.0

#: Seconds between two looks at whether the JSON-RPC server listens yet.
SERVER_START_POLL = 0.02

#: Longest :meth:`EmbeddedNode.wait` blocks at a time, so Ctrl-C is handled promptly.
WAIT_POLL_INTERVAL = 0.5

#: Seconds :meth:`EmbeddedNode.close` waits for the server and the producer thread each
#: (a block being sealed is finished first) before it closes the database anyway.
THREAD_STOP_TIMEOUT = 10.0

#: Genesis balance of the node's own accounts (10**9 ether). Gas is free; this is only for
#: value transfers, e.g. tools that fund fresh accounts as they would on any chain.
GENESIS_BALANCE = 10**27

VALIDATOR_KEY = "validator"
ANCHORER_KEY = "anchorer"


ALLOWED_HOSTS_ENV = "ZHENGLIAN_CHAIN_RPC_ALLOWED_HOSTS"
"""Host names (comma-separated) the JSON-RPC answers besides IP addresses and localhost."""
ALLOWED_ORIGINS_ENV = "ZHENGLIAN_CHAIN_RPC_ALLOWED_ORIGINS"
"""Browser origins (comma-separated) allowed to call the JSON-RPC; none by default."""


def request_refusal(headers: Mapping[str, str]) -> tuple[int, str] | None:
    """Why a JSON-RPC request is refused before its body is read, or None.

    Only ``application/json`` (a web page cannot send that cross-origin without a CORS
    preflight, which this node never grants); no ``Origin`` unless allowed (browsers send one,
    JSON-RPC clients do not); a ``Host`` that is an IP address, ``localhost`` or an allowed name
    — a DNS-rebinding page reaches the node under its own domain name, and is refused.
    """
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        return 415, "send the request as Content-Type: application/json"
    origin = headers.get("origin")
    if origin is not None and origin not in _listed(ALLOWED_ORIGINS_ENV):
        return 403, f"requests from the browser origin {origin[:100]!r} are refused"
    host = _host_name(headers.get("host", ""))
    if (
        host not in ("localhost", "")
        and not _is_ip(host)
        and host not in _listed(ALLOWED_HOSTS_ENV)
    ):
        return 403, f"the Host {host[:100]!r} is not this node's (set {ALLOWED_HOSTS_ENV})"
    return None


def _listed(env: str) -> set[str]:
    return {item.strip().lower() for item in os.environ.get(env, "").split(",") if item.strip()}


def _host_name(header: str) -> str:
    host = header.strip().lower()
    if host.startswith("["):  # [::1]:8545
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def chain_db_path(data_dir: Path) -> Path:
    return data_dir / "chain" / "chain.sqlite"


def init_data_dir(data_dir: Path, *, chain_id: int = DEFAULT_CHAIN_ID) -> ChainConfig:
    """Create keys, config and genesis in an empty data dir; return the config.

    A data dir whose config names a chain must still hold that chain's database: a new one is
    never created in its place.
    """
    if config_path(data_dir).exists():
        config = load_config(data_dir)
        if not chain_db_path(data_dir).is_file():
            raise NodeError(
                f"the chain database {chain_db_path(data_dir)} is missing, but "
                f"{config_path(data_dir)} describes a chain: restore the database (a new chain "
                "is only made in an empty data dir)"
            )
        return config
    if chain_db_path(data_dir).exists():
        raise NodeError(f"{chain_db_path(data_dir)} exists without {config_path(data_dir)}")
    if not 0 < chain_id < 2**53:
        raise NodeError("chain id must be between 1 and 2**53")
    data_dir.mkdir(parents=True, exist_ok=True)
    passphrase = resolve_passphrase(data_dir, create=True)
    validator = load_or_create_key(data_dir, VALIDATOR_KEY, passphrase)
    anchorer = load_or_create_key(data_dir, ANCHORER_KEY, passphrase)
    v_addr = bytes(validator.public_key.to_canonical_address())
    a_addr = bytes(anchorer.public_key.to_canonical_address())
    config = ChainConfig(
        chain_id=chain_id,
        validators=(v_addr,),
        allowlist=(v_addr, a_addr),
        gas_limit=DEFAULT_GAS_LIMIT,
        genesis_timestamp=int(time.time()),
        alloc=((v_addr, GENESIS_BALANCE), (a_addr, GENESIS_BALANCE)),
    )
    db_path = chain_db_path(data_dir)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db = SqliteAtomicDB(db_path)
    try:
        genesis_hash = EmbeddedChain.create_genesis(db, config)
    finally:
        db.close()
    config = ChainConfig(**{**config.__dict__, "genesis_hash": genesis_hash})
    save_config(data_dir, config)
    return config


def load_node_key(data_dir: Path, name: str) -> PrivateKey:
    return load_key(keystore_path(data_dir, name), resolve_passphrase(data_dir, create=False))


class _AllowlistFile:
    """The allowlist from config.json, re-read when the file changes."""

    def __init__(self, data_dir: Path, initial: ChainConfig) -> None:
        self._data_dir = data_dir
        self._mtime = self._stat()
        self._value = frozenset(initial.allowlist)

    def _stat(self) -> int:
        try:
            return config_path(self._data_dir).stat().st_mtime_ns
        except OSError:
            return 0

    def __call__(self) -> frozenset[bytes]:
        mtime = self._stat()
        if mtime != self._mtime:
            try:
                self._value = frozenset(load_config(self._data_dir).allowlist)
                self._mtime = mtime
            except NodeError as exc:
                log.error("keeping the previous allowlist: %s", exc)
        return self._value


@dataclass
class RunningNode:
    chain: EmbeddedChain
    url: str
    stop: Callable[[], None]


class EmbeddedNode:
    """An embedded chain node over a data dir: open, verify, produce blocks, serve RPC."""

    def __init__(
        self,
        data_dir: Path,
        *,
        block_time: float = DEFAULT_BLOCK_TIME,
        chain_id: int = DEFAULT_CHAIN_ID,
        progress: Callable[[int, int], None] | None = None,
        lock_wait: float = 0.0,
    ) -> None:
        """Open the chain of ``data_dir``.

        ``lock_wait`` is how long to wait for another node of the same data dir to let go of
        it (a supervised node whose parent was killed is still closing, say); 0 fails at once.
        """
        if not MIN_BLOCK_TIME <= block_time <= MAX_BLOCK_TIME:
            raise NodeError(f"block time must be {MIN_BLOCK_TIME}..{MAX_BLOCK_TIME} seconds")
        self.data_dir = data_dir
        self.block_time = block_time
        self._lock_file = self._take_lock(data_dir, lock_wait)
        try:
            config = init_data_dir(data_dir, chain_id=chain_id)
            signer = load_node_key(data_dir, VALIDATOR_KEY)
            self.db = SqliteAtomicDB(chain_db_path(data_dir))
            self.chain = EmbeddedChain(
                self.db, config, signer, allowlist=_AllowlistFile(data_dir, config)
            )
            self.head_number = self.chain.verify_stored_chain(progress)
        except BaseException:
            self._lock_file.close()
            raise
        self.dispatcher = JsonRpcDispatcher(self.chain)
        self._stopping = threading.Event()
        self._producer: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None

    @staticmethod
    def _take_lock(data_dir: Path, wait: float) -> IO[bytes]:
        path = data_dir / "chain" / "LOCK"
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = path.open("ab")
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fh
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.close()
                    raise NodeError(f"another node is already running on {data_dir}") from None
                time.sleep(LOCK_RETRY_INTERVAL)

    # --- block production --------------------------------------------------------------

    def _produce_loop(self) -> None:
        last_block = 0.0
        while not self._stopping.is_set():
            with self.chain.new_tx:
                if not len(self.chain.pool):
                    self.chain.new_tx.wait(timeout=PRODUCER_IDLE_WAIT)
                    continue
            wait = last_block + self.block_time - time.monotonic()
            if wait > 0:
                self._stopping.wait(wait)
                continue
            try:
                block = self.chain.produce_block()
            except Exception:
                log.exception("block production failed; retrying")
                self._stopping.wait(self.block_time)
                continue
            last_block = time.monotonic()
            if block is not None:
                log.info("sealed block #%d with %d txs", block.number, len(block.transactions))
            else:
                # Nothing executable (e.g. only future nonces): do not spin.
                self._stopping.wait(self.block_time)

    # --- HTTP --------------------------------------------------------------------------

    def asgi_app(self) -> Starlette:
        dispatcher = self.dispatcher

        async def rpc(request: Request) -> Response:
            refusal = request_refusal(request.headers)
            if refusal is not None:
                status, message = refusal
                return JSONResponse(
                    {
                        "jsonrpc": "2.0",
                        "id": None,
                        "error": {"code": INVALID_REQUEST, "message": message},
                    },
                    status_code=status,
                )
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_REQUEST_BYTES:
                    return JSONResponse(
                        {
                            "jsonrpc": "2.0",
                            "id": None,
                            "error": {
                                "code": LIMIT_EXCEEDED,
                                "message": f"request larger than {MAX_REQUEST_BYTES} bytes",
                            },
                        },
                        status_code=413,
                    )
            reply = await run_in_threadpool(dispatcher.handle_body, bytes(body))
            if reply is None:
                return Response(status_code=204)
            return Response(reply, media_type="application/json")

        async def not_post(request: Request) -> Response:
            return JSONResponse(
                {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {"code": INVALID_REQUEST, "message": "use POST"},
                },
                status_code=405,
            )

        return Starlette(
            routes=[Route("/", rpc, methods=["POST"]), Route("/", not_post, methods=["GET"])]
        )

    def start(self, host: str = "127.0.0.1", port: int = 8545) -> RunningNode:
        """Start block production and the JSON-RPC server in background threads."""
        self._producer = threading.Thread(
            target=self._produce_loop, name="zl-producer", daemon=True
        )
        self._producer.start()
        config = uvicorn.Config(
            self.asgi_app(),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._server_thread = threading.Thread(target=self._server.run, name="zl-rpc", daemon=True)
        self._server_thread.start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not self._server.started:
            if not self._server_thread.is_alive() or time.monotonic() > deadline:
                self.close()
                raise NodeError(f"cannot serve JSON-RPC on {host}:{port}")
            time.sleep(SERVER_START_POLL)
        bound_port = port
        for server in self._server.servers:
            for sock in server.sockets:
                bound_port = sock.getsockname()[1]
        return RunningNode(self.chain, f"http://{host}:{bound_port}", self.close)

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C / SIGTERM)."""
        assert self._server_thread is not None
        try:
            while self._server_thread.is_alive():
                self._server_thread.join(WAIT_POLL_INTERVAL)
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def close(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if (
            self._server_thread is not None
            and self._server_thread is not threading.current_thread()
        ):
            self._server_thread.join(THREAD_STOP_TIMEOUT)
        if self._producer is not None:
            self._producer.join(THREAD_STOP_TIMEOUT)
        with self.chain.lock:
            self.db.close()
        self._lock_file.close()


__all__ = ["EmbeddedNode", "RunningNode", "init_data_dir"]
