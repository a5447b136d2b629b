"""Real servers for the integration tests: started on 127.0.0.1, stopped at the end."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HARDHAT_DIR = REPO_ROOT / "tests" / "hardhat"
HARDHAT_BIN = REPO_ROOT / "node_modules" / ".bin" / "hardhat"

#: Seconds a server may take to answer its first request before the fixture gives up.
SERVER_START_TIMEOUT = 120.0

#: Seconds between two probes of a server that is starting (a probe is one loopback request:
#: probing often costs nothing, and a test waits at most this long after the server is up).
SERVER_POLL_INTERVAL = 0.05

#: Hardhat's well-known first development account (public test key, funded on every Hardhat node).
HARDHAT_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


#: Binds :func:`free_port` may try before it gives up finding a port of its worker's class.
FREE_PORT_ATTEMPTS = 1000


def _worker_port_class() -> tuple[int, int]:
    """(this pytest-xdist worker's index, number of workers); (0, 1) outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ...
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or not worker[2:].isdigit() or count < 2:
        return 0, 1
    return int(worker[2:]) % count, count


def free_port() -> int:
    """A loopback port that is free now. Under pytest-xdist each worker only takes ports
    ``p`` with ``(p // 2) % workers == index``: a port one worker has just probed and released
    (and is about to hand to a server it starts) is never handed out by another at the same
    time. Halved first because Linux gives ``bind(0)`` ports of one parity (odd), leaving
    connect() the even ones: ``p % 2`` would be the same for every port handed out.
    """
    index, count = _worker_port_class()
    for _ in range(FREE_PORT_ATTEMPTS):
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if (port // 2) % count == index:
            return port
    raise RuntimeError(f"no free port of class {index} mod {count} in {FREE_PORT_ATTEMPTS} binds")


def rpc_call(url: str, method: str, params: list[object] | None = None) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    req = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def wait_for_rpc(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            rpc_call(url, "eth_chainId")
            return
        except OSError:
            time.sleep(SERVER_POLL_INTERVAL)
    raise RuntimeError(f"server at {url} did not answer in {SERVER_START_TIMEOUT}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def hardhat_node(workdir: Path) -> Iterator[str]:
    """Run a Hardhat/EDR node from node_modules on a free loopback port; yield its URL."""
    if not HARDHAT_BIN.exists():
        raise RuntimeError(f"{HARDHAT_BIN} is missing: run `npm ci` (bash .ci/run does)")
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH")
    port = free_port()
    log = workdir / "hardhat.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(HARDHAT_BIN), "node", "--hostname", "127.0.0.1", "--port", str(port)],
            cwd=HARDHAT_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_rpc(url, proc, log)
        yield url
    finally:
        stop(proc)


@contextlib.contextmanager
def embedded_node(data_dir: Path, **kwargs: object) -> Iterator[tuple[str, object]]:
    """Run the embedded chain in-process on a free loopback port; yield (URL, node)."""
    from ledger.node.server import EmbeddedNode

    node = EmbeddedNode(data_dir, **kwargs)  # type: ignore[arg-type]
    running = node.start("127.0.0.1", 0)
    EMBEDDED_DATA_DIRS[running.url] = data_dir
    try:
        yield running.url, node
    finally:
        EMBEDDED_DATA_DIRS.pop(running.url, None)
        running.stop()


def embedded_anchorer_key(data_dir: Path) -> str:
    from ledger.node.server import ANCHORER_KEY, load_node_key

    return "0x" + load_node_key(data_dir, ANCHORER_KEY).to_bytes().hex()


#: Data dirs of the embedded chains the fixtures run, by JSON-RPC URL.
EMBEDDED_DATA_DIRS: dict[str, Path] = {}


def allow_sender(url: str, address: str) -> None:
    """Put ``address`` on the sender allowlist if ``url`` is an embedded chain of ours.

    Other nodes (Hardhat) accept any sender, so there it does nothing.
    """
    data_dir = EMBEDDED_DATA_DIRS.get(url.rstrip("/"))
    if data_dir is None:
        return
    from eth_utils.address import to_canonical_address

    from ledger.node.config import load_config, save_config

    config = load_config(data_dir)
    addr = bytes(to_canonical_address(address))
    if addr not in config.allowlist:
        save_config(data_dir, config.with_allowlist((*config.allowlist, addr)))


@contextlib.contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """The URL of a threaded HTTP server on 127.0.0.1 answering with ``handler`` (quiet)."""

    class Quiet(handler):  # type: ignore[valid-type,misc]
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
