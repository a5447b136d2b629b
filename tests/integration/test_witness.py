"""``zhenglian witness``: a real witness process (C2SP tlog-witness) cosigning the checkpoints of
real Merkle logs, refusing what the specification refuses, and never forgetting what it
cosigned — across restarts, kill -9 and concurrent requests."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence.errors import StorageError
from evidence.formats.checkpoint import Checkpoint
from evidence.formats.cosignature import WitnessKey, verify_cosignatures
from evidence.formats.signed_note import Note, VerifierKey
from evidence.formats.witness_protocol import (
    MAX_ADD_CHECKPOINT_BYTES,
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    parse_cosignature_lines,
)
from evidence.services.witness import (
    InconsistentCheckpoint,
    NotCosigned,
    OldSizeMismatch,
    Witness,
    WitnessClockError,
    open_witness,
)
from evidence.services.witness import init_witness as init_witness_key
from evidence.store import witness_state
from evidence.store.witness_state import WitnessBusy
from ledger.merkle import EMPTY_ROOT, MerkleLog, hash_leaf
from tests.support.servers import free_port
from tests.support.witness_process import init_witness as init_witness_process
from tests.support.witness_process import start_witness as start_witness_process
from tests.support.witness_process import witness_cli

pytestmark = pytest.mark.integration

WITNESS_NAME = "witness.test.example/w1"


#: Logs the shared witness follows (one per test that needs a fresh one).
POOL_SIZE = 16


# --- Logs and witness processes ---------------------------------------------------------


class Log:
    """A real Merkle log with its own key, making signed checkpoints and requests."""

    def __init__(self, name: str, key: Ed25519PrivateKey | None = None) -> None:
        self.name = name
        self.key = key or Ed25519PrivateKey.generate()
        self.tree = MerkleLog()

    @property
    def vkey(self) -> str:
        return VerifierKey.for_key(self.name, self.key.public_key().public_bytes_raw()).to_text()

    def grow_to(self, size: int) -> None:
        while self.tree.size() < size:
            self.tree.append(hash_leaf(f"{self.name} entry {self.tree.size()}".encode()))

    def checkpoint(
        self, size: int, root: bytes | None = None, key: Ed25519PrivateKey | None = None
    ) -> bytes:
        self.grow_to(size)
        made = Checkpoint(self.name, size, self.tree.root(size) if root is None else root)
        return made.sign(key or self.key).to_bytes()

    def proof(self, old: int, size: int) -> tuple[bytes, ...]:
        if old == 0 or old == size:
            return ()
        self.grow_to(size)
        return self.tree.consistency_proof(old, size).hashes

    def request(
        self,
        old: int,
        size: int,
        *,
        proof: tuple[bytes, ...] | None = None,
        checkpoint: bytes | None = None,
    ) -> bytes:
        return AddCheckpoint(
            old,
            self.proof(old, size) if proof is None else proof,
            self.checkpoint(size) if checkpoint is None else checkpoint,
        ).to_bytes()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return witness_cli(*args)


def init_witness(data_dir: Path, name: str = WITNESS_NAME) -> str:
    """``zhenglian witness init``; its last line, the verifier key."""
    return init_witness_process(data_dir, name)


def serve_args(data_dir: Path, vkeys: list[str], port: int) -> list[str]:
    logs = [arg for vkey in vkeys for arg in ("--log", vkey)]
    return ["witness", "serve", "--data-dir", str(data_dir), *logs, "--port", str(port)]


@dataclass
class WitnessServer:
    url: str
    data_dir: Path
    vkeys: list[str]
    proc: subprocess.Popen[bytes]
    log_path: Path
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def add(self, body: bytes) -> httpx.Response:
        return self.client.post(f"{self.url}/add-checkpoint", content=body)

    def latest(self, log: Log) -> httpx.Response:
        return self.client.get(f"{self.url}/checkpoint", params={"origin": log.name})

    def latest_size(self, log: Log) -> int | None:
        """The size of the latest checkpoint cosigned for ``log`` (None: never)."""
        answer = self.latest(log)
        if answer.status_code == 404:
            return None
        assert answer.status_code == 200, answer.text
        return Checkpoint.from_text(Note.parse(answer.content).text).size

    def output(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> int:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self) -> None:
        self.client.close()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)


def start_witness(data_dir: Path, vkeys: list[str]) -> WitnessServer:
    """A real ``zhenglian witness serve`` on a free port of 127.0.0.1, answering /healthz."""
    running = start_witness_process(data_dir, vkeys, key="")
    return WitnessServer(running.url, data_dir, vkeys, running.process, running.log_path)


@dataclass
class Shared:
    """The module's witness: one process following :data:`POOL_SIZE` logs."""

    server: WitnessServer
    witness_key: str
    logs: list[Log]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    data_dir = tmp_path_factory.mktemp("witness") / "W"
    witness_key = init_witness(data_dir)
    logs = [Log(f"zhenglian.test/log-{i:02d}") for i in range(POOL_SIZE)]
    server = start_witness(data_dir, [log.vkey for log in logs])
    try:
        yield Shared(server, witness_key, list(logs))
    finally:
        server.stop()


