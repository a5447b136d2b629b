"""Fault-injection soak: kill -9 cycles under load (tests/support/faults.py), more of them
than the test suite runs. Prints what docs/reliability.md records: cycles, kills of each kind,
deposits acknowledged, lost (must be 0), and what the final audit found.

    python -m bench soak [--cycles 50] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from tests.support.faults import acknowledged_digests, soak


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench soak")
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="zl-soak-") as tmp:
        data_dir = Path(tmp) / "data"
        started = time.monotonic()
        result = soak(data_dir, args.cycles, args.seed)
        orphans = {f["evidence"]["sha256"] for f in result.findings}
        acknowledged_orphans = orphans & acknowledged_digests(data_dir, result.acknowledged)
        print(
            json.dumps(
                {
                    "cycles": result.cycles,
                    "kills": result.kills,
                    "acknowledged": len(result.acknowledged),
                    "anchored": result.anchored,
                    "lost": len(result.lost),
                    "audit_findings": sorted({f["kind"] for f in result.findings}),
                    "orphans_of_unacknowledged_uploads": len(orphans - acknowledged_orphans),
                    "orphans_of_acknowledged_deposits": len(acknowledged_orphans),
                    "seconds": round(time.monotonic() - started, 1),
                },
                indent=2,
            )
        )
