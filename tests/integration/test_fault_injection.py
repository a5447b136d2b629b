"""Kill -9 under load, ten cycles (more with ``python -m bench soak``): no acknowledged deposit
is lost, all are anchored after a restart, and the audit against the chain finds no lost,
duplicated or forked head (issue 9). See tests/support/faults.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.faults import acknowledged_digests, soak

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Cycles in the test suite (the issue asks for at least 10 in CI).
CYCLES = int(os.environ.get("ZHENGLIAN_FAULT_CYCLES", "10"))
#: A fixed seed: the same kill kinds and moments on every run (ZHENGLIAN_FAULT_SEED to vary).
SEED = int(os.environ.get("ZHENGLIAN_FAULT_SEED", "9"))


def test_kill_9_cycles_under_load_lose_nothing_and_leave_no_fork(tmp_path: Path) -> None:
    result = soak(tmp_path / "data", CYCLES, SEED)
    assert result.cycles == CYCLES
    assert all(result.kills.values()), result.kills  # every kind of kill happened
    assert result.acknowledged, "no deposit was acknowledged under load"
    assert result.lost == [], (
        f"{len(result.lost)} acknowledged but not anchored: {result.lost[:3]}; {result.health}"
    )
    assert result.anchored == len(result.acknowledged)
    # The audit against the chain finds no lost, duplicated or forked head and no row without
    # its leaf. What it may report are originals of uploads killed before their deposit was
    # committed (never acknowledged): stored, then orphaned, and kept — never one of a
    # deposit that was acknowledged.
    kinds = {finding["kind"] for finding in result.findings}
    assert kinds <= {"orphan-original"}, result.audit_output
    assert result.audit_status == (1 if kinds else 0), result.audit_output
    orphans = {finding["evidence"]["sha256"] for finding in result.findings}
    assert not orphans & acknowledged_digests(tmp_path / "data", result.acknowledged)
