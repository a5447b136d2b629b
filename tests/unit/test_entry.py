"""Log entries: the one canonical encoding, strict decoding, field rules, leaf hashes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.errors import InputError
from evidence.formats.log_entry import (
    ENTRY_PREFIX,
    KINDS,
    MAX_ENTRY_BYTES,
    MAX_INSTITUTION_CHARS,
    EntryError,
    LogEntry,
    NonCanonicalEntryError,
    format_time,
    new_entry,
    parse_time,
)

T0 = datetime(2024, 5, 31, 23, 57, 35, tzinfo=UTC)

#: The entry of the receipt vectors (tests/assets/receipts, leaf 5) and of docs/receipt.md.
EXAMPLE: dict[str, Any] = dict(
    sha256=bytes.fromhex("07788d1fbc4dab396a4d04a2aa7dbedeeb96345a29096a1a24f7951c0155eeee"),
    sm3=bytes.fromhex("db97bb2e13efd31bcb01fa9927d93aabe2311aa326f3c25a788cedec511f5065"),
    size=68,
    kind="notary",
    institution="广元市城东公证处",
    case_code="GY-2024-0005",
    deposited_at=T0,
    salt=bytes.fromhex("4420211c049567832bf97d652afa5505fee836e32208511aa43ca31fa71a67a5"),
)
EXAMPLE_BYTES = (
    b'zhenglian/entry/v1\n{"case":"GY-2024-0005","institution":"'
    + "广元市城东公证处".encode()
    + b'","kind":"notary",'
    b'"salt":"4420211c049567832bf97d652afa5505fee836e32208511aa43ca31fa71a67a5",'
    b'"sha256":"07788d1fbc4dab396a4d04a2aa7dbedeeb96345a29096a1a24f7951c0155eeee",'
    b'"size":68,'
    b'"sm3":"db97bb2e13efd31bcb01fa9927d93aabe2311aa326f3c25a788cedec511f5065",'
    b'"time":"2024-05-31T23:57:35Z","v":1}'
)
EXAMPLE_LEAF_HASH = "088fbe0195095f01af18e2b7e9b64482a2ec651d32860aa2977bcbf6f0d7a36a"


def entry(**changes: Any) -> LogEntry:
    return new_entry(**{**EXAMPLE, **changes})


# --- The encoding ---------------------------------------------------------------------


def test_known_encoding_and_leaf_hash() -> None:
    e = entry()
    assert e.encode() == EXAMPLE_BYTES
    assert e.leaf_hash().hex() == EXAMPLE_LEAF_HASH
    assert e.leaf_hash() == hashlib.sha256(b"\x00" + EXAMPLE_BYTES).digest()
    assert LogEntry.decode(EXAMPLE_BYTES) == e
    assert e.version == 1 and e.kind == "notary"


def test_encoding_matches_an_independent_canonical_json() -> None:
    e = entry(institution='Notary "Ōkubo" \\ Branch', case_code=None, size=0)
    body = e.encode()[len(ENTRY_PREFIX) :]
    assert body == json.dumps(
        json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert b'"case":null' in body and b'"size":0' in body
    assert 'Notary \\"Ōkubo\\" \\\\ Branch'.encode() in body  # only " and \ are escaped
    assert LogEntry.decode(e.encode()) == e


def test_to_json_is_the_encoded_object() -> None:
    e = entry()
    assert json.loads(e.encode()[len(ENTRY_PREFIX) :]) == e.to_json()
    assert list(e.to_json()) == sorted(e.to_json())


def _swap_first_two_keys(data: bytes) -> bytes:
    body = data[len(ENTRY_PREFIX) :].decode()
    fields = list(json.loads(body).items())
    fields[0], fields[1] = fields[1], fields[0]
    return (
        ENTRY_PREFIX + json.dumps(dict(fields), separators=(",", ":"), ensure_ascii=False).encode()
    )


NON_CANONICAL: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("space after a comma", lambda d: d.replace(b'","kind"', b'", "kind"', 1)),
    ("space after a colon", lambda d: d.replace(b'"size":68', b'"size": 68')),
    ("newline at the end", lambda d: d + b"\n"),
    ("keys out of order", _swap_first_two_keys),
    ("unicode escape", lambda d: d.replace("广".encode(), b"\\u5e7f")),
    ("escaped hyphen", lambda d: d.replace(b"GY-2024", b"GY\\u002d2024")),
]

MALFORMED: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("uppercase hex", lambda d: d.replace(b"4420211c", b"4420211C")),
    ("duplicate key", lambda d: d[:-1] + b',"v":1}'),
    ("unknown key", lambda d: d.replace(b'"case"', b'"CASE"')),
    ("missing key", lambda d: d.replace(b',"v":1}', b"}")),
    ("float size", lambda d: d.replace(b'"size":68', b'"size":68.0')),
    ("exponent size", lambda d: d.replace(b'"size":68', b'"size":6.8e1')),
    ("leading zero", lambda d: d.replace(b'"size":68', b'"size":068')),
    ("boolean version", lambda d: d.replace(b'"v":1', b'"v":true')),
    ("version 2 inside", lambda d: d.replace(b'"v":1', b'"v":2')),
    ("version 2 prefix", lambda d: d.replace(b"entry/v1", b"entry/v2")),
    ("no prefix", lambda d: d[len(ENTRY_PREFIX) :]),
    ("NaN size", lambda d: d.replace(b'"size":68', b'"size":NaN')),
    ("string size", lambda d: d.replace(b'"size":68', b'"size":"68"')),
    ("lowercase case code", lambda d: d.replace(b"GY-2024", b"gy-2024")),
    ("time with offset", lambda d: d.replace(b"23:57:35Z", b"23:57:35+00:00")),
    ("time with fraction", lambda d: d.replace(b"23:57:35Z", b"23:57:35.000Z")),
    ("impossible date", lambda d: d.replace(b"2024-05-31", b"2024-02-31")),
    ("not UTF-8", lambda d: d.replace("广".encode(), b"\xff\xfe\xfd")),
    ("UTF-8 BOM", lambda d: ENTRY_PREFIX + b"\xef\xbb\xbf" + d[len(ENTRY_PREFIX) :]),
    ("array", lambda d: ENTRY_PREFIX + b"[" + d[len(ENTRY_PREFIX) :] + b"]"),
    ("truncated", lambda d: d[:-1]),
    ("too long", lambda d: d + b" " * MAX_ENTRY_BYTES),
]


@pytest.mark.parametrize(("name", "mutate"), NON_CANONICAL, ids=[n for n, _ in NON_CANONICAL])
def test_non_canonical_encodings_are_refused(name: str, mutate: Callable[[bytes], bytes]) -> None:
    data = mutate(EXAMPLE_BYTES)
    assert data != EXAMPLE_BYTES
    with pytest.raises(NonCanonicalEntryError):
        LogEntry.decode(data)


@pytest.mark.parametrize(("name", "mutate"), MALFORMED, ids=[n for n, _ in MALFORMED])
def test_malformed_entries_are_refused(name: str, mutate: Callable[[bytes], bytes]) -> None:
    data = mutate(EXAMPLE_BYTES)
    assert data != EXAMPLE_BYTES
    with pytest.raises(EntryError):
        LogEntry.decode(data)


def test_decode_takes_bytes_only() -> None:
    with pytest.raises(EntryError):
        LogEntry.decode(EXAMPLE_BYTES.decode())  # type: ignore[arg-type]
    assert issubclass(EntryError, InputError) and issubclass(NonCanonicalEntryError, EntryError)


# --- Field rules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "spaceship"},
        {"kind": "Notary"},
        {"case_code": ""},
        {"case_code": "lower"},
        {"case_code": "A" * 65},
        {"case_code": "GY-2024\n"},
        {"case_code": "ＧＹ"},  # fullwidth letters
        {"institution": ""},
        {"institution": "x" * (MAX_INSTITUTION_CHARS + 1)},
        {"institution": " 城东公证处"},
        {"institution": "城东公证处\u3000"},
        {"institution": "城东\n公证处"},
        {"institution": "城东\x00公证处"},
        {"institution": "城东\u202e公证处"},  # right-to-left override
        {"institution": "城东\u200b公证处"},  # zero-width space
        {"institution": "城东\ud800公证处"},  # lone surrogate
        {"institution": 12},
        {"size": -1},
        {"size": 2**63},
        {"size": True},
        {"size": 1.0},
        {"sha256": b"short"},
        {"sm3": b"\x00" * 33},
        {"sha256": "00" * 32},
        {"salt": b"\x00" * 31},
        {"deposited_at": datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)},
        {"deposited_at": T0.replace(tzinfo=None)},
    ],
    ids=repr,
)
def test_entry_fields_are_checked(changes: dict[str, Any]) -> None:
    with pytest.raises(EntryError):
        entry(**changes)


def test_accepted_edge_values() -> None:
    assert entry(institution="x" * MAX_INSTITUTION_CHARS).institution == "x" * 200
    assert entry(institution="a b").institution == "a b"
    assert entry(institution="𝔘").institution == "𝔘"  # outside the BMP
    assert entry(case_code="A" * 64).case_code == "A" * 64
    assert entry(case_code=None).case_code is None
    assert entry(size=2**63 - 1).size == 2**63 - 1
    for kind in KINDS:
        assert LogEntry.decode(entry(kind=kind).encode()).kind == kind


def test_constructor_times_must_be_utc_whole_seconds() -> None:
    args: dict[str, Any] = dict(EXAMPLE)
    del args["deposited_at"]
    for bad in (
        T0.replace(microsecond=1),
        T0.replace(tzinfo=None),
        T0.astimezone(timezone(timedelta(hours=8))),
    ):
        with pytest.raises(EntryError):
            LogEntry(deposited_at=bad, **args)
    same_instant = T0.replace(tzinfo=timezone(timedelta(0)))
    assert LogEntry(deposited_at=same_instant, **args).deposited_at.tzinfo is UTC


def test_new_entry_normalises_the_time_and_salts() -> None:
    beijing = T0.astimezone(timezone(timedelta(hours=8))).replace(microsecond=999_999)
    assert entry(deposited_at=beijing).deposited_at == T0
    assert entry(deposited_at=beijing).deposited_at.tzinfo is UTC
    with pytest.raises(EntryError):
        entry(deposited_at=T0.replace(tzinfo=None))
    salted = [entry(salt=None) for _ in range(2)]
    assert salted[0].salt != salted[1].salt and len(salted[0].salt) == 32
    assert salted[0].leaf_hash() != salted[1].leaf_hash()  # same document, unlinkable leaves


def test_entries_are_frozen_and_replace_rechecks() -> None:
    e = entry()
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.size = 1  # type: ignore[misc]
    assert dataclasses.replace(e, size=1).size == 1
    with pytest.raises(EntryError):
        dataclasses.replace(e, kind="spaceship")  # type: ignore[arg-type]
    with pytest.raises(EntryError):
        dataclasses.replace(e, version=2)


def test_time_format() -> None:
    assert format_time(datetime(1970, 1, 1, tzinfo=UTC)) == "1970-01-01T00:00:00Z"
    assert parse_time("9999-12-31T23:59:59Z") == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    for bad in ("2024-05-31t23:57:35Z", "2024-05-31T23:57:35z", "2024-5-31T23:57:35Z", "２０２４"):
        with pytest.raises(EntryError):
            parse_time(bad)


# --- Properties ---------------------------------------------------------------------------

_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=60
)


def _valid_institution(text: str) -> bool:
    try:
        entry(institution=text)
    except EntryError:
        return False
    return True


entries = st.builds(
    new_entry,
    sha256=st.binary(min_size=32, max_size=32),
    sm3=st.binary(min_size=32, max_size=32),
    size=st.integers(0, 2**63 - 1),
    kind=st.sampled_from(KINDS),
    institution=_text.filter(_valid_institution),
    case_code=st.none() | st.from_regex(r"[A-Z0-9-]{1,64}", fullmatch=True),
    deposited_at=st.datetimes(
        min_value=datetime(1970, 1, 1),
        max_value=datetime(9999, 12, 31, 23, 59, 59),
        timezones=st.just(UTC),
    ),
    salt=st.binary(min_size=32, max_size=32),
)


@settings(max_examples=300, deadline=None)
@given(e=entries)
def test_every_valid_entry_round_trips(e: LogEntry) -> None:
    data = e.encode()
    assert len(data) <= MAX_ENTRY_BYTES
    assert LogEntry.decode(data) == e
    assert LogEntry.decode(data).encode() == data


@settings(max_examples=300, deadline=None)
@given(e=entries, position=st.integers(0, 10_000), bit=st.integers(0, 7))
def test_a_flipped_bit_never_decodes_to_the_same_leaf(e: LogEntry, position: int, bit: int) -> None:
    data = e.encode()
    pos = position % len(data)
    flipped = data[:pos] + bytes([data[pos] ^ (1 << bit)]) + data[pos + 1 :]
    try:
        other = LogEntry.decode(flipped)
    except EntryError:
        return
    assert other != e
    assert other.encode() == flipped
    assert other.leaf_hash() != e.leaf_hash()
