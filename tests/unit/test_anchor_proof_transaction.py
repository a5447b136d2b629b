"""Anchor proofs with transaction: the anchoring transaction proven in the transactions trie.

Transactions are signed by eth-account (not by ledger), tries built by py-trie, so the
verifier's decoding, signing hashes and sender recovery are checked against independent code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import pytest
import rlp
from eth_account import Account
from eth_hash.auto import keccak
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st
from trie.hexary import HexaryTrie

from ledger.anchor_proof import (
    MAX_NODE_BYTES,
    MAX_PROOF_NODES,
    MAX_TRANSACTION_BYTES,
    MAX_TRANSACTION_LEAF_NODE_BYTES,
    AnchorProof,
    AnchorVerification,
    ChainTrust,
    verify_anchor_proof,
)
from ledger.errors import (
    AnchoringAccountMismatchError,
    AnchorProofError,
    AnchorProofFormatError,
    MalformedTransactionError,
    MissingTransactionError,
    ReceiptProofError,
    TransactionChainIdError,
    TransactionHashMismatchError,
    TransactionMismatchError,
    TransactionNotProvenError,
    TransactionProofError,
    TransactionRecipientError,
    UnsupportedTransactionTypeError,
    UntrustedSignerError,
)
from tests.unit.test_anchor_proof import (
    CHAIN_ID,
    CONTRACT,
    OTHER_CONTRACT,
    STRANGER_ADDRESS,
    VALIDATOR,
    VALIDATOR_ADDRESS,
    encode_receipt,
    event_log,
    flip,
    header_fields,
    seal,
    uint,
)

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

# Throwaway keys of this test module only.
ANCHORER = Account.from_key(keccak(b"test_anchor_proof_transaction anchorer"))
OTHER_SENDER = Account.from_key(keccak(b"test_anchor_proof_transaction other sender"))
ANCHORER_ADDRESS = bytes.fromhex(ANCHORER.address[2:])
OTHER_SENDER_ADDRESS = bytes.fromhex(OTHER_SENDER.address[2:])

TRUST = ChainTrust.sealed(
    CHAIN_ID,
    [VALIDATOR_ADDRESS],
    CONTRACT,
    anchoring_account=ANCHORER_ADDRESS,
    require_transaction=True,
)
#: The trust of the first release: no transaction required, no account pinned.
V1_TRUST = ChainTrust.sealed(CHAIN_ID, [VALIDATOR_ADDRESS], CONTRACT)

ANCHOR_DATA = keccak(b"anchor(uint64,bytes32,bytes32[])")[:4] + bytes(128)


def transaction_dict(tx_type: int = 2, **changes: Any) -> dict[str, Any]:
    tx: dict[str, Any] = {
        "chainId": CHAIN_ID,
        "nonce": 7,
        "gas": 400_000,
        "value": 0,
        "data": ANCHOR_DATA,
        "to": to_checksum_address(CONTRACT),
    }
    if tx_type == 0:
        tx["gasPrice"] = 10**9
    elif tx_type == 1:
        tx.update(type=1, gasPrice=10**9, accessList=[])
    else:
        tx.update(type=2, maxFeePerGas=2 * 10**9, maxPriorityFeePerGas=10**9)
    tx.update(changes)
    return {k: v for k, v in tx.items() if v is not None}


def sign(tx: dict[str, Any], account: Any = ANCHORER) -> bytes:
    return bytes(account.sign_transaction(tx).raw_transaction)


@cache
def other_transaction(index: int) -> bytes:
    """Transaction ``index`` of the test blocks, by another sender (cached: signing is slow)."""
    tx = transaction_dict(
        index % 3, nonce=index, data=uint(index), to=to_checksum_address(keccak(uint(index))[:20])
    )
    return sign(tx, OTHER_SENDER)


@dataclass(frozen=True)
class Block:
    proof: AnchorProof
    transactions: tuple[bytes, ...]


def trie_of(values: tuple[bytes, ...]) -> HexaryTrie:
    trie = HexaryTrie({})
    for i, value in enumerate(values):
        trie.set(rlp.encode(i), value)
    return trie


def trie_proof(trie: HexaryTrie, index: int) -> tuple[bytes, ...]:
    nodes = [rlp.encode(node) for node in trie.get_proof(rlp.encode(index))]
    return (nodes[0], *(n for n in nodes[1:] if len(n) >= 32))


def build(
    anchor_tx: bytes | None = None,
    *,
    tx_count: int = 12,
    tx_index: int = 5,
    receipt_type: int = 2,
) -> Block:
    """A sealed block of ``tx_count`` transactions with the anchoring one at ``tx_index``."""
    if anchor_tx is None:
        anchor_tx = sign(transaction_dict())
    transactions = tuple(
        anchor_tx if i == tx_index else other_transaction(i) for i in range(tx_count)
    )
    anchor_receipt = encode_receipt([event_log()], tx_type=receipt_type)
    receipts = tuple(
        anchor_receipt if i == tx_index else encode_receipt([], tx_type=i % 3)
        for i in range(tx_count)
    )
    receipt_trie, transaction_trie = trie_of(receipts), trie_of(transactions)
    fields = header_fields(receipt_trie.root_hash, number=77, extra=b"test vanity".ljust(32, b"\0"))
    fields[4] = transaction_trie.root_hash
    header_rlp = seal(fields, VALIDATOR)
    proof = AnchorProof(
        chain_id=CHAIN_ID,
        contract=CONTRACT,
        tx_hash=keccak(anchor_tx),
        block_number=77,
        block_hash=keccak(header_rlp),
        header_rlp=header_rlp,
        tx_index=tx_index,
        receipt=anchor_receipt,
        receipt_proof=trie_proof(receipt_trie, tx_index),
        log_index=0,
        transaction=anchor_tx,
        transaction_proof=trie_proof(transaction_trie, tx_index),
    )
    return Block(proof, transactions)


# --- Success -----------------------------------------------------------------------------------


@pytest.mark.parametrize("tx_type", [0, 1, 2])
def test_each_transaction_type_proves_its_sender(tx_type: int) -> None:
    raw = sign(transaction_dict(tx_type))
    proof = build(raw, receipt_type=tx_type).proof
    result = verify_anchor_proof(proof, TRUST)
    assert result.anchoring_account == ANCHORER_ADDRESS
    assert result.tx_hash == keccak(raw) == proof.tx_hash
    assert result.seal.signer == VALIDATOR_ADDRESS
    assert (result.anchor_index, result.tree_size) == (9, 1_000)


def test_unpinned_trust_reports_the_sender() -> None:
    result = verify_anchor_proof(build().proof, V1_TRUST)
    assert result.anchoring_account == ANCHORER_ADDRESS


def test_access_list_transaction_with_entries() -> None:
    access_list = [
        {"address": to_checksum_address(OTHER_CONTRACT), "storageKeys": ["0x" + "00" * 31 + "01"]},
        {"address": to_checksum_address(CONTRACT), "storageKeys": []},
    ]
    for tx_type in (1, 2):
        raw = sign(transaction_dict(tx_type, accessList=access_list))
        assert verify_anchor_proof(build(raw).proof, TRUST).anchoring_account == ANCHORER_ADDRESS


@pytest.mark.parametrize(
    ("tx_count", "tx_index"), [(1, 0), (2, 1), (17, 16), (130, 0), (130, 129), (200, 128)]
)
def test_transaction_tries_of_various_shapes(tx_count: int, tx_index: int) -> None:
    proof = build(tx_count=tx_count, tx_index=tx_index).proof
    assert verify_anchor_proof(proof, TRUST).anchoring_account == ANCHORER_ADDRESS


@settings(max_examples=40, deadline=None)
@given(
    tx_type=st.sampled_from([0, 1, 2]),
    key=st.integers(1, SECP256K1_N - 1),
    nonce=st.integers(0, 2**64 - 2),
    gas=st.integers(21_000, 2**63 - 1),
    value=st.integers(0, 2**128),
    data=st.binary(max_size=300),
    keys=st.lists(st.binary(min_size=32, max_size=32), max_size=3),
    tx_index=st.integers(0, 20),
)
def test_sender_agrees_with_eth_account(
    tx_type: int,
    key: int,
    nonce: int,
    gas: int,
    value: int,
    data: bytes,
    keys: list[bytes],
    tx_index: int,
) -> None:
    account = Account.from_key(key.to_bytes(32, "big"))
    changes: dict[str, Any] = {"nonce": nonce, "gas": gas, "value": value, "data": data}
    if tx_type:
        entry = {
            "address": to_checksum_address(OTHER_CONTRACT),
            "storageKeys": ["0x" + k.hex() for k in keys],
        }
        changes["accessList"] = [entry]
    raw = sign(transaction_dict(tx_type, **changes), account)
    proof = build(raw, tx_count=21, tx_index=tx_index).proof
    trust = ChainTrust.sealed(CHAIN_ID, [VALIDATOR_ADDRESS], CONTRACT, require_transaction=True)
    result = verify_anchor_proof(proof, trust)
    assert result.anchoring_account == bytes.fromhex(Account.recover_transaction(raw)[2:])
    assert result.anchoring_account == bytes.fromhex(account.address[2:])


# --- Backward compatibility: proofs without the transaction -----------------------------------


def _without_account(result: AnchorVerification) -> AnchorVerification:
    return replace(result, anchoring_account=None)


def test_a_proof_without_the_transaction_verifies_as_before() -> None:
    proof = build().proof
    old = proof.without_transaction()
    assert not old.has_transaction and proof.has_transaction
    old_result = verify_anchor_proof(old, V1_TRUST)
    assert old_result.anchoring_account is None
    assert old_result == _without_account(verify_anchor_proof(proof, V1_TRUST))
    # Pinning the account does not refuse proofs without the transaction; requiring does.
    pinned = ChainTrust.sealed(
        CHAIN_ID, [VALIDATOR_ADDRESS], CONTRACT, anchoring_account=OTHER_SENDER_ADDRESS
    )
    assert verify_anchor_proof(old, pinned).anchoring_account is None
    with pytest.raises(MissingTransactionError, match="requires the anchoring transaction"):
        verify_anchor_proof(old, TRUST)


def test_a_proof_without_the_transaction_writes_the_first_release_json() -> None:
    document = build().proof.without_transaction().to_json()
    assert list(document) == [
        "type",
        "version",
        "chainId",
        "contract",
        "txHash",
        "blockNumber",
        "blockHash",
        "header",
        "txIndex",
        "receipt",
        "receiptProof",
        "logIndex",
    ]
    assert document["version"] == 1


def test_earlier_failures_are_reported_before_the_transaction() -> None:
    """A proof that the first release refuses is refused for the same reason."""
    proof = build(sign(transaction_dict(chainId=CHAIN_ID + 1))).proof
    with pytest.raises(UntrustedSignerError):
        verify_anchor_proof(proof, ChainTrust.sealed(CHAIN_ID, [STRANGER_ADDRESS], CONTRACT))
    old = build().proof.without_transaction()
    with pytest.raises(ReceiptProofError):
        verify_anchor_proof(replace(old, tx_index=6), TRUST)


# --- Transaction checks ------------------------------------------------------------------------


def test_another_anchoring_account() -> None:
    raw = sign(transaction_dict(), OTHER_SENDER)
    with pytest.raises(AnchoringAccountMismatchError) as info:
        verify_anchor_proof(build(raw).proof, TRUST)
    assert (info.value.trusted_account, info.value.sender) == (
        ANCHORER_ADDRESS,
        OTHER_SENDER_ADDRESS,
    )
    assert ANCHORER_ADDRESS.hex() in str(info.value)
    assert OTHER_SENDER_ADDRESS.hex() in str(info.value)


@pytest.mark.parametrize("tx_type", [0, 1, 2])
def test_transaction_for_another_chain(tx_type: int) -> None:
    raw = sign(transaction_dict(tx_type, chainId=CHAIN_ID + 1))
    with pytest.raises(TransactionChainIdError) as info:
        verify_anchor_proof(build(raw, receipt_type=tx_type).proof, TRUST)
    assert (info.value.trusted_chain_id, info.value.transaction_chain_id) == (
        CHAIN_ID,
        CHAIN_ID + 1,
    )
    assert f"chain {CHAIN_ID + 1}" in str(info.value) and str(CHAIN_ID) in str(info.value)


def test_legacy_transaction_without_eip155() -> None:
    raw = sign(transaction_dict(0, chainId=None))
    assert rlp.decode(raw)[6] in (b"\x1b", b"\x1c")  # v = 27 or 28
    with pytest.raises(TransactionChainIdError, match="no chain") as info:
        verify_anchor_proof(build(raw, receipt_type=0).proof, TRUST)
    assert info.value.transaction_chain_id is None


def test_transaction_to_another_contract() -> None:
    raw = sign(transaction_dict(to=to_checksum_address(OTHER_CONTRACT)))
    with pytest.raises(TransactionRecipientError) as info:
        verify_anchor_proof(build(raw).proof, TRUST)
    assert (info.value.expected_contract, info.value.recipient) == (CONTRACT, OTHER_CONTRACT)


def test_contract_creation_is_not_an_anchoring_transaction() -> None:
    raw = sign(transaction_dict(to=None))
    with pytest.raises(TransactionRecipientError, match="creates a contract"):
        verify_anchor_proof(build(raw).proof, TRUST)


def test_tx_hash_mismatch() -> None:
    proof = build().proof
    with pytest.raises(TransactionHashMismatchError) as info:
        verify_anchor_proof(replace(proof, tx_hash=keccak(b"tx")), TRUST)
    assert info.value.expected_hash == keccak(b"tx")
    assert info.value.calculated_hash == keccak(proof.transaction or b"")


def test_transaction_proof_node_flipped() -> None:
    proof = build(tx_count=40).proof
    assert proof.transaction_proof is not None and len(proof.transaction_proof) == 3
    for node_index, node in enumerate(proof.transaction_proof):
        for byte_index in (0, len(node) // 2, len(node) - 1):
            nodes = list(proof.transaction_proof)
            nodes[node_index] = flip(node, byte_index)
            with pytest.raises(TransactionNotProvenError) as info:
                verify_anchor_proof(replace(proof, transaction_proof=tuple(nodes)), TRUST)
            assert info.value.node_index == node_index
            assert info.value.tx_index == 5


@pytest.mark.parametrize("missing", [0, 1, -1])
def test_transaction_proof_node_missing(missing: int) -> None:
    proof = build(tx_count=40).proof
    assert proof.transaction_proof is not None
    nodes = list(proof.transaction_proof)
    del nodes[missing]
    with pytest.raises(TransactionNotProvenError):
        verify_anchor_proof(replace(proof, transaction_proof=tuple(nodes)), TRUST)


def test_transaction_proof_extra_node() -> None:
    proof = build().proof
    assert proof.transaction_proof is not None
    extra = (*proof.transaction_proof, proof.transaction_proof[0])
    with pytest.raises(TransactionNotProvenError, match="superfluous"):
        verify_anchor_proof(replace(proof, transaction_proof=extra), TRUST)


def test_receipt_proof_in_place_of_the_transaction_proof() -> None:
    proof = build().proof
    with pytest.raises(TransactionNotProvenError):
        verify_anchor_proof(replace(proof, transaction_proof=proof.receipt_proof), TRUST)


def test_another_transaction_of_the_block() -> None:
    """The block's transaction 6, with its hash: not the one the trie holds at index 5."""
    block = build()
    other = block.transactions[6]
    proof = replace(block.proof, transaction=other, tx_hash=keccak(other))
    with pytest.raises(TransactionMismatchError) as info:
        verify_anchor_proof(proof, TRUST)
    assert info.value.carried_hash == keccak(other)
    assert info.value.proven_hash == keccak(block.transactions[5])


