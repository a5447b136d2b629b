"""Chain of custody and limits, end to end through a real `zhenglian serve` (SQLite and
PostgreSQL): events recorded by the routes and the CLI, custody heads anchored on the embedded
chain, exports verified offline (and refused when tampered with); 429 + Retry-After."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from eth_account import Account

from evidence.formats.custody_event import GENESIS_HASH, CustodyEvent, CustodyObject
from evidence.formats.custody_map import CustodyCheckpoint
from evidence.services.custody_recording import custody_export
from evidence.store.database import custody_events_table, open_database
from ledger.client import LedgerClient
from tests.support.postgres import postgres_url  # noqa: F401 - fixture
from tests.support.servers import REPO_ROOT
from tests.support.zl_server import ZhenglianServer, running_server

pytestmark = pytest.mark.integration

#: Seconds within which a custody event must be anchored.
ANCHOR_DEADLINE = 10.0
#: The limits the server runs with here (low, so that tests reach them quickly).
RATE, BURST = 5, 20
QUOTA = 200_000
SCHEMA = json.loads(
    (REPO_ROOT / "evidence" / "formats" / "schema" / "custody-export-v2.schema.json").read_text()
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ZhenglianServer]:
    env = {
        "ZHENGLIAN_RATE_LIMIT_PER_S": str(RATE),
        "ZHENGLIAN_RATE_LIMIT_BURST": str(BURST),
        "ZHENGLIAN_PUBLIC_RATE_LIMIT_PER_S": str(RATE),
        "ZHENGLIAN_PUBLIC_RATE_LIMIT_BURST": str(BURST),
        "ZHENGLIAN_UPLOAD_QUOTA_BYTES_PER_DAY": str(QUOTA),
    }
    if request.param == "postgresql":
        env["ZHENGLIAN_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    with running_server(tmp_path_factory.mktemp("zl") / "data", env) as srv:
        yield srv


def _database_url(server: ZhenglianServer) -> str:
    return server.env.get("ZHENGLIAN_DATABASE_URL") or (
        f"sqlite:///{(server.data_dir / 'zhenglian.sqlite').resolve()}"
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _deposit(
    server: ZhenglianServer, headers: dict[str, str], content: bytes, **fields: str
) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/documents",
        headers=headers,
        files={"file": ("a.pdf", content, "application/pdf")},
        data={"kind": "notary", "title": "委托书", **fields},
        timeout=30,
    )


def _wait(what: str, ready: Any, deadline: float = ANCHOR_DEADLINE) -> Any:
    start = time.monotonic()
    while True:
        value = ready()
        if value:
            return value
        if time.monotonic() - start > deadline:
            pytest.fail(f"{what} not within {deadline}s")
        time.sleep(0.3)


def _verify_custody(server: ZhenglianServer, path: Path, *extra: str) -> Any:
    chain = httpx.get(f"{server.url}/v1/chain").json()
    return server.cli(
        "verify",
        "--custody",
        str(path),
        "--validators",
        ",".join(chain["validators"]),
        *extra,
        check=False,
    )


def test_custody_is_recorded_anchored_and_verifies_offline(
    server: ZhenglianServer, tmp_path: Path
) -> None:
    notary = _bearer(server.token("城南公证处", "notary"))
    court = _bearer(server.token("广元市中级人民法院", "court"))
    stranger = _bearer(server.token("另一法院", "court"))
    case = httpx.post(
        f"{server.url}/v1/cases", headers=notary, json={"type": "notary", "title": "委托"}
    ).json()["code"]
    added = httpx.post(
        f"{server.url}/v1/cases/{case}/participants",
        headers=notary,
        json={"institution": "广元市中级人民法院"},
    )
    assert added.status_code == 201, added.text
    content = f"custody {time.time()}".encode()
    r = _deposit(server, notary, content, case_code=case)
    assert r.status_code == 201, r.text
    doc = r.json()
    url = f"{server.url}/v1/documents/{doc['id']}"

    # The deposit event is committed before the 201: it is listed at once.
    first = httpx.get(f"{url}/custody", headers=notary).json()
    assert [e["fields"]["action"] for e in first["events"]] == ["deposit"]

    _wait("anchoring", lambda: httpx.get(url, headers=notary).json()["status"] == "anchored")
    assert httpx.get(f"{url}/receipt", headers=notary).status_code == 200
    by_court = httpx.post(
        f"{server.url}/v1/verify", json={"sha256": doc["sha256"]}, headers=court
    ).json()
    assert by_court["result"] == "intact" and by_court["document_id"] == doc["id"]
    public = httpx.post(f"{server.url}/v1/verify", json={"sha256": doc["sha256"]}).json()
    assert public["result"] == "intact"  # not recorded: no token, no actor
    # A token holder who may not read the document learns the verdict only, and its
    # verification is no event of the document: nobody can flood a document's custody.
    by_stranger = httpx.post(
        f"{server.url}/v1/verify", json={"sha256": doc["sha256"]}, headers=stranger
    ).json()
    assert by_stranger["result"] == "intact" and by_stranger["document_id"] is None

    def anchored_export() -> Any:
        export = httpx.get(f"{url}/custody", headers=notary).json()
        done = export["events"] and all(e["status"] == "anchored" for e in export["events"])
        return export if done and len(export["events"]) == 3 else None

    export = _wait("custody anchoring", anchored_export)
    jsonschema.validate(export, SCHEMA)
    events = [e["fields"] for e in export["events"]]
    assert [e["action"] for e in events] == ["deposit", "fetch_receipt", "verify_by_token"]
    assert [e["actor_role"] for e in events] == ["notary", "notary", "court"]
    assert events[2]["actor_institution"] == "广元市中级人民法院"
    # Version 3: token and address committed to, opened for the actor's own institution only.
    assert all("client" not in e and "actor_token" not in e and e["v"] == 3 for e in events)
    opened = [e["actor_detail"] for e in export["events"]]
    assert opened[2] is None  # the court's verification: the notary sees institution and role
    assert {o["client"] for o in opened[:2]} == {"127.0.0.1"}
    assert opened[0]["token"] == opened[1]["token"] is not None
    by_court_export = httpx.get(f"{url}/custody", headers=court).json()
    court_opened = [e["actor_detail"] for e in by_court_export["events"]]
    assert court_opened[:2] == [None, None] and court_opened[2]["client"] == "127.0.0.1"
    assert court_opened[2]["token"] != opened[0]["token"]
    assert events[0]["object_prev"] == "00" * 32
    assert all(e["object_id"] == doc["id"] for e in events)

    # The custody head is anchored in the custody LogAnchor on the embedded chain.
    chain = httpx.get(f"{server.url}/v1/chain").json()
    assert chain["custody_contract"] and chain["custody_contract"] != chain["contract"]
    client = LedgerClient(server.rpc_url, Account.create().key)
    client.attach(chain["custody_contract"])
    head = client.latest_head()
    assert head is not None and head.tree_size >= export["tree_head"]["tree_size"]
    assert export["anchor"]["contract"].lower() == chain["custody_contract"].lower()

    # Offline verification: passes, and names what is wrong when tampered with.
    good = tmp_path / "custody.json"
    good.write_text(json.dumps(export, ensure_ascii=False))
    ok = _verify_custody(server, good, "--contract", chain["custody_contract"])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "3 events anchored" in ok.stdout

    flipped = json.loads(json.dumps(export))
    node = flipped["events"][1]["inclusion_proof"][0]
    flipped["events"][1]["inclusion_proof"][0] = ("0" if node[0] != "0" else "1") + node[1:]
    (tmp_path / "flipped.json").write_text(json.dumps(flipped))
    bad = _verify_custody(server, tmp_path / "flipped.json")
    assert bad.returncode == 1
    leaf = flipped["events"][1]["leaf_index"]
    assert f"verification failed: event {leaf} inclusion proof" in bad.stderr

    omitted = json.loads(json.dumps(export))
    del omitted["events"][1]
    (tmp_path / "omitted.json").write_text(json.dumps(omitted))
    gap = _verify_custody(server, tmp_path / "omitted.json")
    assert gap.returncode == 1 and "object link" in gap.stderr

    wrong_contract = _verify_custody(server, good, "--contract", chain["contract"])
    assert wrong_contract.returncode == 1 and "anchor proof" in wrong_contract.stderr

    (tmp_path / "garbage.json").write_text('{"type": "zhenglian-custody-export"')
    garbage = _verify_custody(server, tmp_path / "garbage.json")
    assert garbage.returncode == 2 and garbage.stderr.count("\n") == 1


def test_a_case_custody_export_shows_who_was_given_the_case_and_verifies_offline(
    server: ZhenglianServer, tmp_path: Path
) -> None:
    notary = _bearer(server.token("案件公证处", "notary"))
    court = _bearer(server.token("案件法院", "court"))
    outsider = _bearer(server.token("旁观律所", "lawyer"))
    case = httpx.post(
        f"{server.url}/v1/cases", headers=notary, json={"type": "litigation", "title": "保全"}
    ).json()["code"]
    r = httpx.post(
        f"{server.url}/v1/cases/{case}/participants",
        headers=notary,
        json={"institution": "案件法院"},
    )
    assert r.status_code == 201, r.text
    url = f"{server.url}/v1/cases/{case}/custody"
    assert httpx.get(url, headers=outsider).status_code == 404  # as if there were no case

    def anchored_export() -> Any:
        export = httpx.get(url, headers=court).json()
        done = all(e["status"] == "anchored" for e in export["events"])
        return export if done and len(export["events"]) == 2 else None

    export = _wait("case custody anchoring", anchored_export)
    jsonschema.validate(export, SCHEMA)
    fields = [e["fields"] for e in export["events"]]
    assert [(f["action"], f["actor_institution"]) for f in fields] == [
        ("case_create", "案件公证处"),
        ("case_participant_add", "案件公证处"),
    ]
    assert {f["object_id"] for f in fields} == {case}
    path = tmp_path / "case-custody.json"
    path.write_text(json.dumps(export, ensure_ascii=False))
    ok = _verify_custody(server, path)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_custody_is_visible_only_to_whoever_may_see_the_document(server: ZhenglianServer) -> None:
    owner = _bearer(server.token("城北公证处", "notary"))
    other = _bearer(server.token("城西公证处", "notary"))
    doc = _deposit(server, owner, b"private").json()
    url = f"{server.url}/v1/documents/{doc['id']}/custody"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers=other).status_code == 404
    missing = f"{server.url}/v1/documents/00000000-0000-4000-8000-000000000000/custody"
    assert httpx.get(missing, headers=owner).status_code == 404
    assert httpx.get(url, headers=owner).status_code == 200


def test_cli_token_actions_are_recorded_and_the_whole_log_stays_one_chain(
    server: ZhenglianServer,
) -> None:
    token = server.token("司法局", "admin")
    listed = server.cli("tokens", "list", "--data-dir", str(server.data_dir)).stdout
    token_id = [json.loads(line) for line in listed.splitlines()][-1]["id"]
    server.cli("tokens", "revoke", "--data-dir", str(server.data_dir), token_id)
    assert httpx.get(f"{server.url}/v1/chain", headers=_bearer(token)).status_code == 200
    database = open_database(_database_url(server), migrate=False)
    try:
        with database.session() as session:
            export = custody_export(session, CustodyObject("token", token_id))
            rows = session.execute(
                custody_events_table.select().order_by(custody_events_table.c.leaf_index)
            ).all()
    finally:
        database.dispose()
    assert [e.event.action for e in export.events] == ["token_create", "token_revoke"]
    assert {e.event.actor.role for e in export.events} == {"operator"}
    # Server (recorder thread) and CLI processes appended to one log: one unbroken chain.
    # The anchoring worker's checkpoints are leaves of that chain too.
    prev = GENESIS_HASH
    for index, row in enumerate(rows):
        data = bytes(row.event)
        leaf = (
            CustodyCheckpoint.decode(data)
            if CustodyCheckpoint.is_checkpoint(data)
            else CustodyEvent.decode(data)
        )
        assert row.leaf_index == index and leaf.prev == prev
        prev = hashlib.sha256(b"\x00" + data).digest()
        assert bytes(row.event_hash) == prev


def _events(server: ZhenglianServer) -> list[CustodyEvent]:
    database = open_database(_database_url(server), migrate=False)
    try:
        with database.session() as session:
            rows = session.execute(
                custody_events_table.select().order_by(custody_events_table.c.leaf_index)
            ).all()
    finally:
        database.dispose()
    return [
        CustodyEvent.decode(bytes(row.event))
        for row in rows
        if not CustodyCheckpoint.is_checkpoint(bytes(row.event))
    ]


def test_every_action_is_recorded_about_its_object_by_its_actor(
    server: ZhenglianServer,
) -> None:
    """Case, share, token and institution actions, over the API and the CLI, each leave one
    event naming the object (a case by its canonical code, however it was typed)."""
    url, data = server.url, str(server.data_dir)
    admin = _bearer(server.token("司法局", "admin"))
    notary = _bearer(server.token("事件公证处", "notary"))
    before = len(_events(server))

    r = httpx.post(
        f"{url}/v1/admin/institutions", headers=admin, json={"name": "事件律所", "type": "law_firm"}
    )
    firm = r.json()["id"]
    r = httpx.post(
        f"{url}/v1/admin/tokens", headers=admin, json={"institution": "事件律所", "role": "lawyer"}
    )
    lawyer, lawyer_token = _bearer(r.json()["token"]), r.json()["id"]
    case = httpx.post(
        f"{url}/v1/cases", headers=notary, json={"type": "notary", "title": "事件"}
    ).json()["code"]
    typed = case.replace("-", "").lower()  # accepted as typed, recorded canonically
    r = httpx.post(
        f"{url}/v1/cases/{typed}/participants", headers=notary, json={"institution": "事件律所"}
    )
    assert r.status_code == 201, r.text
    doc = _deposit(server, notary, b"event coverage").json()["id"]
    share = httpx.post(
        f"{url}/v1/shares",
        headers=notary,
        json={"document_id": doc, "recipient": "事件律所", "max_uses": 2},
    ).json()["code"]
    assert httpx.get(f"{url}/v1/shares/{share}/content", headers=lawyer).status_code == 200
    assert httpx.delete(f"{url}/v1/shares/{share}", headers=notary).status_code == 204
    assert httpx.delete(f"{url}/v1/admin/tokens/{lawyer_token}", headers=admin).status_code == 204
    r = httpx.post(f"{url}/v1/admin/institutions/{firm}/disable", headers=admin)
    assert r.status_code == 204
    # Refused actions record nothing.
    assert httpx.delete(f"{url}/v1/admin/tokens/{lawyer_token}", headers=admin).status_code == 404
    assert (
        httpx.post(f"{url}/v1/admin/institutions/{firm}/disable", headers=admin).status_code == 404
    )
    # The CLI, as the operator: an institution made by `tokens create`, one made and disabled.
    server.cli(
        "tokens", "create", "--data-dir", data, "--institution", "事件法院", "--role", "court"
    )
    made = server.cli(
        "institutions",
        "create",
        "--data-dir",
        data,
        "--name",
        "事件中心",
        "--type",
        "legal_aid_centre",
    ).stdout.split()[-1]
    server.cli("institutions", "disable", "--data-dir", data, "事件中心")

    events = _events(server)[before:]
    seen = [(e.action, e.object.type, e.actor.role) for e in events]
    cli_court = next(
        e.object.id
        for e in events
        if e.action == "institution_create" and e.actor.role == "operator"
    )
    assert seen == [
        ("institution_create", "institution", "admin"),
        ("token_create", "token", "admin"),
        ("case_create", "case", "notary"),
        ("case_participant_add", "case", "notary"),
        ("deposit", "document", "notary"),
        ("share_create", "document", "notary"),
        ("share_fetch", "document", "lawyer"),
        ("share_revoke", "document", "notary"),
        ("token_revoke", "token", "admin"),
        ("institution_disable", "institution", "admin"),
        ("institution_create", "institution", "operator"),
        ("token_create", "token", "operator"),
        ("institution_create", "institution", "operator"),
        ("institution_disable", "institution", "operator"),
    ], seen
    by_action = {e.action: e.object.id for e in events}
    assert by_action["case_create"] == by_action["case_participant_add"] == case
    assert by_action["share_fetch"] == by_action["share_revoke"] == doc
    assert by_action["token_revoke"] == lawyer_token
    assert by_action["institution_disable"] == made and cli_court not in (firm, made)


#: Tests of the request rate limits: token buckets kept in the server's memory, read and
#: written by no SQL, so they run on SQLite only (the daily upload quota, read from the
#: database, runs on both).
IN_MEMORY_LIMIT_TESTS = frozenset(
    {
        "test_a_token_over_its_rate_gets_429_with_retry_after",
        "test_unauthenticated_verification_is_limited_per_client_address",
        "test_the_public_case_page_is_limited_per_client_address_token_or_not",
        "test_the_public_certificate_report_is_limited_per_client_address",
    }
)


def selected_parametrization(test: str, params: dict[str, object]) -> bool:
    """What runs (tests/conftest.py deselects the rest): everything on SQLite, all but
    :data:`IN_MEMORY_LIMIT_TESTS` on PostgreSQL."""
    return params.get("server") != "postgresql" or test not in IN_MEMORY_LIMIT_TESTS


def test_a_token_over_its_rate_gets_429_with_retry_after(server: ZhenglianServer) -> None:
    headers = _bearer(server.token("城郊公证处", "notary"))
    url = f"{server.url}/v1/documents/00000000-0000-4000-8000-000000000000"
    with httpx.Client(headers=headers, timeout=10) as client:
        codes = [client.get(url) for _ in range(BURST + 10)]
    limited = [r for r in codes if r.status_code == 429]
    assert codes[0].status_code == 404 and limited, [r.status_code for r in codes]
    assert len(limited) >= 5  # at 5/s only a few are refilled during the loop
    r = limited[0]
    assert r.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(r.headers["Retry-After"]) <= 1
    # Another token is not affected.
    other = _bearer(server.token("城郊公证处", "notary"))
    assert httpx.get(url, headers=other).status_code == 404
    time.sleep(1.0)
    assert httpx.get(url, headers=headers).status_code == 404  # refilled


def test_unauthenticated_verification_is_limited_per_client_address(
    server: ZhenglianServer,
) -> None:
    time.sleep(BURST / RATE)  # earlier tests' public calls: start with a full bucket
    body = {"sha256": "ab" * 32}
    with httpx.Client(timeout=10) as client:
        codes = [client.post(f"{server.url}/v1/verify", json=body) for _ in range(BURST + 10)]
    assert codes[0].status_code == 200
    limited = [r for r in codes if r.status_code == 429]
    assert limited and int(limited[0].headers["Retry-After"]) >= 1


def test_the_public_case_page_is_limited_per_client_address_token_or_not(
    server: ZhenglianServer,
) -> None:
    """Case codes cannot be enumerated through the public page at speed; a made-up bearer
    header does not lift the limit (the page checks no token)."""
    time.sleep(BURST / RATE)
    code = httpx.post(
        f"{server.url}/v1/cases",
        headers=_bearer(server.token("页面公证处", "notary")),
        json={"type": "notary", "title": "公开页"},
    ).json()["code"]
    forged = {"Authorization": "Bearer zl_made-up"}
    with httpx.Client(timeout=10) as client:
        codes = [
            client.get(f"{server.url}/v1/public/cases/{code}", headers=forged).status_code
            for _ in range(BURST + 10)
        ]
    assert codes[0] == 200 and 429 in codes, codes


def test_an_institution_over_its_daily_upload_quota_gets_429_until_midnight(
    server: ZhenglianServer,
) -> None:
    headers = _bearer(server.token("配额公证处", "notary"))
    assert _deposit(server, headers, b"q" * 150_000).status_code == 201
    r = _deposit(server, headers, b"q" * 60_000)
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(r.headers["Retry-After"]) <= 86_400
    assert "quota" in r.json()["detail"]
    # Another institution has its own quota; a small deposit still fits.
    other = _bearer(server.token("另一公证处", "notary"))
    assert _deposit(server, other, b"q" * 60_000).status_code == 201
    assert _deposit(server, headers, b"q" * 10_000).status_code == 201


def _chunked_deposit(server: ZhenglianServer, headers: dict[str, str], size: int) -> int | None:
    """A deposit sent without Content-Length (chunked); its status, or None if the server cut
    the upload off before answering."""
    boundary = "zl-quota-test"

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nnotary\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nt\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        for _ in range(size // 10_000):
            yield b"c" * 10_000
        yield f"\r\n--{boundary}--\r\n".encode()

    content_type = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    try:
        r = httpx.post(
            f"{server.url}/v1/documents",
            headers={**headers, **content_type},
            content=body(),
            timeout=30,
        )
    except httpx.HTTPError:
        return None
    return r.status_code


def test_the_quota_counts_the_bytes_that_arrive_not_what_is_declared(
    server: ZhenglianServer,
) -> None:
    headers = _bearer(server.token("分块公证处", "notary"))
    # 2.5 times the quota, declared nowhere: refused, and none of it counts.
    assert _chunked_deposit(server, headers, 500_000) in (429, None)
    assert _chunked_deposit(server, headers, 150_000) == 201
    assert _chunked_deposit(server, headers, 60_000) in (429, None)
    # Deposits side by side share one quota: never more than it allows gets in.
    other = _bearer(server.token("并发公证处", "notary"))
    with ThreadPoolExecutor(5) as pool:
        statuses = list(pool.map(lambda i: _deposit(server, other, bytes([i]) * 60_000), range(5)))
    codes = sorted(r.status_code for r in statuses)
    assert codes.count(201) <= QUOTA // 60_000 and set(codes) <= {201, 429}, codes


def test_after_a_kill_the_custody_log_and_its_contract_carry_on(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """kill -9, restart on the same data: the same custody LogAnchor (persisted deployment),
    the events recorded before the kill are still there, and the log grows as one chain."""
    data_dir = tmp_path_factory.mktemp("zl-restart") / "data"
    with running_server(data_dir) as first:
        notary = _bearer(first.token("城东公证处", "notary"))
        doc = _deposit(first, notary, b"before the kill").json()
        contract = httpx.get(f"{first.url}/v1/chain").json()["custody_contract"]
        first.kill()
    with running_server(data_dir) as second:
        assert httpx.get(f"{second.url}/v1/chain").json()["custody_contract"] == contract
        url = f"{second.url}/v1/documents/{doc['id']}"
        assert httpx.get(f"{url}/receipt", headers=notary).status_code in (200, 202)

        def anchored() -> Any:
            export = httpx.get(f"{url}/custody", headers=notary).json()
            events = export["events"]
            return export if len(events) == 2 and events[-1]["status"] == "anchored" else None

        export = _wait("custody anchoring after restart", anchored)
        assert [e["fields"]["action"] for e in export["events"]] == ["deposit", "fetch_receipt"]
        path = tmp_path_factory.mktemp("export") / "custody.json"
        path.write_text(json.dumps(export))
        ok = _verify_custody(second, path, "--contract", contract)
        assert ok.returncode == 0, ok.stdout + ok.stderr


def test_the_public_certificate_report_is_limited_per_client_address(
    server: ZhenglianServer,
) -> None:
    """A certificate's report costs three signature checks (and with source=chain a chain
    read): nobody gets them at speed without a limit."""
    time.sleep(BURST / RATE)
    url = f"{server.url}/v1/certificates/GZ-11110000000029209E-0000000000-0/report"
    with httpx.Client(timeout=10) as client:
        codes = [client.get(url).status_code for _ in range(BURST + 10)]
    assert codes[0] == 404 and 429 in codes, codes
