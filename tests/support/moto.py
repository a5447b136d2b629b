"""A real S3-compatible server for tests: moto_server (moto[server]) on a free loopback port."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import SERVER_POLL_INTERVAL, SERVER_START_TIMEOUT, free_port, stop


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """host:port of a running moto_server."""
    exe = shutil.which("moto_server") or str(
        Path(__import__("sys").executable).parent / "moto_server"
    )
    if not Path(exe).exists():
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise RuntimeError("moto_server did not start") from None
            time.sleep(SERVER_POLL_INTERVAL)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop(proc)
        log.close()
