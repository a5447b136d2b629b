"""``zhenglian serve`` refuses to start on a log that is behind a head it anchored (the
metadata database restored from an older copy while the chain went on), and says so in one
line; its health names a halted anchoring worker (issue 9)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.integration.test_api_e2e import ANCHOR_DEADLINE, deposit, wait_receipt
from tests.support.zl_server import running_server, serve_refusal

pytestmark = pytest.mark.integration


def _copy_database(data_dir: Path, to: Path) -> None:
    """A consistent copy of the SQLite metadata database (WAL included), as a backup is."""
    with sqlite3.connect(data_dir / "zhenglian.sqlite") as source, sqlite3.connect(to) as target:
        source.backup(target)


def _restore_database(data_dir: Path, backup: Path) -> None:
    for suffix in ("-wal", "-shm"):
        (data_dir / f"zhenglian.sqlite{suffix}").unlink(missing_ok=True)
    (data_dir / "zhenglian.sqlite").write_bytes(backup.read_bytes())


def test_serve_refuses_a_database_rolled_back_behind_the_chain(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    backup = tmp_path / "backup.sqlite"
    with running_server(data_dir) as srv:
        headers = {"Authorization": f"Bearer {srv.token('城东公证处', 'notary')}"}
        first = deposit(srv, headers, b"before the backup").json()
        wait_receipt(srv, headers, first["id"], ANCHOR_DEADLINE)
        _copy_database(data_dir, backup)
        second = deposit(srv, headers, b"after the backup").json()
        wait_receipt(srv, headers, second["id"], ANCHOR_DEADLINE)
    _restore_database(data_dir, backup)
    last = serve_refusal(data_dir)
    assert last.startswith("zhenglian: error: the chain holds head 2"), last
    assert "has only 1 entries" in last and "rolled back or forked" in last
