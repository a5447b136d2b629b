"""Custody events and exports: strict encoding, the committed vectors (unchanged when
regenerated), offline verification with named failed checks; rate limits and quotas."""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.problems import Problem
from api.ratelimit import RateLimiter, UploadQuota
from evidence.formats.custody_event import (
    ACTIONS,
    ACTIONS_V1,
    ACTIONS_V3,
    CUSTODY_PREFIX,
    CUSTODY_V2_PREFIX,
    CUSTODY_V3_PREFIX,
    CUSTODY_V4_PREFIX,
    GENESIS_HASH,
    MAX_CUSTODY_EVENT_BYTES,
    MAX_CUSTODY_EVENT_V4_BYTES,
    MAX_NOTE_CHARS,
    Actor,
    ActorDetail,
    CustodyEvent,
    CustodyEventError,
    CustodyObject,
    NonCanonicalCustodyEventError,
)
from evidence.formats.custody_export import CustodyExport, CustodyExportError
from evidence.services.custody_recording import new_draft
from evidence.verify.custody_verifier import CustodyVerificationFailed, verify_custody_export
from ledger.anchor_proof import ChainTrust

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "assets" / "custody"
SCHEMA = json.loads(
    (REPO / "evidence" / "formats" / "schema" / "custody-export-v1.schema.json").read_text()
)
SCHEMA_V2 = json.loads(
    (REPO / "evidence" / "formats" / "schema" / "custody-export-v2.schema.json").read_text()
)
MANIFEST: dict[str, Any] = json.loads((VECTORS / "cases.json").read_text())
CASES = {case["name"]: case for case in MANIFEST["cases"]}
TOKEN = "11111111-2222-4333-8444-555555555555"
DOC = "5f0c3a52-8d1e-4b7a-9c2f-0e6d4a1b7c93"
T0 = datetime(2024, 6, 1, 0, 1, 0, 125000, tzinfo=UTC)


def trust() -> ChainTrust:
    t = MANIFEST["trust"]
    return ChainTrust.sealed(
        t["chainId"],
        [bytes.fromhex(v[2:]) for v in t["validators"]],
        contract=bytes.fromhex(t["contract"][2:]),
    )


def event(**changes: Any) -> CustodyEvent:
    values: dict[str, Any] = {
        "action": "deposit",
        "actor": Actor("notary", TOKEN, "广元市城东公证处"),
        "object": CustodyObject.document(DOC),
        "time": T0,
        "client": "192.0.2.10",
        "prev": GENESIS_HASH,
        "object_prev": GENESIS_HASH,
    }
    values.update(changes)
    return CustodyEvent(**values)


# --- Events ----------------------------------------------------------------------------


def test_an_event_has_one_canonical_encoding_and_decodes_to_itself() -> None:
    e = event()
    data = e.encode()
    assert data.startswith(CUSTODY_PREFIX)
    assert b'"time":"2024-06-01T00:01:00.125Z"' in data
    assert CustodyEvent.decode(data) == e
    for variant in (
        data.replace(b'"action":', b'"action": '),
        data.replace(b'"v":1', b'"v":1.0'),
        data.replace(b"\xe5\xb9\xbf", b"\\u5e7f"),  # an escape of a character
    ):
        with pytest.raises(CustodyEventError):
            CustodyEvent.decode(variant)
    with pytest.raises(NonCanonicalCustodyEventError):
        CustodyEvent.decode(data.replace(b'"action":', b'"action": '))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"action": "delete"}, "action"),
        ({"actor": None}, "Actor"),
        ({"client": "192.168.001.1"}, "IP address"),
        ({"client": "::FFFF:1.2.3.4"}, "canonical"),
        ({"time": T0.replace(microsecond=125001)}, "milliseconds"),
        ({"time": T0.replace(tzinfo=None)}, "UTC"),
        ({"prev": b"\x00" * 31}, "32 bytes"),
    ],
)
def test_malformed_events_are_refused_with_a_typed_error(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(CustodyEventError, match=message):
        event(**changes)


@pytest.mark.parametrize(
    ("role", "token", "institution"),
    [
        ("notary", None, "x"),  # a role with a token needs one
        ("notary", "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE", "x"),  # uppercase
        ("notary", TOKEN, None),
        ("public", TOKEN, None),  # public has no token...
        ("public", None, "x"),  # ... and no institution
        ("superuser", None, None),
        ("court", TOKEN, "a\u202eb"),  # a bidirectional override
    ],
)
def test_actors_are_checked(role: str, token: str | None, institution: str | None) -> None:
    with pytest.raises(CustodyEventError):
        Actor(role, token, institution)


def test_oversized_and_foreign_bytes_are_refused_before_parsing() -> None:
    with pytest.raises(CustodyEventError, match="larger"):
        CustodyEvent.decode(CUSTODY_PREFIX + b" " * MAX_CUSTODY_EVENT_BYTES)
    with pytest.raises(CustodyEventError, match=r"prefix|start"):
        CustodyEvent.decode(b"zhenglian/entry/v1\n{}")
    with pytest.raises(CustodyEventError, match="duplicate"):
        CustodyEvent.decode(event().encode().replace(b'"v":1}', b'"v":1,"v":1}'))


_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp", "Zs")),
    min_size=1,
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(
    action=st.sampled_from(ACTIONS_V3),
    institution=_text,
    object_id=_text,
    ms=st.integers(0, 253402300799999),
    client=st.one_of(st.none(), st.ip_addresses().map(str)),
    prev=st.binary(min_size=32, max_size=32),
)
def test_every_valid_event_round_trips(
    action: str, institution: str, object_id: str, ms: int, client: str | None, prev: bytes
) -> None:
    e = CustodyEvent(
        action,
        Actor("court", TOKEN, institution),
        CustodyObject("case", object_id),
        datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms),
        client,
        prev,
        GENESIS_HASH,
    )
    assert CustodyEvent.decode(e.encode()) == e


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_fail_with_a_custody_error(data: bytes) -> None:
    with contextlib.suppress(CustodyEventError):
        CustodyEvent.decode(CUSTODY_PREFIX + data)


