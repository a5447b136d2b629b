"""Deployment records (deployments.json) are parsed once; a malformed one names its field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.client import Deployment, JsonDeploymentStore
from ledger.errors import ClientError, DeploymentFormatError

VALID: dict[str, Any] = {
    "chainId": 23116,
    "genesisHash": "0x" + "ab" * 32,
    "address": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    "txHash": "0x" + "cd" * 32,
    "blockNumber": 1,
    "bytecodeSha256": "ef" * 32,
}


def test_a_valid_record_round_trips() -> None:
    deployment = Deployment.from_json(VALID)
    assert deployment.address == bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")
    assert len(deployment.genesis_hash) == len(deployment.tx_hash) == 32
    assert deployment.to_json() == VALID
    lower = {**VALID, "address": VALID["address"].lower()}
    assert Deployment.from_json(lower) == deployment


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("chainId", None),
        ("chainId", "23116"),
        ("chainId", True),
        ("chainId", 0),
        ("genesisHash", "0x" + "ab" * 31),
        ("genesisHash", "0x" + "ab" * 33),
        ("genesisHash", "ab" * 32),
        ("genesisHash", "0x" + "zz" * 32),
        ("genesisHash", 12),
        ("address", "0x" + "11" * 19),
        ("address", "0x" + "11" * 32),
        ("address", ""),
        ("address", "0x5FbDB2315678afecb367f032d93F642f64180aA3"),  # checksum broken
        ("txHash", "0x"),
        ("txHash", "0x" + "cd" * 20),
        ("blockNumber", -1),
        ("blockNumber", 1.5),
        ("bytecodeSha256", "ef" * 31),
        ("bytecodeSha256", "0x" + "ef" * 32),
        ("bytecodeSha256", "EF" * 32),
    ],
)
def test_a_malformed_field_is_named(field: str, value: Any) -> None:
    with pytest.raises(DeploymentFormatError) as caught:
        Deployment.from_json({**VALID, field: value})
    assert caught.value.field == field and field in str(caught.value)


@pytest.mark.parametrize("field", sorted(VALID))
def test_a_missing_field_is_named(field: str) -> None:
    with pytest.raises(DeploymentFormatError) as caught:
        Deployment.from_json({k: v for k, v in VALID.items() if k != field})
    assert caught.value.field == field


def test_a_record_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(DeploymentFormatError):
        Deployment.from_json(["not", "an", "object"])
    assert issubclass(DeploymentFormatError, ClientError)


def test_the_store_reports_the_malformed_field(tmp_path: Path) -> None:
    path = tmp_path / "deployments.json"
    path.write_text(json.dumps({"LogAnchor": [{**VALID, "address": "0x1234"}]}))
    with pytest.raises(DeploymentFormatError, match="address"):
        JsonDeploymentStore(path).load(VALID["chainId"], bytes.fromhex("ab" * 32))
