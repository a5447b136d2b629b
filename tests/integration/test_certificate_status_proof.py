"""Offline proofs of certificate status changes (ledger.certificate_status.StatusProof),
collected from real nodes and checked against pinned trust: sealed by the embedded chain's
validator (Hardhat: only under the unsafe unsealed trust), the registry pinned as the contract,
the service's account as the sender of the transaction."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest

from ledger.anchor_proof import ChainTrust
from ledger.certificate_registry import CertificateRegistryClient
from ledger.certificate_status import (
    StatusAction,
    StatusProof,
    verify_status_proof,
)
from ledger.client import LedgerClient, make_web3
from ledger.errors import (
    AnchoringAccountMismatchError,
    AnchorProofFormatError,
    ChainIdMismatchError,
    ContractMismatchError,
    ReceiptMismatchError,
    StatusProofError,
)
from tests.integration.test_proof_collector import _trust_of

pytestmark = pytest.mark.integration

ISSUER = "11110000000029209E"
SIGNATURE = b"\x30\x45" + bytes(range(69))


def key_of(label: str) -> bytes:
    return hashlib.sha256(f"GZS-{ISSUER}-{label}".encode()).digest()


@pytest.fixture(scope="module")
def registry(chain_endpoint: tuple[str, str]) -> CertificateRegistryClient:
    url, key = chain_endpoint
    client = CertificateRegistryClient(LedgerClient(url, key))
    client.deploy()
    return client


def _trust(registry: CertificateRegistryClient, **changes: Any) -> ChainTrust:
    assert registry.address is not None
    account = bytes.fromhex(registry.client.account.address[2:])
    trust = _trust_of(
        make_web3(registry.client.rpc_url),
        registry.address,
        anchoring_account=account,
        require_transaction=True,
    )
    return dataclasses.replace(trust, **changes)


def test_each_change_is_proven_offline(registry: CertificateRegistryClient) -> None:
    a, b = key_of("proof-a"), key_of("proof-b")
    changes = [
        registry.issue(a, ISSUER, hashlib.sha256(b"a").digest(), SIGNATURE),
        registry.issue(b, ISSUER, hashlib.sha256(b"b").digest(), SIGNATURE),
        registry.supersede(a, b, SIGNATURE + b"s"),
        registry.revoke(b, 3, 1_780_000_000, SIGNATURE + b"r"),
    ]
    trust = _trust(registry)
    for change in changes:
        proof = registry.status_proof(change.key, change.tx_hash)
        # Through JSON, as a court receives it.
        proof = StatusProof.from_json(json.loads(proof.to_json_bytes()))
        result = verify_status_proof(proof, trust)
        assert result.event == change.event
        assert (result.block_number, result.block_hash, result.tx_hash) == (
            change.block_number,
            change.block_hash,
            change.tx_hash,
        )
        assert result.registry == registry.address
        assert result.anchoring_account == bytes.fromhex(registry.client.account.address[2:])
        assert result.seal.is_sealed == trust.require_seal
    assert [c.event.action for c in changes] == [
        StatusAction.ISSUE,
        StatusAction.ISSUE,
        StatusAction.SUPERSEDE,
        StatusAction.REVOKE,
    ]


def test_a_proof_is_refused_under_other_trust_or_claims(
    registry: CertificateRegistryClient,
) -> None:
    k = key_of("proof-refused")
    change = registry.issue(k, ISSUER, hashlib.sha256(b"r").digest(), SIGNATURE)
    proof = registry.status_proof(k, change.tx_hash)
    trust = _trust(registry)
    verify_status_proof(proof, trust)

    with pytest.raises(ContractMismatchError):  # a stranger's registry pinned
        verify_status_proof(proof, _trust(registry, contract=b"\x01" * 20))
    with pytest.raises(AnchoringAccountMismatchError):  # another service account pinned
        verify_status_proof(proof, _trust(registry, anchoring_account=b"\x02" * 20))
    with pytest.raises(ChainIdMismatchError):
        verify_status_proof(proof, _trust(registry, chain_id=trust.chain_id + 1))
    with pytest.raises(StatusProofError, match="is of certificate"):
        verify_status_proof(StatusProof(key_of("other"), proof.proof), trust)
    with pytest.raises(StatusProofError, match="pinned registry"):
        verify_status_proof(proof, _trust(registry, contract=None))
    tampered_receipt = proof.proof.receipt.replace(SIGNATURE, SIGNATURE[:-1] + b"\xff")
    assert tampered_receipt != proof.proof.receipt
    with pytest.raises(ReceiptMismatchError):
        verify_status_proof(
            StatusProof(k, dataclasses.replace(proof.proof, receipt=tampered_receipt)), trust
        )
    with pytest.raises(AnchorProofFormatError, match="carries its transaction"):
        StatusProof(k, proof.proof.without_transaction())
    with pytest.raises(AnchorProofFormatError):
        StatusProof.from_json({**proof.to_json(), "certificate": "0x" + k.hex().upper()})


def test_the_registry_of_another_deployment_does_not_prove_this_one(
    chain_endpoint: tuple[str, str], registry: CertificateRegistryClient
) -> None:
    """The same change sent to a second registry (by the same account) is proven for that
    registry only."""
    url, key = chain_endpoint
    other = CertificateRegistryClient(LedgerClient(url, key))
    other.deploy()
    k = key_of("two-registries")
    change = other.issue(k, ISSUER, hashlib.sha256(b"t").digest(), SIGNATURE)
    proof = other.status_proof(k, change.tx_hash)
    with pytest.raises(ContractMismatchError):
        verify_status_proof(proof, _trust(registry))
