"""Trust that does not rest on the operator (issue 11): every anchored head is signed as a
checkpoint, cosigned by two real witness processes and time-stamped by a real RFC 3161
authority; receipts of version 2 carry all of it and verify offline against a pinned trust
bundle — and fail, with the verdict that says why, against anything else. On SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence.digest import digest_file
from evidence.formats.checkpoint import Checkpoint
from evidence.formats.cosignature import WitnessKey, verify_cosignatures
from evidence.formats.log_entry import LogEntry
from evidence.formats.receipt_format import Receipt
from evidence.formats.tlog_proof import TlogProof
from evidence.formats.trust_bundle import TrustBundle
from evidence.store.log_key import load_or_create_log_key
from evidence.verify.time_stamp_check import verify_time_stamp
from ledger.client import LedgerClient
from ledger.merkle import InclusionProof, hash_leaf
from ledger.node.keystore import keystore_path, load_key, resolve_passphrase
from tests.integration.test_api_e2e import deposit
from tests.support.postgres import postgres_url  # noqa: F401 - fixture
from tests.support.tsa import RunningAuthority, running_authority
from tests.support.witness_process import (
    RunningWitness,
    running_witness,
    start_witness,
    witness_cli,
)
from tests.support.zl_server import ZhenglianServer, running_server

pytestmark = pytest.mark.integration

#: Seconds from a deposit to its witnessed, time-stamped receipt (anchoring ~1 s).
WITNESSED_DEADLINE = 20.0


@dataclass
class Deployment:
    server: ZhenglianServer
    witnesses: list[RunningWitness]
    authority: RunningAuthority
    log_key: str
    headers: dict[str, str]
    workdir: Path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp("trust")
    data_dir = work / "data"
    made = subprocess.run(  # with serve's own environment (its passphrase)
        [sys.executable, "-m", "zhenglian.cli", "log", "key", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    log_key = made.stdout.strip().splitlines()[-1]
    with (
        running_authority(work / "tsa") as authority,
        running_witness(work / "w1", "court.test.example/w1", [log_key]) as w1,
        running_witness(work / "w2", "notaries.test.example/w2", [log_key]) as w2,
    ):
        env = {
            "ZHENGLIAN_WITNESSES": json.dumps([{"key": w.key, "url": w.url} for w in (w1, w2)]),
            "ZHENGLIAN_WITNESS_QUORUM": "2",
            "ZHENGLIAN_TSA_URL": authority.url(),
            "ZHENGLIAN_TSA_ROOTS": str(authority.authority.directory / "root.pem"),
        }
        if request.param == "postgresql":
            env["ZHENGLIAN_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        deployment = None
        try:
            with running_server(data_dir, env) as srv:
                headers = {"Authorization": f"Bearer {srv.token('城东公证处', 'notary')}"}
                deployment = Deployment(srv, [w1, w2], authority, log_key, headers, work)
                yield deployment
        finally:
            # A test may have replaced a witness by a restarted process: stop those too.
            for witness in deployment.witnesses if deployment is not None else ():
                witness.stop()


def _witnessed_receipt(d: Deployment, doc_id: str, deadline: float) -> dict[str, Any]:
    start = time.monotonic()
    while True:
        r = httpx.get(
            f"{d.server.url}/v1/documents/{doc_id}/receipt", headers=d.headers, timeout=10
        )
        if r.status_code == 200:
            body: dict[str, Any] = r.json()
            return body
        assert r.status_code == 202, r.text
        if time.monotonic() - start > deadline:
            health = httpx.get(f"{d.server.url}/healthz").json()
            pytest.fail(f"no witnessed receipt within {deadline}s: {health}")
        time.sleep(0.2)


def _verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zhenglian.cli", "verify", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _files(d: Deployment, name: str, content: bytes) -> tuple[Path, Path, Path, dict[str, Any]]:
    made = deposit(d.server, d.headers, content).json()
    receipt = _witnessed_receipt(d, made["id"], WITNESSED_DEADLINE)
    document = d.workdir / f"{name}.pdf"
    document.write_bytes(content)
    receipt_path = d.workdir / f"{name}.receipt.json"
    receipt_path.write_text(json.dumps(receipt))
    bundle = d.workdir / "trust.json"
    bundle.write_text(httpx.get(f"{d.server.url}/v1/trust").text)
    return document, receipt_path, bundle, receipt


def test_a_receipt_is_cosigned_time_stamped_and_intact_against_the_bundle(
    deployment: Deployment,
) -> None:
    d = deployment
    deposited = datetime.now(UTC)
    document, receipt_path, bundle_path, body = _files(d, "will", b"a will, witnessed")
    receipt = Receipt.from_json_bytes(receipt_path.read_bytes())
    assert receipt.version == 2 and receipt.tlog_proof is not None
    keys = [WitnessKey.from_text(w.key) for w in d.witnesses]
    cosignatures = verify_cosignatures(receipt.tlog_proof.checkpoint, keys)
    assert {c.witness.name for c in cosignatures} == {w.name for w in d.witnesses}
    # The time stamp is over the checkpoint as the log signed it, by the test authority.
    bundle = TrustBundle.from_json_bytes(bundle_path.read_bytes())
    assert bundle.witness_quorum == 2 and {w.to_text() for w in bundle.witnesses} == {
        w.key for w in d.witnesses
    }
    assert bundle.log_key.to_text() == d.log_key
    signed = receipt.log_signed_checkpoint(bundle.log_key.name)
    assert receipt.time_stamp is not None and signed is not None
    stamp = verify_time_stamp(receipt.time_stamp, signed, [d.authority.authority.root_der])
    assert deposited - timedelta(seconds=5) < stamp.time < datetime.now(UTC) + timedelta(seconds=5)
    # Offline, against the bundle: intact, and the proven time is the independent one.
    done = _verify(str(document), "--receipt", str(receipt_path), "--trust", str(bundle_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict: intact" in done.stdout
    assert "ok   witnesses: 2 of 2 pinned witnesses cosigned" in done.stdout
    assert "ok   time stamp: the checkpoint existed no later than" in done.stdout
    as_json = _verify(
        str(document), "--receipt", str(receipt_path), "--trust", str(bundle_path), "--json"
    )
    result = json.loads(as_json.stdout)
    assert result["result"] == "intact" and result["receipt_version"] == 2
    proven = datetime.fromisoformat(result["proven_time"])
    assert abs((proven - deposited).total_seconds()) < 30
    # The API says the same, and names the witnesses.
    online = httpx.post(
        f"{d.server.url}/v1/verify", json={"sha256": body["entry_fields"]["sha256"]}
    )
    assert online.json()["result"] == "intact", online.text
    assert sorted(online.json()["witnesses"]) == sorted(w.name for w in d.witnesses), online.text
    # The checkpoint served publicly carries both cosignatures.
    note = httpx.get(f"{d.server.url}/v1/log/checkpoint").text
    assert all(f"\u2014 {w.name} " in note for w in d.witnesses)
    # zhenglian trust export writes the bundle serve published.
    exported = subprocess.run(
        [
            sys.executable,
            "-m",
            "zhenglian.cli",
            "trust",
            "export",
            "-o",
            "-",
            "--data-dir",
            str(d.server.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert exported.returncode == 0, exported.stderr
    assert TrustBundle.from_json_bytes(exported.stdout.encode()) == bundle


def _changed_bundle(bundle_path: Path, out: Path, **changes: Any) -> Path:
    data = json.loads(bundle_path.read_text())
    for key, value in changes.items():
        if key == "contract":
            data["contracts"]["documents"] = value
        else:
            data[key] = value
    out.write_text(json.dumps(data))
    return out


def test_what_is_not_pinned_is_untrusted_and_a_broken_proof_is_invalid(
    deployment: Deployment,
) -> None:
    d = deployment
    document, receipt_path, bundle_path, _ = _files(d, "deed", b"a deed, witnessed")
    base = [str(document), "--receipt", str(receipt_path)]
    stranger = WitnessKey.for_key(
        "stranger.example/w", Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    ).to_text()
    untrusted = {
        "one witness short": [
            *("--trust", str(bundle_path)),
            *("--witness", d.witnesses[0].key, "--witness", stranger),
        ],
        "a witness of one's own": [
            "--trust",
            str(bundle_path),
            "--witness",
            stranger,
            "--quorum",
            "1",
        ],
        "another chain": [
            "--trust",
            str(_changed_bundle(bundle_path, d.workdir / "b1.json", chain_id=999)),
        ],
        "another contract": [
            "--trust",
            str(_changed_bundle(bundle_path, d.workdir / "b2.json", contract="0x" + "11" * 20)),
        ],
        "another anchoring account": [
            "--trust",
            str(
                _changed_bundle(
                    bundle_path, d.workdir / "b3.json", anchoring_account="0x" + "22" * 20
                )
            ),
        ],
        "a validator counted only from a later block": [
            "--trust",
            str(
                _changed_bundle(
                    bundle_path,
                    d.workdir / "b6.json",
                    validators=[
                        {**v, "from_block": 10**9}
                        for v in json.loads(bundle_path.read_text())["validators"]
                    ]
                    + [{"address": "0x" + "33" * 20, "from_block": 0}],
                )
            ),
        ],
        "another log key": [
            "--trust",
            str(
                _changed_bundle(
                    bundle_path,
                    d.workdir / "b4.json",
                    log_key=witness_cli("log", "key", "--data-dir", str(d.workdir / "other"))
                    .stdout.strip()
                    .splitlines()[-1],
                )
            ),
        ],
        "another authority": [
            "--trust",
            str(
                _changed_bundle(
                    bundle_path,
                    d.workdir / "b5.json",
                    time_stamp_roots=[_other_root(d.workdir)],
                )
            ),
        ],
    }
    # A quorum larger than the witnesses pinned is no policy at all: bad input.
    done = _verify(*base, "--trust", str(bundle_path), "--witness", d.witnesses[0].key)
    assert done.returncode == 2 and "witness_quorum" in done.stderr, done.stderr
    for why, args in untrusted.items():
        done = _verify(*base, *args)
        assert (done.returncode, "verdict: untrusted") == (1, _verdict(done)), (why, done.stdout)
    # The document does not match: altered.
    other = d.workdir / "other.pdf"
    other.write_bytes(b"not the deed")
    done = _verify(str(other), "--receipt", str(receipt_path), "--trust", str(bundle_path))
    assert (done.returncode, _verdict(done)) == (1, "verdict: altered"), done.stdout
    # A cosignature line altered: the witness's signature fails, the receipt is invalid.
    forged = json.loads(receipt_path.read_text())
    name = d.witnesses[0].name
    proof = forged["tlog_proof"]
    start = proof.index(f"\u2014 {name} ") + len(name) + 3
    flipped = "A" if proof[start + 20] != "A" else "B"
    forged["tlog_proof"] = proof[: start + 20] + flipped + proof[start + 21 :]
    forged_path = d.workdir / "forged.receipt.json"
    forged_path.write_text(json.dumps(forged))
    done = _verify(str(document), "--receipt", str(forged_path), "--trust", str(bundle_path))
    assert (done.returncode, _verdict(done)) == (1, "verdict: receipt-invalid"), done.stdout
    # A time stamp over another checkpoint (a later receipt's) does not date this one.
    *_, later = _files(d, "deed-later", b"a later deed, witnessed")
    assert later["tree_head"] != json.loads(receipt_path.read_text())["tree_head"]
    forged = json.loads(receipt_path.read_text())
    forged["time_stamp"] = later["time_stamp"]
    forged_path.write_text(json.dumps(forged))
    done = _verify(str(document), "--receipt", str(forged_path), "--trust", str(bundle_path))
    assert (done.returncode, _verdict(done)) == (1, "verdict: receipt-invalid"), done.stdout
    assert "FAIL time stamp: the time stamp is not over this checkpoint" in done.stdout
    # The chain id claimed by the receipt is covered by the proof: changing it is refused.
    forged = json.loads(receipt_path.read_text())
    forged["anchor"]["chain_id"] = 1
    forged_path.write_text(json.dumps(forged))
    done = _verify(str(document), "--receipt", str(forged_path), "--trust", str(bundle_path))
    assert done.returncode == 2 and "chain_id" in done.stderr, done.stderr
    # Without pinning, nothing is concluded: exit 2 naming what to pin.
    done = _verify(*base, "--rpc", d.server.rpc_url)
    assert done.returncode == 2
    assert "--contract" in done.stderr and "--log-key" in done.stderr and "--quorum" in done.stderr


def _verdict(done: subprocess.CompletedProcess[str]) -> str:
    return next((x for x in done.stdout.splitlines() if x.startswith("verdict: ")), "")


def _other_root(workdir: Path) -> str:
    from tests.support.tsa import LocalTimeStampAuthority

    other = LocalTimeStampAuthority.create(workdir / "other-tsa", name="Another TSA")
    return other.root_pem.decode()


def test_a_witness_down_delays_the_receipt_never_the_deposit(deployment: Deployment) -> None:
    d = deployment
    down = d.witnesses[1]
    port = int(down.url.rsplit(":", 1)[1])
    down.stop()
    try:
        made = deposit(d.server, d.headers, b"deposited while a witness is down")
        assert made.status_code == 201, made.text
        doc_id = made.json()["id"]
        deadline = time.monotonic() + 15
        while True:
            health = httpx.get(f"{d.server.url}/healthz").json()
            errors = (health.get("witnessing") or {}).get("errors", {})
            if f"witness {down.name}" in errors:
                break
            assert time.monotonic() < deadline, health
            time.sleep(0.3)
        assert "unreachable" in errors[f"witness {down.name}"]
        r = httpx.get(f"{d.server.url}/v1/documents/{doc_id}/receipt", headers=d.headers)
        assert r.status_code == 202, r.text
    finally:
        d.witnesses[1] = start_witness(down.data_dir, [d.log_key], key=down.key, port=port)
    receipt = _witnessed_receipt(d, doc_id, WITNESSED_DEADLINE + 60)
    parsed = Receipt.from_json_bytes(json.dumps(receipt).encode())
    assert parsed.tlog_proof is not None
    keys = [WitnessKey.from_text(w.key) for w in d.witnesses]
    assert len(verify_cosignatures(parsed.tlog_proof.checkpoint, keys)) == 2


def test_the_operator_forgery_fails_for_want_of_witnesses(deployment: Deployment) -> None:
    """The review's forgery: the operator, with its own keys (validator, anchoring account,
    log key), starts a fresh chain, anchors a back-dated entry for a document never deposited
    and signs its checkpoint. Every chain check passes against the court's bundle — same
    chain id, validator, contract and account — and only the witnesses (and the time-stamp
    authority) stop it. Without them (quorum 0, no authority: the old trust) it passes."""
    d = deployment
    forger = d.workdir / "forger"
    forger.mkdir()
    for name in ("keystore", "keystore-passphrase", "log-key.json"):
        source = d.server.data_dir / name
        if source.is_dir():
            shutil.copytree(source, forger / name)
        else:
            shutil.copy2(source, forger / name)
    content = b"a will nobody deposited in 2019"
    document = d.workdir / "forged-will.pdf"
    document.write_bytes(content)
    digest = digest_file(document)
    entry = LogEntry(
        sha256=digest.sha256,
        sm3=digest.sm3,
        size=digest.size,
        salt=os.urandom(32),
        kind="notary",
        institution="城东公证处",
        case_code=None,
        deposited_at=datetime(2019, 3, 1, 9, 30, tzinfo=UTC),
    )
    with running_server(forger) as fake:  # a fresh chain and database, the same keys
        passphrase = resolve_passphrase(forger, create=False)
        anchorer = load_key(keystore_path(forger, "anchorer"), passphrase)
        client = LedgerClient(fake.rpc_url, anchorer.to_bytes())
        client.attach(bytes.fromhex(httpx.get(f"{fake.url}/v1/chain").json()["contract"][2:]))
        leaf = entry.encode()
        root = hash_leaf(leaf)
        anchored = client.anchor(1, root, ())
        proof = client.anchor_proof(anchored.tx_hash, with_transaction=True)
        # A stranger's way: a LogAnchor of one's own (here on the same fresh chain).
        stranger = LedgerClient(fake.rpc_url, anchorer.to_bytes())
        stranger.deploy()
        elsewhere = stranger.anchor(1, root, ())
        stranger_proof = stranger.anchor_proof(elsewhere.tx_hash, with_transaction=True)
    log_key = load_or_create_log_key(forger, passphrase)
    note = Checkpoint(log_key.name, 1, root).sign(log_key.private_key)
    inclusion = InclusionProof(0, 1, ())
    forged = Receipt(
        document_id=str(uuid.uuid4()),
        entry=entry,
        entry_bytes=leaf,
        leaf_index=0,
        tree_size=1,
        root_hash=root,
        inclusion=inclusion,
        anchor=proof,
        tlog_proof=TlogProof(0, (), note),
    )
    path = d.workdir / "forged.receipt.json"
    path.write_bytes(forged.to_json_bytes())
    court = d.workdir / "court-trust.json"
    court.write_text(httpx.get(f"{d.server.url}/v1/trust").text)
    done = _verify(str(document), "--receipt", str(path), "--trust", str(court), "--json")
    result = json.loads(done.stdout)
    assert (done.returncode, result["result"]) == (1, "untrusted"), done.stdout
    checks = [c for section in result["sections"] for c in section["checks"]]
    failed = {c["name"] for c in checks if c["status"] == "failed"}
    assert failed == {"witnesses", "time stamp"}, checks
    # The stranger's contract is refused whatever is pinned, and nothing pinned is refused.
    strangers = d.workdir / "stranger.receipt.json"
    strangers.write_bytes(replace(forged, anchor=stranger_proof).to_json_bytes())
    done = _verify(str(document), "--receipt", str(strangers), "--trust", str(court), "--json")
    result = json.loads(done.stdout)
    assert (done.returncode, result["result"]) == (1, "untrusted"), done.stdout
    checks = [c for section in result["sections"] for c in section["checks"]]
    anchor_check = next(c for c in checks if c["name"] == "anchor proof")
    assert anchor_check["status"] == "failed" and "contract" in anchor_check["detail"], anchor_check
    assert anchor_check["fails_as"] == "untrusted"
    chain = httpx.get(f"{d.server.url}/v1/chain").json()
    flags = [
        *("--validators", ",".join(chain["validators"]), "--contract", chain["contract"]),
        *("--log-key", d.log_key, "--quorum", "0"),
    ]
    done = _verify(str(document), "--receipt", str(strangers), *flags)
    assert (done.returncode, _verdict(done)) == (1, "verdict: untrusted"), done.stdout
    done = _verify(str(document), "--receipt", str(strangers), "--rpc", d.server.rpc_url)
    assert done.returncode == 2 and "pin what you trust" in done.stderr
    # The old trust — the chain alone — would have called the forgery intact.
    old = _changed_bundle(court, d.workdir / "chain-only.json", witnesses=[], witness_quorum=0)
    old = _changed_bundle(old, old, time_stamp_roots=[])
    done = _verify(str(document), "--receipt", str(path), "--trust", str(old))
    assert done.returncode == 0 and "verdict: intact" in done.stdout, done.stdout
