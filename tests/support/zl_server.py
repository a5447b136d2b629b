"""A real ``zhenglian serve`` process for the end-to-end tests (127.0.0.1, free ports)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.servers import SERVER_POLL_INTERVAL, SERVER_START_TIMEOUT, free_port


@dataclass
class ZhenglianServer:
    url: str
    rpc_url: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    env: dict[str, str]

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "zhenglian.cli", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=self.env,
            check=check,
        )

    def token(self, institution: str, role: str) -> str:
        out = self.cli(
            "tokens",
            "create",
            "--data-dir",
            str(self.data_dir),
            "--institution",
            institution,
            "--role",
            role,
        )
        return out.stdout.strip().splitlines()[-1]

    def trust_args(self, directory: Path) -> list[str]:
        """``--trust FILE`` with the server's trust bundle (``GET /v1/trust``) saved in
        ``directory``: what ``zhenglian verify`` pins."""
        path = directory / f"trust-{self.url.rsplit(':', 1)[1]}.json"
        path.write_text(httpx.get(f"{self.url}/v1/trust", timeout=30).text)
        return ["--trust", str(path)]

    def kill(self) -> None:
        """Kill -9: no clean shutdown at all."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(data_dir: Path, extra_env: dict[str, str] | None = None) -> ZhenglianServer:
    port, rpc_port = free_port(), free_port()
    env = {**os.environ, "ZHENGLIAN_ANCHOR_INTERVAL": "0.5", **(extra_env or {})}
    log = (data_dir.parent / f"{data_dir.name}-server.log").open("ab")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zhenglian.cli",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--rpc-port",
            str(rpc_port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if proc.poll() is not None:
            log.close()
            text = (data_dir.parent / f"{data_dir.name}-server.log").read_text()[-3000:]
            raise RuntimeError(f"zhenglian serve exited with {proc.returncode}:\n{text}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code in (200, 503):
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("zhenglian serve did not come up")
        time.sleep(SERVER_POLL_INTERVAL)
    return ZhenglianServer(url, f"http://127.0.0.1:{rpc_port}", data_dir, proc, env)


def serve_refusal(data_dir: Path, env: dict[str, str] | None = None) -> str:
    """Run ``zhenglian serve`` on a data directory (and environment) it must refuse: exit 1,
    no traceback; return its last (error) line."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "zhenglian.cli",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(free_port()),
            "--rpc-port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr.strip().splitlines()[-1]


@contextlib.contextmanager
def running_server(
    data_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[ZhenglianServer]:
    server = start_server(data_dir, extra_env)
    try:
        yield server
    finally:
        server.stop()


def child_pids(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may contain spaces, so split after the last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return out


def chain_pid(server: ZhenglianServer) -> int:
    """The pid of the embedded chain process that ``server`` supervises."""
    for pid in child_pids(server.proc.pid):
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"chain" in cmdline and b"serve" in cmdline:
                return pid
    raise AssertionError(f"zhenglian serve (pid {server.proc.pid}) has no chain process")


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"
