"""A real PostgreSQL 15 for tests: initdb in a temp dir (as user postgres), 127.0.0.1, free port.

``postgres_url`` (session fixture) starts one private server and yields the SQLAlchemy URL of
its database ``zhenglian``; :func:`fresh_database_url` makes another empty database on the
same server for a test that wants one of its own. Import the fixture into a test module with
``from tests.support.postgres import postgres_url  # noqa: F401``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import SERVER_START_TIMEOUT, free_port

#: The OS user that owns the cluster when the tests run as root (initdb refuses root).
POSTGRES_USER = "postgres"
#: Seconds given to a fast shutdown before the server is killed.
STOP_TIMEOUT = 20.0


def postgres_bindir() -> Path | None:
    """Directory of initdb/postgres/pg_ctl: ``pg_config --bindir``, else the newest
    /usr/lib/postgresql/*/bin (Debian's pg_config may belong to the client package only)."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if out.returncode == 0 and (candidate / "initdb").exists():
            return candidate
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", POSTGRES_USER, "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _as_postgres(cmd), capture_output=True, text=True, check=False, timeout=120
    )


def _kill_postmaster(data: Path) -> None:
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError, IndexError):
        pass


def fresh_database_url(server_url: str) -> str:
    """Create an empty database on the server of ``server_url``; return its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"zl_{uuid.uuid4().hex[:16]}"
    engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh database on a private PostgreSQL server (session-wide)."""
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries not found (no pg_config --bindir with initdb, no "
            "/usr/lib/postgresql/*/bin): apt-get install postgresql"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(POSTGRES_USER)
        except KeyError:
            pytest.skip(f"running as root and there is no user {POSTGRES_USER!r} to run initdb")
        if shutil.which("runuser") is None:
            pytest.skip("running as root and runuser is missing (needed to run as postgres)")
    # Not under pytest's tmp dir: that one is private to root and postgres cannot enter it.
    root = Path(tempfile.mkdtemp(prefix="zhenglian-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, POSTGRES_USER)
        shutil.chown(sock, POSTGRES_USER)
    proc: subprocess.Popen[bytes] | None = None
    log_path = root / "postgres.log"
    try:
        init = _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        )
        if init.returncode != 0:
            pytest.fail(f"initdb failed: {init.stderr[-2000:]}")
        port = free_port()
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                _as_postgres(
                    [
                        str(bindir / "postgres"),
                        "-D",
                        str(data),
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(port),
                        "-k",
                        str(sock),
                        "-c",
                        "fsync=off",
                        "-c",
                        "synchronous_commit=off",
                        "-c",
                        "full_page_writes=off",
                        "-c",
                        "max_connections=100",
                    ]
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        ready = [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
        while _run(ready).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"postgres did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        created = _run(
            [
                str(bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "zhenglian",
            ]
        )
        if created.returncode != 0:
            pytest.fail(f"createdb failed: {created.stderr}")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/zhenglian"
    finally:
        if proc is not None and proc.poll() is None:
            _run([str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"])
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _kill_postmaster(data)  # runuser would not pass SIGKILL on to its child
                proc.kill()
                proc.wait()
        shutil.rmtree(root, ignore_errors=True)