def test_transaction_proven_at_another_index_than_the_receipt() -> None:
    """Transaction 6 with its own valid trie proof: the key is the receipt's index, 5."""
    block = build()
    other = block.transactions[6]
    proof = replace(
        block.proof,
        transaction=other,
        tx_hash=keccak(other),
        transaction_proof=trie_proof(trie_of(block.transactions), 6),
    )
    with pytest.raises(TransactionProofError):
        verify_anchor_proof(proof, TRUST)


# --- Malformed transactions (in the trie, with their hash, so that decoding is reached) -------


def _signed_fields(tx_type: int) -> list[Any]:
    raw = sign(transaction_dict(tx_type))
    return rlp.decode(raw if tx_type == 0 else raw[1:])


def _typed(tx_type: int, fields: list[Any]) -> bytes:
    return bytes([tx_type]) + rlp.encode(fields)


def _high_s(tx_type: int) -> bytes:
    fields = _signed_fields(tx_type)
    s = SECP256K1_N - int.from_bytes(fields[-1], "big")
    v = int.from_bytes(fields[-3], "big")
    if tx_type == 0:  # v = 35 + 2 * chainId + parity: flip the parity
        fields[-3] = uint(v + 1 if (v - 35) % 2 == 0 else v - 1)
    else:
        fields[-3] = uint(v ^ 1)
    fields[-1] = uint(s)
    return rlp.encode(fields) if tx_type == 0 else _typed(tx_type, fields)


