"""``zhenglian serve`` supervises the embedded chain as a child process and never orphans it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port, rpc_call
from tests.support.zl_server import (
    chain_pid,
    child_pids,
    pid_alive,
    running_server,
    serve_refusal,
    start_server,
)

pytestmark = pytest.mark.integration

#: Seconds a chain process may take to notice that serve is gone and stop.
ORPHAN_DEADLINE = 10.0


def wait_gone(pid: int, deadline: float) -> float:
    start = time.monotonic()
    while pid_alive(pid):
        if time.monotonic() - start > deadline:
            pytest.fail(f"process {pid} still runs {deadline} s later")
        time.sleep(0.05)
    return time.monotonic() - start


def log_text(data_dir: Path) -> str:
    return (data_dir.parent / f"{data_dir.name}-server.log").read_text()


def test_chain_runs_in_its_own_process_and_stops_with_serve(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    srv = start_server(data_dir)
    try:
        child = chain_pid(srv)
        assert child != srv.proc.pid
        # The API process talks to the chain over JSON-RPC only: no py-evm in it.
        maps = Path(f"/proc/{srv.proc.pid}/maps").read_text()
        assert "/eth/vm/" not in maps
        assert rpc_call(srv.rpc_url, "eth_chainId")["result"] == hex(0x5A4C)  # type: ignore[index]
        assert httpx.get(f"{srv.url}/healthz").status_code == 200
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(60) == 0
        assert not pid_alive(child)  # stopped before serve exited
    finally:
        srv.stop()


def test_kill_9_of_serve_leaves_no_chain_behind(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    srv = start_server(data_dir)
    try:
        child = chain_pid(srv)
        srv.kill()
        wait_gone(child, ORPHAN_DEADLINE)
    finally:
        srv.stop()
    # The data dir is free again at once: a new serve starts its own chain on it.
    with running_server(data_dir) as again:
        assert httpx.get(f"{again.url}/healthz").status_code == 200


def test_serve_exits_non_zero_when_the_chain_dies(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    srv = start_server(data_dir)
    try:
        os.kill(chain_pid(srv), signal.SIGKILL)
        code = srv.proc.wait(60)
    finally:
        srv.stop()
    assert code == 1
    assert "embedded chain exited unexpectedly" in log_text(data_dir)


def test_chain_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        rpc_port = taken.getsockname()[1]
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
                str(rpc_port),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("zhenglian: error: the embedded chain exited with code 1"), last


#: Seconds within which serve's children must be gone once serve has exited.
CHILD_EXIT_WITHIN = 10.0


def test_sigterm_while_starting_stops_the_chain(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    proc = subprocess.Popen(
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # Wait until the chain process exists, then stop serve before it is ready.
        deadline = time.monotonic() + 60
        while not (children := child_pids(proc.pid)):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 130
        # Serve may be gone before its chain child has finished exiting (the child stops on
        # SIGTERM or on its parent's death): it must be gone within a few seconds, not linger.
        deadline = time.monotonic() + CHILD_EXIT_WITHIN
        for child in children:
            while pid_alive(child) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not pid_alive(child), f"pid {child} outlived serve by {CHILD_EXIT_WITHIN} s"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_data_directory_that_cannot_be_used_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    last = serve_refusal(blocker / "data")
    assert (
        last
        == f"zhenglian: error: cannot use the data directory {blocker / 'data'}: Not a directory"
    )


def test_a_corrupt_database_is_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "zhenglian.sqlite").write_bytes(b"not a database at all" * 500)
    last = serve_refusal(data_dir)
    assert last.startswith("zhenglian: error: cannot migrate the metadata database"), last
    assert "file is not a database" in last
