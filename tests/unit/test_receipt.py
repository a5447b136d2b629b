"""Receipts: strict parsing (typed errors), deterministic output, the committed JSON Schema,
and the committed vectors in tests/assets/receipts (unchanged when regenerated)."""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evidence.formats.receipt_format as receipt_module
from evidence.errors import InputError
from evidence.formats.log_entry import LogEntry
from evidence.formats.receipt_format import (
    MAX_JSON_DEPTH,
    MAX_RECEIPT_BYTES,
    Receipt,
    ReceiptAnchorError,
    ReceiptDuplicateKeyError,
    ReceiptEntryError,
    ReceiptError,
    ReceiptFieldError,
    ReceiptInclusionProofError,
    ReceiptIndexError,
    ReceiptNestingError,
    ReceiptSyntaxError,
    ReceiptTooLargeError,
)
from ledger.merkle import InclusionProof

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "assets" / "receipts"
SCHEMA = json.loads(
    (REPO / "evidence" / "formats" / "schema" / "receipt-v1.schema.json").read_text()
)
MANIFEST: dict[str, Any] = json.loads((VECTORS / "cases.json").read_text())
CASES = {case["name"]: case for case in MANIFEST["cases"]}
VALID_BYTES = (VECTORS / "valid.json").read_bytes()


def valid_json() -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(VALID_BYTES)
    return obj


def parse(obj: Any) -> Receipt:
    return Receipt.from_json_bytes(json.dumps(obj, ensure_ascii=False).encode())


# --- The committed vectors ------------------------------------------------------------


