"""``python -m bench [NAME ...]`` runs the named benchmarks (default: all)."""

from __future__ import annotations

import sys

from bench import (
    anchors,
    api_load,
    certificate_report,
    confirmation_latency,
    custody_map,
    hashing,
    merkle_store,
    signature_verification,
    sm2_bindings,
    soak,
)

BENCHMARKS = {
    "anchors": anchors.main,
    "hashing": hashing.main,
    "merkle": merkle_store.main,
    "custody-map": custody_map.main,
    "api": api_load.main,
    "confirmation": confirmation_latency.main,
    "soak": soak.main,
    "sm2": sm2_bindings.main,
    "signatures": signature_verification.main,
    "certificate-report": certificate_report.main,
}


def main(argv: list[str]) -> int:
    """``python -m bench`` runs all; ``python -m bench NAME [OPTIONS]`` runs one with options."""
    if not argv:
        for name, run in BENCHMARKS.items():
            if name != "soak":  # minutes of kill cycles: run it by name
                run([])
        return 0
    name, options = argv[0], argv[1:]
    if name not in BENCHMARKS:
        print(f"unknown benchmark {name!r}; have {', '.join(BENCHMARKS)}")
        return 2
    BENCHMARKS[name](options)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