def _with_field(tx_type: int, position: int, value: Any) -> bytes:
    fields = _signed_fields(tx_type)
    fields[position] = value
    return rlp.encode(fields) if tx_type == 0 else _typed(tx_type, fields)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (_high_s(2), "high s"),
        (_high_s(0), "high s"),
        (_with_field(2, 9, b"\x02"), "yParity is 2"),
        (_with_field(2, 10, b""), "r is outside"),
        (_with_field(1, 10, b""), "s is outside"),
        (_with_field(0, 6, uint(30)), "v is 30"),
        (_with_field(2, 0, b"\x00\x01"), "leading zero"),
        (_with_field(2, 5, b"\x01" * 19), "`to`"),
        (_with_field(2, 7, [b"data"]), "data is a list"),
        (_with_field(2, 8, [[CONTRACT]]), "accessList"),
        (_with_field(1, 7, b"not a list"), "accessList"),
        (_typed(2, _signed_fields(2)[:-1]), "12 items"),
        (b"\x00" + rlp.encode(_signed_fields(0)), "neither an RLP list nor a type byte"),
        (b"\x02\xf9", "not valid RLP"),
        (b"\x02" + rlp.encode(b"a string"), "not an RLP list"),
    ],
)
def test_malformed_transactions(raw: bytes, match: str) -> None:
    proof = build(raw).proof
    with pytest.raises(MalformedTransactionError, match=match):
        verify_anchor_proof(proof, TRUST)


