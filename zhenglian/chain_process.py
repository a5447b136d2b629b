"""The embedded chain as a supervised child process of ``zhenglian serve``.

``zhenglian serve`` runs the embedded chain as ``zhenglian chain serve`` in a child process
(JSON-RPC on 127.0.0.1:``--rpc-port``) and talks to it over JSON-RPC like to any external node,
so py-evm, the chain state and the keystores' scrypt never take memory in the API process.

Parent (``ChainProcess``): starts the child in its own session (a Ctrl-C in the terminal reaches
serve only, which then stops the chain in order), waits for its handoff record and for its
JSON-RPC to answer (``CHAIN_START_TIMEOUT``), watches it, and stops it with SIGTERM, then SIGKILL
after ``CHAIN_STOP_GRACE``. An unexpected exit is reported to a callback (serve logs it and exits
non-zero so that its supervisor restarts both).

Child (``chain serve --ready-fd FD``): never outlives serve. It watches its stdin, a pipe whose
only writer is serve, and stops when it reads EOF (serve exited, however it died); on Linux it
also asks the kernel for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``). When it serves
JSON-RPC it writes one JSON line to FD — RPC URL, chain id, validators, contract and the
anchoring key, unlocked once there (a pipe only serve holds, never disk or a command line) —
and closes FD.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ledger.errors import NodeError

log = logging.getLogger(__name__)

#: Seconds serve waits for the chain child to answer JSON-RPC (it verifies the stored blocks
#: and may wait for a previous chain process of the data dir to let go of it first).
CHAIN_START_TIMEOUT = 180.0
#: Seconds the chain child gets to stop after SIGTERM before it is killed.
CHAIN_STOP_GRACE = 15.0
#: Seconds a supervised chain waits for the data dir's lock (a chain left by a killed serve
#: notices within milliseconds and closes its database; this bounds the wait for that).
CHAIN_LOCK_WAIT = 30.0
#: Seconds one readiness probe of the child's JSON-RPC may take, and between two probes.
PROBE_TIMEOUT = 2.0
PROBE_INTERVAL = 0.1
#: Largest handoff record the parent reads (it is a few hundred bytes).
MAX_HANDOFF_BYTES = 64 * 1024

_PR_SET_PDEATHSIG = 1


class ChainProcessError(NodeError):
    """The embedded chain's process did not start, or stopped."""


@dataclass(frozen=True)
class ChainHandoff:
    """What the chain child tells serve once its JSON-RPC answers."""

    url: str
    chain_id: int
    validators: tuple[bytes, ...]
    contract: bytes
    anchorer_key: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "chain_id": self.chain_id,
            "validators": ["0x" + v.hex() for v in self.validators],
            "contract": "0x" + self.contract.hex(),
            "anchorer_key": self.anchorer_key.hex(),
        }

    @classmethod
    def from_json(cls, obj: Any) -> ChainHandoff:
        try:
            if not isinstance(obj, dict) or set(obj) != {
                "url",
                "chain_id",
                "validators",
                "contract",
                "anchorer_key",
            }:
                raise ValueError("unexpected keys")
            url, chain_id = obj["url"], obj["chain_id"]
            if not isinstance(url, str) or not url.startswith("http://"):
                raise ValueError("url")
            if type(chain_id) is not int or chain_id <= 0:
                raise ValueError("chain id")
            validators = tuple(_hex_bytes(v, 20) for v in obj["validators"])
            if not validators:
                raise ValueError("no validators")
            return cls(
                url=url,
                chain_id=chain_id,
                validators=validators,
                contract=_hex_bytes(obj["contract"], 20),
                anchorer_key=_hex_bytes(obj["anchorer_key"], 32),
            )
        except (ValueError, TypeError) as exc:
            raise ChainProcessError(f"the embedded chain sent a bad handoff ({exc})") from None


def _hex_bytes(value: Any, length: int) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not a hex string")
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != length:
        raise ValueError(f"expected {length} bytes")
    return raw


# --- child side --------------------------------------------------------------------------


