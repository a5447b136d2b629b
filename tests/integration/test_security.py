"""The security review's findings (issue 10), each against a running ``zhenglian serve``:
slow and idle clients cut off, X-Forwarded-For ignored unless a proxy is trusted, failed
authentications rate-limited and logged without the token, anonymous verification bounded and
answering the verdict only, private file modes, security headers, generic error bodies, strict
JSON bodies, look-alike institution names refused, QR codes pointing where serve listens."""

from __future__ import annotations

import json
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.integration.test_api_e2e import ANCHOR_DEADLINE, deposit, wait_receipt
from tests.support.zl_server import ZhenglianServer, running_server

pytestmark = pytest.mark.integration

#: The guard's settings for these tests: short, so that the tests are.
HEADER_TIMEOUT = 1.0
BODY_WINDOW = 1.0
MIN_BODY_BYTES = 2000
MAX_CONNECTIONS = 60
ANONYMOUS_FILE_BYTES = 4096


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZhenglianServer]:
    env = {
        "ZHENGLIAN_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "ZHENGLIAN_BODY_WINDOW": str(BODY_WINDOW),
        "ZHENGLIAN_MIN_BODY_BYTES": str(MIN_BODY_BYTES),
        "ZHENGLIAN_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "ZHENGLIAN_ANONYMOUS_VERIFY_MAX_BYTES": str(ANONYMOUS_FILE_BYTES),
    }
    with running_server(tmp_path_factory.mktemp("guarded") / "data", env) as srv:
        yield srv


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZhenglianServer]:
    """A server with a small public rate: 10 calls, then one every 10 s."""
    env = {
        "ZHENGLIAN_PUBLIC_RATE_LIMIT_PER_S": "0.1",
        "ZHENGLIAN_PUBLIC_RATE_LIMIT_BURST": "10",
    }
    with running_server(tmp_path_factory.mktemp("limited") / "data", env) as srv:
        yield srv


