"""The witness formats (C2SP signed-note, tlog-checkpoint, tlog-cosignature) against vectors
from an independent generator (tests/assets/witness/generate.py), the specification's example,
and properties: a cosignature verifies, and no single-byte change to what it signs does."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.formats.checkpoint import Checkpoint, CheckpointError
from evidence.formats.cosignature import (
    MAX_TIMESTAMP,
    Cosignature,
    CosignatureError,
    WitnessKey,
    cosign,
    cosigned_message,
    verify_cosignatures,
)
from evidence.formats.signed_note import (
    MAX_NOTE_BYTES,
    Note,
    NoteError,
    NoteSignature,
    VerifierKey,
)
from evidence.formats.witness_protocol import (
    MAX_ADD_CHECKPOINT_BYTES,
    MAX_PROOF_LINES,
    AddCheckpoint,
)
from ledger.merkle import MAX_TREE_SIZE

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "assets" / "witness"
KEYS: dict[str, Any] = json.loads((VECTORS / "keys.json").read_text())
CASES: dict[str, dict[str, Any]] = {
    p.stem: json.loads(p.read_text()) for p in sorted(VECTORS.glob("*.json")) if p.stem != "keys"
}
ERRORS: dict[str, type[Exception]] = {
    "NoteError": NoteError,
    "CheckpointError": CheckpointError,
    "CosignatureError": CosignatureError,
}

SETTINGS = settings(max_examples=60, deadline=None)

#: The example of c2sp.org/tlog-cosignature (a checkpoint with the log's signature and a
#: witness's cosignature).
SPEC_COSIGNED = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"
    "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlr"
    "DJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)


def _expect_error(case: dict[str, Any]) -> Any:
    return pytest.raises(ERRORS[case["error"]], match=re.escape(case["match"]))


# --- The committed vectors ---------------------------------------------------------------


def test_regenerating_the_vectors_gives_the_committed_bytes(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(VECTORS / "generate.py"), "--out", str(tmp_path)], check=True
    )
    generated = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    committed = {p.name: p.read_bytes() for p in VECTORS.glob("*.json")}
    assert sorted(generated) == sorted(committed)
    for name, content in generated.items():
        assert content == committed[name], name


def test_the_generator_imports_nothing_of_the_project() -> None:
    source = (VECTORS / "generate.py").read_text()
    imported = re.findall(r"^\s*(?:from|import)\s+([\w.]+)", source, re.MULTILINE)
    project = {"evidence", "ledger", "api", "zhenglian", "certs", "contracts", "tests"}
    assert not {name.split(".")[0] for name in imported} & project


def test_there_are_valid_and_corrupted_cases_of_every_kind() -> None:
    kinds = {(c["check"], c["error"] is None) for c in CASES.values()}
    for check in ("checkpoint", "cosignatures", "witness_key", "log_key"):
        assert (check, True) in kinds and (check, False) in kinds, check


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_vector_is_accepted_or_refused_as_it_says(name: str) -> None:
    case = CASES[name]
    check = case["check"]
    if check in ("witness_key", "log_key"):
        parse = WitnessKey.from_text if check == "witness_key" else VerifierKey.from_text
        if case["error"] is not None:
            with _expect_error(case):
                parse(case["vkey"])
            return
        key = parse(case["vkey"])
        assert {"name": key.name, "key_id": key.key_id.hex()} == case["want"]
        assert key.to_text() == case["vkey"]
        return
    signed = case["note"].encode()
    log_key = VerifierKey.from_text(case["log_key"])
    if check == "checkpoint":
        if case["error"] is not None:
            with _expect_error(case):
                Checkpoint.parse_signed(signed, [log_key])
            return
        checkpoint, note = Checkpoint.parse_signed(signed, [log_key])
        assert {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root": checkpoint.text().split("\n")[2],
            "extensions": list(checkpoint.extensions),
        } == case["want"]
        assert note.to_bytes() == signed
        return
    assert check == "cosignatures"
    witnesses = [WitnessKey.from_text(text) for text in case["witness_keys"]]
    if case["error"] is not None:
        with _expect_error(case):
            verify_cosignatures(Note.parse(signed), witnesses)
        return
    Checkpoint.parse_signed(signed, [log_key])  # the log's signature is intact too
    found = verify_cosignatures(Note.parse(signed), witnesses)
    assert [{"name": c.witness.name, "time": c.time} for c in found] == case["want"]


def test_an_ignored_cosignature_does_not_count_for_its_witness() -> None:
    """A wrong key ID makes a line unknown: verification passes, but without that witness."""
    case = CASES["cosignature-key-id-wrong"]
    w1 = WitnessKey.from_text(KEYS["w1"]["vkey"])
    assert verify_cosignatures(Note.parse(case["note"].encode()), [w1]) == ()


def test_the_production_code_makes_the_generators_keys_and_signatures() -> None:
    """Same seeds, same bytes: key IDs, verifier keys, the cosigned message, the lines."""
    case = CASES["valid-cosigned"]
    note = Note.parse(case["note"].encode())
    log = KEYS["log"]
    log_private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(log["seed"]))
    checkpoint = Checkpoint.from_text(note.text)
    assert (
        VerifierKey.for_key(log["name"], bytes.fromhex(log["public_key"])).to_text()
        == (log["vkey"])
    )
    assert checkpoint.sign(log_private).signatures[0] == note.signatures[0]
    for who, line in zip(("w1", "w2"), note.signatures[1:], strict=True):
        key = KEYS[who]
        private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key["seed"]))
        public = bytes.fromhex(key["public_key"])
        assert WitnessKey.for_key(key["name"], public).to_text() == key["vkey"]
        time = int.from_bytes(line.signature[:8], "big")
        assert cosigned_message(note.text, time).decode() == case["messages"][key["name"]]
        assert cosign(note.text, key["name"], private, time) == line


def test_the_cosignature_specifications_example_checkpoint_parses() -> None:
    note = Note.parse(SPEC_COSIGNED.encode())
    checkpoint = Checkpoint.from_text(note.text)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.text() == note.text
    assert [s.name for s in note.signatures] == [
        "example.com/behind-the-sofa",
        "witness.example.com/w1",
    ]
    assert len(note.signatures[1].signature) == 8 + 64  # timestamp and Ed25519 signature
    assert note.to_bytes() == SPEC_COSIGNED.encode()


def test_the_largest_legal_request_fits_the_body_limit() -> None:
    largest = AddCheckpoint(
        MAX_TREE_SIZE, tuple(bytes(32) for _ in range(MAX_PROOF_LINES)), b"x" * MAX_NOTE_BYTES
    ).to_bytes()
    assert len(largest) == MAX_ADD_CHECKPOINT_BYTES
    assert AddCheckpoint.parse(largest).old_size == MAX_TREE_SIZE


# --- Properties --------------------------------------------------------------------------

origins = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-/_", min_size=1, max_size=40)
checkpoints = st.builds(
    Checkpoint,
    origin=origins,
    size=st.integers(0, 2**63 - 1),
    root=st.binary(min_size=32, max_size=32),
)
seeds = st.binary(min_size=32, max_size=32)
timestamps = st.integers(1, MAX_TIMESTAMP)
WITNESS = "witness.example.org/w1"


def _cosigned(checkpoint: Checkpoint, seed: bytes, timestamp: int) -> tuple[Note, WitnessKey]:
    private = Ed25519PrivateKey.from_private_bytes(seed)
    key = WitnessKey.for_key(WITNESS, private.public_key().public_bytes_raw())
    line = cosign(checkpoint.text(), WITNESS, private, timestamp)
    return Note(checkpoint.text(), (line,)), key


@SETTINGS
@given(checkpoints, seeds, timestamps)
def test_a_cosignature_verifies_after_a_round_trip_through_bytes(
    checkpoint: Checkpoint, seed: bytes, timestamp: int
) -> None:
    note, key = _cosigned(checkpoint, seed, timestamp)
    parsed = Note.parse(note.to_bytes())
    assert Checkpoint.from_text(parsed.text) == checkpoint
    assert verify_cosignatures(parsed, [key]) == (Cosignature(key, timestamp),)


def _as_presented(message: bytes, line: NoteSignature) -> Note | None:
    """The note a verifier would have to be given to check ``line`` against ``message``, or
    None if no note makes the verifier compute that message."""
    match = re.fullmatch(rb"cosignature/v1\ntime (0|[1-9][0-9]*)\n(.*)", message, re.DOTALL)
    if match is None:
        return None
    timestamp = int(match.group(1))
    try:
        text = match.group(2).decode("utf-8")
    except UnicodeDecodeError:
        return None
    if timestamp >= 2**64:
        return None
    payload = timestamp.to_bytes(8, "big") + line.signature[8:]
    return Note(text, (NoteSignature(line.name, line.key_id, payload),))


@SETTINGS
@given(checkpoints, seeds, timestamps, st.data())
def test_any_single_byte_change_to_the_signed_message_fails(
    checkpoint: Checkpoint, seed: bytes, timestamp: int, data: st.DataObject
) -> None:
    note, key = _cosigned(checkpoint, seed, timestamp)
    message = bytearray(cosigned_message(note.text, timestamp))
    index = data.draw(st.integers(0, len(message) - 1), label="index")
    message[index] ^= data.draw(st.integers(1, 255), label="xor")
    presented = _as_presented(bytes(message), note.signatures[0])
    if presented is None:
        return  # no note leads the verifier to this message
    with pytest.raises(CosignatureError, match="does not verify"):
        verify_cosignatures(presented, [key])


@SETTINGS
@given(checkpoints, seeds, timestamps, st.data())
def test_any_single_byte_change_to_the_cosigned_notes_text_fails(
    checkpoint: Checkpoint, seed: bytes, timestamp: int, data: st.DataObject
) -> None:
    note, key = _cosigned(checkpoint, seed, timestamp)
    raw = bytearray(note.to_bytes())
    index = data.draw(st.integers(0, len(note.text.encode()) - 1), label="index")
    raw[index] ^= data.draw(st.integers(1, 255), label="xor")
    try:
        changed = Note.parse(bytes(raw))
        found = verify_cosignatures(changed, [key])
    except NoteError:
        return
    assert found == ()  # only if the line is no longer the witness's (it moved into the text)
