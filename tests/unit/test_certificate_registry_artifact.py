"""The committed CertificateRegistry artifact: its ABI is frozen where off-chain code decodes
it, and its code runs on a London chain (the build's reproducibility is checked for every
artifact by test_contract_artifacts.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts import load_artifact
from tests.unit.test_contract_artifacts import POST_LONDON_OPCODES, _opcodes

#: The events the client and the offline status proofs decode, with their indexed inputs.
EVENTS = {
    "CertificateIssued(bytes32,bytes18,bytes32,bytes,address)": [
        ("id", True),
        ("issuerCode", True),
        ("certificateHash", False),
        ("issuerSignature", False),
        ("registrar", True),
    ],
    "CertificateRevoked(bytes32,uint8,uint64,bytes,address)": [
        ("id", True),
        ("reasonCode", False),
        ("effectiveTime", False),
        ("issuerSignature", False),
        ("registrar", True),
    ],
    "CertificateSuperseded(bytes32,bytes32,bytes,address)": [
        ("id", True),
        ("successor", True),
        ("issuerSignature", False),
        ("registrar", True),
    ],
}


def _signature(entry: Mapping[str, Any]) -> str:
    return f"{entry['name']}({','.join(arg['type'] for arg in entry['inputs'])})"


def test_events_are_frozen() -> None:
    abi = load_artifact("CertificateRegistry").abi
    events = {_signature(e): e for e in abi if e["type"] == "event" and "Certificate" in e["name"]}
    assert set(events) == set(EVENTS)
    for signature, inputs in EVENTS.items():
        assert [(a["name"], a["indexed"]) for a in events[signature]["inputs"]] == inputs
        assert not events[signature]["anonymous"]


def test_functions_and_status_layout() -> None:
    abi = load_artifact("CertificateRegistry").abi
    signatures = {(e["type"], _signature(e)) for e in abi if "name" in e}
    assert {
        ("function", "issue(bytes32,bytes18,bytes32,bytes)"),
        ("function", "revoke(bytes32,uint8,uint64,bytes)"),
        ("function", "supersede(bytes32,bytes32,bytes)"),
        ("function", "statusOf(bytes32)"),
        ("function", "isAllowedReason(uint8)"),
        ("function", "REGISTRAR_ROLE()"),
        ("function", "MAX_SIGNATURE_LENGTH()"),
        ("error", "AlreadyRegistered(bytes32,uint8)"),
        ("error", "StatusIsFinal(bytes32,uint8)"),
        ("error", "SuccessorNotIssued(bytes32,uint8)"),
        ("error", "AccessControlUnauthorizedAccount(address,bytes32)"),
    } <= signatures
    (status_of,) = [e for e in abi if e.get("name") == "statusOf"]
    (output,) = status_of["outputs"]
    assert [(c["name"], c["type"]) for c in output["components"]] == [
        ("state", "uint8"),
        ("reasonCode", "uint8"),
        ("issuerCode", "bytes18"),
        ("effectiveTime", "uint64"),
        ("certificateHash", "bytes32"),
        ("successor", "bytes32"),
        ("issuedAt", "uint64"),
        ("issuedBlock", "uint64"),
        ("changedAt", "uint64"),
        ("changedBlock", "uint64"),
    ]


def test_compiled_for_london() -> None:
    artifact = load_artifact("CertificateRegistry")
    assert len(artifact.deployed_bytecode) <= 24_576  # EIP-170
    used = {
        POST_LONDON_OPCODES[op]
        for op in _opcodes(artifact.deployed_bytecode)
        if op in POST_LONDON_OPCODES
    }
    assert not used, f"opcodes a London chain rejects: {sorted(used)}"