# --- Version 2: notes, the logs themselves -------------------------------------------------


SYSTEM = Actor.system()


def test_an_event_is_written_in_the_lowest_version_that_holds_it() -> None:
    v1 = event()
    assert v1.version == 1 and v1.encode().startswith(CUSTODY_PREFIX)
    assert b'"note"' not in v1.encode()
    for changes in (
        {"note": "第一行\n\tsecond line"},
        {
            "action": "anchoring_halted",
            "actor": Actor.system(),
            "object": CustodyObject.log("documents"),
        },
        {
            "action": "tamper_detected",
            "actor": Actor.system(),
            "object": CustodyObject.log("custody"),
        },
        {"action": "case_participant_remove", "object": CustodyObject("case", "GZ-2026-7K3M9Q-E")},
    ):
        v2 = event(**changes)
        data = v2.encode()
        assert v2.version == 2 and data.startswith(CUSTODY_V2_PREFIX)
        assert b'"note":' in data and data.endswith(b',"v":2}')
        assert CustodyEvent.decode(data) == v2
    # Version 1 is what every version 1 reader reads: the same bytes as before version 2.
    assert set(ACTIONS) - set(ACTIONS_V1) == {
        "anchoring_halted",
        "anchoring_resumed",
        "case_participant_remove",
        "certificate_register",
        "certificate_revoke",
        "certificate_supersede",
    }
    assert set(ACTIONS) - set(ACTIONS_V3) == {
        "certificate_register",
        "certificate_revoke",
        "certificate_supersede",
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"note": "x", "version": 1}, "version 1"),
        ({"action": "anchoring_resumed", "version": 1}, "version 1"),
        ({"action": "case_participant_remove", "version": 1}, "version 1"),
        ({"object": CustodyObject("log", "documents"), "version": 1}, "version 1"),
        ({"object": CustodyObject("certificate", "GZ-x"), "version": 1}, "version 4"),
        ({"version": 5}, "unsupported"),
        ({"note": ""}, "note"),
        ({"note": "a\rb"}, "note"),
        ({"note": "x" * (MAX_NOTE_CHARS + 1)}, "note"),
    ],
)
def test_version_2_values_are_checked(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(CustodyEventError, match=message):
        event(**changes)


def test_a_log_object_is_one_of_the_two_logs() -> None:
    with pytest.raises(CustodyEventError, match="log"):
        CustodyObject("log", "receipts")
    with pytest.raises(CustodyEventError, match="log"):
        CustodyObject.log("everything")


def test_version_and_prefix_must_agree() -> None:
    data = event(note="n").encode()
    with pytest.raises(CustodyEventError, match="prefix"):
        CustodyEvent.decode(data.replace(b'"v":2}', b'"v":1}'))
    with pytest.raises(CustodyEventError, match="keys"):  # a version 1 prefix has no note
        CustodyEvent.decode(CUSTODY_PREFIX + data[len(CUSTODY_V2_PREFIX) :])


@settings(max_examples=200, deadline=None)
@given(
    action=st.sampled_from(ACTIONS_V3),
    note=st.one_of(
        st.none(),
        st.text(
            st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp"))
            | st.sampled_from("\n\t"),
            min_size=1,
            max_size=MAX_NOTE_CHARS,
        ),
    ),
    log_name=st.sampled_from(("documents", "custody")),
)
def test_every_valid_version_2_event_round_trips(
    action: str, note: str | None, log_name: str
) -> None:
    e = event(action=action, actor=Actor.system(), object=CustodyObject.log(log_name), note=note)
    assert e.version == 2
    assert CustodyEvent.decode(e.encode()) == e


# --- The committed vectors ---------------------------------------------------------------


def test_regenerating_the_vectors_gives_the_committed_bytes(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(VECTORS / "generate.py"), "--out", str(tmp_path)], check=True
    )
    generated = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    committed = {p.name: p.read_bytes() for p in VECTORS.iterdir() if p.suffix == ".json"}
    assert sorted(generated) == sorted(committed)
    for name, content in generated.items():
        assert content == committed[name], name


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_vector_is_accepted_or_refused_as_its_manifest_says(name: str) -> None:
    case = CASES[name]
    data = (VECTORS / case["export"]).read_bytes()
    if case["stage"] == "parse":
        with pytest.raises(CustodyExportError):
            CustodyExport.from_json_bytes(data)
        return
    export = CustodyExport.from_json_bytes(data)
    assert export.to_json() == json.loads(data)  # parsing loses nothing
    if not case["wantErr"]:
        document = json.loads(data)
        jsonschema.validate(document, SCHEMA if document["version"] == 1 else SCHEMA_V2)
        result = verify_custody_export(export, trust())
        assert (result.anchored, result.pending) == (case["anchored"], case["pending"])
        assert all(check.ok for check in result.checks)
        return
    with pytest.raises(CustodyVerificationFailed) as caught:
        verify_custody_export(export, trust())
    assert [c.name for c in caught.value.failed] == case["failedChecks"]