def test_signature_that_recovers_no_key() -> None:
    fields = _signed_fields(2)
    fields[10] = uint(5)  # r = 5: 5**3 + 7 is no square mod p, so no curve point has x = 5
    raw = _typed(2, fields)
    with pytest.raises(MalformedTransactionError, match="recovers no public key"):
        verify_anchor_proof(build(raw).proof, TRUST)


@pytest.mark.parametrize("tx_type", [3, 4, 0x7F])
def test_unsupported_transaction_types(tx_type: int) -> None:
    raw = _typed(tx_type, _signed_fields(2))
    with pytest.raises(UnsupportedTransactionTypeError) as info:
        verify_anchor_proof(build(raw).proof, TRUST)
    assert info.value.tx_type == tx_type


# --- JSON and construction ---------------------------------------------------------------------


def test_json_round_trip_with_transaction() -> None:
    proof = build().proof
    document = proof.to_json()
    assert list(document)[-2:] == ["transaction", "transactionProof"]
    assert document["transaction"] == "0x" + (proof.transaction or b"").hex()
    assert AnchorProof.from_json(json.loads(json.dumps(document))) == proof
    assert AnchorProof.from_json(proof.without_transaction().to_json()) == replace(
        proof, transaction=None, transaction_proof=None
    )


def _json(**changes: Any) -> dict[str, Any]:
    document = build().proof.to_json()
    document.update(changes)
    return {k: v for k, v in document.items() if v is not None}


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (_json(transaction=None), "$"),
        (_json(transactionProof=None), "$"),
        (_json(transactionProof=None, extra=1), "$"),
        (_json(transaction="0x" + "00" * (MAX_TRANSACTION_BYTES + 1)), "transaction"),
        (_json(transaction="0X02"), "transaction"),
        (_json(transaction=2), "transaction"),
        (_json(transactionProof="0x00"), "transactionProof"),
        (_json(transactionProof=[]), "transactionProof"),
        (_json(transactionProof=["0xc0"] * (MAX_PROOF_NODES + 1)), "transactionProof"),
        (
            _json(transactionProof=["0x" + "00" * (MAX_NODE_BYTES + 1), "0xc0"]),
            "transactionProof[0]",
        ),
        (
            _json(transactionProof=["0xc0", "0x" + "00" * (MAX_TRANSACTION_LEAF_NODE_BYTES + 1)]),
            "transactionProof[1]",
        ),
        (_json(transactionProof=["0xc0", None]), "transactionProof[1]"),
    ],
)
def test_strict_parsing_of_the_transaction_fields(document: dict[str, Any], field: str) -> None:
    with pytest.raises(AnchorProofFormatError) as info:
        AnchorProof.from_json(document)
    assert info.value.field == field


