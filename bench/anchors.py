"""Anchoring on the embedded chain: throughput, submit-to-inclusion latency, gas per anchor.

Baseline, measured in the same run on the same node: plain 21,000-gas value transfers sent
the same way (pipelined, signed locally). The ratio anchors/s ÷ transfers/s shows what the
on-chain consistency check and storage cost on top of the chain's own transaction rate.

Gas is measured for anchoring a head ``n + 1000`` after a head ``n`` (a batch of 1,000
deposits) at n = 10^3, 10^6, 10^9. Trees of 10^9 leaves cannot be built here, so those logs
consist of one repeated leaf: every perfect subtree of a level then has the same hash, which
makes any root and proof computable in O(log n) while staying a real, valid RFC 6962 proof
of the same length and shape as for any other log of that size.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ledger.client import JsonDeploymentStore, LedgerClient
from ledger.errors import MerkleError
from ledger.merkle import MerkleLog, hash_children, hash_leaf
from ledger.node.server import ANCHORER_KEY, EmbeddedNode, load_node_key


class UniformNodeStore:
    """A read-only NodeStore of ``size`` identical leaves (see module docstring)."""

    def __init__(self, size: int, leaf: bytes = hash_leaf(b"uniform")) -> None:
        self._size = size
        self._levels = [leaf]
        for _ in range(64):
            self._levels.append(hash_children(self._levels[-1], self._levels[-1]))

    def size(self) -> int:
        return self._size

    def get_node(self, level: int, index: int) -> bytes:
        if index >= self._size >> level:
            raise MerkleError(f"node ({level}, {index}) is not stored")
        return self._levels[level]

    def get_nodes(self, coordinates: Sequence[tuple[int, int]]) -> list[bytes]:
        return [self.get_node(level, index) for level, index in coordinates]

    def append_nodes(self, start_size: int, levels: Sequence[Sequence[bytes]]) -> None:
        raise MerkleError("read-only store")


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _transfers_per_second(client: LedgerClient, n: int) -> float:
    acct = client.account
    nonce = client.w3.eth.get_transaction_count(acct.address, "pending")
    raws = [
        bytes(
            acct.sign_transaction(
                {
                    "chainId": client.chain_id,
                    "nonce": nonce + i,
                    "to": "0x" + "11" * 20,  # type: ignore[dict-item]
                    "value": 0,
                    "gas": 21_000,
                    "maxFeePerGas": 0,
                    "maxPriorityFeePerGas": 0,
                    "type": 2,
                }
            ).raw_transaction
        )
        for i in range(n)
    ]
    start = time.perf_counter()
    hashes = [client.w3.eth.send_raw_transaction(raw) for raw in raws]
    for h in hashes:
        client.wait_for_receipt(bytes(h))
    elapsed = time.perf_counter() - start
    client._resync_nonce()
    return n / elapsed


def _anchors_per_second(
    client: LedgerClient, log: MerkleLog, first: int, n: int, step: int
) -> float:
    sizes = [first + step * (i + 1) for i in range(n)]
    start = time.perf_counter()
    hashes = []
    previous = first
    for size in sizes:
        proof = log.consistency_proof(previous, size).hashes
        hashes.append(client.submit_anchor(size, log.root(size), proof, preflight=False))
        previous = size
    for h in hashes:
        client.anchor_receipt(h)
    return n / (time.perf_counter() - start)


def _latencies(client: LedgerClient, log: MerkleLog, first: int, n: int, step: int) -> list[float]:
    out = []
    previous = first
    for i in range(n):
        size = first + step * (i + 1)
        proof = log.consistency_proof(previous, size).hashes
        start = time.perf_counter()
        client.anchor(size, log.root(size), proof)
        out.append(time.perf_counter() - start)
        previous = size
    return out


def _gas_at(url: str, key: str, n: int, batch: int = 1000) -> tuple[int, int]:
    client = LedgerClient(url, key)
    client.deploy()
    log = MerkleLog(UniformNodeStore(n + batch))
    client.anchor(n, log.root(n), [])
    proof = log.consistency_proof(n, n + batch).hashes
    receipt = client.anchor(n + batch, log.root(n + batch), proof)
    gas = int(client.wait_for_receipt(receipt.tx_hash)["gasUsed"])
    return gas, len(proof)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench anchors")
    parser.add_argument("--count", type=int, default=300, help="anchors and transfers to send")
    parser.add_argument("--latency-samples", type=int, default=40)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        node = EmbeddedNode(data_dir, block_time=1.0)
        running = node.start("127.0.0.1", 0)
        try:
            key = "0x" + load_node_key(data_dir, ANCHORER_KEY).to_bytes().hex()
            client = LedgerClient(running.url, key)
            client.ensure_deployed(JsonDeploymentStore(data_dir / "deployments.json"))
            step = 10
            total = step * (args.count + args.latency_samples + 2)
            log = MerkleLog()
            log.append_many([hash_leaf(i.to_bytes(8, "big")) for i in range(total)])
            client.anchor(step, log.root(step), [])

            transfers = _transfers_per_second(client, args.count)
            anchors = _anchors_per_second(client, log, step, args.count, step)
            first = step * (args.count + 1)
            lat = _latencies(client, log, first, args.latency_samples, step)

            gas = {n: _gas_at(running.url, key, n) for n in (10**3, 10**6, 10**9)}
        finally:
            running.stop()

    print("anchoring on the embedded chain (block time 1 s, one anchoring account)")
    print(f"  transfers/s (baseline, 21k gas) {transfers:8.1f}")
    print(f"  anchors/s                       {anchors:8.1f}")
    print(f"  ratio anchors/transfers         {anchors / transfers:8.2f}")
    print(
        f"  submit→inclusion p50 {statistics.median(lat) * 1000:6.0f} ms  "
        f"p99 {_percentile(lat, 99) * 1000:6.0f} ms  (n={len(lat)})"
    )
    for n, (g, nodes) in gas.items():
        print(f"  gas to anchor {n:>13,} → {n + 1000:>13,}: {g:7,} ({nodes} proof nodes)")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
