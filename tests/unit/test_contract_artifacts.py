"""The committed contract artifacts: reproducible from the sources, loadable, London-only."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

import pytest

from contracts import (
    ArtifactNotFoundError,
    ContractArtifact,
    ContractsError,
    MalformedArtifactError,
    load_artifact,
)
from tests.support.servers import REPO_ROOT

BUILD_SCRIPT = REPO_ROOT / "contracts" / "build.js"
SOLC_PACKAGE = REPO_ROOT / "node_modules" / "solc" / "package.json"
LOG_ANCHOR_JSON = REPO_ROOT / "contracts" / "build" / "LogAnchor.json"

#: Seconds the build may take (solc-js compiles in about 6 s).
BUILD_TIMEOUT = 180

#: The event other code decodes: its canonical signature must never change.
TREE_HEAD_ANCHORED = "TreeHeadAnchored(uint256,uint64,bytes32,address)"

#: Opcodes introduced after London (Shanghai PUSH0, Cancun TLOAD/TSTORE/MCOPY/BLOBHASH/BLOBBASEFEE).
POST_LONDON_OPCODES = {0x5F: "PUSH0", 0x5C: "TLOAD", 0x5D: "TSTORE", 0x5E: "MCOPY"} | {
    0x49: "BLOBHASH",
    0x4A: "BLOBBASEFEE",
}


def _signature(entry: Mapping[str, Any]) -> str:
    return f"{entry['name']}({','.join(arg['type'] for arg in entry['inputs'])})"


def _opcodes(code: bytes) -> list[int]:
    """Opcodes of runtime code, skipping PUSH data and the trailing CBOR metadata."""
    metadata_length = int.from_bytes(code[-2:], "big")
    code = code[: -2 - metadata_length]
    ops, pc = [], 0
    while pc < len(code):
        op = code[pc]
        ops.append(op)
        pc += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return ops


def test_build_reproduces_committed_artifacts() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH")
    if not SOLC_PACKAGE.is_file():
        pytest.skip(f"{SOLC_PACKAGE.parent} is missing: run `npm ci`")
    result = subprocess.run(
        [node, str(BUILD_SCRIPT), "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_load_log_anchor() -> None:
    artifact = load_artifact("LogAnchor")
    assert artifact.name == "LogAnchor"
    assert artifact.compiler_version.startswith("0.8.28+commit.7893614a")
    assert artifact.bytecode and artifact.deployed_bytecode
    assert len(artifact.deployed_bytecode) <= 24_576  # EIP-170
    signatures = {(e["type"], _signature(e)) for e in artifact.abi if "name" in e}
    assert {
        ("function", "anchor(uint64,bytes32,bytes32[])"),
        ("function", "headCount()"),
        ("function", "headAt(uint256)"),
        ("function", "latestHead()"),
        ("function", "verifyConsistency(uint256,uint256,bytes,bytes,bytes[])"),
        ("function", "ANCHOR_ROLE()"),
        ("event", TREE_HEAD_ANCHORED),
        ("error", "HeadNotLarger(uint64,uint64)"),
        ("error", "NoHeads()"),
        ("error", "RootMismatch(bytes32,bytes32)"),
        ("error", "ConsistencyProofShape(uint256,uint256,uint256,uint256)"),
        ("error", "AccessControlUnauthorizedAccount(address,bytes32)"),
    } <= signatures


def test_tree_head_anchored_event_is_byte_exact() -> None:
    (event,) = [
        e
        for e in load_artifact("LogAnchor").abi
        if e["type"] == "event" and e["name"] == "TreeHeadAnchored"
    ]
    assert _signature(event) == TREE_HEAD_ANCHORED
    assert [(a["name"], a["indexed"]) for a in event["inputs"]] == [
        ("index", True),
        ("treeSize", False),
        ("rootHash", False),
        ("anchorer", True),
    ]
    assert not event["anonymous"]


def test_compiled_for_london() -> None:
    document = json.loads(LOG_ANCHOR_JSON.read_text())
    settings = document["compiler"]["settings"]
    assert settings["evmVersion"] == "london"
    assert settings["optimizer"] == {"enabled": True, "runs": 200}
    used = {
        POST_LONDON_OPCODES[op]
        for op in _opcodes(load_artifact("LogAnchor").deployed_bytecode)
        if op in POST_LONDON_OPCODES
    }
    assert not used, f"opcodes a London chain rejects: {sorted(used)}"


def test_missing_artifact() -> None:
    with pytest.raises(ArtifactNotFoundError, match="NoSuchContract"):
        load_artifact("NoSuchContract")
    with pytest.raises(ArtifactNotFoundError, match="not a contract name"):
        load_artifact("../build/LogAnchor")
    assert issubclass(ArtifactNotFoundError, ContractsError)
    assert issubclass(MalformedArtifactError, ContractsError)


def _valid_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(LOG_ANCHOR_JSON.read_text())
    return document


def _with(**changes: Any) -> str:
    document = _valid_document()
    for key, value in changes.items():
        if value is None:
            del document[key]
        else:
            document[key] = value
    return json.dumps(document)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ("[]", "top level"),
        (_with(contractName="Other"), "contractName"),
        (_with(abi={"type": "function"}), "abi"),
        (_with(abi=[{"name": "x"}]), "abi"),
        (_with(bytecode=None), "bytecode"),
        (_with(bytecode="6080"), "bytecode"),
        (_with(bytecode="0x"), "bytecode"),
        (_with(bytecode="0x608"), "bytecode"),
        (_with(bytecode="0x6080__$a5c1b7e1c2fb1a1b1b3c64ab2ba4ce5b76$__"), "bytecode"),
        (_with(deployedBytecode="0xZZ"), "deployedBytecode"),
        (_with(compiler={"settings": {}}), "compiler.version"),
        (_with(compiler=None), "compiler.version"),
    ],
)
def test_malformed_artifact_is_rejected(text: str | bytes, reason: str) -> None:
    with pytest.raises(MalformedArtifactError, match=reason):
        ContractArtifact.from_json(text, name="LogAnchor")


def test_from_json_parses_the_committed_artifact() -> None:
    artifact = ContractArtifact.from_json(LOG_ANCHOR_JSON.read_bytes(), name="LogAnchor")
    assert artifact == load_artifact("LogAnchor")
    document = _valid_document()
    assert artifact.bytecode.hex() == document["bytecode"][2:]
    assert artifact.deployed_bytecode.hex() == document["deployedBytecode"][2:]
    assert artifact.compiler_version == document["compiler"]["version"]