def test_regenerating_the_vectors_gives_the_committed_bytes(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(VECTORS / "generate.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    generated = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    committed = {p.name: p.read_bytes() for p in VECTORS.iterdir() if p.suffix == ".json"}
    assert sorted(generated) == sorted(committed)
    for name, content in generated.items():
        assert content == committed[name], f"{name} differs from a fresh generation"


def test_every_receipt_file_is_a_case() -> None:
    files = {p.name for p in VECTORS.glob("*.json")} - {"cases.json"}
    assert files == {case["receipt"] for case in MANIFEST["cases"]}
    for case in MANIFEST["cases"]:
        assert case["wantErr"] == (case["error"] is not None)
        assert case["stage"] in (None, "parse", "verify")


@pytest.mark.parametrize("name", sorted(CASES))
def test_vectors_parse_or_fail_as_labelled(name: str) -> None:
    case = CASES[name]
    data = (VECTORS / case["receipt"]).read_bytes()
    if case["stage"] == "parse":
        error = getattr(receipt_module, case["error"])
        assert issubclass(error, ReceiptError)
        with pytest.raises(error) as caught:
            Receipt.from_json_bytes(data)
        assert str(caught.value)  # a readable message
    else:
        receipt = Receipt.from_json_bytes(data)
        # Whatever parses is written back byte for byte: one layout, deterministic.
        assert receipt.to_json_bytes() == data


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_schema_accepts_what_parses(name: str) -> None:
    case = CASES[name]
    if case["stage"] == "parse":
        return
    jsonschema.validate(json.loads((VECTORS / case["receipt"]).read_bytes()), SCHEMA)


def test_the_schema_rejects_what_it_can_express() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    for name in ("unknown-field", "missing-field", "boolean-leaf-index", "deeply-nested"):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(json.loads((VECTORS / CASES[name]["receipt"]).read_bytes()), SCHEMA)
    valid = valid_json()
    broken: list[dict[str, Any]] = [
        {**valid, "extra": 1},
        {**valid, "leaf_index": -1},
        {**valid, "leaf_index": 5.5},
        {**valid, "entry": "XY"},
        {**valid, "entry": "00" + valid["entry"]},
        {**valid, "version": 2},
        {**valid, "version": True},
        {**valid, "document_id": valid["document_id"].upper()},
        {**valid, "issued_at": "2024-06-01T00:00:30.5Z"},
        {**valid, "tree_head": {**valid["tree_head"], "root_hash": "AB" * 32}},
        {**valid, "tree_head": {"tree_size": 0, "root_hash": "ab" * 32}},
        {**valid, "inclusion_proof": ["ab" * 31]},
        {**valid, "entry_fields": {**valid["entry_fields"], "kind": "spaceship"}},
        {**valid, "entry_fields": {**valid["entry_fields"], "institution": " 城东"}},
        {**valid, "entry_fields": {**valid["entry_fields"], "institution": "城东\u202e"}},
        {**valid, "entry_fields": {**valid["entry_fields"], "case": "gy-1"}},
        {**valid, "anchor": {**valid["anchor"], "contract": "0x" + "AB" * 20}},
        {**valid, "anchor": {k: v for k, v in valid["anchor"].items() if k != "block_time"}},
        {**valid, "anchor": {**valid["anchor"], "proof": {**valid["anchor"]["proof"], "x": 1}}},
    ]
    for receipt in broken:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(receipt, SCHEMA)
        with pytest.raises(ReceiptError):
            parse(receipt)


# --- Parsing: limits and syntax -----------------------------------------------------------


def test_limits_and_syntax_errors_are_typed() -> None:
    with pytest.raises(ReceiptTooLargeError, match="larger"):
        Receipt.from_json_bytes(b" " * (MAX_RECEIPT_BYTES + 1))
    with pytest.raises(ReceiptDuplicateKeyError, match="duplicate"):
        Receipt.from_json_bytes(b'{"type": 1, "type": 2}')
    with pytest.raises(ReceiptNestingError, match="deeper"):
        Receipt.from_json_bytes(b'{"a":' * 20 + b"1" + b"}" * 20)
    with pytest.raises(ReceiptNestingError):
        Receipt.from_json_bytes(b"[" * 100_000)  # refused before json.loads recurses
    with pytest.raises(ReceiptSyntaxError, match="not JSON"):
        Receipt.from_json_bytes(b"\xff\xfe")
    with pytest.raises(ReceiptSyntaxError):
        Receipt.from_json_bytes(VALID_BYTES.decode().encode("utf-16"))
    with pytest.raises(ReceiptSyntaxError):
        Receipt.from_json_bytes(b"\xef\xbb\xbf" + VALID_BYTES)  # UTF-8 BOM
    with pytest.raises(ReceiptSyntaxError):
        Receipt.from_json_bytes(VALID_BYTES.replace(b'"leaf_index": 5', b'"leaf_index": NaN'))
    with pytest.raises(ReceiptSyntaxError):
        Receipt.from_json_bytes(VALID_BYTES.replace(b'"leaf_index": 5', b'"leaf_index": 5' * 2))
    with pytest.raises(ReceiptSyntaxError):
        Receipt.from_json_bytes(
            VALID_BYTES.replace(b'"leaf_index": 5', b'"leaf_index": ' + b"9" * 5000)
        )
    with pytest.raises(ReceiptSyntaxError):
        Receipt.from_json_bytes("not bytes")  # type: ignore[arg-type]
    with pytest.raises(ReceiptFieldError, match="missing"):
        Receipt.from_json_bytes(b'{"type": "zhenglian-receipt"}')
    with pytest.raises(ReceiptFieldError):
        Receipt.from_json_bytes(b"[]")
    assert Receipt.from_json_bytes(bytearray(VALID_BYTES)) == Receipt.from_json_bytes(VALID_BYTES)
    assert Receipt.from_json_bytes(VALID_BYTES + b" " * (MAX_RECEIPT_BYTES - len(VALID_BYTES)))
    for error in (ReceiptTooLargeError, ReceiptSyntaxError, ReceiptFieldError, ReceiptAnchorError):
        assert issubclass(error, ReceiptError) and issubclass(error, InputError)


@pytest.mark.parametrize(
    "data",
    [
        b'"' + b'\\"' * (MAX_RECEIPT_BYTES // 2 - 1),  # unterminated string of escapes
        b'"' + b"a\\" * (MAX_RECEIPT_BYTES // 2 - 1),
        b'"' * MAX_RECEIPT_BYTES,
        b"[]" * (MAX_RECEIPT_BYTES // 2),
        b'["\\\\",' * (MAX_RECEIPT_BYTES // 6),
        b"[" * MAX_RECEIPT_BYTES,
    ],
    ids=["escaped-quotes", "escapes", "quotes", "brackets", "backslash-strings", "open"],
)
def test_hostile_input_of_the_maximum_size_is_refused_quickly(data: bytes) -> None:
    assert len(data) <= MAX_RECEIPT_BYTES
    start = time.perf_counter()
    with pytest.raises(ReceiptError):
        Receipt.from_json_bytes(data)
    assert time.perf_counter() - start < 1.0  # linear: about 50 ms here


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    deep_text = "[{" * (MAX_JSON_DEPTH + 5) + '\\"]'
    with pytest.raises(ReceiptFieldError, match="note"):
        parse({**valid_json(), "note": deep_text})
    nested: Any = "x"
    for _ in range(MAX_JSON_DEPTH):
        nested = [nested]
    with pytest.raises(ReceiptFieldError, match="note"):  # depth 9 with the receipt: too deep
        parse({**valid_json(), "note": nested[0]})
    with pytest.raises(ReceiptNestingError):
        parse({**valid_json(), "note": nested})


# --- Parsing: fields ----------------------------------------------------------------------


def _with(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    receipt = valid_json()
    target: Any = receipt
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return receipt


FIELD_CASES: list[tuple[tuple[str | int, ...], Any, type[ReceiptError]]] = [
    (("type",), "zhenglian-anchor-proof", ReceiptFieldError),
    (("version",), 2, ReceiptFieldError),
    (("version",), True, ReceiptFieldError),
    (("version",), 1.0, ReceiptFieldError),
    (("version",), "1", ReceiptFieldError),
    (("document_id",), "5F0C3A52-8D1E-4B7A-9C2F-0E6D4A1B7C93", ReceiptFieldError),
    (("document_id",), "not-a-uuid", ReceiptFieldError),
    (("document_id",), 7, ReceiptFieldError),
    (("issued_at",), "2024-06-01T08:00:30+08:00", ReceiptFieldError),
    (("issued_at",), None, ReceiptFieldError),
    (("entry",), "7A", ReceiptFieldError),
    (("entry",), "0x00", ReceiptFieldError),
    (("entry",), "00" * 2049, ReceiptFieldError),
    (("entry",), "00", ReceiptEntryError),
    (("entry_fields",), [], ReceiptFieldError),
    (("entry_fields", "size"), 68.0, ReceiptEntryError),
    (("entry_fields", "v"), True, ReceiptEntryError),
    (("entry_fields", "case"), None, ReceiptEntryError),
    (("entry_fields", "extra"), 1, ReceiptEntryError),
    (("leaf_index",), -1, ReceiptFieldError),
    (("leaf_index",), True, ReceiptFieldError),
    (("leaf_index",), "5", ReceiptFieldError),
    (("leaf_index",), 7, ReceiptIndexError),
    (("leaf_index",), 2**63, ReceiptFieldError),
    (("tree_head",), [7], ReceiptFieldError),
    (("tree_head", "tree_size"), 0, ReceiptFieldError),
    (("tree_head", "tree_size"), 5, ReceiptIndexError),
    (("tree_head", "tree_size"), 16, ReceiptInclusionProofError),  # needs 4 hashes
    (("tree_head", "root_hash"), "AB" * 32, ReceiptFieldError),
    (("tree_head", "root_hash"), "ab" * 31, ReceiptFieldError),
    (("tree_head", "extra"), 1, ReceiptFieldError),
    (("inclusion_proof",), "ab" * 32, ReceiptFieldError),
    (("inclusion_proof",), ["ab" * 32] * 129, ReceiptInclusionProofError),
    (("inclusion_proof", 0), 5, ReceiptFieldError),
    (("inclusion_proof", 0), "0x" + "ab" * 31, ReceiptFieldError),
    (("anchor",), None, ReceiptFieldError),
    (("anchor", "chain_id"), 20_240_602, ReceiptAnchorError),
    (("anchor", "chain_id"), "20240601", ReceiptFieldError),
    (("anchor", "contract"), "0x" + "00" * 20, ReceiptAnchorError),
    (("anchor", "contract"), "a11ce0000000000000000000000000000000a1c0", ReceiptFieldError),
    (("anchor", "tx_hash"), "0x" + "00" * 32, ReceiptAnchorError),
    (("anchor", "block_number"), 4095, ReceiptAnchorError),
    (("anchor", "block_time"), "2024-06-01T00:00:01Z", ReceiptAnchorError),
    (("anchor", "block_time"), 1_717_200_000, ReceiptFieldError),
    (("anchor", "proof", "chainId"), True, ReceiptAnchorError),
    (("anchor", "proof", "header"), "0x00", ReceiptAnchorError),
    (("anchor", "proof", "receiptProof"), [], ReceiptAnchorError),
    (("anchor", "proof", "txHash"), "0x" + "00" * 32, ReceiptAnchorError),
]


@pytest.mark.parametrize(
    ("path", "value", "error"), FIELD_CASES, ids=[f"{p}={v!r:.30}" for p, v, _ in FIELD_CASES]
)
def test_malformed_fields_are_refused(
    path: tuple[str | int, ...], value: Any, error: type[ReceiptError]
) -> None:
    with pytest.raises(error) as caught:
        parse(_with(path, value))
    assert type(caught.value) is error  # the most specific class, not just any ReceiptError


def test_field_errors_name_the_field() -> None:
    with pytest.raises(ReceiptFieldError) as caught:
        parse(_with(("tree_head", "root_hash"), "AB" * 32))
    assert caught.value.path == "tree_head.root_hash"
    with pytest.raises(ReceiptEntryError, match="institution"):
        parse(_with(("entry_fields", "institution"), "别的公证处"))


def test_missing_and_unknown_fields_anywhere() -> None:
    valid = valid_json()
    for path in (("tree_head",), ("anchor",), ("anchor", "proof")):
        for key in list(_get(valid, path)):
            receipt = copy.deepcopy(valid)
            del _get(receipt, path)[key]
            with pytest.raises(ReceiptError):
                parse(receipt)
        receipt = copy.deepcopy(valid)
        _get(receipt, path)["unknown"] = 0
        with pytest.raises(ReceiptError):
            parse(receipt)
    for key in list(valid):
        with pytest.raises(ReceiptFieldError):
            parse({k: v for k, v in valid.items() if k != key})


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        obj = obj[key]
    return obj


# --- The Receipt object ---------------------------------------------------------------------


def test_parsed_receipt_fields() -> None:
    receipt = Receipt.from_json_bytes(VALID_BYTES)
    want = CASES["valid"]["want"]
    assert receipt.document_id == want["documentId"]
    assert (receipt.leaf_index, receipt.tree_size) == (want["leafIndex"], want["treeSize"])
    assert receipt.root_hash.hex() == want["rootHash"]
    assert receipt.leaf_hash.hex() == want["leafHash"]
    assert receipt.entry == LogEntry.decode(receipt.entry_bytes)
    assert receipt.inclusion == InclusionProof(5, 7, receipt.inclusion.hashes)
    assert receipt.block_time == datetime(2024, 6, 1, tzinfo=UTC)
    assert receipt.issued_at == datetime(2024, 6, 1, 0, 0, 30, tzinfo=UTC)
    assert receipt.anchor.block_number == want["blockNumber"]
    assert receipt.to_json() == valid_json()
    assert json.loads(receipt.to_json_bytes()) == receipt.to_json()


def test_construction_keeps_the_fields_consistent() -> None:
    receipt = Receipt.from_json_bytes(VALID_BYTES)
    other_entry = dataclasses.replace(receipt.entry, size=1)
    with pytest.raises(ReceiptEntryError):
        dataclasses.replace(receipt, entry=other_entry)
    with pytest.raises(ReceiptEntryError):
        dataclasses.replace(receipt, entry_bytes=receipt.entry_bytes + b" ")
    with pytest.raises(ReceiptInclusionProofError):
        dataclasses.replace(receipt, leaf_index=4)  # the proof is for leaf 5
    with pytest.raises(ReceiptIndexError):
        dataclasses.replace(receipt, leaf_index=7)
    with pytest.raises(ReceiptFieldError):
        dataclasses.replace(receipt, root_hash=b"\x00" * 31)
    with pytest.raises(ReceiptFieldError):
        dataclasses.replace(receipt, document_id="x")
    with pytest.raises(ReceiptFieldError):
        dataclasses.replace(receipt, issued_at=receipt.issued_at.replace(tzinfo=None))
    with pytest.raises(ReceiptFieldError):
        dataclasses.replace(receipt, issued_at=receipt.issued_at.replace(microsecond=1))
    beijing = receipt.issued_at.astimezone(timezone(timedelta(hours=8)))
    with pytest.raises(ReceiptFieldError):
        dataclasses.replace(receipt, issued_at=beijing)
    with pytest.raises(dataclasses.FrozenInstanceError):
        receipt.leaf_index = 4  # type: ignore[misc]


def test_issued_at_defaults_to_now() -> None:
    receipt = Receipt.from_json_bytes(VALID_BYTES)
    fresh = Receipt(
        document_id=receipt.document_id,
        entry=receipt.entry,
        entry_bytes=receipt.entry_bytes,
        leaf_index=receipt.leaf_index,
        tree_size=receipt.tree_size,
        root_hash=receipt.root_hash,
        inclusion=receipt.inclusion,
        anchor=receipt.anchor,
    )
    now = datetime.now(UTC)
    assert fresh.issued_at.microsecond == 0 and fresh.issued_at.tzinfo is UTC
    assert now - timedelta(seconds=5) < fresh.issued_at <= now
    assert Receipt.from_json_bytes(fresh.to_json_bytes()) == fresh


# --- Robustness -----------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(position=st.integers(0, len(VALID_BYTES) - 1), bit=st.integers(0, 7))
def test_a_flipped_bit_is_refused_or_parses_into_a_consistent_receipt(
    position: int, bit: int
) -> None:
    flipped = bytearray(VALID_BYTES)
    flipped[position] ^= 1 << bit
    try:
        receipt = Receipt.from_json_bytes(bytes(flipped))
    except ReceiptError:
        return  # nothing but ReceiptError ever escapes
    assert receipt.entry == LogEntry.decode(receipt.entry_bytes)
    assert Receipt.from_json_bytes(receipt.to_json_bytes()) == receipt


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2000) | st.text(max_size=500).map(str.encode))
def test_garbage_raises_only_receipt_errors(data: bytes) -> None:
    with pytest.raises(ReceiptError):
        Receipt.from_json_bytes(data)
