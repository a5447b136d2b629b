"""Hashing throughput against OpenSSL on the same file, in the same run.

* ours SHA-256 (the streaming path of evidence.digest, hashlib) ÷ ``openssl dgst -sha256``
* ours dual digest (SHA-256 + SM3 in one pass, ``digest_file``) ÷ ``openssl dgst -sm3``

Both sides read the file from the page cache (it is read once first); best of 3 each.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from evidence.digest import CHUNK_SIZE, digest_file


def _best(fn: Callable[[], object], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _sha256_only(path: Path) -> bytes:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            h.update(chunk)
    return h.digest()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench hashing")
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "document.bin"
        with path.open("wb") as fh:
            for _ in range(args.size_mib):
                fh.write(os.urandom(1024 * 1024))
        _sha256_only(path)  # warm the page cache
        mib = args.size_mib
        openssl_sha = _best(
            lambda: subprocess.run(
                ["openssl", "dgst", "-sha256", str(path)], check=True, capture_output=True
            )
        )
        openssl_sm3 = _best(
            lambda: subprocess.run(
                ["openssl", "dgst", "-sm3", str(path)], check=True, capture_output=True
            )
        )
        ours_sha = _best(lambda: _sha256_only(path))
        ours_dual = _best(lambda: digest_file(path))
    rate = {
        k: mib / v
        for k, v in {
            "openssl sha256": openssl_sha,
            "openssl sm3": openssl_sm3,
            "ours sha256": ours_sha,
            "ours sha256+sm3": ours_dual,
        }.items()
    }
    print(f"hashing a {mib} MiB file (page cache, best of 3)")
    for name, r in rate.items():
        print(f"  {name:18} {r:8.0f} MiB/s")
    print(
        f"  ratio sha256 ÷ openssl sha256      {rate['ours sha256'] / rate['openssl sha256']:.2f}"
    )
    print(
        f"  ratio dual ÷ openssl sm3           {rate['ours sha256+sm3'] / rate['openssl sm3']:.2f}"
    )
