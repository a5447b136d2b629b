"""The ledger client against every kind of node: the embedded chain and a Hardhat/EDR node."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from ledger.anchor_proof import AnchorProof, ChainTrust, verify_anchor_proof
from ledger.client import JsonDeploymentStore, LedgerClient
from ledger.errors import AnchorRejected, ClientError, ContractError, NodeUnavailable
from ledger.merkle import MerkleLog, hash_leaf
from tests.support.servers import free_port

pytestmark = pytest.mark.integration


@pytest.fixture()
def client(chain_endpoint: tuple[str, str], tmp_path: Path) -> LedgerClient:
    url, key = chain_endpoint
    c = LedgerClient(url, key)
    c.ensure_deployed(JsonDeploymentStore(tmp_path / "deployments.json"))
    return c


def _log(n: int, salt: str = "") -> MerkleLog:
    log = MerkleLog()
    log.append_many([hash_leaf(f"{salt}doc-{i}".encode()) for i in range(n)])
    return log


def test_deploy_once_then_attach(chain_endpoint: tuple[str, str], tmp_path: Path) -> None:
    url, key = chain_endpoint
    store = JsonDeploymentStore(tmp_path / "deployments.json")
    first = LedgerClient(url, key).ensure_deployed(store)
    again = LedgerClient(url, key).ensure_deployed(store)
    assert again == first
    saved = json.loads((tmp_path / "deployments.json").read_text())["LogAnchor"]
    assert len(saved) == 1 and saved[0]["chainId"] == first.chain_id


def test_attach_refuses_an_address_without_the_contract(client: LedgerClient) -> None:
    with pytest.raises(ContractError, match="no LogAnchor"):
        client.attach("0x" + "22" * 20)


def test_anchor_heads_with_consistency_proofs(client: LedgerClient) -> None:
    log = _log(1000)
    assert client.latest_head() is None
    first = client.anchor(10, log.root(10), [])
    assert (first.index, first.tree_size, first.root_hash) == (0, 10, log.root(10))
    second = client.anchor(1000, log.root(1000), log.consistency_proof(10, 1000).hashes)
    assert second.index == 1
    head = client.latest_head()
    assert head is not None
    assert (head.index, head.tree_size, head.root_hash) == (1, 1000, log.root(1000))
    assert head.block_number == second.block_number and head.timestamp > 0
    assert client.head_at(0).root_hash == log.root(10)
    assert client.head_count() == 2


def test_anchoring_refuses_a_rewritten_history(client: LedgerClient) -> None:
    log = _log(64)
    client.anchor(16, log.root(16), [])
    forged = _log(64, salt="forged ")
    with pytest.raises(AnchorRejected, match="RootMismatch"):
        client.anchor(64, forged.root(64), forged.consistency_proof(16, 64).hashes)
    proof = list(log.consistency_proof(16, 64).hashes)
    proof[0] = bytes([proof[0][0] ^ 1]) + proof[0][1:]
    with pytest.raises(AnchorRejected, match="RootMismatch"):
        client.anchor(64, log.root(64), proof)
    with pytest.raises(AnchorRejected, match="ConsistencyProofShape"):
        client.anchor(64, log.root(64), log.consistency_proof(16, 64).hashes[:-1])
    with pytest.raises(AnchorRejected, match="HeadNotLarger"):
        client.anchor(16, log.root(16), [])
    with pytest.raises(AnchorRejected, match="HeadNotLarger"):
        client.anchor(8, log.root(8), [])
    # Nothing was written by the refused attempts; the honest head still goes through.
    assert client.head_count() == 1
    assert client.anchor(64, log.root(64), log.consistency_proof(16, 64).hashes).index == 1


def test_pipelined_anchors_keep_nonces_in_order(client: LedgerClient) -> None:
    log = _log(40)
    client.anchor(5, log.root(5), [])
    sizes = [10, 20, 30, 40]
    hashes = []
    previous = 5
    for size in sizes:
        # submit without waiting: each proof is from the previous head, nonces n, n+1, ...
        hashes.append(
            client.submit_anchor(
                size, log.root(size), log.consistency_proof(previous, size).hashes, preflight=False
            )
        )
        previous = size
    receipts = [client.anchor_receipt(h) for h in hashes]
    assert [r.tree_size for r in receipts] == sizes
    assert [r.index for r in receipts] == [1, 2, 3, 4]


def test_account_without_anchor_role_is_refused(
    chain_endpoint: tuple[str, str], client: LedgerClient
) -> None:
    url, _ = chain_endpoint
    outsider = LedgerClient(url, Account.create().key)
    assert client.contract_address is not None
    outsider.attach(client.contract_address)
    assert not outsider.has_anchor_role(outsider.account.address)
    log = _log(4)
    with pytest.raises(AnchorRejected, match="AccessControlUnauthorizedAccount"):
        outsider.anchor(4, log.root(4), [])


def test_malformed_anchor_input_is_refused_before_sending(client: LedgerClient) -> None:
    with pytest.raises(AnchorRejected, match="32 bytes"):
        client.anchor(4, b"short", [])
    with pytest.raises(AnchorRejected, match="out of range"):
        client.anchor(0, b"\x00" * 32, [])
    with pytest.raises(AnchorRejected, match="longer than"):
        client.anchor(4, b"\x00" * 32, [b"\x00" * 32] * 129)


def test_unreachable_node_is_a_typed_error() -> None:
    c = LedgerClient(f"http://127.0.0.1:{free_port()}", Account.create().key, timeout=1)
    with pytest.raises(NodeUnavailable):
        _ = c.chain_id
    assert issubclass(NodeUnavailable, ClientError)


def test_anchor_proof_verifies_offline(client: LedgerClient) -> None:
    log = _log(8)
    anchored = client.anchor(8, log.root(8), [])
    proof = AnchorProof.from_json(client.anchor_proof(anchored.tx_hash).to_json())
    assert client.contract_address is not None
    if client.chain_id == 0x5A4C:  # the embedded chain: sealed by its one validator
        # The validator list sits in the genesis extraData (Clique layout): vanity, signers, seal.
        genesis_extra = bytes(client.w3.eth.get_block(0)["proofOfAuthorityData"])
        signer = genesis_extra[32:-65]
        trust = ChainTrust.sealed(client.chain_id, [signer], contract=client.contract_address)
        result = verify_anchor_proof(proof, trust)
        assert result.seal.is_sealed and result.seal.signer == signer
    else:  # Hardhat seals nothing, and the verifier says so rather than pretending
        trust = ChainTrust.unsafe_unsealed(client.chain_id, contract=client.contract_address)
        result = verify_anchor_proof(proof, trust)
        assert not result.seal.is_sealed
    assert (result.tree_size, result.root_hash, result.anchor_index) == (8, log.root(8), 0)
    assert result.block_number == anchored.block_number
