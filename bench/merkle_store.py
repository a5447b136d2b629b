"""The Merkle log and the metadata store at 10^6 entries.

* build: MerkleLog.append_many over 10^6 leaf hashes ÷ hashlib hashing the same number of
  65-byte node inputs in a tight single-call loop (the rate of the hashing alone);
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
from datetime import UTC, datetime
from pathlib import Path

from evidence.repository import (
    NewDocument,
    SqlNodeStore,
    add_documents,
    find_by_sha256,
    open_database,
)
from ledger.merkle import MerkleLog, hash_leaf


def _p(values: list[float], pct: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(pct / 100 * (len(s) - 1)))]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench merkle")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args(argv)
    n = args.entries
    leaves = [hash_leaf(i.to_bytes(8, "big")) for i in range(n)]

    node_input = b"\x01" + bytes(64)
    sha = hashlib.sha256
    t = time.perf_counter()
    for _ in range(n):  # a tree of n leaves hashes n - 1 interior nodes
        sha(node_input).digest()
    baseline = time.perf_counter() - t
    log = MerkleLog()
    t = time.perf_counter()
    log.append_many(leaves)
    build = time.perf_counter() - t

    memory_proof = []
    for _ in range(1000):
        i = random.randrange(n)
        t = time.perf_counter()
        log.inclusion_proof(i, n)
        memory_proof.append(time.perf_counter() - t)

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
        sql_proof, lookups = [], []
        with db.session() as s:
            store = MerkleLog(SqlNodeStore(s))
            for _ in range(1000):
                i = random.randrange(n)
                t = time.perf_counter()
                store.inclusion_proof(i, n)
                sql_proof.append(time.perf_counter() - t)
            for d in digests:
                t = time.perf_counter()
                assert find_by_sha256(s, d)
                lookups.append(time.perf_counter() - t)
        db.engine.dispose()

    print(f"Merkle log and metadata at {n:,} entries")
    print(
        f"  build {n:,} leaves: {build:.2f} s; hashlib alone {baseline:.2f} s; "
        f"ratio {baseline / build:.2f}"
    )
    print(
        f"  inclusion proof, memory: p50 {statistics.median(memory_proof) * 1e3:.3f} ms, "
        f"p99 {_p(memory_proof, 99) * 1e3:.3f} ms"
    )
    print(
        f"  inclusion proof, SQLite: p50 {statistics.median(sql_proof) * 1e3:.3f} ms, "
        f"p99 {_p(sql_proof, 99) * 1e3:.3f} ms"
    )
    print(
        f"  verify-by-digest lookup ({len(lookups)} lookups): "
        f"p50 {statistics.median(lookups) * 1e3:.3f} ms, p99 {_p(lookups, 99) * 1e3:.3f} ms"
    )
    print(f"  (loading {n:,} documents and log nodes into SQLite took {load:.0f} s)")