def test_one_field_without_the_other_names_both() -> None:
    with pytest.raises(AnchorProofFormatError, match="transaction and transactionProof"):
        AnchorProof.from_json(_json(transactionProof=None))


def test_direct_construction_is_checked_too() -> None:
    proof = build().proof
    with pytest.raises(AnchorProofFormatError):
        replace(proof, transaction=None)
    with pytest.raises(AnchorProofFormatError):
        replace(proof, transaction_proof=None)
    with pytest.raises(AnchorProofFormatError):
        replace(proof, transaction_proof=list(proof.transaction_proof or ()))  # type: ignore[arg-type]
    with pytest.raises(AnchorProofFormatError):
        replace(proof, transaction="0x02")  # type: ignore[arg-type]


def test_trust_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="anchoring_account"):
        ChainTrust.sealed(CHAIN_ID, [VALIDATOR_ADDRESS], anchoring_account=b"\x01" * 19)
    with pytest.raises(ValueError, match="anchoring_account"):
        ChainTrust.unsafe_unsealed(CHAIN_ID, anchoring_account="0x" + "01" * 20)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="require_transaction"):
        ChainTrust(CHAIN_ID, frozenset(), require_seal=False, require_transaction=1)  # type: ignore[arg-type]
    # The constructors of the first release keep their meaning.
    positional = ChainTrust(CHAIN_ID, frozenset([VALIDATOR_ADDRESS]), CONTRACT, True, "clique")
    assert positional.anchoring_account is None and not positional.require_transaction
    unsafe = ChainTrust.unsafe_unsealed(CHAIN_ID, CONTRACT, require_transaction=True)
    assert unsafe.require_transaction and not unsafe.require_seal


def test_every_new_error_is_an_anchor_proof_error() -> None:
    for error in (
        MissingTransactionError(),
        TransactionNotProvenError(1, 0, "x"),
        TransactionMismatchError(1, b"a", b"b"),
        TransactionHashMismatchError(b"a", b"b"),
        MalformedTransactionError("x"),
        UnsupportedTransactionTypeError(3),
        TransactionChainIdError(1, 2),
        TransactionRecipientError(b"\x00" * 20, None),
        AnchoringAccountMismatchError(b"\x00" * 20, b"\x01" * 20),
    ):
        assert isinstance(error, TransactionProofError)
        assert isinstance(error, AnchorProofError)
