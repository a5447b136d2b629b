"""The JSON-RPC nesting-depth scan runs on raw bytes, before any parser recurses."""

from __future__ import annotations

import json
from typing import Any, cast

from hypothesis import given
from hypothesis import strategies as st

from ledger.jsondepth import json_nesting_depth
from ledger.node.chain import EmbeddedChain
from ledger.node.rpc import MAX_JSON_DEPTH, JsonRpcDispatcher


def reference_depth(body: bytes) -> int:
    """The specification: a byte-by-byte state machine over strings and escapes."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == ord("\\"):
                escaped = True
            elif byte == ord('"'):
                in_string = False
        elif byte == ord('"'):
            in_string = True
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


def value_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((value_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((value_depth(v) for v in value), default=0)
    return 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@given(json_values)
def test_depth_of_valid_json_is_its_nesting(value: Any) -> None:
    # ensure_ascii=False: multi-byte UTF-8 and raw quotes/brackets inside strings
    body = json.dumps(value, ensure_ascii=False).encode()
    assert json_nesting_depth(body) == value_depth(value)


@given(st.lists(st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b"a", b","])).map(b"".join))
def test_depth_of_any_bytes_matches_the_state_machine(body: bytes) -> None:
    assert json_nesting_depth(body) == reference_depth(body)


def test_brackets_in_strings_and_escaped_quotes_do_not_count() -> None:
    assert json_nesting_depth(b'["[[[[", "\\"[[[", {"a": "\\\\"}]') == 2
    assert json_nesting_depth(b'"unterminated [[[[') == 0
    assert json_nesting_depth(b"") == 0
    assert json_nesting_depth(b"]]]") == 0


def test_a_hundred_thousand_levels_are_measured_without_recursion() -> None:
    assert json_nesting_depth(b"[" * 100_000 + b"]" * 100_000) == 100_000


def _dispatcher() -> JsonRpcDispatcher:
    # Bodies refused before parsing never reach the chain.
    return JsonRpcDispatcher(cast(EmbeddedChain, None))


def test_too_deep_body_is_refused_naming_the_limit() -> None:
    reply = json.loads(_dispatcher().handle_body(b"[" * 17 + b"]" * 17) or b"")
    assert reply["error"]["code"] == -32600
    assert f"deeper than {MAX_JSON_DEPTH} levels" in reply["error"]["message"]


def test_body_is_parsed_only_as_the_utf8_it_was_scanned_as() -> None:
    assert json.loads(_dispatcher().handle_body(b'["\xff"]') or b"")["error"]["code"] == -32700
    # In UTF-16 a character's bytes can pass for a quote (U+4E22 is 22 4E), hiding the
    # brackets after it from a byte scan. These bytes are all below 0x80, so valid UTF-8 too,
    # and json.loads given bytes would read them as UTF-16 (it guesses from the NULs).
    body = ('["\u4e22",' + "[" * 100 + "]" * 100 + "]").encode("utf-16-le")
    assert json_nesting_depth(body) < MAX_JSON_DEPTH
    reply = json.loads(_dispatcher().handle_body(body) or b"")
    assert reply["error"]["code"] == -32700
