"""Deposit → log → anchor → receipt → verify, end to end through a real `zhenglian serve`."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import sqlalchemy as sa

from tests.support.moto import moto_s3  # noqa: F401 - fixture
from tests.support.postgres import postgres_url  # noqa: F401 - fixture
from tests.support.servers import REPO_ROOT
from tests.support.zl_server import ZhenglianServer, running_server, start_server

pytestmark = pytest.mark.integration

#: Seconds within which a deposit must be anchored (the product's promise).
ANCHOR_DEADLINE = 5.0


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ZhenglianServer]:
    """The same suite on both metadata databases (PostgreSQL 15 started by a fixture)."""
    env = {}
    if request.param == "postgresql":
        env["ZHENGLIAN_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    with running_server(tmp_path_factory.mktemp("zl") / "data", env) as srv:
        yield srv


@pytest.fixture(scope="module")
def notary(server: ZhenglianServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token('城东公证处', 'notary')}"}


def deposit(
    server: ZhenglianServer, headers: dict[str, str], content: bytes, **fields: str
) -> httpx.Response:
    filename = fields.pop("filename", "will.pdf")
    data = {"kind": "notary", "title": "遗嘱公证书", **fields}
    return httpx.post(
        f"{server.url}/v1/documents",
        headers=headers,
        files={"file": (filename, content, "application/pdf")},
        data=data,
        timeout=30,
    )


def raw_multipart(
    server: ZhenglianServer, headers: dict[str, str], filename: bytes
) -> httpx.Response:
    """A hand-made multipart body (httpx would escape a NUL in the file name)."""
    b = b"----zlboundary"
    body = (
        b"--"
        + b
        + b'\r\nContent-Disposition: form-data; name="kind"\r\n\r\nnotary\r\n'
        + b"--"
        + b
        + b'\r\nContent-Disposition: form-data; name="title"\r\n\r\nt\r\n'
        + b"--"
        + b
        + b'\r\nContent-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: application/pdf\r\n\r\nx\r\n--'
        + b
        + b"--\r\n"
    )
    return httpx.post(
        f"{server.url}/v1/documents",
        content=body,
        headers={**headers, "Content-Type": "multipart/form-data; boundary=" + b.decode()},
    )


def wait_receipt(
    server: ZhenglianServer, headers: dict[str, str], doc_id: str, deadline: float
) -> Any:
    start = time.monotonic()
    while True:
        r = httpx.get(f"{server.url}/v1/documents/{doc_id}/receipt", headers=headers, timeout=10)
        if r.status_code == 200:
            return r.json()
        assert r.status_code == 202, r.text
        if time.monotonic() - start > deadline:
            pytest.fail(f"not anchored within {deadline}s")
        time.sleep(0.1)


def test_deposit_is_anchored_within_seconds_and_verifies(
    server: ZhenglianServer, notary: dict[str, str], tmp_path: Path
) -> None:
    content = "遗嘱内容 — testament".encode() * 100
    case = httpx.post(
        f"{server.url}/v1/cases", headers=notary, json={"type": "notary", "title": "遗嘱公证"}
    )
    assert case.status_code == 201, case.text
    t0 = time.monotonic()
    r = deposit(server, notary, content, case_code=case.json()["code"])
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["sha256"] == hashlib.sha256(content).hexdigest()
    assert doc["size"] == len(content) and doc["institution"] == "城东公证处"
    assert doc["status"] in ("pending", "anchored")
    receipt = wait_receipt(server, notary, doc["id"], ANCHOR_DEADLINE)
    assert time.monotonic() - t0 < ANCHOR_DEADLINE + 1
    schema = json.loads(
        (REPO_ROOT / "evidence" / "formats" / "schema" / "receipt-v2.schema.json").read_text()
    )
    jsonschema.validate(receipt, schema)  # the committed schema describes what is served
    for broken in (
        {**receipt, "extra": 1},
        {**receipt, "leaf_index": -1},
        {**receipt, "entry": "XY"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)
    status = httpx.get(f"{server.url}/v1/documents/{doc['id']}", headers=notary).json()
    assert status["status"] == "anchored" and status["anchor"]["tx_hash"]

    # Online, by file, by digest, by file + receipt.
    by_file = httpx.post(
        f"{server.url}/v1/verify", headers=notary, files={"file": ("x", content)}
    ).json()
    assert by_file["result"] == "intact" and by_file["document_id"] == doc["id"]
    # Without a token: by digest only, and the verdict without the document's particulars.
    by_digest = httpx.post(f"{server.url}/v1/verify", json={"sha256": doc["sha256"]}).json()
    assert by_digest["result"] == "intact" and by_digest["document_id"] is None
    assert by_digest["institution"] is None and by_digest["case_code"] is None
    anonymous_file = httpx.post(f"{server.url}/v1/verify", files={"file": ("x", content)})
    assert anonymous_file.status_code == 401 and "sha256" in anonymous_file.json()["detail"]
    with_receipt = httpx.post(
        f"{server.url}/v1/verify",
        headers=notary,
        files={"file": ("x", content), "receipt": ("r.json", json.dumps(receipt).encode())},
    ).json()
    assert with_receipt["result"] == "intact" and with_receipt["checks"]
    # The anchoring block's time is proven by the sealed header: it is in the answer.
    assert with_receipt["anchor"]["block_time"] == receipt["anchor"]["block_time"]
    assert by_digest["anchor"]["block_time"] == receipt["anchor"]["block_time"]
    altered = httpx.post(
        f"{server.url}/v1/verify",
        headers=notary,
        files={"file": ("x", content + b"!"), "receipt": ("r.json", json.dumps(receipt).encode())},
    ).json()
    assert altered["result"] == "altered"
    unknown = httpx.post(f"{server.url}/v1/verify", json={"sha256": "ab" * 32}).json()
    assert unknown["result"] == "unknown"

    # Offline, with nothing but the file, the receipt and the trust bundle.
    doc_path, receipt_path = tmp_path / "will.pdf", tmp_path / "receipt.json"
    doc_path.write_bytes(content)
    receipt_path.write_text(json.dumps(receipt))
    chain = httpx.get(f"{server.url}/v1/chain").json()
    pinned = server.trust_args(tmp_path)
    ok = server.cli("verify", str(doc_path), "--receipt", str(receipt_path), *pinned, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "verdict: intact" in ok.stdout
    bad_path = tmp_path / "forged.pdf"
    bad_path.write_bytes(content[:-1] + b"X")
    bad = server.cli("verify", str(bad_path), "--receipt", str(receipt_path), *pinned, check=False)
    assert bad.returncode == 1 and "verdict: altered" in bad.stdout, bad.stdout
    log_key = httpx.get(f"{server.url}/v1/log/key").text.strip()
    wrong_validator = server.cli(
        "verify",
        str(doc_path),
        "--receipt",
        str(receipt_path),
        *("--validators", "0x" + "12" * 20, "--contract", chain["contract"]),
        *("--log-key", log_key, "--quorum", "0"),
        check=False,
    )
    assert wrong_validator.returncode == 1 and "verdict: untrusted" in wrong_validator.stdout
    rpc_only = server.cli(
        "verify",
        str(doc_path),
        "--receipt",
        str(receipt_path),
        "--rpc",
        server.rpc_url,
        check=False,
    )
    assert rpc_only.returncode == 2 and "pin what you trust" in rpc_only.stderr
    online = server.cli(
        "verify",
        str(doc_path),
        "--receipt",
        str(receipt_path),
        *pinned,
        *("--rpc", server.rpc_url, "--json"),
        check=False,
    )
    assert online.returncode == 0, online.stderr
    assert json.loads(online.stdout)["result"] == "intact"


def test_log_and_chain_endpoints(server: ZhenglianServer, notary: dict[str, str]) -> None:
    for i in range(3):
        assert deposit(server, notary, f"doc {i}".encode()).status_code == 201
    head = httpx.get(f"{server.url}/v1/log/head").json()
    assert head["tree_size"] >= 3
    proof = httpx.get(
        f"{server.url}/v1/log/consistency", params={"first": 1, "second": head["tree_size"]}
    )
    assert proof.status_code == 200 and proof.json()["second_root"] == head["root_hash"]
    assert (
        httpx.get(f"{server.url}/v1/log/consistency", params={"first": 5, "second": 2}).status_code
        == 400
    )
    chain = httpx.get(f"{server.url}/v1/chain").json()
    assert chain["chain_id"] == 0x5A4C and len(chain["validators"]) == 1 and chain["sealed"]
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    assert httpx.get(f"{server.url}/openapi.json").json()["paths"]["/v1/documents"]


def test_bad_input_is_refused_and_stores_nothing(
    server: ZhenglianServer, notary: dict[str, str]
) -> None:
    size_before = httpx.get(f"{server.url}/v1/log/head").json()["tree_size"]
    problems = [
        httpx.post(
            f"{server.url}/v1/documents",
            files={"file": ("a", b"x")},
            data={"kind": "notary", "title": "t"},
        ),
        httpx.post(
            f"{server.url}/v1/documents",
            headers={"Authorization": "Bearer zl_forged"},
            files={"file": ("a", b"x")},
            data={"kind": "notary", "title": "t"},
        ),
        deposit(server, notary, b"x", kind="spaceship"),
        deposit(server, notary, b"x", title=""),
        httpx.post(
            f"{server.url}/v1/documents",
            headers=notary,
            files={"kind": (None, "notary"), "title": (None, "t")},
        ),  # no file part
        httpx.post(f"{server.url}/v1/documents", headers=notary, json={"kind": "notary"}),
        raw_multipart(server, notary, b"a\x00b.pdf"),
        deposit(server, notary, b"x", filename="../../etc/passwd"),
        deposit(server, notary, b"x", filename="case\\doc.pdf"),
        httpx.post(f"{server.url}/v1/verify", json={"sha256": "nothex"}),
        httpx.post(
            f"{server.url}/v1/verify",
            headers=notary,
            files={"file": ("x", b"x"), "receipt": ("r", b'{"a":1,"a":2}')},
        ),
    ]
    statuses = [p.status_code for p in problems]
    assert statuses == [401, 401, 400, 400, 400, 415, 400, 400, 400, 422, 400], statuses
    for p in problems:
        assert p.headers["content-type"].startswith("application/problem+json"), p.text
    assert httpx.get(f"{server.url}/v1/log/head").json()["tree_size"] == size_before
    assert all("path separator" in p.json()["detail"] for p in problems[7:9])
    # A file name is kept exactly as sent.
    r = deposit(server, notary, b"name test", filename="公证书 (2026) 第1号.pdf")
    assert r.status_code == 201 and r.json()["filename"] == "公证书 (2026) 第1号.pdf"
    # The empty file is still evidence.
    empty = deposit(server, notary, b"")
    assert empty.status_code == 201 and empty.json()["size"] == 0


def test_other_institutions_do_not_see_documents(
    server: ZhenglianServer, notary: dict[str, str]
) -> None:
    code = httpx.post(
        f"{server.url}/v1/cases", headers=notary, json={"type": "litigation", "title": "诉前保全"}
    ).json()["code"]
    doc = deposit(server, notary, b"private", case_code=code).json()
    other = {"Authorization": f"Bearer {server.token('城西公证处', 'notary')}"}
    court = {"Authorization": f"Bearer {server.token('中级人民法院', 'court')}"}
    assert httpx.get(f"{server.url}/v1/documents/{doc['id']}", headers=other).status_code == 404
    assert httpx.get(f"{server.url}/v1/documents/no-such-id", headers=other).status_code == 404
    # A court sees a case's documents once the case is shared with it, not before.
    assert httpx.get(f"{server.url}/v1/documents/{doc['id']}", headers=court).status_code == 404
    shared = httpx.post(
        f"{server.url}/v1/cases/{code}/participants",
        headers=notary,
        json={"institution": "中级人民法院"},
    )
    assert shared.status_code == 201, shared.text
    assert httpx.get(f"{server.url}/v1/documents/{doc['id']}", headers=court).status_code == 200
    lawyer = {"Authorization": f"Bearer {server.token('律师事务所', 'lawyer')}"}
    assert deposit(server, lawyer, b"x").status_code == 403


def expire_token(server: ZhenglianServer, token_id: str) -> None:
    """Age a token behind the server's back: it expired when it was made."""
    url = server.env.get("ZHENGLIAN_DATABASE_URL") or (
        f"sqlite:///{server.data_dir / 'zhenglian.sqlite'}"
    )
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE api_tokens SET expires_at = created_at WHERE id = :id"),
                {"id": token_id},
            )
    finally:
        engine.dispose()


