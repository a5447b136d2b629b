"""The one canonical JSON encoding and its strict decoder (evidence.formats.canonical_json),
tested against the rules of docs/formats.md once, for every format that uses it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.errors import InputError
from evidence.formats import custody_event, custody_export, log_entry, receipt_format
from evidence.formats.canonical_json import (
    FORBIDDEN_IN_FREE_TEXT,
    FORBIDDEN_IN_IDENTIFIER,
    JsonFields,
    PrefixedFormat,
    StrictJsonErrors,
    canonical_json,
    check_utc_time,
    format_utc_millis,
    format_utc_seconds,
    free_text,
    hex32,
    identifier_text,
    one_of,
    parse_utc_time,
    strict_loads,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "formats.md"


class SampleError(InputError):
    pass


class SampleNonCanonical(SampleError):
    pass


FORMAT = PrefixedFormat(
    what="sample",
    prefix=b"zhenglian/sample/v1\n",
    keys=("a", "b", "n"),
    max_bytes=256,
    error=SampleError,
    non_canonical=SampleNonCanonical,
)

GOOD = b'zhenglian/sample/v1\n{"a":"\xe5\xb9\xbf\xe5\x85\x83","b":null,"n":7}'


def _decode(data: bytes) -> dict[str, Any]:
    fields = FORMAT.decode_fields(data)
    FORMAT.require_canonical(data, FORMAT.encode(fields))
    return fields


# --- The encoding ------------------------------------------------------------------------


def test_the_encoding_sorts_keys_has_no_whitespace_and_writes_raw_utf8() -> None:
    assert canonical_json({"b": 1, "a": ["广元", None, True]}) == '{"a":["广元",null,true],"b":1}'
    assert canonical_json('q"\\') == '"q\\"\\\\"'  # only " and \ escaped among printables
    assert FORMAT.encode({"n": 7, "b": None, "a": "广元"}) == GOOD


def test_free_text_layout_characters_are_written_as_short_escapes() -> None:
    text = free_text("第一行\n\t第二行", "note", 100, SampleError)
    assert canonical_json(text) == '"第一行\\n\\t第二行"'
    assert json.loads(canonical_json(text)) == text


def test_a_canonical_leaf_decodes_and_every_variant_is_refused() -> None:
    assert _decode(GOOD) == {"a": "广元", "b": None, "n": 7}
    variants = [
        GOOD.replace(b'"b":', b'"b": '),  # whitespace
        GOOD.replace(b'{"a"', b'{ "a"'),
        GOOD + b"\n",
        b'zhenglian/sample/v1\n{"b":null,"a":"\xe5\xb9\xbf\xe5\x85\x83","n":7}',  # key order
        GOOD.replace("广".encode(), b"\\u5e7f"),  # unneeded escape
    ]
    for variant in variants:
        with pytest.raises(SampleNonCanonical):
            _decode(variant)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"zhenglian/other/v1\n{}", "prefix"),
        (GOOD + b" " * 256, "larger"),
        (GOOD.replace(b'"n":7', b'"n":7.0'), "integer"),
        (GOOD.replace(b'"n":7', b'"n":7e0'), "integer"),
        (GOOD.replace(b'"n":7', b'"n":NaN'), "integer"),
        (GOOD.replace(b'"n":7', b'"n":07'), "not JSON"),
        (GOOD.replace(b'"n":7}', b'"n":7,"n":7}'), "duplicate"),
        (GOOD.replace(b'"b":null,', b""), "missing"),
        (GOOD.replace(b'"b"', b'"c"'), "unknown"),
        (b"zhenglian/sample/v1\n[1]", "object"),
        (b'zhenglian/sample/v1\n{"a":[[1]],"b":null,"n":7}', "deeper"),
        (GOOD.replace("广".encode(), b"\xff"), "UTF-8"),
        (b"zhenglian/sample/v1\n\xef\xbb\xbf{}", "not JSON"),
    ],
)
def test_malformed_leaves_are_refused_with_the_format_error(data: bytes, message: str) -> None:
    with pytest.raises(SampleError, match=message):
        _decode(data)


def test_a_leaf_must_be_bytes() -> None:
    with pytest.raises(SampleError, match="bytes"):
        FORMAT.decode_fields("text")


_identifier = st.text(
    st.characters(codec="utf-8").filter(lambda c: not FORBIDDEN_IN_IDENTIFIER.match(c)),
    min_size=1,
    max_size=30,
).filter(lambda t: t.strip() == t and t.strip("\u3000\u00a0") == t)
_value = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63), _identifier)


@given(st.dictionaries(_identifier, st.one_of(_value, st.lists(_value, max_size=4)), max_size=6))
def test_encoding_and_strict_decoding_round_trip(value: dict[str, Any]) -> None:
    text = canonical_json(value).encode()
    parsed = strict_loads(
        text,
        what="doc",
        max_bytes=len(text),
        max_depth=2,
        errors=StrictJsonErrors(syntax=SampleError),
        integers_only=True,
    )
    assert parsed == value
    assert canonical_json(parsed).encode() == text  # one encoding per value


# --- The strict decoder --------------------------------------------------------------------


class TooLarge(SampleError):
    pass


class TooDeep(SampleError):
    pass


class Duplicate(SampleError):
    pass


ERRORS = StrictJsonErrors(
    syntax=SampleError, too_large=TooLarge, nesting=TooDeep, duplicate_key=Duplicate
)


def _loads(data: bytes, max_bytes: int = 64, max_depth: int = 3) -> object:
    return strict_loads(data, what="doc", max_bytes=max_bytes, max_depth=max_depth, errors=ERRORS)


def test_each_refusal_raises_the_error_named_for_it() -> None:
    assert _loads(b'{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}  # files may have floats
    with pytest.raises(TooLarge, match="doc is 65 bytes"):
        _loads(b" " * 65)
    with pytest.raises(TooDeep, match="deeper than the limit of 3"):
        _loads(b"[[[[1]]]]")
    with pytest.raises(TooDeep):
        _loads(b"[" * 60, max_bytes=100)  # counted before any parser recurses
    with pytest.raises(Duplicate, match="duplicate key 'a'"):
        _loads(b'{"a":1,"a":1}')
    with pytest.raises(SampleError, match="not JSON: Infinity"):
        _loads(b"[Infinity]")
    with pytest.raises(SampleError, match="not UTF-8"):
        _loads(b'"\xc3"')
    with pytest.raises(SampleError, match="not JSON"):
        _loads(b"{")


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    assert _loads(b'["[[[[[[", "\\"[[[["]', max_depth=1) == ["[[[[[[", '"[[[[']


# --- Field types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    ["", "a" * 11, "a\x00b", "a\nb", "a\tb", "a\u200bb", "a\u202eb", "a\ufeffb", " a", "a\u3000"],
)
def test_identifier_text_refuses_controls_invisibles_and_edge_spaces(bad: str) -> None:
    with pytest.raises(SampleError):
        identifier_text(bad, "name", 10, SampleError)


def test_identifier_text_accepts_names_as_people_write_them() -> None:
    for good in ("城东公证处", "X 律所", "O'Brien Co", "Ｘ律所"):
        assert identifier_text(good, "name", 10, SampleError) == good


@pytest.mark.parametrize("bad", ["", "a\rb", "a\x00b", "a\x0bb", "a\u2028b", "a\u200db", 42])
def test_free_text_refuses_everything_but_line_feeds_and_tabs(bad: object) -> None:
    with pytest.raises(SampleError):
        free_text(bad, "note", 10, SampleError)


def test_free_text_keeps_lines_tabs_and_spaces() -> None:
    assert free_text(" 甲\n\t乙 ", "note", 10, SampleError) == " 甲\n\t乙 "


def test_the_two_text_types_differ_exactly_in_line_feed_and_tab() -> None:
    differ = [
        chr(c)
        for c in range(0x110000)
        if bool(FORBIDDEN_IN_IDENTIFIER.match(chr(c))) != bool(FORBIDDEN_IN_FREE_TEXT.match(chr(c)))
    ]
    assert differ == ["\t", "\n"]


def test_the_forbidden_code_points_are_those_docs_formats_md_lists() -> None:
    row = next(line for line in DOCS.read_text().splitlines() if "**identifier text**" in line)
    listed = set()
    for start, end in re.findall(r"U\+([0-9A-F]{4})(?:–U\+([0-9A-F]{4}))?", row.split("; not")[0]):
        listed.update(range(int(start, 16), int(end or start, 16) + 1))
    forbidden = {c for c in range(0x110000) if FORBIDDEN_IN_IDENTIFIER.match(chr(c))}
    assert forbidden == listed


def test_hashes_and_choices() -> None:
    assert hex32("ab" * 32, "h", SampleError) == b"\xab" * 32
    for bad in ("AB" * 32, "ab" * 31, "0x" + "ab" * 31, None):
        with pytest.raises(SampleError, match="64 lowercase hex"):
            hex32(bad, "h", SampleError)
    assert one_of("b", ("a", "b"), "kind", SampleError) == "b"
    with pytest.raises(SampleError, match="one of a, b"):
        one_of("B", ("a", "b"), "kind", SampleError)


# --- Times ------------------------------------------------------------------------------------

T = datetime(2024, 5, 31, 23, 57, 35, 125000, tzinfo=UTC)


def test_times_round_trip_in_both_precisions() -> None:
    assert format_utc_millis(T) == "2024-05-31T23:57:35.125Z"
    assert format_utc_seconds(T) == "2024-05-31T23:57:35Z"
    assert parse_utc_time("2024-05-31T23:57:35.125Z", "t", millis=True, error=SampleError) == T
    whole = T.replace(microsecond=0)
    assert parse_utc_time("2024-05-31T23:57:35Z", "t", millis=False, error=SampleError) == whole


@pytest.mark.parametrize(
    ("text", "millis"),
    [
        ("2024-05-31T23:57:35.125Z", False),
        ("2024-05-31T23:57:35Z", True),
        ("2024-05-31T23:57:35+00:00", False),
        ("2024-05-31t23:57:35z", False),
        ("2024-02-30T00:00:00Z", False),
        ("2024-05-31T23:57:35.12Z", True),
    ],
)
def test_other_time_texts_are_refused(text: str, millis: bool) -> None:
    with pytest.raises(SampleError):
        parse_utc_time(text, "t", millis=millis, error=SampleError)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (T.replace(tzinfo=None), "timezone-aware"),
        (T.astimezone(timezone(timedelta(hours=8))), "offset"),
        (T.replace(microsecond=125001), "milliseconds"),
        (datetime(1969, 12, 31, tzinfo=UTC), "outside"),
        ("2024-05-31", "datetime"),
    ],
)
def test_time_values_are_checked(value: object, message: str) -> None:
    with pytest.raises(SampleError, match=message):
        check_utc_time(value, "t", millis=True, error=SampleError)


# --- Typed field reads ---------------------------------------------------------------------


def test_field_reads_name_the_path() -> None:
    fields = JsonFields(lambda path, reason: SampleError(f"{path}: {reason}"))
    assert fields.exact_object({"b": 1, "a": 2}, "$", ("a", "b")) == {"a": 2, "b": 1}
    with pytest.raises(SampleError, match=r"\$: missing fields \['b'\], unknown fields \['c'\]"):
        fields.exact_object({"a": 1, "c": 2}, "$", ("a", "b"))
    with pytest.raises(SampleError, match=r"x\[2\]: must be an integer, not a boolean"):
        fields.uint(True, "x[2]", 10)
    with pytest.raises(SampleError, match="outside"):
        fields.uint(11, "n", 10)
    assert fields.hex("00ff", "h", 2, exact=True) == b"\x00\xff"
    with pytest.raises(SampleError, match="lowercase hex"):
        fields.hex("00FF", "h", 2)
    with pytest.raises(SampleError, match="exactly 2 bytes"):
        fields.hex("00", "h", 2, exact=True)
    assert fields.prefixed_hex("0x00ff", "c", 2) == b"\x00\xff"
    with pytest.raises(SampleError, match="0x"):
        fields.prefixed_hex("00ff", "c", 2)


# --- Every format uses this encoding ------------------------------------------------------------


def test_every_leaf_format_is_its_prefix_and_the_canonical_json_of_its_fields() -> None:
    entry = log_entry.new_entry(
        b"\x01" * 32, b"\x02" * 32, 5, "notary", "城东公证处", None, T, salt=b"\x03" * 32
    )
    assert entry.encode() == log_entry.ENTRY_PREFIX + canonical_json(entry.to_json()).encode()
    event = custody_event.CustodyEvent(
        action="deposit",
        actor=custody_event.Actor.operator(),
        object=custody_event.CustodyObject.document("doc-1"),
        time=T,
        client=None,
        prev=bytes(32),
        object_prev=bytes(32),
    )
    assert event.encode() == custody_event.CUSTODY_PREFIX + canonical_json(event.to_json()).encode()


def test_docs_formats_md_lists_the_versions_the_code_reads() -> None:
    text = DOCS.read_text()
    events = ", ".join(map(str, custody_event.CUSTODY_VERSIONS))
    versions = {  # format: (versions read, versions written)
        "log entry": (", ".join(map(str, log_entry.ENTRY_VERSIONS)),) * 2,
        "receipt": (
            ", ".join(map(str, receipt_format.RECEIPT_VERSIONS)),
            str(receipt_format.RECEIPT_VERSION_WITNESSED),
        ),
        "custody event": (events, events),
        "custody export": (
            ", ".join(map(str, custody_export.EXPORT_VERSIONS)),
            str(custody_export.EXPORT_VERSION),
        ),
    }
    for name, (read, written) in versions.items():
        assert f"| {name} | {read} | {written}" in text, name
