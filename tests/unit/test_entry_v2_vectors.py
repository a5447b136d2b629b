"""Version 2 log entries (signed deposits) against the vectors of an independent generator
(tests/assets/entries_v2/generate.py), and version 1 unchanged beside them."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evidence.formats.log_entry import EntryError, EntrySignature, LogEntry, new_entry

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "entries_v2"
CASES: dict[str, dict[str, Any]] = json.loads((ASSETS / "cases.json").read_text())


def test_regenerating_gives_the_committed_vectors() -> None:
    spec = importlib.util.spec_from_file_location("entries_v2_generate", ASSETS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == (ASSETS / "cases.json").read_bytes()


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if not c["wantErr"]))
def test_valid_entries_decode_and_reencode_byte_for_byte(name: str) -> None:
    case = CASES[name]
    data = bytes.fromhex(case["entry"])
    entry = LogEntry.decode(data)
    assert entry.version == 2 and entry.signature is not None
    assert entry.encode() == data
    assert entry.to_json() == case["fields"]
    assert entry.leaf_hash().hex() == case["leafHash"]


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c["wantErr"]))
def test_invalid_entries_are_refused(name: str) -> None:
    with pytest.raises(EntryError):
        LogEntry.decode(bytes.fromhex(CASES[name]["entry"]))


@pytest.mark.parametrize("schema", ["receipt-v1", "receipt-v2"])
def test_both_receipt_schemas_accept_version_2_entry_fields(schema: str) -> None:
    import jsonschema

    path = ASSETS.parents[2] / "evidence" / "formats" / "schema" / f"{schema}.schema.json"
    document = json.loads(path.read_text())
    entry_fields = {**document["properties"]["entry_fields"], "$defs": document["$defs"]}
    for case in CASES.values():
        if not case["wantErr"]:
            jsonschema.validate(case["fields"], entry_fields)
    wrong = {**CASES["pades-embedded"]["fields"], "signed_at_proof": "ntp"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrong, entry_fields)


def test_an_unsigned_entry_stays_version_1() -> None:
    entry = new_entry(bytes(32), bytes(32), 1, "notary", "某公证处", None, datetime.now(UTC))
    assert entry.version == 1 and entry.encode().startswith(b"zhenglian/entry/v1\n")
    assert "signature" not in entry.to_json()


def test_a_signed_entry_built_in_code_matches_the_vector() -> None:
    fields = CASES["detached-time-stamped"]["fields"]
    signature = EntrySignature(
        form="cms-detached",
        signature_sha256=bytes.fromhex(fields["signature_sha256"]),
        signer_certificate=bytes.fromhex(fields["signer_certificate"]),
        signer_credit_code=fields["signer_credit_code"],
        signer_name=fields["signer_name"],
        signed_at=datetime(2026, 11, 30, 8, 15, tzinfo=UTC),
        signed_at_proof="time-stamp",
    )
    entry = LogEntry(
        sha256=bytes.fromhex(fields["sha256"]),
        sm3=bytes.fromhex(fields["sm3"]),
        size=fields["size"],
        salt=bytes.fromhex(fields["salt"]),
        kind=fields["kind"],
        institution=fields["institution"],
        case_code=fields["case"],
        deposited_at=datetime(2026, 11, 30, 8, 16, 2, tzinfo=UTC),
        signature=signature,
    )
    assert entry.encode().hex() == CASES["detached-time-stamped"]["entry"]
    assert hashlib.sha256(b"\x00" + entry.encode()).digest() == entry.leaf_hash()


def test_a_version_and_a_signer_must_agree() -> None:
    fields = CASES["detached-time-stamped"]["fields"]
    signature = LogEntry.decode(bytes.fromhex(CASES["detached-time-stamped"]["entry"])).signature
    common: dict[str, Any] = {
        "sha256": bytes(32),
        "sm3": bytes(32),
        "size": 1,
        "salt": bytes(32),
        "kind": "notary",
        "institution": fields["institution"],
        "case_code": None,
        "deposited_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    with pytest.raises(EntryError, match="needs a signer"):
        LogEntry(**common, version=2)
    with pytest.raises(EntryError, match="has no signer"):
        LogEntry(**common, version=1, signature=signature)