def test_revoked_and_expired_tokens(server: ZhenglianServer) -> None:
    made: dict[str, tuple[dict[str, str], str]] = {}
    for name in ("revoked", "expired"):
        out = server.cli(
            "tokens",
            "create",
            "--data-dir",
            str(server.data_dir),
            "--institution",
            "临时",
            "--role",
            "notary",
        )
        token = out.stdout.strip().splitlines()[-1]
        made[name] = {"Authorization": f"Bearer {token}"}, out.stderr.split()[1]
    headers, token_id = made["revoked"]
    assert deposit(server, headers, b"before revoke").status_code == 201
    server.cli("tokens", "revoke", "--data-dir", str(server.data_dir), token_id)
    r = deposit(server, headers, b"after revoke")
    assert r.status_code == 401 and r.json()["detail"] == "unknown or revoked token", r.text
    headers, token_id = made["expired"]
    assert deposit(server, headers, b"before expiry").status_code == 201
    expire_token(server, token_id)
    r = deposit(server, headers, b"after expiry")
    assert r.status_code == 401 and r.json()["detail"] == "token expired", r.text
    assert r.headers["www-authenticate"] == "Bearer"
    bad_role = server.cli(
        "tokens",
        "create",
        "--data-dir",
        str(server.data_dir),
        "--institution",
        "x",
        "--role",
        "emperor",
        check=False,
    )
    assert bad_role.returncode == 2


