"""The Merkle log and the metadata store at 10^6 entries.

* build: the RFC 6962 tree over 10^6 entries with our code (``hash_leaves``, then
  ``MerkleLog.append_many`` and ``root``) ÷ hashlib computing the very same 2 * 10^6 - 1
  hashes (every leaf hash and every interior node hash of that tree), one
  ``hashlib.sha256(data).digest()`` call each on inputs prepared in advance, in a tight loop
  (the rate of the hashing alone). The two alternate ``--repeat`` times and the ratio
  reported is the median of the per-round ratios (the machine is shared: a round's absolute
  time varies, the ratio within a round much less);
* inclusion proof at 10^6 entries from the in-memory and the SQL (SQLite) node store;
* verify-by-digest lookup p99 with 10^6 stored documents (SQLite, indexed SHA-256 column).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from evidence.store.repository import (
    NewDocument,
    SqlNodeStore,
    add_documents,
    find_by_sha256,
    open_database,
)
from ledger.merkle import MerkleLog, hash_leaves


def _p(values: list[float], pct: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(pct / 100 * (len(s) - 1)))]


def _interior_node_inputs(leaves: list[bytes]) -> tuple[list[bytes], bytes]:
    """The n - 1 interior node inputs ``0x01 || left || right`` of the RFC 6962 tree over
    ``leaves`` (pairing neighbours level by level, an odd last node carried up), and its root.

    Written independently of ledger.merkle: the build's root is checked against it.
    """
    inputs: list[bytes] = []
    level = leaves
    while len(level) > 1:
        pairs = [b"\x01" + a + b for a, b in zip(level[0::2], level[1::2], strict=False)]
        inputs += pairs
        odd = [level[-1]] if len(level) % 2 else []
        level = [hashlib.sha256(data).digest() for data in pairs] + odd
    return inputs, level[0]


def _hashlib_alone(inputs: list[bytes]) -> float:
    """Seconds hashlib takes for ``inputs``: one ``sha256(data).digest()`` call each."""
    sha = hashlib.sha256
    t = time.perf_counter()
    for data in inputs:
        sha(data).digest()
    return time.perf_counter() - t


def _latencies(
    fn: Callable[..., object], calls: list[tuple[object, ...]]
) -> tuple[list[float], list[float]]:
    """Seconds per call of ``fn(*args)``: wall-clock, and this thread's CPU time.

    The CPU time leaves out the time the thread waited for a core, which on a shared
    machine is what the wall-clock tail (p99) mostly measures.
    """
    wall: list[float] = []
    cpu: list[float] = []
    for args in calls:
        w, c = time.perf_counter(), time.thread_time()
        fn(*args)
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - w)
    return wall, cpu


def _summary(latencies: tuple[list[float], list[float]]) -> str:
    wall, cpu = latencies
    return (
        f"p50 {statistics.median(wall) * 1e3:.3f} ms, p99 {_p(wall, 99) * 1e3:.3f} ms "
        f"(thread CPU time: p50 {statistics.median(cpu) * 1e3:.3f} ms, "
        f"p99 {_p(cpu, 99) * 1e3:.3f} ms)"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench merkle")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5, help="build rounds (default 5)")
    args = parser.parse_args(argv)
    n = args.entries
    load_before = os.getloadavg()[0]
    entries = [i.to_bytes(8, "big") for i in range(n)]
    leaf_inputs = [b"\x00" + entry for entry in entries]
    leaves = [hashlib.sha256(data).digest() for data in leaf_inputs]
    node_inputs, expected_root = _interior_node_inputs(leaves)
    baseline_inputs = leaf_inputs + node_inputs  # all 2n - 1 hashes of the tree
    del leaf_inputs, node_inputs

    rounds = []
    for _ in range(args.repeat):
        baseline = _hashlib_alone(baseline_inputs)
        log = MerkleLog()
        t = time.perf_counter()
        log.append_many(hash_leaves(entries))
        root = log.root()
        build = time.perf_counter() - t
        if root != expected_root:
            raise SystemExit("the log's root is not the reference root")
        rounds.append((build, baseline))
    del baseline_inputs

    memory_proof = _latencies(log.inclusion_proof, [(random.randrange(n), n) for _ in range(2000)])

    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
        db.migrate()
        t = time.perf_counter()
        batch = 20_000
        now = datetime.now(UTC)
        digests = []
        with db.session() as s:
            store = MerkleLog(SqlNodeStore(s))
            for start in range(0, n, batch):
                store.append_many(leaves[start : start + batch])
                rows = []
                for i in range(start, min(n, start + batch)):
                    d = os.urandom(32)
                    if i % (n // args.lookups or 1) == 0:
                        digests.append(d)
                    rows.append(
                        NewDocument(
                            str(uuid.uuid4()),
                            i,
                            d,
                            d,
                            1,
                            "notary",
                            "t",
                            None,
                            "inst",
                            "tok",
                            None,
                            d,
                            b"e",
                            now,
                        )
                    )
                add_documents(s, rows)
                s.commit()
        load = time.perf_counter() - t
        with db.session() as s:
            store = MerkleLog(SqlNodeStore(s))
            sql_proof = _latencies(
                store.inclusion_proof, [(random.randrange(n), n) for _ in range(2000)]
            )

            def lookup(digest: bytes) -> None:
                if not find_by_sha256(s, digest):
                    raise SystemExit("a stored digest was not found")

            lookups = _latencies(lookup, [(d,) for d in digests])
        db.engine.dispose()

    print(f"Merkle log and metadata at {n:,} entries")
    ratios = sorted(baseline / build for build, baseline in rounds)
    print(
        f"  build over {n:,} entries ({2 * n - 1:,} hashes), {len(rounds)} rounds: "
        f"median ratio {statistics.median(ratios):.2f} (min {ratios[0]:.2f}, max {ratios[-1]:.2f})"
    )
    for build, baseline in rounds:
        print(
            f"    ours {build:.2f} s, hashlib alone {baseline:.2f} s: ratio {baseline / build:.2f}"
        )
    print(f"  inclusion proof, memory (2000 proofs): {_summary(memory_proof)}")
    print(f"  inclusion proof, SQLite (2000 proofs): {_summary(sql_proof)}")
    print(f"  verify-by-digest lookup ({len(lookups[0])} lookups): {_summary(lookups)}")
    print(f"  (loading {n:,} documents and log nodes into SQLite took {load:.0f} s)")
    print(
        f"  load average (1 min) at the start {load_before:.2f}, at the end "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs: above 1, the machine was shared"
    )