def watch_parent() -> None:
    """In the chain child: SIGTERM ourselves as soon as serve is gone, however it died."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # stdin EOF below still catches it

    def until_eof() -> None:
        # The raw descriptor, not sys.stdin: a daemon thread blocked inside a buffered
        # reader would abort the interpreter at exit.
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        log.warning("serve is gone (stdin closed): stopping the chain")
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=until_eof, name="zl-parent-watch", daemon=True).start()


def write_handoff(fd: int, handoff: ChainHandoff) -> None:
    """In the chain child: tell serve where the chain is (one JSON line), then close ``fd``."""
    data = json.dumps(handoff.to_json()).encode() + b"\n"
    try:
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


# --- parent side -------------------------------------------------------------------------


class ChainProcess:
    """``zhenglian chain serve`` over ``data_dir`` as a supervised child process."""

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 8545,
        block_time: float = 1.0,
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.block_time = block_time
        self.proc: subprocess.Popen[bytes] | None = None
        self.on_exit: Callable[[int], None] | None = None
        self._stopping = threading.Event()
        self._exited = threading.Event()
        # Guards the hand-over of exit reporting: until start() returns, start() itself reports
        # an exit (as its exception); from then on the watcher does (log + on_exit).
        self._report_lock = threading.Lock()
        self._started = False

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def exited(self) -> bool:
        return self._exited.is_set()

    def returncode(self) -> int:
        """The child's exit code (negative: killed by that signal); -1 while it runs."""
        code = self.proc.returncode if self.proc is not None else None
        return code if code is not None else -1

    def start(self, timeout: float = CHAIN_START_TIMEOUT) -> ChainHandoff:
        """Start the child; return its handoff once its JSON-RPC answers."""
        read_fd, write_fd = os.pipe()
        verbose = ["-v"] if logging.getLogger().isEnabledFor(logging.INFO) else []
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "zhenglian.cli",
                    *verbose,
                    "chain",
                    "serve",
                    "--data-dir",
                    str(self.data_dir),
                    "--host",
                    self.host,
                    "--port",
                    str(self.port),
                    "--block-time",
                    repr(self.block_time),
                    "--ready-fd",
                    str(write_fd),
                ],
                stdin=subprocess.PIPE,
                pass_fds=(write_fd,),
                start_new_session=True,
            )
        except OSError as exc:
            os.close(read_fd)
            raise ChainProcessError(f"cannot start the embedded chain: {exc}") from exc
        finally:
            os.close(write_fd)
        threading.Thread(target=self._watch, name="zl-chain-watch", daemon=True).start()
        try:
            deadline = time.monotonic() + timeout
            with os.fdopen(read_fd, "rb", buffering=0) as pipe:
                handoff = self._read_handoff(pipe, deadline, timeout)
            self._probe(handoff.url, deadline, timeout)
            with self._report_lock:
                if self._exited.is_set():
                    raise ChainProcessError(
                        f"the embedded chain exited with code {self.returncode()} "
                        "(its error is above)"
                    )
                self._started = True
        except BaseException:
            self.stop()
            raise
        log.info("embedded chain (pid %d) answers on %s", self.proc.pid, handoff.url)
        return handoff

    def _read_handoff(self, pipe: IO[bytes], deadline: float, timeout: float) -> ChainHandoff:
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChainProcessError(f"the embedded chain did not start within {timeout:.0f} s")
            ready, _, _ = select.select([pipe], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = pipe.read(4096)
            if not chunk:
                raise ChainProcessError(
                    f"the embedded chain exited with code {self._exit_code()} before it was "
                    "ready (its error is above)"
                )
            buf += chunk
            if len(buf) > MAX_HANDOFF_BYTES:
                raise ChainProcessError("the embedded chain sent an oversized handoff")
        try:
            obj = json.loads(buf.split(b"\n", 1)[0])
        except ValueError:
            raise ChainProcessError("the embedded chain sent a malformed handoff") from None
        return ChainHandoff.from_json(obj)

    def _probe(self, url: str, deadline: float, timeout: float) -> None:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}).encode()
        while True:
            request = urllib.request.Request(
                url, data=body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT) as response:
                    if "result" in json.loads(response.read(MAX_HANDOFF_BYTES)):
                        return
            except (OSError, ValueError):
                pass
            if self._exited.is_set():
                raise ChainProcessError(
                    f"the embedded chain exited with code {self._exit_code()} (its error is above)"
                )
            if time.monotonic() > deadline:
                raise ChainProcessError(
                    f"the embedded chain's JSON-RPC on {url} did not answer within {timeout:.0f} s"
                )
            time.sleep(PROBE_INTERVAL)

    def _exit_code(self) -> int:
        self._exited.wait(CHAIN_STOP_GRACE)
        return self.returncode()

    def _watch(self) -> None:
        assert self.proc is not None
        code = self.proc.wait()
        with self._report_lock:
            self._exited.set()
            report = self._started
        if not report or self._stopping.is_set():
            return  # before start() returned, start() reports it
        log.error("the embedded chain (pid %d) exited unexpectedly: code %d", self.proc.pid, code)
        if self.on_exit is not None:
            self.on_exit(code)

    def stop(self, grace: float = CHAIN_STOP_GRACE) -> int | None:
        """SIGTERM the child, SIGKILL it after ``grace`` seconds; its exit code."""
        self._stopping.set()
        proc = self.proc
        if proc is None:
            return None
        if not self._exited.is_set():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            if not self._exited.wait(grace):
                log.warning("the embedded chain did not stop in %.0f s: killing it", grace)
                proc.kill()
                self._exited.wait(grace)
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        return proc.returncode
