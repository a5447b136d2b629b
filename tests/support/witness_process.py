"""Real ``zhenglian witness`` processes for the tests (127.0.0.1, free ports)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.servers import (
    REPO_ROOT,
    SERVER_POLL_INTERVAL,
    SERVER_START_TIMEOUT,
    free_port,
    stop,
)

#: The environment of witness processes: the passphrase comes from the witness's own directory.
WITNESS_ENV = {k: v for k, v in os.environ.items() if k != "ZHENGLIAN_KEY_PASSPHRASE"}


def witness_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zhenglian.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=WITNESS_ENV,
        cwd=REPO_ROOT,
    )


def init_witness(data_dir: Path, name: str) -> str:
    """``zhenglian witness init``: the witness's verifier key (its last line of output)."""
    done = witness_cli("witness", "init", "--data-dir", str(data_dir), "--name", name)
    if done.returncode != 0:
        raise RuntimeError(f"witness init failed: {done.stderr}")
    return done.stdout.strip().splitlines()[-1]


@dataclass
class RunningWitness:
    key: str
    """Its verifier key (``NAME+KEYID+BASE64``, type 0x04)."""
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    """Where its output goes."""

    @property
    def name(self) -> str:
        return self.key.split("+", 1)[0]

    def stop(self) -> None:
        stop(self.process)


def start_witness(
    data_dir: Path, log_keys: list[str], *, key: str | None = None, port: int | None = None
) -> RunningWitness:
    """``zhenglian witness serve`` on ``data_dir`` (made by :func:`init_witness`, whose
    verifier key is ``key``: asked with ``witness key`` when not given), trusting
    ``log_keys``, on ``port`` (default: a free one); returns once it answers ``/healthz``."""
    if key is None:
        listed = witness_cli("witness", "key", "--data-dir", str(data_dir)).stdout
        key = listed.strip().splitlines()[-1]
    port = port or free_port()
    log_path = data_dir.parent / f"{data_dir.name}-witness.log"
    args = [sys.executable, "-m", "zhenglian.cli", "witness", "serve", "--data-dir", str(data_dir)]
    for log_key in log_keys:
        args += ["--log", log_key]
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            [*args, "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=WITNESS_ENV
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"witness serve exited with {process.returncode}: {log_path.read_text()[-2000:]}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        if time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"witness serve did not answer in {SERVER_START_TIMEOUT} s")
        time.sleep(SERVER_POLL_INTERVAL)
    return RunningWitness(key, url, data_dir, process, log_path)


@contextlib.contextmanager
def running_witness(data_dir: Path, name: str, log_keys: list[str]) -> Iterator[RunningWitness]:
    """A new witness named ``name`` in ``data_dir``, serving until the block ends."""
    witness = start_witness(data_dir, log_keys, key=init_witness(data_dir, name))
    try:
        yield witness
    finally:
        witness.stop()