def _connect(server: ZhenglianServer) -> socket.socket:
    parts = urlsplit(server.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closed ``sock`` (reading what it sends), or fail."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except (ConnectionResetError, TimeoutError):
        if time.monotonic() - start >= seconds:
            pytest.fail(f"the connection was still open after {seconds} s")
    return time.monotonic() - start


def _server_log(server: ZhenglianServer) -> str:
    return (server.data_dir.parent / f"{server.data_dir.name}-server.log").read_text()


# --- Slow and idle clients ----------------------------------------------------------------


def test_an_idle_connection_is_closed_after_the_header_timeout(guarded: ZhenglianServer) -> None:
    with _connect(guarded) as sock:
        assert _closed_within(sock, HEADER_TIMEOUT + 3) >= HEADER_TIMEOUT * 0.9


def test_headers_sent_a_byte_at_a_time_are_cut_off(guarded: ZhenglianServer) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    with _connect(guarded) as sock:
        start = time.monotonic()
        with pytest.raises(OSError):
            for byte in request:
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
                if time.monotonic() - start > HEADER_TIMEOUT + 3:
                    pytest.fail("slow headers were not cut off")
            sock.sendall(b"\r\n\r\n")
            assert sock.recv(1) == b""
            raise ConnectionResetError  # closed without an answer: what the test wants
    assert time.monotonic() - start < HEADER_TIMEOUT + 3


def test_a_body_trickled_is_cut_off(guarded: ZhenglianServer) -> None:
    head = (
        b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
        b"boundary=b\r\nContent-Length: 100000\r\n\r\n"
    )
    with _connect(guarded) as sock:
        sock.sendall(head)
        start = time.monotonic()
        with pytest.raises(OSError):
            while time.monotonic() - start < BODY_WINDOW * 2 + 4:
                sock.sendall(b"x" * 10)
                time.sleep(0.2)
            pytest.fail("a body trickled at 50 bytes/s was not cut off")
    assert time.monotonic() - start < BODY_WINDOW * 2 + 4


def test_many_idle_connections_neither_starve_the_server_nor_flood_its_log(
    guarded: ZhenglianServer,
) -> None:
    before = len(_server_log(guarded).splitlines())
    idle = [_connect(guarded) for _ in range(150)]  # more than MAX_CONNECTIONS
    try:
        time.sleep(0.5)
        for _ in range(3):  # the server answers while they are held (or freed)
            started = time.monotonic()
            try:
                ok = httpx.get(f"{guarded.url}/healthz", timeout=5).status_code in (200, 503)
            except httpx.HTTPError:
                ok = False
            if ok:
                break
            time.sleep(HEADER_TIMEOUT)
        assert ok and time.monotonic() - started < 5
    finally:
        for sock in idle:
            sock.close()
    time.sleep(HEADER_TIMEOUT + 1)
    assert httpx.get(f"{guarded.url}/healthz", timeout=5).status_code in (200, 503)
    lines = _server_log(guarded).splitlines()[before:]
    assert "Traceback" not in "\n".join(lines)
    assert len(lines) < 20, lines[:20]  # a few throttled lines, not one per connection


# --- Proxies and failed authentications ------------------------------------------------------


def test_forwarded_for_is_ignored_unless_a_proxy_is_trusted(limited: ZhenglianServer) -> None:
    """Each call claims another address in X-Forwarded-For; the rate limit still counts them
    as the one peer they come from."""
    codes = [
        httpx.post(
            f"{limited.url}/v1/verify",
            json={"sha256": "ab" * 32},
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
        ).status_code
        for i in range(15)
    ]
    assert codes[:10] == [200] * 10 and set(codes[10:]) == {429}, codes


def test_failed_authentications_are_rate_limited_and_logged_without_the_token(
    tmp_path: Path,
) -> None:
    env = {"ZHENGLIAN_PUBLIC_RATE_LIMIT_PER_S": "0.1", "ZHENGLIAN_PUBLIC_RATE_LIMIT_BURST": "5"}
    with running_server(tmp_path / "data", env) as srv:
        secret = "zl_" + "guess" * 8
        codes = [
            httpx.get(
                f"{srv.url}/v1/documents/{'0' * 8}-0000-4000-8000-{'0' * 12}",
                headers={"Authorization": f"Bearer {secret}"},
            ).status_code
            for _ in range(10)
        ]
        log = _server_log(srv)
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes
    assert "authentication refused from 127.0.0.1" in log
    assert secret not in log and "guess" not in log


# --- Anonymous verification ------------------------------------------------------------------


PART_HEAD = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n'


def test_anonymous_verification_is_bounded_and_tells_only_the_verdict(
    guarded: ZhenglianServer,
) -> None:
    notary = {"Authorization": f"Bearer {guarded.token('城东公证处', 'notary')}"}
    content = b"an anonymous verification " * 10
    doc = deposit(guarded, notary, content).json()
    wait_receipt(guarded, notary, doc["id"], ANCHOR_DEADLINE)
    small = httpx.post(f"{guarded.url}/v1/verify", files={"file": ("x", content)}).json()
    assert small["result"] == "intact" and small["anchor"]["block_time"]
    assert small["document_id"] is None and small["institution"] is None
    assert small["case_code"] is None and small["deposited_at"] is None
    chunked = httpx.post(
        f"{guarded.url}/v1/verify",
        content=iter(
            [b'--b\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n']
            + [b"y" * 8192] * 16
        ),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert chunked.status_code == 413, chunked.text  # counted as it arrives, no length needed
    big = httpx.post(f"{guarded.url}/v1/verify", files={"file": ("x", b"z" * 100_000)})
    assert big.status_code == 413
    owner = httpx.post(f"{guarded.url}/v1/verify", headers=notary, json={"sha256": doc["sha256"]})
    assert owner.json()["document_id"] == doc["id"]


# --- Files, headers, errors, bodies, names, URLs -------------------------------------------------


def test_the_data_directory_is_private(guarded: ZhenglianServer) -> None:
    data = guarded.data_dir
    for path in [data, *[p for p in data.rglob("*") if p.is_dir()]]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    for name in ("zhenglian.sqlite", "zhenglian.sqlite-wal"):
        if (data / name).exists():
            assert stat.S_IMODE((data / name).stat().st_mode) & 0o077 == 0, name


def test_serve_makes_an_existing_data_directory_private_and_says_so(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_server(data):
        pass
    data.chmod(0o755)
    (data / "zhenglian.sqlite").chmod(0o644)
    with running_server(data) as srv:
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert stat.S_IMODE((data / "zhenglian.sqlite").stat().st_mode) == 0o600
        assert "was readable by other users (mode 644); made it 600" in _server_log(srv)


def test_answers_carry_security_headers_and_no_server_banner(guarded: ZhenglianServer) -> None:
    r = httpx.get(f"{guarded.url}/v1/log/head")
    assert "server" not in r.headers
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert httpx.get(f"{guarded.url}/docs").status_code == 404  # no CDN-loaded Swagger UI
    assert httpx.get(f"{guarded.url}/openapi.json").status_code == 200


def test_json_bodies_are_strict_and_errors_name_no_internals(guarded: ZhenglianServer) -> None:
    admin = {"Authorization": f"Bearer {guarded.token('司法局', 'admin')}"}
    url = f"{guarded.url}/v1/admin/institutions"
    duplicate = b'{"name": "A", "name": "B", "type": "law_firm"}'
    wrong_type = b'{"sha256": 3}'
    answers = {
        "duplicate key": httpx.post(
            url, headers={**admin, "Content-Type": "application/json"}, content=duplicate
        ),
        "bogus media type": httpx.post(
            url,
            headers={**admin, "Content-Type": "application/jsonbogus"},
            content=b'{"name": "C", "type": "law_firm"}',
        ),
        "string for a number": httpx.post(
            f"{guarded.url}/v1/verify",
            headers={"Content-Type": "application/json"},
            content=wrong_type,
        ),
    }
    assert {k: r.status_code for k, r in answers.items()} == {
        "duplicate key": 400,
        "bogus media type": 415,
        "string for a number": 422,
    }
    assert "appears twice" in answers["duplicate key"].json()["detail"]
    for r in answers.values():
        assert "pydantic" not in r.text and "UNIQUE" not in r.text


def test_look_alike_institution_names_are_refused(guarded: ZhenglianServer) -> None:
    admin = {"Authorization": f"Bearer {guarded.token('司法局', 'admin')}"}
    url = f"{guarded.url}/v1/admin/institutions"
    first = httpx.post(url, headers=admin, json={"name": "X律所", "type": "law_firm"})
    assert first.status_code == 201, first.text
    for name in ("Ｘ律所", "x律所", "X 律所", "X律所"):  # fullwidth, case, a space, the same
        again = httpx.post(url, headers=admin, json={"name": name, "type": "law_firm"})
        assert again.status_code == 409, (name, again.text)
        assert "X律所" in again.json()["detail"] and "UNIQUE" not in again.text


def test_case_qr_codes_point_where_serve_listens(guarded: ZhenglianServer) -> None:
    notary = {"Authorization": f"Bearer {guarded.token('城东公证处', 'notary')}"}
    case = httpx.post(
        f"{guarded.url}/v1/cases", headers=notary, json={"type": "notary", "title": "QR"}
    ).json()
    assert case["verify_url"].startswith(guarded.url + "/v1/public/cases/"), json.dumps(case)


# --- Custody exports: complete or saying they are not (finding 1) ----------------------------


def _export_pages(server: ZhenglianServer, url: str, headers: dict[str, str]) -> list[Any]:
    """Every page of a custody export (3 events a page), fetched while no anchoring lands."""
    for _ in range(20):
        pages = [httpx.get(f"{url}/custody", headers=headers, params={"limit": 3}).json()]
        while pages[-1]["next"] is not None:
            pages.append(
                httpx.get(
                    f"{url}/custody",
                    headers=headers,
                    params={"limit": 3, "after": pages[-1]["next"]},
                ).json()
            )
        heads = {json.dumps(page["tree_head"]) for page in pages}
        if len(heads) == 1 and all(
            event["status"] == "anchored" for page in pages for event in page["events"]
        ):
            return pages
        time.sleep(0.5)
    pytest.fail("the custody log was not anchored in time")


def test_a_custody_export_that_leaves_out_events_fails_offline(
    guarded: ZhenglianServer, tmp_path: Path
) -> None:
    """Paged exports verify together; a page left out, the newest events cut off (with the
    total lowered to match) or a non-owner flooding the document are each caught."""
    notary = {"Authorization": f"Bearer {guarded.token('完整公证处', 'notary')}"}
    court = {"Authorization": f"Bearer {guarded.token('完整法院', 'court')}"}
    case = httpx.post(
        f"{guarded.url}/v1/cases", headers=notary, json={"type": "notary", "title": "完整"}
    ).json()["code"]
    added = httpx.post(
        f"{guarded.url}/v1/cases/{case}/participants",
        headers=notary,
        json={"institution": "完整法院"},
    )
    assert added.status_code == 201, added.text
    doc = deposit(guarded, notary, b"complete custody", case_code=case).json()
    wait_receipt(guarded, notary, doc["id"], ANCHOR_DEADLINE)
    url = f"{guarded.url}/v1/documents/{doc['id']}"
    for _ in range(6):
        assert httpx.get(f"{url}/receipt", headers=court).status_code == 200
    time.sleep(1.5)  # let the custody log anchor them (interval 1 s)
    pages = _export_pages(guarded, url, notary)
    total = pages[0]["total"]  # the deposit, 6 receipts and the polls of wait_receipt
    assert total >= 8 and len(pages) == -(-total // 3) >= 3
    assert pages[0]["checkpoint"]["map_proof"]["state"]["events"] == total
    files = []
    for number, page in enumerate(pages):
        files.append(tmp_path / f"page{number}.json")
        files[-1].write_text(json.dumps(page))
    chain = httpx.get(f"{guarded.url}/v1/chain").json()
    validators = ",".join(chain["validators"])

    def verify(*paths: Path) -> Any:
        args = [arg for path in paths for arg in ("--custody", str(path))]
        return guarded.cli("verify", *args, "--validators", validators, check=False)

    every = verify(*files)
    assert every.returncode == 0, every.stdout + every.stderr
    assert "complete up to custody leaf" in every.stdout
    missing_page = verify(files[0], files[2])
    assert missing_page.returncode == 1
    assert "missing between" in missing_page.stderr
    last_left_out = verify(*files[:-1])
    assert last_left_out.returncode == 1 and "give every page" in last_left_out.stderr
    # A server (or anyone) cutting off the newest events and lowering the total to match:
    events = [event for page in pages for event in page["events"]]
    whole = dict(pages[0], events=events[:-2], total=total - 2)
    whole["next"] = None
    cut = tmp_path / "cut.json"
    cut.write_text(json.dumps(whole))
    truncated = verify(cut)
    assert truncated.returncode == 1
    assert f"the anchored map says {total}" in truncated.stderr
    # A party that does not own the document cannot bury its history: its reads are capped
    # per document (the owner's are not).
    statuses = [httpx.get(f"{url}/receipt", headers=court).status_code for _ in range(70)]
    assert 429 in statuses and statuses.count(200) <= 60
    assert httpx.get(f"{url}/receipt", headers=notary).status_code == 200
