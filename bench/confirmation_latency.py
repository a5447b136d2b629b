"""Confirmation latency: from a deposit's 201 to its witnessed, time-stamped receipt.

Two deployments run side by side, each ``zhenglian serve`` with its own data directory:

* **baseline**: serve alone (no witness, no time-stamp authority): a receipt (version 2) is
  issued once its head is anchored and the log has signed its checkpoint;
* **witnessed**: serve with two ``zhenglian witness serve`` processes, quorum 2, and a local
  RFC 3161 authority (``tests.support.tsa``, ``openssl ts``): a receipt is issued once both
  witnesses cosigned a checkpoint covering the document and the authority stamped it.

They take the same deposit load (wrk, 32 connections, 10 KB multipart documents) in turns,
``--rounds`` rounds each, alternating (baseline first in odd rounds, witnessed first in even
ones), so that a machine shared with other work weighs on both alike. In a round the load
starts, ``--samples / --rounds`` deposits spread over ``--seconds / --rounds`` seconds are made
by a client of their own and timed from their 201 to the first 200 of
``GET /v1/documents/{id}/receipt`` (checked: version 2, and in the witnessed deployment two
cosignatures and a time stamp); the load goes on until every sample of the round has its
receipt, then stops. The watcher stays light: every ``--poll`` seconds it reads the public
checkpoint (``GET /v1/log/checkpoint``, no custody event), and asks for the receipts of only the
samples that checkpoint already covers (no other can be issued: checkpoints only grow), each
sample with at most one request in flight.

Printed: deposits/s achieved; p50/p99/max per deployment and their ratio (the cost of
independence); where the time goes, per segment, from serve's own log (``-v``): waiting to be
anchored, the block, collecting the anchor's proof, signing the checkpoint, the witnesses, the
time stamp, the watcher; the CPU time a witness spends per cosignature and the authority per
stamp; and what the idle deployment cost while the other was loaded.

``python -m bench confirmation [--seconds 60] [--samples 200] [--rounds 3]``. Needs ``wrk`` on
PATH (Debian: ``apt-get install wrk``). Every server binds 127.0.0.1 on a free port; all stop at
the end (``--work-dir`` keeps their data and logs).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.support.servers import SERVER_START_TIMEOUT, free_port
from tests.support.tsa import running_authority
from tests.support.witness_process import running_witness

#: Concurrent connections of the load (as ``bench api``).
CONNECTIONS = 32
#: Bytes of each deposited document (as ``bench api``).
DOCUMENT_BYTES = 10_000
#: Seconds a round's samples may still wait for their receipts, under the load, once the last
#: was deposited; one still waiting then counts as missing.
DRAIN_TIMEOUT = 60.0
#: Seconds the warm-up deposit may take to get its receipt (the set-up is checked by it).
WARM_UP_TIMEOUT = 60.0
#: Seconds one HTTP request of the sampler or the watcher may take.
CLIENT_TIMEOUT = 30.0
#: Seconds wrk has to print its totals once told to stop.
WRK_STOP_TIMEOUT = 30.0
#: The goal: p99 from 201 to witnessed, time-stamped receipt.
GOAL_P99_S = 5.0
INSTITUTION = "基准公证处"
WITNESS_NAMES = ("court.bench.example/w1", "notaries.bench.example/w2")

#: wrk's script: POST /v1/documents, multipart (kind, title, file of DOCUMENT_BYTES bytes), each
#: document made unique by a per-thread counter in front of per-thread random bytes; the token
#: comes as the script's argument. ``done`` prints one JSON line with the totals.
WRK_SCRIPT = r"""
local boundary = "zhenglian-bench-5b1f0c4e9d2a"
local threads = {}
local counter = 0
local head, tail, noise

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
  local bytes = {}
  for i = 1, DOCUMENT_BYTES - 16 do bytes[i] = string.char(math.random(0, 255)) end
  noise = table.concat(bytes)
  wrk.method = "POST"
  wrk.path = "/v1/documents"
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
  local function field(name, value)
    return "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"" .. name
      .. "\"\r\n\r\n" .. value .. "\r\n"
  end
  head = field("kind", "notary") .. field("title", "bench") .. "--" .. boundary
    .. "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.bin\"\r\n"
    .. "Content-Type: application/octet-stream\r\n\r\n"
  tail = "\r\n--" .. boundary .. "--\r\n"
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, head .. string.format("%08d%08d", id, counter) .. noise .. tail)
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK {"requests": %d, "duration_us": %d, "non_2xx": %d, "connect": %d, "read": %d, '
      .. '"write": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
""".replace("DOCUMENT_BYTES", str(DOCUMENT_BYTES))


# --- measurements ------------------------------------------------------------------------


@dataclass
class Sample:
    """One timed deposit."""

    leaf_index: int
    acked: float
    """time.monotonic() at its 201."""
    acked_wall: float
    """time.time() at its 201 (to place it among serve's log lines)."""
    confirmed: float | None = None
    """time.monotonic() at the first 200 of its receipt."""
    confirmed_wall: float | None = None

    @property
    def latency(self) -> float | None:
        return None if self.confirmed is None else self.confirmed - self.acked


@dataclass
class Timeline:
    """What serve (and its chain) logged, in epoch seconds: per head of the document log, and
    per block."""

    submitted: dict[int, float] = field(default_factory=dict)
    block_of: dict[int, int] = field(default_factory=dict)
    sealed: dict[int, float] = field(default_factory=dict)
    anchored: dict[int, float] = field(default_factory=dict)
    signed: dict[int, float] = field(default_factory=dict)
    cosigned: dict[int, dict[str, float]] = field(default_factory=dict)
    stamped: dict[int, float] = field(default_factory=dict)


_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ [\w.]+: (.*)$")
_SUBMITTED = re.compile(r"anchoring documents head (\d+) ")
_SEALED = re.compile(r"sealed block #(\d+) ")
_ANCHORED = re.compile(r"documents head (\d+) anchored in block (\d+)")
_SIGNED = re.compile(r"checkpoint (\d+) signed")
_COSIGNED = re.compile(r"checkpoint (\d+) cosigned by (\S+)")
_STAMPED = re.compile(r"checkpoint (\d+) time-stamped")


def read_timeline(log: Path) -> Timeline:
    t = Timeline()
    for line in log.read_text(errors="replace").splitlines():
        matched = _LOG_LINE.match(line)
        if matched is None:
            continue
        at = datetime.strptime(matched[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        text = matched[2]
        if event := _SUBMITTED.search(text):
            t.submitted[int(event[1])] = at
        elif event := _SEALED.search(text):
            t.sealed[int(event[1])] = at
        elif event := _ANCHORED.search(text):
            t.anchored[int(event[1])] = at
            t.block_of[int(event[1])] = int(event[2])
        elif event := _SIGNED.search(text):
            t.signed[int(event[1])] = at
        elif event := _COSIGNED.search(text):
            t.cosigned.setdefault(int(event[1]), {})[event[2]] = at
        elif event := _STAMPED.search(text):
            t.stamped[int(event[1])] = at
    return t


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile of sorted ``values`` (as ``bench api``)."""
    return values[int(q * (len(values) - 1))]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its waited-for children (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


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


# --- a deployment ------------------------------------------------------------------------


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "zhenglian.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"zhenglian {' '.join(args[:2])} failed: {done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


@dataclass
class Server:
    url: str
    data_dir: Path
    log: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    def token(self) -> str:
        return _cli(
            self.env,
            *("tokens", "create", "--data-dir", str(self.data_dir)),
            *("--institution", INSTITUTION, "--role", "notary"),
        )

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@contextlib.contextmanager
def running_serve(data_dir: Path, env: dict[str, str]) -> Iterator[Server]:
    """``zhenglian -v serve`` (INFO log to a file beside ``data_dir``) until the block ends."""
    port, rpc_port = free_port(), free_port()
    log = data_dir.parent / f"{data_dir.name}-serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "zhenglian.cli", "-v", "serve"),
                *("--data-dir", str(data_dir), "--host", "127.0.0.1"),
                *("--port", str(port), "--rpc-port", str(rpc_port)),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Server(f"http://127.0.0.1:{port}", data_dir, log, process, env)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited with {process.returncode}:\n{server.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{server.url}/healthz", timeout=2).status_code in (200, 503):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"serve did not answer in {SERVER_START_TIMEOUT} s")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class ReceiptWatch:
    """Follows each tracked sample until its receipt answers 200.

    One thread reads the log's checkpoint (public, no custody event) every ``interval``
    seconds while a sample waits; a receipt cannot be issued before a checkpoint covers the
    document, and checkpoints only grow. Each sample has a follower thread that, once covered,
    asks for its receipt every ``interval`` seconds — or as soon as its previous answer came,
    when the server takes longer than that to answer — with at most one request of its own in
    flight, so that no sample waits behind another's request."""

    def __init__(
        self, url: str, headers: dict[str, str], interval: float, witnesses: int, stamped: bool
    ) -> None:
        self.url, self.headers, self.interval = url, headers, interval
        self.witnesses, self.stamped = witnesses, stamped
        self.checkpoint = 0
        self.errors: list[str] = []
        self.receipt_requests = 0
        self.checkpoint_requests = 0
        self.waiting = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.http = httpx.Client(timeout=CLIENT_TIMEOUT, limits=httpx.Limits(max_connections=64))
        self.followers: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._watch_checkpoint, daemon=True)
        self.thread.start()

    def track(self, doc_id: str, sample: Sample) -> None:
        with self.lock:
            self.waiting += 1
        follower = threading.Thread(target=self._follow, args=(doc_id, sample), daemon=True)
        follower.start()
        self.followers.append(follower)

    def wait(self, samples: list[Sample], timeout: float) -> None:
        """Until every one of ``samples`` has its receipt, or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(s.confirmed is None for s in samples):
            time.sleep(0.05)

    def close(self) -> None:
        self.stop.set()
        for thread in [self.thread, *self.followers]:
            thread.join(CLIENT_TIMEOUT + 5)
        self.http.close()

    def _watch_checkpoint(self) -> None:
        while not self.stop.is_set():
            tick = time.monotonic()
            if self.waiting:
                try:
                    r = self.http.get(f"{self.url}/v1/log/checkpoint", headers=self.headers)
                    self.checkpoint_requests += 1
                    if r.status_code != 404:
                        r.raise_for_status()
                        self.checkpoint = max(self.checkpoint, int(r.text.split("\n")[1]))
                except (httpx.HTTPError, ValueError, IndexError) as exc:
                    self._error(f"checkpoint: {type(exc).__name__}: {exc}")
            self.stop.wait(max(0.0, self.interval - (time.monotonic() - tick)))

    def _follow(self, doc_id: str, sample: Sample) -> None:
        try:
            while not self.stop.is_set():
                tick = time.monotonic()
                if sample.leaf_index < self.checkpoint:
                    r = self.http.get(
                        f"{self.url}/v1/documents/{doc_id}/receipt", headers=self.headers
                    )
                    with self.lock:
                        self.receipt_requests += 1
                    if r.status_code != 202:
                        sample.confirmed, sample.confirmed_wall = time.monotonic(), time.time()
                        if r.status_code != 200:
                            self._error(f"{doc_id}: receipt {r.status_code} {r.text[:200]}")
                        else:
                            self._check(doc_id, r.json())
                        return
                self.stop.wait(max(0.0, self.interval - (time.monotonic() - tick)))
        except httpx.HTTPError as exc:
            self._error(f"{doc_id}: {type(exc).__name__}: {exc}")
        finally:
            with self.lock:
                self.waiting -= 1

    def _error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)

    def _check(self, doc_id: str, receipt: dict[str, Any]) -> None:
        signatures = str(receipt.get("tlog_proof", "")).count("\n\u2014 ")
        if (
            receipt.get("version") != 2
            or signatures != 1 + self.witnesses
            or (receipt.get("time_stamp") is not None) != self.stamped
        ):
            self._error(
                f"{doc_id}: version {receipt.get('version')}, {signatures} signatures, "
                f"time stamp {receipt.get('time_stamp') is not None}"
            )


def deposit(http: httpx.Client, url: str, headers: dict[str, str]) -> tuple[str, Sample]:
    r = http.post(
        f"{url}/v1/documents",
        headers=headers,
        data={"kind": "notary", "title": "bench sample"},
        files={"file": ("sample.bin", os.urandom(DOCUMENT_BYTES))},
    )
    acked, acked_wall = time.monotonic(), time.time()
    if r.status_code != 201:
        raise RuntimeError(f"sample deposit: {r.status_code} {r.text[:200]}")
    body = r.json()
    return str(body["id"]), Sample(int(body["leaf_index"]), acked, acked_wall)


@dataclass
class Round:
    """One turn of the load on one deployment."""

    wrk: dict[str, int]
    start: float
    end: float
    """Epoch seconds the load started and stopped."""
    samples: list[Sample]
    helper_cpu: dict[str, float]
    """CPU seconds each witness (by name) and the authority (``"tsa"``) spent in the round."""
    other_cpu: float
    """CPU seconds the other, idle deployment spent meanwhile."""
    api_cpu: float
    """CPU seconds serve's own (API) process spent in the round."""
    chain_cpu: float
    """CPU seconds serve's chain process spent in the round."""

    @property
    def deposits(self) -> int:
        return self.wrk["requests"] - self.wrk["non_2xx"] + len(self.samples)

    @property
    def seconds(self) -> float:
        return self.wrk["duration_us"] / 1e6


@dataclass
class Deployment:
    label: str
    server: Server
    helpers: dict[str, int]
    """PIDs of the witnesses (by name) and of the authority (``"tsa"``)."""
    quorum: int
    time_stamped: bool
    load_token: str
    headers: dict[str, str]
    watch: ReceiptWatch
    script: Path
    rounds: list[Round] = field(default_factory=list)
    timeline: Timeline = field(default_factory=Timeline)

    @property
    def samples(self) -> list[Sample]:
        return [s for r in self.rounds for s in r.samples]

    @property
    def latencies(self) -> list[float]:
        return sorted(s.latency for s in self.samples if s.latency is not None)

    @property
    def deposits_per_s(self) -> float:
        return sum(r.deposits for r in self.rounds) / sum(r.seconds for r in self.rounds)

    def pids(self) -> list[int]:
        """Every process of the deployment: serve, its chain, witnesses, authority."""
        pid = self.server.process.pid
        return [pid, *_children(pid), *self.helpers.values()]

    def cpu(self) -> float:
        return sum(_cpu_seconds(pid) for pid in self.pids())

    def complete_at(self, size: int) -> float | None:
        """When checkpoint ``size`` was cosigned by the quorum (and stamped), by serve's log."""
        t = self.timeline
        if size not in t.signed:
            return None
        cosigns = sorted(t.cosigned.get(size, {}).values())
        if len(cosigns) < self.quorum or (self.time_stamped and size not in t.stamped):
            return None
        times = [t.signed[size], *cosigns[: self.quorum]]
        if self.time_stamped:
            times.append(t.stamped[size])
        return max(times)


def start_deployment(
    label: str, witnessed: bool, workdir: Path, stack: contextlib.ExitStack, poll: float
) -> Deployment:
    """Start one deployment in ``workdir`` (stopped when ``stack`` closes) and check it with
    one deposit through to its receipt."""
    workdir.mkdir(parents=True)
    data_dir = workdir / "data"
    env = {**os.environ}
    helpers: dict[str, int] = {}
    if witnessed:
        log_key = _cli(env, "log", "key", "--data-dir", str(data_dir))  # serve's environment
        authority = stack.enter_context(running_authority(workdir / "tsa"))
        witnesses = [
            stack.enter_context(running_witness(workdir / f"w{n}", name, [log_key]))
            for n, name in enumerate(WITNESS_NAMES, 1)
        ]
        env["ZHENGLIAN_WITNESSES"] = json.dumps([{"key": w.key, "url": w.url} for w in witnesses])
        env["ZHENGLIAN_WITNESS_QUORUM"] = str(len(witnesses))
        env["ZHENGLIAN_TSA_URL"] = authority.url()
        env["ZHENGLIAN_TSA_ROOTS"] = str(authority.authority.directory / "root.pem")
        helpers = {w.name: w.process.pid for w in witnesses} | {"tsa": authority.process.pid}
    server = stack.enter_context(running_serve(data_dir, env))
    quorum = len(WITNESS_NAMES) if witnessed else 0
    headers = {"Authorization": f"Bearer {server.token()}"}
    watch = ReceiptWatch(server.url, headers, poll, quorum, witnessed)
    stack.callback(watch.close)
    script = workdir / "deposit.lua"
    script.write_text(WRK_SCRIPT)
    deployment = Deployment(
        label, server, helpers, quorum, witnessed, server.token(), headers, watch, script
    )
    with httpx.Client(timeout=CLIENT_TIMEOUT) as http:
        doc_id, first = deposit(http, server.url, headers)
    watch.track(doc_id, first)
    watch.wait([first], WARM_UP_TIMEOUT)
    if first.confirmed is None or watch.errors:
        raise RuntimeError(
            f"{label}: no good receipt for a first deposit in {WARM_UP_TIMEOUT:.0f} s "
            f"({watch.errors[:3]}); serve's log:\n{server.log_tail()}"
        )
    return deployment


def run_round(
    d: Deployment, other: Deployment, seconds: float, count: int, wrk_threads: int
) -> Round:
    """wrk on ``d`` while ``count`` samples are deposited over ``seconds``, until they all have
    their receipts (at most :data:`DRAIN_TIMEOUT` more)."""
    helpers_before = {name: _cpu_seconds(pid) for name, pid in d.helpers.items()}
    other_before = other.cpu()
    chain_pids = _children(d.server.process.pid)
    api_before = _cpu_seconds(d.server.process.pid)
    chain_before = sum(_cpu_seconds(pid) for pid in chain_pids)
    start = time.time()
    wrk = subprocess.Popen(
        [
            *("wrk", "--threads", str(wrk_threads), "--connections", str(CONNECTIONS)),
            *("--duration", f"{seconds + DRAIN_TIMEOUT + 60:.0f}s", "--timeout", "30s"),
            *("--script", str(d.script), d.server.url, "--", d.load_token),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    samples: list[Sample] = []
    try:
        period = seconds / count
        began = time.monotonic()
        with httpx.Client(timeout=CLIENT_TIMEOUT) as http:
            for n in range(count):
                delay = began + (n + 0.5) * period - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                doc_id, sample = deposit(http, d.server.url, d.headers)
                d.watch.track(doc_id, sample)
                samples.append(sample)
        d.watch.wait(samples, DRAIN_TIMEOUT)
        wrk.send_signal(signal.SIGINT)
        output, _ = wrk.communicate(timeout=WRK_STOP_TIMEOUT)
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait()
    end = time.time()
    totals = next(
        (json.loads(line[4:]) for line in output.splitlines() if line.startswith("WRK ")), None
    )
    if totals is None:
        raise RuntimeError(f"wrk printed no totals ({wrk.returncode}):\n{output[-2000:]}")
    return Round(
        totals,
        start,
        end,
        samples,
        {name: _cpu_seconds(pid) - helpers_before[name] for name, pid in d.helpers.items()},
        other.cpu() - other_before,
        _cpu_seconds(d.server.process.pid) - api_before,
        sum(_cpu_seconds(pid) for pid in chain_pids) - chain_before,
    )


# --- report ------------------------------------------------------------------------------

SEGMENTS = (
    "201 → head submitted",
    "submitted → block sealed",
    "sealed → anchor recorded",
    "recorded → checkpoint signed",
    "signed → quorum cosigned",
    "cosigned → time-stamped",
    "complete → 200 seen",
)


def segments(d: Deployment, sample: Sample) -> list[float] | None:
    """A sample's latency cut at the events, in serve's log, of the checkpoint that proved it:
    the smallest complete one past its leaf."""
    t = d.timeline
    sizes = sorted(n for n in t.signed if n > sample.leaf_index and d.complete_at(n))
    if not sizes or sample.confirmed_wall is None:
        return None
    size = sizes[0]
    block = t.block_of.get(size)
    if size not in t.submitted or block not in t.sealed or size not in t.anchored:
        return None
    cosigns = sorted(t.cosigned.get(size, {}).values())
    cosigned = cosigns[d.quorum - 1] if d.quorum else t.signed[size]
    stamped = t.stamped[size] if d.time_stamped else cosigned
    points = [
        sample.acked_wall,
        t.submitted[size],
        t.sealed[block],
        t.anchored[size],
        t.signed[size],
        cosigned,
        stamped,
        sample.confirmed_wall,
    ]
    return [b - a for a, b in itertools.pairwise(points)]


def _summary(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.2f} s, p99 {percentile(values, 0.99):.2f} s"


def report(deployments: list[Deployment], args: argparse.Namespace, load: list[float]) -> None:
    per_round = args.seconds / args.rounds
    print(
        f"Confirmation latency: 201 → receipt (version 2) under wrk ({CONNECTIONS} connections, "
        f"{DOCUMENT_BYTES // 1000} KB documents), {os.cpu_count()} cores, loopback; "
        f"{args.rounds} rounds per deployment, alternating, each {per_round:.0f} s of samples "
        f"and the load kept on until they had their receipts; receipts polled every "
        f"{args.poll * 1000:.0f} ms"
    )
    for d in deployments:
        lat = d.latencies
        seconds = sum(r.seconds for r in d.rounds)
        wrk_p50 = statistics.median(r.wrk["p50_us"] for r in d.rounds) / 1000
        wrk_p99 = max(r.wrk["p99_us"] for r in d.rounds) / 1000
        errors = sum(
            r.wrk[k] for r in d.rounds for k in ("non_2xx", "connect", "read", "write", "timeout")
        )
        print(
            f"  {d.label:<9} {d.deposits_per_s:6.1f} deposits/s over "
            f"{seconds:.0f} s (a deposit's answer: median of rounds' p50 {wrk_p50:.0f} ms, "
            f"worst p99 {wrk_p99:.0f} ms; {errors} errors)"
        )
        if lat:
            print(
                f"  {'':<9} 201 → receipt {_summary(lat)}, max {lat[-1]:.2f} s "
                f"(n = {len(lat)}, {len(d.samples) - len(lat)} without a receipt); rounds: "
                + ", ".join(
                    _summary(sorted(s.latency for s in r.samples if s.latency is not None))
                    for r in d.rounds
                    if any(s.latency is not None for s in r.samples)
                )
            )
    base, ours = deployments[0], deployments[-1]
    if base.latencies and ours.latencies:
        b, o = base.latencies, ours.latencies
        p99 = percentile(o, 0.99)
        print(
            f"  ratio witnessed ÷ baseline: p50 {statistics.median(o) / statistics.median(b):.2f}, "
            f"p99 {p99 / percentile(b, 0.99):.2f}; deposits/s "
            f"{ours.deposits_per_s / base.deposits_per_s:.2f}"
        )
        met = p99 <= GOAL_P99_S and len(o) == len(ours.samples)
        print(f"  goal p99 ≤ {GOAL_P99_S:.0f} s with two witnesses: {'met' if met else 'NOT met'}")
    for d in deployments:
        cut = [c for c in (segments(d, s) for s in d.samples) if c is not None]
        if not cut:
            continue
        print(f"  where the time goes, {d.label} (n = {len(cut)}; seconds p50 / p99 / max):")
        for n, name in enumerate(SEGMENTS):
            values = sorted(c[n] for c in cut)
            print(
                f"    {name:<29} {statistics.median(values):6.3f} / "
                f"{percentile(values, 0.99):6.3f} / {values[-1]:6.3f}"
            )
        slowest = sorted(cut, key=sum)[-3:]
        print(
            "    slowest three: "
            + "; ".join(" + ".join(f"{x:.2f}" for x in c) + f" = {sum(c):.2f}" for c in slowest)
        )
    for d in deployments:
        t = d.timeline
        for name in d.helpers:
            spent = sum(r.helper_cpu[name] for r in d.rounds)
            if name == "tsa":
                count = sum(1 for at in t.stamped.values() if _in_rounds(d, at))
                what = "the time-stamp authority (its openssl ts children included)"
                unit = "stamp"
            else:
                count = sum(1 for by in t.cosigned.values() if _in_rounds(d, by.get(name)))
                what, unit = f"witness {name}", "cosignature"
            if count:
                print(f"  {what}: {spent / count * 1000:.1f} ms CPU per {unit} ({count})")
        deposits = sum(r.deposits for r in d.rounds)
        api_ms = sum(r.api_cpu for r in d.rounds) / deposits * 1000
        chain_ms = sum(r.chain_cpu for r in d.rounds) / deposits * 1000
        print(
            f"  {d.label}: CPU per deposit {api_ms:.1f} ms in serve's API process, "
            f"{chain_ms:.1f} ms in its chain process"
        )
        w = d.watch
        print(
            f"  {d.label}: the watcher asked {w.receipt_requests} receipts "
            f"({w.receipt_requests / max(1, len(d.samples) + 1):.1f} per sample) and "
            f"{w.checkpoint_requests} checkpoints in all"
        )
        idle = sum(r.other_cpu for r in d.rounds) / sum(r.end - r.start for r in d.rounds)
        print(
            f"  while {d.label} was loaded, the other deployment (idle) used "
            f"{idle * 100:.0f} % of a core"
        )
    print(f"  load average (1 min) at start → end: {load[0]:.2f} → {load[1]:.2f}")


def _in_rounds(d: Deployment, at: float | None) -> bool:
    return at is not None and any(r.start <= at <= r.end for r in d.rounds)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench confirmation")
    parser.add_argument(
        "--seconds", type=float, default=60, help="seconds of sampling per deployment"
    )
    parser.add_argument("--samples", type=int, default=200, help="timed deposits per deployment")
    parser.add_argument("--rounds", type=int, default=3, help="turns per deployment")
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between polls")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="keep data dirs and logs (serve's -v log, witnesses', authority's) here, in new "
        "subdirectories baseline/ and witnessed/ (default: a temporary directory, removed)",
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("bench confirmation needs wrk on PATH (Debian: apt-get install wrk)")
    load = [os.getloadavg()[0]]
    with contextlib.ExitStack() as stack:
        if args.work_dir is not None:
            work = args.work_dir
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zl-bench-")))
        baseline = start_deployment("baseline", False, work / "baseline", stack, args.poll)
        witnessed = start_deployment("witnessed", True, work / "witnessed", stack, args.poll)
        for n in range(args.rounds):
            count = args.samples // args.rounds + (n < args.samples % args.rounds)
            order = (baseline, witnessed) if n % 2 == 0 else (witnessed, baseline)
            for d, other in (order, order[::-1]):
                d.rounds.append(
                    run_round(d, other, args.seconds / args.rounds, count, args.wrk_threads)
                )
        load.append(os.getloadavg()[0])
        for d in (baseline, witnessed):
            d.timeline = read_timeline(d.server.log)
            if d.watch.errors:
                raise RuntimeError(
                    f"{d.label}: wrong receipts or failed polls: {d.watch.errors[:5]}"
                )
    report([baseline, witnessed], args, load)
