"""Deposits through the API: throughput at 32 concurrent clients, anchoring latency, peak RSS.

* deposits/s of 10 KB documents from 32 concurrent clients against ``zhenglian serve``
  (embedded defaults) ÷ the same load against the smallest FastAPI upload endpoint
  (``bench/minimal_upload.py``) served the same way — measured in the same run;
* anchoring latency: from the 201 of a deposit to its receipt being available, p50/p99;
* memory of the API process (``zhenglian serve``): RSS at idle, peak (VmHWM) under the load,
  and peak during a 2 GiB upload streamed by the client afterwards (high-water mark reset just
  before it); and the peak of the embedded chain's own process (a child of serve) beside it.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status_mib(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rss_peak_mib(pid: int) -> float:
    return _status_mib(pid, "VmHWM")


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _load(
    url: str,
    headers: dict[str, str],
    fields: dict[str, str],
    seconds: float,
    clients: int,
    tracker: _AnchorTracker | None = None,
) -> tuple[int, list[tuple[str, float]]]:
    done: list[tuple[str, float]] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker() -> None:
        with httpx.Client(timeout=60) as http:
            while time.monotonic() < stop:
                body = os.urandom(10_000)
                r = http.post(url, headers=headers, data=fields, files={"file": ("d.bin", body)})
                if r.status_code != 201:
                    raise RuntimeError(f"{r.status_code} {r.text[:200]}")
                with lock:
                    done.append((r.json().get("id", ""), time.monotonic()))
                    if tracker is not None and len(done) % 25 == 0:
                        tracker.track(done[-1][0], done[-1][1])

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return int(len(done) / (time.monotonic() - start)), done


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench api")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--upload-gib", type=float, default=2.0)
    args = parser.parse_args(argv)
    env = {**os.environ}
    with tempfile.TemporaryDirectory() as tmp:
        # Baseline first.
        port = free_port()
        base = subprocess.Popen([sys.executable, "-m", "bench.minimal_upload", str(port)], env=env)
        try:
            _wait(f"http://127.0.0.1:{port}/docs")
            baseline, _ = _load(
                f"http://127.0.0.1:{port}/upload", {}, {}, args.seconds, args.clients
            )
        finally:
            base.terminate()
            base.wait()
        data_dir = Path(tmp) / "data"
        port, rpc = free_port(), free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "zhenglian.cli",
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
                "--rpc-port",
                str(rpc),
            ],
            env=env,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait(f"{url}/healthz")
            time.sleep(2)
            idle_rss = _status_mib(server.pid, "VmRSS")
            chain_pids = _children(server.pid)
            token = (
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "zhenglian.cli",
                        "tokens",
                        "create",
                        "--data-dir",
                        str(data_dir),
                        "--institution",
                        "基准公证处",
                        "--role",
                        "notary",
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=env,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            headers = {"Authorization": f"Bearer {token}"}
            fields = {"kind": "notary", "title": "bench"}
            tracker = _AnchorTracker(url, headers)
            ours, _ = _load(
                f"{url}/v1/documents", headers, fields, args.seconds, args.clients, tracker
            )
            latency = tracker.finish()
            peak_before = _rss_peak_mib(server.pid)
            # The upload's own peak: reset the high-water mark (Linux: clear_refs "5").
            Path(f"/proc/{server.pid}/clear_refs").write_text("5")
            rss_before_upload = _status_mib(server.pid, "VmRSS")
            t = time.monotonic()
            r = httpx.post(
                f"{url}/v1/documents",
                headers=headers,
                data=fields,
                files={"file": ("big.bin", _Stream(int(args.upload_gib * 1024**3)))},  # type: ignore[dict-item]
                timeout=600,
            )
            upload_s = time.monotonic() - t
            assert r.status_code == 201, r.text
            upload_peak = _rss_peak_mib(server.pid)
            chain_peak = sum(_rss_peak_mib(pid) for pid in chain_pids)
        finally:
            server.terminate()
            server.wait(60)
    print(f"API deposits ({args.clients} clients, 10 KB documents, {args.seconds:.0f} s, loopback)")
    print(f"  minimal FastAPI upload endpoint {baseline:6d} req/s")
    print(f"  zhenglian deposits              {ours:6d} deposits/s")
    print(f"  ratio                           {ours / baseline:6.2f}")
    print(
        f"  anchoring latency (201 → receipt) p50 {statistics.median(latency):.2f} s, "
        f"p99 {sorted(latency)[int(0.99 * (len(latency) - 1))]:.2f} s (n={len(latency)})"
    )
    print(
        f"  API process RSS at idle {idle_rss:.0f} MiB, peak (VmHWM) under the load "
        f"{peak_before:.0f} MiB"
    )
    print(
        f"  {args.upload_gib:g} GiB upload in {upload_s:.0f} s: API process RSS "
        f"{rss_before_upload:.0f} MiB before, peak during it {upload_peak:.0f} MiB "
        f"({upload_peak * 1.048576:.0f} MB)"
    )
    print(f"  embedded chain process ({len(chain_pids)}) peak RSS {chain_peak:.0f} MiB")
    print(f"  load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


class _Stream:
    """A file-like source of n pseudo-random bytes, never held in memory at once."""

    def __init__(self, n: int) -> None:
        self.left = n
        self.block = os.urandom(1024 * 1024)

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = min(self.left, len(self.block) if size < 0 else min(size, len(self.block)))
        self.left -= n
        return self.block[:n]

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read():
            yield chunk


class _AnchorTracker:
    """Polls a sample of deposits, during the load, until each is anchored."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url, self.headers = url, headers
        self.pending: dict[str, float] = {}
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def track(self, doc_id: str, acked: float) -> None:
        with self.lock:
            self.pending[doc_id] = acked

    def _run(self) -> None:
        with httpx.Client(timeout=30) as http:
            while not (self.stop and not self.pending):
                with self.lock:
                    items = list(self.pending.items())
                for doc_id, acked in items:
                    r = http.get(f"{self.url}/v1/documents/{doc_id}", headers=self.headers)
                    if r.json().get("status") == "anchored":
                        with self.lock:
                            self.latencies.append(time.monotonic() - acked)
                            del self.pending[doc_id]
                time.sleep(0.05)

    def finish(self) -> list[float]:
        self.stop = True
        self.thread.join(120)
        return self.latencies


def _wait(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")
