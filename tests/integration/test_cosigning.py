"""The log's side of witnessing (``evidence.services.cosigning``): checkpoints of anchored
heads offered to real witness processes with consistency proofs, cosignatures checked before
they are stored — and every way a witness can fail (down, slow, wrong, a bad signature, a
different history) delaying witnessing with its reason, never storing a bad cosignature."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence.formats.checkpoint import Checkpoint
from evidence.formats.cosignature import WitnessKey, cosign, verify_cosignatures
from evidence.formats.signed_note import Note
from evidence.formats.witness_protocol import AddCheckpoint, format_size
from evidence.services.anchoring import AnchoringWorker, AnchorPolicy
from evidence.services.cosigning import (
    CheckpointCosigner,
    HttpWitnessTransport,
    WitnessEndpoint,
    WitnessingPolicy,
    cosigned_checkpoint,
)
from evidence.store.database import Database, open_database
from evidence.store.log_key import LogKey
from evidence.store.repository import SqlNodeStore
from evidence.store.witnessed_heads import cosignatures_of, latest_checkpoint
from ledger.client import LedgerClient
from ledger.merkle import MerkleLog, hash_leaf
from tests.support.servers import free_port, http_server
from tests.support.witness_process import RunningWitness, running_witness

pytestmark = pytest.mark.integration

LOG_NAME = "zhenglian.test/log-cosigning"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = open_database(f"sqlite:///{tmp_path / 'meta.sqlite'}")
    yield db
    db.dispose()


@pytest.fixture
def log_key() -> LogKey:
    return LogKey(LOG_NAME, Ed25519PrivateKey.generate())


@pytest.fixture
def anchoring(database: Database, embedded_chain: tuple[str, str, Path]) -> AnchoringWorker:
    url, key, _ = embedded_chain
    client = LedgerClient(url, key, inclusion_timeout=20.0)
    client.deploy()
    return AnchoringWorker(database, client, AnchorPolicy(batch=1, interval=0.0))


def _grow_and_anchor(database: Database, worker: AnchoringWorker, size: int) -> None:
    """Append leaves up to ``size`` and anchor that head (with its transaction proof)."""
    with database.session() as session:
        merkle = MerkleLog(SqlNodeStore(session))
        while merkle.size() < size:
            merkle.append(hash_leaf(f"leaf {merkle.size()}".encode()))
        session.commit()
    deadline = time.monotonic() + 60
    while worker.run_once() or worker.backlog().entries:
        assert time.monotonic() < deadline, "not anchored in 60 s"


def _vkey(key: LogKey) -> str:
    return key.verifier.to_text()


def _endpoint(witness: RunningWitness) -> WitnessEndpoint:
    return WitnessEndpoint(WitnessKey.from_text(witness.key), witness.url)


def test_two_witnesses_cosign_each_anchored_head_with_a_consistency_proof(
    tmp_path: Path, database: Database, log_key: LogKey, anchoring: AnchoringWorker
) -> None:
    with (
        running_witness(tmp_path / "w1", "court.test.example/w1", [_vkey(log_key)]) as w1,
        running_witness(tmp_path / "w2", "notaries.test.example/w2", [_vkey(log_key)]) as w2,
    ):
        policy = WitnessingPolicy((_endpoint(w1), _endpoint(w2)), 2)
        cosigner = CheckpointCosigner(database, log_key, policy)
        for size in (3, 8):  # the second round needs a consistency proof from 3 to 8
            _grow_and_anchor(database, anchoring, size)
            cosigner.run_once()
            with database.session() as session:
                checkpoint = latest_checkpoint(session)
                assert checkpoint is not None and checkpoint.tree_size == size
                stored = cosignatures_of(session, size)
                note = cosigned_checkpoint(session)
            assert {c.witness for c in stored} == {w1.key, w2.key}
            assert note is not None
            keys = [WitnessKey.from_text(w.key) for w in (w1, w2)]
            assert len(verify_cosignatures(Note.parse(note.encode()), keys)) == 2
            assert Checkpoint.verify(Note.parse(note.encode()), log_key.verifier).size == size
            status = cosigner.status()
            assert (status.checkpoint, status.cosigned, status.waiting_s) == (size, 2, None)


def _answering(status: int, body: bytes, content_type: str = "text/plain") -> type:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _slow() -> type:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            time.sleep(2.0)
            self.send_response(500)
            self.end_headers()

    return Handler


def _impostor() -> tuple[type, WitnessKey]:
    """A server that answers with a real cosignature — by a key that is not the pinned one."""
    impostor_key = Ed25519PrivateKey.generate()
    pinned = WitnessKey.for_key(
        "court.test.example/w1", Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = AddCheckpoint.parse(self.rfile.read(int(self.headers["Content-Length"])))
            note = Note.parse(request.checkpoint)
            line = cosign(note.text, pinned.name, impostor_key, int(time.time()))
            body = Note(note.text, (line,)).to_bytes()[len(note.text) + 1 :]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(body)

    return Handler, pinned


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("garbage", "invalid cosignature"),
        ("server error", "refused checkpoint 2: 500"),
        ("slow", "unreachable"),
        ("larger tree", "rolled back or forked"),
        ("impostor", "no cosignature by its pinned key"),
        ("down", "unreachable"),
    ],
)
def test_a_witness_that_fails_delays_witnessing_and_nothing_is_stored(
    database: Database,
    log_key: LogKey,
    anchoring: AnchoringWorker,
    behaviour: str,
    reason: str,
) -> None:
    _grow_and_anchor(database, anchoring, 2)
    handlers = {
        "garbage": _answering(200, b"\xe2\x80\x94 not a signature line\n"),
        "server error": _answering(500, b"internal error\n"),
        "slow": _slow(),
        "larger tree": _answering(409, format_size(1000), "text/x.tlog.size"),
    }
    pinned = WitnessKey.for_key(
        "court.test.example/w1", Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    )

    def offer(url: str) -> CheckpointCosigner:
        cosigner = CheckpointCosigner(
            database,
            log_key,
            WitnessingPolicy((WitnessEndpoint(pinned, url),), 1),
            transport=HttpWitnessTransport(timeout=0.5),
        )
        cosigner.run_once()
        return cosigner

    if behaviour == "down":
        cosigner = offer(f"http://127.0.0.1:{free_port()}")  # nobody listens there
    else:
        if behaviour == "impostor":
            handler, pinned = _impostor()
        else:
            handler = handlers[behaviour]
        with http_server(handler) as url:
            cosigner = offer(url)
    with database.session() as session:
        assert latest_checkpoint(session) is not None  # the checkpoint is signed ...
        assert cosignatures_of(session, 2) == []  # ... and not witnessed
    status = cosigner.status()
    assert status.cosigned == 0 and status.waiting_s is not None
    assert reason in status.errors[f"witness {pinned.name}"], status.errors


def test_a_witness_that_saw_another_history_refuses_and_the_head_is_not_witnessed(
    tmp_path: Path, database: Database, log_key: LogKey, anchoring: AnchoringWorker
) -> None:
    """The operator showed this witness another log of 5 entries first (a split view): the
    witness refuses every checkpoint inconsistent with it, and the log does not confirm."""
    with running_witness(tmp_path / "w1", "court.test.example/w1", [_vkey(log_key)]) as w1:
        other = MerkleLog()
        for i in range(5):
            other.append(hash_leaf(f"another history {i}".encode()))
        fork = Checkpoint(LOG_NAME, 5, other.root()).sign(log_key.private_key).to_bytes()
        transport = HttpWitnessTransport()
        shown = transport.post(f"{w1.url}/add-checkpoint", AddCheckpoint(0, (), fork).to_bytes())
        assert shown.status == 200
        _grow_and_anchor(database, anchoring, 8)
        cosigner = CheckpointCosigner(database, log_key, WitnessingPolicy((_endpoint(w1),), 1))
        cosigner.run_once()
        with database.session() as session:
            assert cosignatures_of(session, 8) == []
        error = cosigner.status().errors[f"witness {w1.name}"]
        assert "refused checkpoint 8: 422" in error, error
        # The witness kept what it saw: the fork, as evidence of the split view.
        refused = (w1.data_dir / "refused-checkpoints.jsonl").read_text()
        assert json.loads(refused.splitlines()[-1])  # one JSON line per refused request