def test_tampering_is_detected(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with running_server(data_dir) as srv:
        headers = {"Authorization": f"Bearer {srv.token('公证处', 'notary')}"}
        a = deposit(srv, headers, b"original A").json()
        b = deposit(srv, headers, b"original B").json()
        c = deposit(srv, headers, b"original C").json()
        wait_receipt(srv, headers, c["id"], ANCHOR_DEADLINE)
        # A receipt is the same document each time it is fetched.
        receipt_url = f"{srv.url}/v1/documents/{a['id']}/receipt"
        assert httpx.get(receipt_url, headers=headers).content == (
            httpx.get(receipt_url, headers=headers).content
        )
        # A blob altered on disk: reported as altered on verify.
        blob = next((data_dir / "blobs").rglob(a["sha256"]))
        blob.chmod(0o644)
        blob.write_bytes(b"original a")
        r = httpx.post(f"{srv.url}/v1/verify", json={"sha256": a["sha256"]}).json()
        assert r["result"] == "altered", r
        # A metadata row altered in the database: caught by the log (the receipt the server
        # rebuilds from it no longer proves anything).
        conn = sqlite3.connect(data_dir / "zhenglian.sqlite")
        conn.execute(
            "UPDATE documents SET entry = replace(entry, 'notary', 'forensic') WHERE id = ?",
            (b["id"],),
        )
        conn.commit()
        conn.close()
        r = httpx.post(f"{srv.url}/v1/verify", json={"sha256": b["sha256"]}).json()
        assert r["result"] == "receipt-invalid", r
        # A stored entry cut short no longer forms a receipt: 409, not a receipt or a 400.
        conn = sqlite3.connect(data_dir / "zhenglian.sqlite")
        conn.execute("UPDATE documents SET entry = substr(entry, 1, 10) WHERE id = ?", (c["id"],))
        conn.commit()
        conn.close()
        got = httpx.get(f"{srv.url}/v1/documents/{c['id']}/receipt", headers=headers)
        assert got.status_code == 409, got.text
        assert got.headers["content-type"] == "application/problem+json"
        r = httpx.post(f"{srv.url}/v1/verify", json={"sha256": c["sha256"]}).json()
        assert r["result"] == "receipt-invalid", r


def test_kill_after_acknowledgement_loses_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    srv = start_server(data_dir, {"ZHENGLIAN_ANCHOR_INTERVAL": "30"})
    try:
        headers = {"Authorization": f"Bearer {srv.token('公证处', 'notary')}"}
        ids = [deposit(srv, headers, f"acknowledged {i}".encode()).json()["id"] for i in range(5)]
        srv.kill()  # acknowledged but not anchored (interval 30 s)
    finally:
        srv.stop()
    with running_server(data_dir) as again:
        for doc_id in ids:
            receipt = wait_receipt(again, headers, doc_id, ANCHOR_DEADLINE + 5)
            assert receipt["document_id"] == doc_id
        heads = httpx.get(f"{again.url}/v1/log/head").json()
        assert heads["tree_size"] == 5 and heads["anchored"]["tree_size"] == 5


def test_serve_with_s3_object_lock(tmp_path: Path, moto_s3: str) -> None:  # noqa: F811
    env = {
        "ZHENGLIAN_S3_ENDPOINT": moto_s3,
        "ZHENGLIAN_S3_SECURE": "false",
        "ZHENGLIAN_S3_BUCKET": "zl-e2e-originals",
        "ZHENGLIAN_S3_ACCESS_KEY": "testing",
        "ZHENGLIAN_S3_SECRET_KEY": "testing-secret",
        "ZHENGLIAN_S3_RETENTION_DAYS": "3650",
        "ZHENGLIAN_S3_LEGAL_HOLD": "true",
    }
    with running_server(tmp_path / "data", env) as srv:
        headers = {"Authorization": f"Bearer {srv.token('公证处', 'notary')}"}
        doc = deposit(srv, headers, b"kept in S3 under Object Lock").json()
        wait_receipt(srv, headers, doc["id"], ANCHOR_DEADLINE)
        r = httpx.post(
            f"{srv.url}/v1/verify",
            headers=headers,
            files={"file": ("x", b"kept in S3 under Object Lock")},
        )
        assert r.json()["result"] == "intact"
        assert not (tmp_path / "data" / "blobs").exists()  # nothing kept locally
    from evidence.store.s3_blob_store import S3BlobStore

    store = S3BlobStore(moto_s3, "testing", "testing-secret", "zl-e2e-originals", secure=False)
    status = store.lock_status(bytes.fromhex(doc["sha256"]))
    assert status["x-amz-object-lock-mode"] == "COMPLIANCE"