@pytest.fixture
def witness(shared: Shared) -> WitnessServer:
    return shared.server


@pytest.fixture
def log(shared: Shared) -> Log:
    """A log the shared witness follows and has never seen."""
    return shared.logs.pop()


def cosignatures(witness_key: str, signed_checkpoint: bytes, answer: bytes) -> list[int]:
    """The times of the witness's cosignatures in a 200 answer, each verified."""
    note = Note.parse(signed_checkpoint)
    lines = parse_cosignature_lines(note.text, answer)
    combined = Note(note.text, (*note.signatures, *lines))
    found = verify_cosignatures(combined, [WitnessKey.from_text(witness_key)])
    assert len(found) == len(lines) == 1
    return [c.time for c in found]


def race(url: str, bodies: list[bytes]) -> list[httpx.Response]:
    """POST the bodies to add-checkpoint at the same instant, each on its own connection."""
    barrier = threading.Barrier(len(bodies))
    answers: dict[int, httpx.Response] = {}

    def send(i: int) -> None:
        with httpx.Client(timeout=30) as client:
            client.get(f"{url}/healthz")  # connected before the race
            barrier.wait()
            answers[i] = client.post(f"{url}/add-checkpoint", content=bodies[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [answers[i] for i in range(len(bodies))]


def assert_one_line(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, (answer.status_code, answer.text)
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text.endswith("\n") and answer.text.count("\n") == 1, answer.text
    return answer.text


# --- Cosigning --------------------------------------------------------------------------


def test_a_first_checkpoint_from_old_size_0_is_cosigned_now(shared: Shared, log: Log) -> None:
    before = int(time.time())
    checkpoint = log.checkpoint(5)
    answer = shared.server.add(log.request(0, 5, checkpoint=checkpoint))
    after = int(time.time())
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert answer.content.startswith(f"\u2014 {WITNESS_NAME} ".encode())
    [stamp] = cosignatures(shared.witness_key, checkpoint, answer.content)
    assert 0 < before <= stamp <= after
    assert shared.server.latest_size(log) == 5


def test_growth_with_a_consistency_proof_is_cosigned(shared: Shared, log: Log) -> None:
    server = shared.server
    assert server.add(log.request(0, 5)).status_code == 200
    for old, new in ((5, 12), (12, 13), (13, 64), (64, 64), (64, 100)):
        checkpoint = log.checkpoint(new)
        answer = server.add(log.request(old, new, checkpoint=checkpoint))
        assert answer.status_code == 200, (old, new, answer.text)
        cosignatures(shared.witness_key, checkpoint, answer.content)
    assert server.latest_size(log) == 100


def test_the_empty_tree_is_cosigned_and_then_grown_from(shared: Shared, log: Log) -> None:
    server = shared.server
    empty = log.checkpoint(0)
    assert Checkpoint.from_text(Note.parse(empty).text).root == EMPTY_ROOT
    assert server.add(log.request(0, 0)).status_code == 200
    assert server.add(log.request(0, 3)).status_code == 200  # from 0 no proof is needed
    assert server.latest_size(log) == 3


def test_a_stale_old_size_gets_409_with_the_latest_size(shared: Shared, log: Log) -> None:
    server = shared.server
    assert server.add(log.request(0, 8)).status_code == 200
    for old in (0, 5):
        answer = server.add(log.request(old, 10))
        assert answer.status_code == 409, answer.text
        assert answer.headers["content-type"] == SIZE_CONTENT_TYPE
        assert answer.content == b"8\n"
    assert server.latest_size(log) == 8


def test_the_monitoring_read_serves_the_cosigned_checkpoint(shared: Shared, log: Log) -> None:
    server = shared.server
    by_hash = f"{server.url}/{hashlib.sha256(log.name.encode()).hexdigest()}/checkpoint"
    assert server.client.get(by_hash).status_code == 404  # followed, nothing cosigned yet
    checkpoint = log.checkpoint(21)
    answer = server.add(log.request(0, 21, checkpoint=checkpoint))
    assert answer.status_code == 200
    served = server.client.get(by_hash)
    assert served.status_code == 200
    assert served.content == server.latest(log).content
    # The checkpoint as signed by the log, and the very line add-checkpoint answered.
    assert served.content == checkpoint + answer.content
    read, note = Checkpoint.parse_signed(served.content, [VerifierKey.from_text(log.vkey)])
    assert read.size == 21
    assert len(verify_cosignatures(note, [WitnessKey.from_text(shared.witness_key)])) == 1
    unknown = hashlib.sha256(b"not.followed/log").hexdigest()
    assert_one_line(server.client.get(f"{server.url}/{unknown}/checkpoint"), 404)


# --- Refusals ---------------------------------------------------------------------------


def test_a_log_the_witness_does_not_follow_gets_404(witness: WitnessServer) -> None:
    stranger = Log("zhenglian.test/not-followed")
    assert_one_line(witness.add(stranger.request(0, 4)), 404)


def test_another_key_of_the_same_name_or_a_bad_signature_gets_403(
    witness: WitnessServer, log: Log
) -> None:
    impostor = Ed25519PrivateKey.generate()
    assert_one_line(witness.add(log.request(0, 4, checkpoint=log.checkpoint(4, key=impostor))), 403)
    signed = bytearray(log.checkpoint(4))
    line = signed.rindex(b" ") + 1
    signed[line + 10] = ord("A") if signed[line + 10] != ord("A") else ord("B")
    assert_one_line(witness.add(log.request(0, 4, checkpoint=bytes(signed))), 403)
    assert witness.latest_size(log) is None


def test_inconsistent_checkpoints_get_422_and_the_state_stays(
    witness: WitnessServer, log: Log
) -> None:
    assert (
        witness.add(log.request(0, 0, checkpoint=log.checkpoint(0, root=b"\x01" * 32))).status_code
        == 422
    )
    assert witness.latest_size(log) is None
    assert_one_line(witness.add(log.request(0, 6, proof=(b"\x02" * 32,))), 422)
    assert witness.latest_size(log) is None

    assert witness.add(log.request(0, 6)).status_code == 200
    proof = list(log.proof(6, 9))
    proof[0] = bytes(b ^ 0xFF for b in proof[0])
    for body in (
        log.request(6, 9, proof=tuple(proof)),  # a proof that does not verify
        log.request(6, 9, proof=()),  # none at all
        log.request(6, 9, checkpoint=log.checkpoint(9, root=hashlib.sha256(b"fork").digest())),
        log.request(6, 6, checkpoint=log.checkpoint(6, root=hashlib.sha256(b"fork").digest())),
    ):
        assert_one_line(witness.add(body), 422)
        assert witness.latest_size(log) == 6
    assert witness.add(log.request(0, 9)).content == b"6\n"  # the state did not move

    refused = [
        json.loads(line)
        for line in (witness.data_dir / "refused-checkpoints.jsonl").read_text().splitlines()
    ]
    mine = [r for r in refused if r["origin"] == log.name]
    assert len(mine) == 6
    assert [r["latest_size"] for r in mine] == [0, 0, 6, 6, 6, 6]
    assert "size 6 was cosigned with root" in mine[-1]["reason"]
    assert mine[-1]["request"].encode() == log.request(
        6, 6, checkpoint=log.checkpoint(6, root=hashlib.sha256(b"fork").digest())
    )
    assert f"refused an inconsistent checkpoint of {log.name}" in witness.output()
    assert "WARNING" in witness.output()


def test_malformed_requests_get_400(witness: WitnessServer, log: Log) -> None:
    assert_one_line(witness.add(log.request(7, 5, proof=())), 400)  # old size above the size
    for body in (
        b"",
        b"garbage",
        b"old 0\n",
        b"old 00\n\n" + log.checkpoint(3),
        b"old 0\nnot base64\n\n" + log.checkpoint(3),
        b"old 0\n\nnot a checkpoint\n\n\xe2\x80\x94 x AAAAAAA=\n",
        b"old 0\n\n" + log.checkpoint(3).replace(b"\n3\n", b"\n03\n"),
    ):
        assert_one_line(witness.add(body), 400)
    assert witness.latest_size(log) is None


def test_a_body_over_the_limit_gets_413(witness: WitnessServer, log: Log) -> None:
    huge = log.request(0, 2) + b"x" * MAX_ADD_CHECKPOINT_BYTES
    assert_one_line(witness.add(huge), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        for _ in range(MAX_ADD_CHECKPOINT_BYTES // 4096 + 2):
            yield b"y" * 4096

    answer = witness.client.post(f"{witness.url}/add-checkpoint", content=chunks())
    assert_one_line(answer, 413)
    assert witness.latest_size(log) is None
    assert witness.client.get(f"{witness.url}/add-checkpoint").status_code == 405


def test_two_requests_from_one_old_size_one_is_cosigned_the_other_409(
    witness: WitnessServer, log: Log
) -> None:
    assert witness.add(log.request(0, 3)).status_code == 200
    old = 3
    for round_ in range(10):
        sizes = (old + 1 + round_, old + 2 + 2 * round_)
        answers = race(witness.url, [log.request(old, size) for size in sizes])
        statuses = [a.status_code for a in answers]
        assert sorted(statuses) == [200, 409], statuses
        won = statuses.index(200)
        assert answers[1 - won].content == f"{sizes[won]}\n".encode()
        assert witness.latest_size(log) == sizes[won]
        old = sizes[won]


# --- Restarts, kill -9, a second process ------------------------------------------------


def test_the_state_survives_a_restart_and_kill_9(tmp_path: Path) -> None:
    data_dir = tmp_path / "W"
    witness_key = init_witness(data_dir)
    log = Log("zhenglian.test/restarted")
    server = start_witness(data_dir, [log.vkey])
    try:
        checkpoint = log.checkpoint(7)
        assert server.add(log.request(0, 7, checkpoint=checkpoint)).status_code == 200
    finally:
        assert server.stop() == 0  # SIGTERM: a clean stop

    server = start_witness(data_dir, [log.vkey])
    try:
        assert server.add(log.request(0, 9)).content == b"7\n"
        assert server.latest(log).content.startswith(checkpoint)
        # Requests one after the other, killed -9 in the middle of them.
        done: list[int] = []
        sent: list[int] = []
        stop = threading.Event()

        def grow() -> None:
            size = 7
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    sent.append(size + 1)
                    try:
                        answer = client.post(
                            f"{server.url}/add-checkpoint", content=log.request(size, size + 1)
                        )
                    except httpx.HTTPError:
                        return
                    if answer.status_code != 200:
                        return
                    size += 1
                    done.append(size)

        thread = threading.Thread(target=grow)
        thread.start()
        deadline = time.monotonic() + 20
        while len(done) < 15 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()
        stop.set()
        thread.join()
    finally:
        server.stop()
    assert done, server.output()

    server = start_witness(data_dir, [log.vkey])
    try:
        remembered = server.latest_size(log)
        assert remembered is not None and done[-1] <= remembered <= sent[-1]
        answer = server.latest(log)
        read, note = Checkpoint.parse_signed(answer.content, [VerifierKey.from_text(log.vkey)])
        assert read.size == remembered
        verify_cosignatures(note, [WitnessKey.from_text(witness_key)])
        assert server.add(log.request(remembered, remembered + 1)).status_code == 200
    finally:
        server.stop()
    assert (data_dir.stat().st_mode & 0o777) == 0o700
    for path in [data_dir / "witness-key.json", *(data_dir / "logs").iterdir()]:
        assert (path.stat().st_mode & 0o777) == 0o600, path


def test_a_second_serve_on_the_same_directory_is_refused(shared: Shared) -> None:
    server = shared.server
    done = cli(*serve_args(server.data_dir, server.vkeys[:1], free_port()))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zhenglian: error: another witness process")
    assert f"(pid {server.proc.pid})" in lines[0]
    assert server.client.get(f"{server.url}/healthz").status_code == 200


# --- The command line -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["has space", "has+plus", "has,comma", "has@at", ""])
def test_init_refuses_a_bad_name_with_one_line(tmp_path: Path, name: str) -> None:
    done = cli("witness", "init", "--data-dir", str(tmp_path / "W"), "--name", name)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("zhenglian: error: --name:")
    assert not (tmp_path / "W").exists()


def test_init_is_idempotent_for_its_name_and_refuses_another(tmp_path: Path) -> None:
    data_dir = tmp_path / "W"
    first = init_witness(data_dir)
    key = WitnessKey.from_text(first)
    assert key.name == WITNESS_NAME
    assert base64.b64decode(first.split("+", 2)[2])[0] == 0x04  # the base64 may hold "+"
    assert init_witness(data_dir) == first
    other = cli("witness", "init", "--data-dir", str(data_dir), "--name", "witness.test/w2")
    assert other.returncode == 1
    assert other.stderr.strip().splitlines() == [
        f"zhenglian: error: {data_dir} already has the witness key of {WITNESS_NAME!r}, "
        "not 'witness.test/w2'"
    ]
    shown = cli("witness", "key", "--data-dir", str(data_dir))
    assert shown.returncode == 0 and shown.stdout.strip() == first


def test_serve_refuses_bad_log_keys_and_a_missing_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "W"
    witness_key = init_witness(data_dir)
    port = free_port()
    for logs in ([], ["garbage"], [witness_key]):  # none; not a key; a witness's key (0x04)
        done = cli(*serve_args(data_dir, logs, port))
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stderr.startswith("zhenglian: error:") and "Traceback" not in done.stderr
    done = cli(*serve_args(tmp_path / "empty", [Log("a.test/log").vkey], port))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"zhenglian: error: {tmp_path / 'empty'} has no witness key: make one with "
        "`zhenglian witness init`"
    ]


def test_serve_says_who_it_is_and_what_it_follows(witness: WitnessServer, shared: Shared) -> None:
    output = witness.output()
    assert f"witness {WITNESS_NAME}, key {shared.witness_key}" in output
    assert "witnessing log zhenglian.test/log-00 (key " in output
    assert f"witness listening on {witness.url}" in output


# --- The service in-process: the atomic update, the clock, the bounded evidence file -----


def _in_process(data_dir: Path, log: Log, clock: Callable[[], float] = time.time) -> Witness:
    data_dir.mkdir()
    init_witness_key(data_dir, WITNESS_NAME, "passphrase")
    return open_witness(data_dir, "passphrase", [VerifierKey.from_text(log.vkey)], clock)


def test_of_many_threads_from_one_old_size_exactly_one_is_cosigned(tmp_path: Path) -> None:
    log = Log("zhenglian.test/threads")
    witness = _in_process(tmp_path / "W", log)
    try:
        witness.add_checkpoint(log.request(0, 2))
        bodies = [log.request(2, 3 + i) for i in range(16)]
        barrier = threading.Barrier(len(bodies))
        outcomes: list[int | OldSizeMismatch | None] = [None] * len(bodies)

        def run(i: int) -> None:
            barrier.wait()
            try:
                outcomes[i] = witness.add_checkpoint(bodies[i]).checkpoint.size
            except OldSizeMismatch as exc:
                outcomes[i] = exc

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        [won] = [o for o in outcomes if isinstance(o, int)]
        lost = [o for o in outcomes if isinstance(o, OldSizeMismatch)]
        assert len(lost) == len(bodies) - 1
        assert {(e.old_size, e.latest_size) for e in lost} == {(2, won)}
        # A second process on the same directory is refused while this one holds it.
        with pytest.raises(WitnessBusy, match=f"pid {os.getpid()}"):
            open_witness(tmp_path / "W", "passphrase", [VerifierKey.from_text(log.vkey)])
    finally:
        witness.close()


def test_the_cosignature_time_is_never_0_and_never_goes_back(tmp_path: Path) -> None:
    log = Log("zhenglian.test/clock")
    now = [0.0]
    witness = _in_process(tmp_path / "W", log, lambda: now[0])
    try:
        with pytest.raises(WitnessClockError):
            witness.add_checkpoint(log.request(0, 1))
        with pytest.raises(NotCosigned):
            witness.latest_checkpoint(log.name)
        now[0] = 1_800_000_000.9
        assert witness.add_checkpoint(log.request(0, 1)).time == 1_800_000_000
        now[0] = 1_700_000_000.0  # the clock set back
        assert witness.add_checkpoint(log.request(1, 2)).time == 1_800_000_000
    finally:
        witness.close()


def test_the_file_of_refused_checkpoints_is_bounded_and_keeps_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(witness_state, "MAX_REFUSED_BYTES", 3000)
    log = Log("zhenglian.test/bounded")
    witness = _in_process(tmp_path / "W", log)
    try:
        witness.add_checkpoint(log.request(0, 4))
        forks = [hashlib.sha256(f"fork {i}".encode()).digest() for i in range(12)]
        with caplog.at_level(logging.WARNING, logger="evidence.services.witness"):
            for root in forks:
                with pytest.raises(InconsistentCheckpoint, match="was cosigned with root"):
                    witness.add_checkpoint(log.request(4, 4, checkpoint=log.checkpoint(4, root)))
    finally:
        witness.close()
    kept = (tmp_path / "W" / "refused-checkpoints.jsonl").read_bytes()
    assert 0 < len(kept) <= 3000
    first = json.loads(kept.splitlines()[0])
    assert base64.b64encode(forks[0]).decode() in first["request"]
    assert sum("NOT kept" in r.getMessage() for r in caplog.records) >= 1
    assert len(caplog.records) == len(forks)


def test_a_damaged_record_is_an_error_not_a_fresh_start(tmp_path: Path) -> None:
    log = Log("zhenglian.test/damaged")
    witness = _in_process(tmp_path / "W", log)
    try:
        witness.add_checkpoint(log.request(0, 4))
    finally:
        witness.close()
    [record] = (tmp_path / "W" / "logs").iterdir()
    assert record.name == f"{hashlib.sha256(log.name.encode()).hexdigest()}.json"
    record.write_text(record.read_text().replace('"size": 4', '"size": 3'))
    witness = open_witness(tmp_path / "W", "passphrase", [VerifierKey.from_text(log.vkey)])
    try:
        with pytest.raises(StorageError, match="not the checkpoint of the recorded size"):
            witness.add_checkpoint(log.request(0, 5))
    finally:
        witness.close()