def test_the_schema_refuses_what_the_parser_refuses_structurally() -> None:
    valid = json.loads((VECTORS / "valid.json").read_bytes())
    jsonschema.validate(valid, SCHEMA)
    for broken in (
        {**valid, "extra": 1},
        {**valid, "version": 2},
        {**valid, "events": [{**valid["events"][0], "leaf_index": -1}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)


def test_a_trust_of_other_validators_fails_the_valid_export() -> None:
    export = CustodyExport.from_json_bytes((VECTORS / "valid.json").read_bytes())
    with pytest.raises(CustodyVerificationFailed) as caught:
        assert export.anchor is not None
        verify_custody_export(export, ChainTrust.sealed(export.anchor.chain_id, [b"\x01" * 20]))
    assert [c.name for c in caught.value.failed] == ["anchor proof"]


# --- Rate limits and quotas --------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_the_burst_then_the_rate_and_says_how_long_to_wait() -> None:
    clock = _Clock()
    limiter = RateLimiter(2.0, 5, clock=clock)
    assert [limiter.retry_after("a") for _ in range(5)] == [0.0] * 5
    assert limiter.retry_after("a") == pytest.approx(0.5)
    assert limiter.retry_after("b") == 0.0  # keys are independent
    with pytest.raises(Problem) as caught:
        limiter.check("a", "token a")
    assert caught.value.status == 429 and caught.value.headers == {"Retry-After": "1"}
    clock.now += 1.0  # two more requests' worth
    assert limiter.retry_after("a") == 0.0
    assert limiter.retry_after("a") == 0.0
    assert limiter.retry_after("a") > 0


def test_a_rate_of_zero_disables_the_limit_and_old_keys_are_forgotten() -> None:
    assert all(RateLimiter(0, 1).retry_after("a") == 0.0 for _ in range(100))
    limiter = RateLimiter(1.0, 1, clock=_Clock(), max_keys=2)
    for key in ("a", "b", "c"):
        assert limiter.retry_after(key) == 0.0
    assert limiter.retry_after("a") == 0.0  # forgotten: a full bucket again
    assert limiter.retry_after("c") > 0


def test_the_upload_quota_counts_per_institution_and_resets_at_utc_midnight() -> None:
    now = [datetime(2026, 11, 29, 23, 59, 30, tzinfo=UTC)]
    reads: list[tuple[str, datetime]] = []

    def used(institution: str, since: datetime) -> int:
        reads.append((institution, since))
        return 600 if institution == "A" else 0

    quota = UploadQuota(1000, used, clock=lambda: now[0])
    quota.check("A", 400)
    with pytest.raises(Problem) as caught:
        quota.check("A", 401)
    assert caught.value.status == 429
    assert caught.value.headers == {"Retry-After": "30"}  # seconds to 00:00 UTC
    _deposit(quota, "B", 900)
    with pytest.raises(Problem):
        quota.check("B", 101)
    quota.check("B", 100)
    assert reads == [("A", datetime(2026, 11, 29, tzinfo=UTC)), ("B", reads[1][1])]
    now[0] += timedelta(minutes=1)  # a new day: read again
    quota.check("B", 1000)
    assert reads[-1] == ("B", datetime(2026, 11, 30, tzinfo=UTC))
    UploadQuota(0, used).check("A", 10**15)  # 0: no quota


def _deposit(quota: UploadQuota, institution: str, size: int, chunk: int = 100) -> None:
    meter = quota.meter(institution)
    try:
        for _ in meter.chunks([b"x" * chunk] * (size // chunk)):
            pass
        meter.deposited()
    finally:
        meter.close()


def test_the_quota_meters_uploads_as_they_arrive_whatever_they_declare() -> None:
    quota = UploadQuota(1000, lambda _i, _d: 0)
    # An upload that declares nothing (chunked) is cut off at the quota, and leaves nothing.
    meter = quota.meter("A")
    received = 0
    with pytest.raises(Problem) as caught:
        for piece in meter.chunks([b"x" * 300] * 10):
            received += len(piece)
    meter.close()
    assert caught.value.status == 429 and received == 900
    quota.check("A", 1000)  # the abandoned upload counts for nothing
    # Uploads side by side share the quota: bytes still arriving count.
    first, second = quota.meter("A"), quota.meter("A")
    list(first.chunks([b"x" * 600]))
    quota.check("A", 400)
    with pytest.raises(Problem):
        quota.check("A", 401)
    with pytest.raises(Problem):
        list(second.chunks([b"x" * 500]))
    first.deposited()
    first.close()
    second.close()
    with pytest.raises(Problem):
        quota.check("A", 401)  # 600 deposited
    _deposit(quota, "A", 400)
    with pytest.raises(Problem):
        _deposit(quota, "A", 100)
    # Another institution is metered apart; a disabled quota meters nothing.
    _deposit(quota, "B", 1000)
    _deposit(UploadQuota(0, lambda _i, _d: 0), "A", 10**6, chunk=10**5)


def test_pages_join_into_the_export_they_came_from() -> None:
    """Each page alone is incomplete; together they are the whole, proven complete; pages of
    different exports do not join."""
    whole = json.loads((VECTORS / "v2-valid.json").read_bytes())
    cut = whole["events"][1]["leaf_index"]
    first = dict(whole, events=whole["events"][:2], next=cut)
    second = dict(whole, events=whole["events"][2:], after=cut)
    pages = [CustodyExport.from_json(page) for page in (second, first)]
    for page in pages:
        with pytest.raises(CustodyVerificationFailed) as caught:
            verify_custody_export(page, trust())
        assert [c.name for c in caught.value.failed] == ["complete"]
        assert "give every page" in str(caught.value.failed[0].detail)
    joined = CustodyExport.combine(pages)
    assert joined.to_json()["events"] == whole["events"]
    result = verify_custody_export(joined, trust())
    assert result.complete_through == 15 and result.anchored == 6
    stranger = CustodyExport.from_json(dict(second, checkpoint=None))
    with pytest.raises(CustodyExportError, match="checkpoint differs"):
        CustodyExport.combine([pages[1], stranger])


def test_an_event_naming_a_token_or_an_address_commits_to_them_in_version_3() -> None:
    """Version 3 names the actor's institution and role; its token and client address are in a
    salted commitment (docs/custody.md §2.2) that only an opening reveals."""
    detail = ActorDetail(bytes(range(16)), TOKEN, "192.0.2.10")
    assert (
        detail.commitment()
        == hashlib.sha256(
            b"zhenglian/custody/actor-detail\n"
            b'{"client":"192.0.2.10","salt":"000102030405060708090a0b0c0d0e0f",'
            b'"token":"11111111-2222-4333-8444-555555555555"}'
        ).digest()
    )
    notary = Actor("notary", TOKEN, "广元市城东公证处")
    hidden = event(actor=notary.without_token(), client=None, actor_detail=detail.commitment())
    data = hidden.encode()
    assert hidden.version == 3 and data.startswith(b"zhenglian/custody/v3\n")
    assert TOKEN.encode() not in data and b"192.0.2.10" not in data
    assert b'"actor_detail":"' + detail.commitment().hex().encode() + b'"' in data
    assert CustodyEvent.decode(data) == hidden
    assert ActorDetail.from_json(detail.to_json()) == detail
    with pytest.raises(CustodyEventError, match="names no token"):
        event(actor_detail=detail.commitment())  # named and committed
    with pytest.raises(CustodyEventError, match="names its token"):
        event(actor=notary.without_token(), client=None)  # hidden without a commitment
    with pytest.raises(CustodyEventError):  # a version 3 event with the version 1 keys
        CustodyEvent.decode(
            data.replace(b'"actor_institution"', b'"actor_token":null,"actor_institution"')
        )
    with pytest.raises(CustodyEventError, match="names a token, a client"):
        ActorDetail(bytes(16), None, None)
    with pytest.raises(CustodyEventError, match="salt"):
        ActorDetail(bytes(15), TOKEN, None)


# --- Version 4: registered e-certificates ----------------------------------------------------

CERTIFICATE = CustodyObject("certificate", "ZL-CERT-2026-000017")
REGISTRAR = Actor("bureau_registrar", TOKEN, "广元市司法局")


def _committed(**changes: Any) -> CustodyEvent:
    """An event naming a token and a client address as the server writes it: committed."""
    detail = ActorDetail(bytes(range(16)), TOKEN, "192.0.2.10")
    values: dict[str, Any] = {
        "action": "certificate_register",
        "actor": REGISTRAR.without_token(),
        "object": CERTIFICATE,
        "client": None,
        "actor_detail": detail.commitment(),
    }
    values.update(changes)
    return event(**values)


_NOTARY = Actor("notary", TOKEN, "广元市城东公证处").without_token()


@pytest.mark.parametrize(
    ("changes", "version"),
    [
        ({}, 4),
        ({"action": "certificate_revoke", "note": "吊销：执业证书已注销"}, 4),
        ({"action": "certificate_supersede", "actor": _NOTARY}, 4),
        # Each addition alone makes the event version 4; none of them, version 3.
        ({"actor": _NOTARY}, 4),
        ({"action": "deposit", "object": CustodyObject.document(DOC)}, 4),
        ({"object": CustodyObject.document(DOC), "actor": _NOTARY}, 4),
        ({"action": "deposit", "object": CustodyObject.document(DOC), "actor": _NOTARY}, 3),
    ],
)
def test_an_event_with_an_e_certificate_value_is_written_in_version_4(
    changes: dict[str, Any], version: int
) -> None:
    e = _committed(**changes)
    data = e.encode()
    assert e.version == version
    assert data.startswith(CUSTODY_V4_PREFIX if version == 4 else CUSTODY_V3_PREFIX)
    assert data.endswith(b',"v":%d}' % version) and b'"note":' in data
    assert b'"actor_detail":"' in data
    assert TOKEN.encode() not in data and b"192.0.2.10" not in data
    assert b'"actor_token"' not in data and b'"client"' not in data
    assert CustodyEvent.decode(data) == e
    assert len(data) <= MAX_CUSTODY_EVENT_V4_BYTES


def test_a_version_4_event_without_token_or_address_has_a_null_actor_detail() -> None:
    """The pending worker completes a certificate change as ``system`` with no address: nothing
    to commit to, so ``actor_detail`` is null (the only version with a null one)."""
    e = event(action="certificate_register", actor=SYSTEM, object=CERTIFICATE, client=None)
    data = e.encode()
    assert e.version == 4 and e.actor_detail is None
    assert b'"actor_detail":null' in data and b'"actor_role":"system"' in data
    assert CustodyEvent.decode(data) == e
    # A token role needs its commitment; a tokenless actor with an address too.
    with pytest.raises(CustodyEventError, match="token"):
        CustodyEvent.decode(data.replace(b'"actor_role":"system"', b'"actor_role":"court"'))
    with pytest.raises(CustodyEventError, match="version 4"):
        event(action="certificate_revoke", actor=SYSTEM, object=CERTIFICATE, client="192.0.2.1")
    with pytest.raises(CustodyEventError, match="without actor_detail names no token"):
        event(action="certificate_revoke", object=CERTIFICATE)  # token named, not committed
    # Version 3 never has a null actor_detail.
    v3 = CUSTODY_V3_PREFIX + data[len(CUSTODY_V4_PREFIX) :].replace(b'"v":4}', b'"v":3}')
    with pytest.raises(CustodyEventError):
        CustodyEvent.decode(v3)


@pytest.mark.parametrize(
    ("changes", "version"),
    [
        ({}, 3),
        ({"action": "certificate_revoke", "object": CustodyObject("case", "GZ-1")}, 3),
        ({"action": "deposit", "version": 2, "actor_detail": None}, 2),
        ({"action": "deposit", "version": 1, "actor_detail": None}, 1),
        ({"action": "case_create", "object": CustodyObject("case", "GZ-1")}, 2),
    ],
)
def test_versions_1_to_3_refuse_the_e_certificate_values(
    changes: dict[str, Any], version: int
) -> None:
    values: dict[str, Any] = {"version": version} | changes
    if version < 3:
        values |= {"actor": REGISTRAR, "client": "192.0.2.10", "actor_detail": None}
    with pytest.raises(CustodyEventError, match="values are of version 4"):
        _committed(**values)


def test_a_version_4_event_under_an_older_prefix_is_refused() -> None:
    data = _committed().encode()
    body = data[len(CUSTODY_V4_PREFIX) :]
    with pytest.raises(CustodyEventError, match="values are of version 4"):
        CustodyEvent.decode(CUSTODY_V3_PREFIX + body.replace(b'"v":4}', b'"v":3}'))
    with pytest.raises(CustodyEventError, match="prefix"):
        CustodyEvent.decode(CUSTODY_V3_PREFIX + body)
    with pytest.raises(CustodyEventError, match="prefix"):
        CustodyEvent.decode(data.replace(b'"v":4}', b'"v":3}'))
    with pytest.raises(CustodyEventError, match="larger"):
        CustodyEvent.decode(CUSTODY_V4_PREFIX + b" " * MAX_CUSTODY_EVENT_V4_BYTES)


def test_a_custody_event_of_a_later_version_is_refused_for_its_version() -> None:
    """A reader names the versions it knows: version 5 is refused as an unknown version."""
    data = _committed().encode()
    body = data[len(CUSTODY_V4_PREFIX) :].replace(b'"v":4}', b'"v":5}')
    with pytest.raises(CustodyEventError, match=r"unsupported custody event version.*1, 2, 3, 4"):
        CustodyEvent.decode(b"zhenglian/custody/v5\n" + body)
    with pytest.raises(CustodyEventError, match=r"unsupported custody event version"):
        CustodyEvent.decode(b"zhenglian/custody/v12" + body)


@pytest.mark.parametrize(
    "name",
    [
        "v4-certificate-action-in-v3",
        "v4-certificate-object-in-v3",
        "v4-registrar-in-v2",
        "v4-token-role-without-detail",
    ],
)
def test_the_schema_refuses_e_certificate_values_outside_version_4(name: str) -> None:
    """The export schema says what the parser says: the e-certificate values only in version 4
    events, a null actor_detail only for an actor without a token."""
    jsonschema.validate(json.loads((VECTORS / "v4-valid.json").read_bytes()), SCHEMA_V2)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads((VECTORS / f"{name}.json").read_bytes()), SCHEMA_V2)


def test_a_draft_is_checked_as_it_will_be_written() -> None:
    """The server checks an event before its transaction in the form it writes: a certificate
    event by a token is version 4 with the token and address committed, never named."""
    new_draft("certificate_register", REGISTRAR, CERTIFICATE, "192.0.2.44")
    new_draft("certificate_revoke", SYSTEM, CERTIFICATE, None, note="注销")
    new_draft("deposit", Actor("notary", TOKEN, "x"), CustodyObject.document(DOC), "2001:db8::1")
    with pytest.raises(CustodyEventError, match="IP address"):
        new_draft("certificate_register", REGISTRAR, CERTIFICATE, "192.0.2.999")
    with pytest.raises(CustodyEventError, match="action"):
        new_draft("certificate_delete", REGISTRAR, CERTIFICATE, "192.0.2.44")
