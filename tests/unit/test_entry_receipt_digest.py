"""Log entries (canonical encoding), receipt parsing limits, dual digests."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.digest import DualHasher, digest_stream, parse_sha256_hex
from evidence.entry import ENTRY_PREFIX, EntryError, LogEntry, new_entry
from evidence.errors import InputError
from evidence.receipt import MAX_RECEIPT_BYTES, Receipt, ReceiptError

T0 = datetime(2026, 11, 28, 8, 30, 15, tzinfo=UTC)


def entry(**kw: object) -> LogEntry:
    args: dict[str, object] = dict(
        sha256=b"\x11" * 32,
        sm3=b"\x22" * 32,
        size=10,
        kind="notary",
        institution="广元市城东公证处",
        case_code="GY-2026-0001",
        deposited_at=T0,
        salt=b"\x33" * 32,
    )
    args.update(kw)
    return new_entry(**args)  # type: ignore[arg-type]


def test_known_encoding_and_leaf_hash() -> None:
    e = entry()
    data = e.encode()
    assert data.startswith(ENTRY_PREFIX)
    body = json.loads(data[len(ENTRY_PREFIX) :])
    assert body["time"] == "2026-11-28T08:30:15Z" and body["v"] == 1
    assert LogEntry.decode(data) == e
    assert e.leaf_hash() == hashlib.sha256(b"\x00" + data).digest()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.replace(b'","', b'", "', 1),  # whitespace
        lambda d: d.replace(b'"case"', b'"CASE"'),  # unknown key
        lambda d: d.replace(b"11111111", b"1111111A", 1),  # uppercase hex
        lambda d: d[:-1] + b',"v":1}',  # duplicate key
        lambda d: d.replace(b"zhenglian/entry/v1", b"zhenglian/entry/v2"),
        lambda d: d.replace(b'"size":10', b'"size":10.0'),
    ],
)
def test_non_canonical_entries_are_refused(mutate: object) -> None:
    with pytest.raises(EntryError):
        LogEntry.decode(mutate(entry().encode()))  # type: ignore[operator]


def test_entry_fields_are_checked() -> None:
    for bad in (
        {"kind": "spaceship"},
        {"case_code": "lower"},
        {"institution": ""},
        {"institution": "x" * 201},
        {"size": -1},
        {"sha256": b"short"},
    ):
        with pytest.raises(EntryError):
            entry(**bad)
    # Sub-second times are truncated; naive times are refused.
    assert entry(deposited_at=T0.replace(microsecond=5)).deposited_at == T0
    with pytest.raises(EntryError):
        LogEntry(
            b"\x11" * 32, b"\x22" * 32, 1, b"\x33" * 32, "other", "x", None, T0.replace(tzinfo=None)
        )


@settings(max_examples=50, deadline=None)
@given(
    size=st.integers(0, 2**63 - 1),
    kind=st.sampled_from(["notary", "forensic", "legal_aid", "other"]),
    institution=st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=50),
    case=st.none() | st.from_regex(r"[A-Z0-9-]{1,20}", fullmatch=True),
    flip=st.integers(0, 10_000),
)
def test_entries_round_trip_and_flips_change_the_leaf(
    size: int, kind: str, institution: str, case: str | None, flip: int
) -> None:
    e = entry(size=size, kind=kind, institution=institution, case_code=case)
    data = e.encode()
    assert LogEntry.decode(data) == e
    pos = flip % len(data)
    flipped = data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1 :]
    try:
        other = LogEntry.decode(flipped)
    except EntryError:
        return
    assert other.leaf_hash() != e.leaf_hash()


def test_receipt_limits() -> None:
    with pytest.raises(ReceiptError, match="larger"):
        Receipt.from_json_bytes(b" " * (MAX_RECEIPT_BYTES + 1))
    with pytest.raises(ReceiptError, match="duplicate"):
        Receipt.from_json_bytes(b'{"type": 1, "type": 2}')
    with pytest.raises(ReceiptError, match="deeper"):
        Receipt.from_json_bytes(b'{"a":' * 20 + b"1" + b"}" * 20)
    with pytest.raises(ReceiptError, match="not JSON"):
        Receipt.from_json_bytes(b"\xff\xfe")
    with pytest.raises(ReceiptError, match="missing"):
        Receipt.from_json_bytes(b'{"type": "zhenglian-receipt"}')
    assert issubclass(ReceiptError, InputError)


def test_dual_digest_known_answers() -> None:
    d = digest_stream([b"a", b"", b"bc"])
    assert d.sm3.hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert d.sha256 == hashlib.sha256(b"abc").digest() and d.size == 3
    empty = DualHasher().finalize()
    assert empty.sm3.hex() == "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"
    h = DualHasher()
    h.update(memoryview(b"abcd" * 16))
    assert (
        h.finalize().sm3.hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )
    assert parse_sha256_hex("AB" * 32) == b"\xab" * 32
    with pytest.raises(InputError):
        parse_sha256_hex("xyz")


def test_dual_digest_parallel_path_matches_one_shot() -> None:
    import os

    from cryptography.hazmat.primitives import hashes

    data = os.urandom(3 * 1024 * 1024 + 17)
    d = digest_stream([data[:1], data[1 : 2 * 1024 * 1024], data[2 * 1024 * 1024 :]])
    sm3 = hashes.Hash(hashes.SM3())
    sm3.update(data)
    assert d.sha256 == hashlib.sha256(data).digest() and d.sm3 == sm3.finalize()
    assert d.size == len(data)
