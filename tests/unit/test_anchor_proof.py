"""Offline anchor proofs: headers, Clique seals, receipt tries and events built right here."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_hash.auto import keccak
from eth_keys.datatypes import PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from trie.hexary import HexaryTrie

from ledger.anchor_proof import (
    MAX_HEADER_BYTES,
    MAX_LEAF_NODE_BYTES,
    MAX_NODE_BYTES,
    MAX_PROOF_NODES,
    MAX_RECEIPT_BYTES,
    TREE_HEAD_ANCHORED_TOPIC,
    AnchorProof,
    ChainTrust,
    SealStatus,
    clique_signature_hash,
    receipt_from_proof,
    seal_signer,
    value_from_proof,
    verify_anchor_proof,
)
from ledger.errors import (
    AnchorProofError,
    AnchorProofFormatError,
    BlockHashMismatchError,
    BlockHeaderError,
    BlockNumberMismatchError,
    ChainIdMismatchError,
    ContractMismatchError,
    LogIndexError,
    MalformedAnchorEventError,
    MalformedReceiptError,
    MalformedSealError,
    MissingSealError,
    ProofNodeHashMismatchError,
    ReceiptMismatchError,
    ReceiptProofError,
    ReceiptProofShapeError,
    SealError,
    TransactionFailedError,
    UntrustedSignerError,
)

FIXTURES = Path(__file__).resolve().parents[1] / "assets" / "anchor_proofs"

# Throwaway keys of this test module only.
VALIDATOR = PrivateKey(keccak(b"test_anchor_proof validator"))
STRANGER = PrivateKey(keccak(b"test_anchor_proof stranger"))
VALIDATOR_ADDRESS = VALIDATOR.public_key.to_canonical_address()
STRANGER_ADDRESS = STRANGER.public_key.to_canonical_address()

CHAIN_ID = 4242
CONTRACT = bytes.fromhex("c0" * 20)
OTHER_CONTRACT = bytes.fromhex("d0" * 20)
ANCHORER = bytes.fromhex("ab" * 20)
ROOT_HASH = keccak(b"root of the log")
VANITY = b"test vanity".ljust(32, b"\0")
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

TRUST = ChainTrust.sealed(CHAIN_ID, [VALIDATOR_ADDRESS], CONTRACT)


def uint(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def event_log(
    *,
    index: int = 9,
    tree_size: int = 1_000,
    contract: bytes = CONTRACT,
    topics: list[bytes] | None = None,
    data: bytes | None = None,
) -> list[Any]:
    if topics is None:
        topics = [TREE_HEAD_ANCHORED_TOPIC, index.to_bytes(32, "big"), bytes(12) + ANCHORER]
    if data is None:
        data = tree_size.to_bytes(32, "big") + ROOT_HASH
    return [contract, topics, data]


def encode_receipt(logs: list[list[Any]], *, status: int = 1, tx_type: int = 2) -> bytes:
    payload = rlp.encode([uint(status), uint(50_000), bytes(256), logs])
    return payload if tx_type == 0 else bytes([tx_type]) + payload


def header_fields(receipts_root: bytes, *, number: int, extra: bytes) -> list[bytes]:
    return [
        keccak(b"parent"),
        keccak(rlp.encode([])),
        bytes(20),
        keccak(b"state"),
        keccak(b"txs"),
        receipts_root,
        bytes(256),
        uint(2),
        uint(number),
        uint(30_000_000),
        uint(21_000),
        uint(1_700_000_000),
        extra,
        bytes(32),
        bytes(8),
        uint(1_000_000_000),  # baseFeePerGas
        keccak(b"withdrawals"),  # withdrawalsRoot: headers of any fork are accepted
    ]


def seal(fields: list[bytes], key: PrivateKey, *, signers: bytes = b"") -> bytes:
    """Clique-seal a header: sign keccak(rlp(header with extraData minus the seal))."""
    unsealed = list(fields)
    unsealed[12] = VANITY + signers
    signature = key.sign_msg_hash(keccak(rlp.encode(unsealed))).to_bytes()
    sealed = list(fields)
    sealed[12] = VANITY + signers + signature
    return rlp.encode(sealed)


@dataclass(frozen=True)
class Built:
    proof: AnchorProof
    receipts: tuple[bytes, ...]


def build(
    *,
    anchor_receipt: bytes | None = None,
    tx_count: int = 12,
    tx_index: int = 5,
    log_index: int = 1,
    sealer: PrivateKey | None = VALIDATOR,
    number: int = 77,
) -> Built:
    """A block of ``tx_count`` receipts with the anchoring one at ``tx_index``."""
    if anchor_receipt is None:
        other = [OTHER_CONTRACT, [keccak(b"Other()")], b""]
        anchor_receipt = encode_receipt([other, event_log()])
    receipts = tuple(
        anchor_receipt if i == tx_index else encode_receipt([], tx_type=i % 3)
        for i in range(tx_count)
    )
    trie = HexaryTrie({})
    for i, value in enumerate(receipts):
        trie.set(rlp.encode(i), value)
    nodes = [rlp.encode(node) for node in trie.get_proof(rlp.encode(tx_index))]
    fields = header_fields(trie.root_hash, number=number, extra=VANITY)
    header_rlp = seal(fields, sealer) if sealer is not None else rlp.encode(fields)
    proof = AnchorProof(
        chain_id=CHAIN_ID,
        contract=CONTRACT,
        tx_hash=keccak(b"tx"),
        block_number=number,
        block_hash=keccak(header_rlp),
        header_rlp=header_rlp,
        tx_index=tx_index,
        receipt=anchor_receipt,
        receipt_proof=(nodes[0], *(n for n in nodes[1:] if len(n) >= 32)),
        log_index=log_index,
    )
    return Built(proof, receipts)


def with_header(proof: AnchorProof, header_rlp: bytes) -> AnchorProof:
    """Replace the header and fix the block hash, so that later checks are reached."""
    return replace(proof, header_rlp=header_rlp, block_hash=keccak(header_rlp))


def flip(data: bytes, index: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


# --- Success -----------------------------------------------------------------------------


def test_sealed_proof_verifies() -> None:
    proof = build().proof
    result = verify_anchor_proof(proof, TRUST)
    assert result.seal == SealStatus.sealed_by(VALIDATOR_ADDRESS)
    assert result.seal.is_sealed
    assert (result.anchor_index, result.tree_size, result.root_hash) == (9, 1_000, ROOT_HASH)
    assert result.anchorer == ANCHORER
    assert result.contract == CONTRACT
    assert (result.chain_id, result.block_number, result.block_hash) == (
        CHAIN_ID,
        77,
        proof.block_hash,
    )
    assert result.timestamp == 1_700_000_000
    assert result.tx_hash == proof.tx_hash


def test_trust_without_contract_accepts_the_proofs_contract() -> None:
    trust = ChainTrust.sealed(CHAIN_ID, [VALIDATOR_ADDRESS])
    assert verify_anchor_proof(build().proof, trust).contract == CONTRACT


@pytest.mark.parametrize(
    ("tx_count", "tx_index"), [(1, 0), (2, 0), (130, 0), (130, 129), (300, 17)]
)
def test_receipt_tries_of_various_shapes(tx_count: int, tx_index: int) -> None:
    proof = build(tx_count=tx_count, tx_index=tx_index).proof
    assert verify_anchor_proof(proof, TRUST).tree_size == 1_000


@pytest.mark.parametrize("tx_type", [0, 1, 2, 3, 4])
def test_legacy_and_typed_receipts(tx_type: int) -> None:
    receipt = encode_receipt([event_log()], tx_type=tx_type)
    proof = build(anchor_receipt=receipt, log_index=0).proof
    assert verify_anchor_proof(proof, TRUST).anchor_index == 9


def test_checkpoint_header_with_validator_list_verifies() -> None:
    proof = build().proof
    fields = rlp.decode(proof.header_rlp)
    signers = VALIDATOR_ADDRESS + STRANGER_ADDRESS
    sealed = with_header(proof, seal(fields, VALIDATOR, signers=signers))
    assert verify_anchor_proof(sealed, TRUST).seal.signer == VALIDATOR_ADDRESS


def test_seal_functions() -> None:
    proof = build().proof
    assert seal_signer(proof.header_rlp) == VALIDATOR_ADDRESS
    fields = rlp.decode(proof.header_rlp)
    fields[12] = fields[12][:-65]
    assert clique_signature_hash(proof.header_rlp) == keccak(rlp.encode(fields))


def test_sealing_with_a_zero_placeholder_signature() -> None:
    """How a node seals: zero seal bytes, hash, sign, put the signature in place."""
    fields = header_fields(keccak(b"r"), number=1, extra=VANITY + bytes(65))
    message_hash = clique_signature_hash(rlp.encode(fields))
    fields[12] = VANITY + VALIDATOR.sign_msg_hash(message_hash).to_bytes()
    assert seal_signer(rlp.encode(fields)) == VALIDATOR_ADDRESS


_RLP_ITEMS = st.recursive(
    st.binary(max_size=80),
    lambda children: st.lists(children, max_size=6),
    max_leaves=40,
)


@settings(max_examples=200, deadline=None)
@given(item=_RLP_ITEMS)
def test_internal_rlp_encoder_matches_pyrlp(item: Any) -> None:
    """The seal hash uses a fast local RLP encoder: it must agree with pyrlp everywhere."""
    from ledger.anchor_proof import _rlp_encode

    assert _rlp_encode(item) == rlp.encode(item)


# --- Header and chain ----------------------------------------------------------------------


def test_wrong_chain_id() -> None:
    with pytest.raises(ChainIdMismatchError) as info:
        verify_anchor_proof(replace(build().proof, chain_id=1), TRUST)
    assert (info.value.trusted_chain_id, info.value.proof_chain_id) == (CHAIN_ID, 1)


@pytest.mark.parametrize("index", [0, 3, 150, -70, -1])
def test_header_byte_flipped(index: int) -> None:
    proof = build().proof
    with pytest.raises(BlockHashMismatchError) as info:
        verify_anchor_proof(replace(proof, header_rlp=flip(proof.header_rlp, index)), TRUST)
    assert info.value.expected_hash == proof.block_hash


def test_wrong_block_number() -> None:
    with pytest.raises(BlockNumberMismatchError) as info:
        verify_anchor_proof(replace(build().proof, block_number=78), TRUST)
    assert (info.value.expected_number, info.value.header_number) == (78, 77)


@pytest.mark.parametrize(
    "header_rlp",
    [
        rlp.encode([b"\x01"] * 14),  # too few fields
        rlp.encode(b"not a list"),
        b"\xf9\x00",  # truncated RLP
        rlp.encode(header_fields(bytes(31), number=1, extra=b"")),  # receiptsRoot 31 bytes
        rlp.encode(  # number with a leading zero byte
            [
                *header_fields(bytes(32), number=1, extra=b"")[:8],
                b"\x00\x01",
                *header_fields(bytes(32), number=1, extra=b"")[9:],
            ]
        ),
        rlp.encode([[b"nested"], *header_fields(bytes(32), number=1, extra=b"")[1:]]),
    ],
)
def test_malformed_headers(header_rlp: bytes) -> None:
    proof = with_header(build().proof, header_rlp)
    with pytest.raises(BlockHeaderError):
        verify_anchor_proof(proof, TRUST)


def test_deeply_nested_header_is_an_error_not_a_crash() -> None:
    nested = b"\xc0"
    for _ in range(700):  # an RLP list nested 700 deep: deeper than Python's recursion limit
        length = len(nested)
        if length < 56:
            nested = bytes([0xC0 + length]) + nested
        else:
            size = length.to_bytes((length.bit_length() + 7) // 8, "big")
            nested = bytes([0xF7 + len(size)]) + size + nested
    assert len(nested) <= MAX_HEADER_BYTES
    with pytest.raises(BlockHeaderError):
        verify_anchor_proof(with_header(build().proof, nested), TRUST)


# --- Seal -------------------------------------------------------------------------------------


def test_seal_by_an_untrusted_key() -> None:
    with pytest.raises(UntrustedSignerError) as info:
        verify_anchor_proof(build(sealer=STRANGER).proof, TRUST)
    assert info.value.signer == STRANGER_ADDRESS
    assert STRANGER_ADDRESS.hex() in str(info.value)


@pytest.mark.parametrize("offset", [1, 20, 33, 40, 63])  # counted from the end of extraData
def test_seal_bytes_flipped(offset: int) -> None:
    proof = build().proof
    fields = rlp.decode(proof.header_rlp)
    fields[12] = flip(fields[12], -offset - 1)
    with pytest.raises(SealError) as info:
        verify_anchor_proof(with_header(proof, rlp.encode(fields)), TRUST)
    assert isinstance(info.value, UntrustedSignerError | MalformedSealError)


def test_vanity_flipped_breaks_the_seal() -> None:
    proof = build().proof
    fields = rlp.decode(proof.header_rlp)
    fields[12] = flip(fields[12], 0)
    with pytest.raises(UntrustedSignerError):
        verify_anchor_proof(with_header(proof, rlp.encode(fields)), TRUST)


def test_other_header_field_changed_after_sealing() -> None:
    proof = build().proof
    fields = rlp.decode(proof.header_rlp)
    fields[11] = uint(1_700_000_001)  # timestamp
    with pytest.raises(UntrustedSignerError):
        verify_anchor_proof(with_header(proof, rlp.encode(fields)), TRUST)


def _with_seal(proof: AnchorProof, r: int, s: int, v: int) -> AnchorProof:
    fields = rlp.decode(proof.header_rlp)
    fields[12] = fields[12][:-65] + r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])
    return with_header(proof, rlp.encode(fields))


def test_high_s_twin_of_a_valid_seal_is_rejected() -> None:
    proof = build().proof
    signature = rlp.decode(proof.header_rlp)[12][-65:]
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")
    v = signature[64]
    assert seal_signer(_with_seal(proof, r, s, v).header_rlp) == VALIDATOR_ADDRESS
    with pytest.raises(MalformedSealError, match="high s"):
        verify_anchor_proof(_with_seal(proof, r, SECP256K1_N - s, 1 - v), TRUST)


@pytest.mark.parametrize(("r", "s", "v"), [(0, 1, 0), (1, 0, 0), (SECP256K1_N, 1, 0), (1, 1, 27)])
def test_out_of_range_seal_values(r: int, s: int, v: int) -> None:
    with pytest.raises(MalformedSealError):
        verify_anchor_proof(_with_seal(build().proof, r, s, v), TRUST)


def test_extra_data_with_a_partial_validator_list() -> None:
    proof = build().proof
    fields = rlp.decode(proof.header_rlp)
    fields[12] = VANITY + bytes(10) + bytes(65)
    with pytest.raises(MalformedSealError):
        verify_anchor_proof(with_header(proof, rlp.encode(fields)), TRUST)
    with pytest.raises(MalformedSealError):
        clique_signature_hash(rlp.encode(fields))


def test_unsealed_header_requires_unsafe_trust() -> None:
    proof = build(sealer=None).proof
    with pytest.raises(MissingSealError) as info:
        verify_anchor_proof(proof, TRUST)
    assert info.value.extra_data_length == 32
    with pytest.raises(MissingSealError):
        seal_signer(proof.header_rlp)
    result = verify_anchor_proof(proof, ChainTrust.unsafe_unsealed(CHAIN_ID, CONTRACT))
    assert result.seal == SealStatus.unsealed()
    assert not result.seal.is_sealed
    assert result.tree_size == 1_000


def test_unsafe_trust_never_reports_an_untrusted_seal_as_sealed() -> None:
    unsafe = ChainTrust.unsafe_unsealed(CHAIN_ID)
    assert verify_anchor_proof(build().proof, unsafe).seal == SealStatus.unsealed()
    garbage = _with_seal(build().proof, 1, 1, 27)
    assert verify_anchor_proof(garbage, unsafe).seal == SealStatus.unsealed()


def test_optional_seal_reports_a_trusted_signer() -> None:
    trust = ChainTrust(CHAIN_ID, frozenset([VALIDATOR_ADDRESS]), require_seal=False)
    assert verify_anchor_proof(build().proof, trust).seal.signer == VALIDATOR_ADDRESS
    assert verify_anchor_proof(build(sealer=STRANGER).proof, trust).seal.signer is None


def test_trust_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        ChainTrust.sealed(CHAIN_ID, [])
    with pytest.raises(ValueError):
        ChainTrust.sealed(CHAIN_ID, [b"\x01" * 19])
    with pytest.raises(ValueError):
        ChainTrust.sealed(0, [VALIDATOR_ADDRESS])
    with pytest.raises(ValueError):
        ChainTrust.unsafe_unsealed(CHAIN_ID, contract=b"short")
    with pytest.raises(ValueError):
        SealStatus("sealed", None)


# --- Receipt proof ------------------------------------------------------------------------------


def test_receipt_proof_node_flipped() -> None:
    proof = build().proof
    for node_index, node in enumerate(proof.receipt_proof):
        for byte_index in (0, len(node) // 2, len(node) - 1):
            nodes = list(proof.receipt_proof)
            nodes[node_index] = flip(node, byte_index)
            with pytest.raises(ProofNodeHashMismatchError) as info:
                verify_anchor_proof(replace(proof, receipt_proof=tuple(nodes)), TRUST)
            assert info.value.node_index == node_index


@pytest.mark.parametrize("missing", [0, 1, -1])
def test_receipt_proof_node_missing(missing: int) -> None:
    proof = build().proof
    assert len(proof.receipt_proof) == 3
    nodes = list(proof.receipt_proof)
    del nodes[missing]
    with pytest.raises(ReceiptProofError):
        verify_anchor_proof(replace(proof, receipt_proof=tuple(nodes)), TRUST)


def test_receipt_proof_extra_node() -> None:
    built = build()
    proof = built.proof
    trie = HexaryTrie({})
    for i, value in enumerate(built.receipts):
        trie.set(rlp.encode(i), value)
    other_leaf = rlp.encode(trie.get_proof(rlp.encode(6))[-1])
    for extra in (proof.receipt_proof[0], other_leaf, b"\xc0"):
        with pytest.raises(ReceiptProofShapeError, match="superfluous"):
            verify_anchor_proof(replace(proof, receipt_proof=(*proof.receipt_proof, extra)), TRUST)


def test_receipt_proof_reordered() -> None:
    proof = build().proof
    reordered = (proof.receipt_proof[0], *reversed(proof.receipt_proof[1:]))
    with pytest.raises(ProofNodeHashMismatchError):
        verify_anchor_proof(replace(proof, receipt_proof=reordered), TRUST)


def test_proof_for_another_index() -> None:
    proof = build().proof
    for other_index in (4, 6, 1_000):
        with pytest.raises(ReceiptProofError):
            verify_anchor_proof(replace(proof, tx_index=other_index), TRUST)


@pytest.mark.parametrize("absent_index", [12, 1_000])
def test_proof_of_absence_is_not_a_receipt(absent_index: int) -> None:
    built = build()
    trie = HexaryTrie({})
    for i, value in enumerate(built.receipts):
        trie.set(rlp.encode(i), value)
    key = rlp.encode(absent_index)
    nodes = tuple(rlp.encode(node) for node in trie.get_proof(key))
    with pytest.raises(ReceiptProofShapeError, match="absent"):
        value_from_proof(trie.root_hash, key, nodes)


def test_receipt_with_a_different_log() -> None:
    proof = build().proof
    other = encode_receipt([[OTHER_CONTRACT, [], b""], event_log(tree_size=999_999)])
    with pytest.raises(ReceiptMismatchError) as info:
        verify_anchor_proof(replace(proof, receipt=other), TRUST)
    assert info.value.expected_receipt_hash == keccak(other)
    assert info.value.proven_receipt_hash == keccak(proof.receipt)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.binary(min_size=1, max_size=70), min_size=1, max_size=60),
    data=st.data(),
)
def test_value_from_proof_agrees_with_the_trie_library(values: list[bytes], data: Any) -> None:
    """Random tries (short values give embedded nodes): same values as py-trie, strictly."""
    trie = HexaryTrie({})
    for i, value in enumerate(values):
        trie.set(rlp.encode(i), value)
    index = data.draw(st.integers(0, len(values) - 1))
    key = rlp.encode(index)
    raw = trie.get_proof(key)
    nodes = [rlp.encode(node) for node in raw]
    proof = (nodes[0], *(n for n in nodes[1:] if len(n) >= 32))
    assert value_from_proof(trie.root_hash, key, proof) == values[index]
    assert HexaryTrie.get_from_proof(trie.root_hash, key, raw) == values[index]
    assert receipt_from_proof(trie.root_hash, index, proof) == values[index]
    node_index = data.draw(st.integers(0, len(proof) - 1))
    byte_index = data.draw(st.integers(0, len(proof[node_index]) - 1))
    corrupted = list(proof)
    corrupted[node_index] = flip(proof[node_index], byte_index)
    with pytest.raises(ReceiptProofError):
        value_from_proof(trie.root_hash, key, corrupted)


# --- Receipt and event ------------------------------------------------------------------------


def test_wrong_contract_in_trust() -> None:
    trust = ChainTrust.sealed(CHAIN_ID, [VALIDATOR_ADDRESS], OTHER_CONTRACT)
    with pytest.raises(ContractMismatchError) as info:
        verify_anchor_proof(build().proof, trust)
    assert (info.value.expected_contract, info.value.actual_contract) == (OTHER_CONTRACT, CONTRACT)


def test_log_from_another_contract() -> None:
    receipt = encode_receipt([event_log(contract=OTHER_CONTRACT)])
    with pytest.raises(ContractMismatchError) as info:
        verify_anchor_proof(build(anchor_receipt=receipt, log_index=0).proof, TRUST)
    assert info.value.actual_contract == OTHER_CONTRACT


def test_status_zero() -> None:
    receipt = encode_receipt([], status=0)
    with pytest.raises(TransactionFailedError) as info:
        verify_anchor_proof(build(anchor_receipt=receipt, log_index=0).proof, TRUST)
    assert info.value.status == 0


def test_log_index_out_of_range() -> None:
    with pytest.raises(LogIndexError) as info:
        verify_anchor_proof(replace(build().proof, log_index=2), TRUST)
    assert (info.value.log_index, info.value.log_count) == (2, 2)


@pytest.mark.parametrize("length", [0, 32, 63, 65, 96])
def test_log_data_of_the_wrong_length(length: int) -> None:
    receipt = encode_receipt([event_log(data=bytes(length))])
    with pytest.raises(MalformedAnchorEventError, match="data"):
        verify_anchor_proof(build(anchor_receipt=receipt, log_index=0).proof, TRUST)


@pytest.mark.parametrize(
    "log",
    [
        event_log(
            topics=[keccak(b"TreeHeadAnchored(uint256,uint64,bytes32)"), bytes(32), bytes(32)]
        ),
        event_log(topics=[TREE_HEAD_ANCHORED_TOPIC, bytes(32)]),
        event_log(topics=[TREE_HEAD_ANCHORED_TOPIC, bytes(32), bytes(32), bytes(32)]),
        event_log(topics=[TREE_HEAD_ANCHORED_TOPIC, bytes(32), b"\x01" * 32]),  # not an address
        event_log(data=b"\x01" + bytes(31) + ROOT_HASH),  # treeSize above uint64
    ],
)
def test_malformed_events(log: list[Any]) -> None:
    receipt = encode_receipt([log])
    with pytest.raises(MalformedAnchorEventError):
        verify_anchor_proof(build(anchor_receipt=receipt, log_index=0).proof, TRUST)


@pytest.mark.parametrize(
    "receipt",
    [
        b"\x00" + rlp.encode([b"\x01", b"", bytes(256), []]),  # type 0 is never a prefix
        b"\x02" + rlp.encode([b"\x01", b"", bytes(256)]),  # three fields
        rlp.encode([keccak(b"root"), b"", bytes(256), []]),  # pre-Byzantium state root
        b"\x02" + rlp.encode([b"\x01", b"", bytes(256), [[CONTRACT, [b"x"], b""]]]),  # topic
        b"\x02" + rlp.encode([b"\x01", b"", bytes(256), b"logs"]),
    ],
)
def test_malformed_receipts(receipt: bytes) -> None:
    with pytest.raises(MalformedReceiptError):
        verify_anchor_proof(build(anchor_receipt=receipt, log_index=0).proof, TRUST)


def test_every_error_is_an_anchor_proof_error() -> None:
    for error in (
        ChainIdMismatchError(1, 2),
        BlockHashMismatchError(b"a", b"b"),
        UntrustedSignerError(b"\x00" * 20),
        ReceiptProofShapeError(0, "x"),
        TransactionFailedError(0),
        AnchorProofFormatError("x", "y"),
    ):
        assert isinstance(error, AnchorProofError)


# --- JSON -------------------------------------------------------------------------------------


def test_json_round_trip() -> None:
    proof = build().proof
    document = proof.to_json()
    assert document["type"] == "zhenglian-anchor-proof"
    assert document["version"] == 1
    assert isinstance(document["header"], str) and document["header"].startswith("0x")
    assert AnchorProof.from_json(json.loads(json.dumps(document))) == proof


def _json(**changes: Any) -> dict[str, Any]:
    document = build().proof.to_json()
    document.update(changes)
    return document


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (["not", "an", "object"], "$"),
        ({k: v for k, v in _json().items() if k != "logIndex"}, "$"),
        (_json(extra=1), "$"),
        (_json(type="something-else"), "type"),
        (_json(version=2), "version"),
        (_json(version="1"), "version"),
        (_json(version=True), "version"),
        (_json(chainId="4242"), "chainId"),
        (_json(chainId=True), "chainId"),
        (_json(chainId=4242.0), "chainId"),
        (_json(chainId=0), "chainId"),
        (_json(blockNumber=-1), "blockNumber"),
        (_json(blockNumber=2**64), "blockNumber"),
        (_json(txIndex=2**32), "txIndex"),
        (_json(logIndex=None), "logIndex"),
        (_json(contract="0x" + "C0" * 20), "contract"),
        (_json(contract="c0" * 20), "contract"),
        (_json(contract="0x" + "c0" * 19), "contract"),
        (_json(contract="0x" + "c0" * 21), "contract"),
        (_json(contract=list(CONTRACT)), "contract"),
        (_json(txHash="0x" + "a" * 63), "txHash"),
        (_json(blockHash="0xzz" + "00" * 31), "blockHash"),
        (_json(header="0x" + "00" * (MAX_HEADER_BYTES + 1)), "header"),
        (_json(receipt="0x" + "00" * (MAX_RECEIPT_BYTES + 1)), "receipt"),
        (_json(receiptProof="0x00"), "receiptProof"),
        (_json(receiptProof=[]), "receiptProof"),
        (_json(receiptProof=["0xc0"] * (MAX_PROOF_NODES + 1)), "receiptProof"),
        (_json(receiptProof=["0x" + "00" * (MAX_NODE_BYTES + 1), "0xc0"]), "receiptProof[0]"),
        (_json(receiptProof=["0xc0", "0x" + "00" * (MAX_LEAF_NODE_BYTES + 1)]), "receiptProof[1]"),
        (_json(receiptProof=["0xc0", 5]), "receiptProof[1]"),
    ],
)
def test_strict_parsing(document: object, field: str) -> None:
    with pytest.raises(AnchorProofFormatError) as info:
        AnchorProof.from_json(document)
    assert info.value.field == field


def test_leaf_node_may_be_as_large_as_a_receipt() -> None:
    big = "0x" + "00" * (MAX_NODE_BYTES + 1)
    proof = AnchorProof.from_json(_json(receiptProof=["0xc0", big]))
    assert len(proof.receipt_proof[1]) == MAX_NODE_BYTES + 1


def test_direct_construction_is_checked_too() -> None:
    with pytest.raises(AnchorProofFormatError):
        replace(build().proof, contract=b"\x00" * 19)
    with pytest.raises(AnchorProofFormatError):
        replace(build().proof, receipt_proof=[b"\xc0"])  # type: ignore[arg-type]


# --- Committed vectors ------------------------------------------------------------------------


def _fixture_trust(trust: dict[str, Any]) -> ChainTrust:
    account = trust.get("anchoringAccount")
    return ChainTrust(
        chain_id=trust["chainId"],
        validators=frozenset(bytes.fromhex(v[2:]) for v in trust["validators"]),
        contract=bytes.fromhex(trust["contract"][2:]),
        require_seal=trust["requireSeal"],
        anchoring_account=None if account is None else bytes.fromhex(account[2:]),
        require_transaction=trust.get("requireTransaction", False),
    )


FIXTURE_FILES = sorted(FIXTURES.glob("*.json"))


def test_generator_output_is_unchanged(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(FIXTURES / "generate.py"), "--out", str(tmp_path)],
        check=True,
        timeout=120,
    )
    generated = {p.name: p.read_bytes() for p in tmp_path.glob("*.json")}
    committed = {p.name: p.read_bytes() for p in FIXTURE_FILES}
    assert sorted(generated) == sorted(committed)
    for name, content in generated.items():
        assert content == committed[name], f"{name} differs from the generator's output"


def test_there_are_valid_and_corrupted_vectors() -> None:
    labels = [json.loads(p.read_text())["wantErr"] for p in FIXTURE_FILES]
    assert labels.count(False) >= 1 and labels.count(True) >= 10


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    trust = _fixture_trust(case["trust"])
    if case.get("stage") == "parse":
        assert case["wantErr"]
        with pytest.raises(AnchorProofError) as parse_info:
            AnchorProof.from_json(case["proof"])
        assert type(parse_info.value).__name__ == case["error"], str(parse_info.value)
        return
    proof = AnchorProof.from_json(case["proof"])
    if not case["wantErr"]:
        assert case["error"] is None
        result = verify_anchor_proof(proof, trust)
        want = case["want"]
        assert result.block_number == want["blockNumber"]
        assert result.timestamp == want["timestamp"]
        assert result.anchor_index == want["anchorIndex"]
        assert result.tree_size == want["treeSize"]
        assert "0x" + result.root_hash.hex() == want["rootHash"]
        assert "0x" + result.anchorer.hex() == want["anchorer"]
        assert result.seal.signer is not None
        assert "0x" + result.seal.signer.hex() == want["sealSigner"]
        account = result.anchoring_account
        assert want.get("anchoringAccount") == (None if account is None else "0x" + account.hex())
        assert proof.has_transaction == (account is not None)
        return
    with pytest.raises(AnchorProofError) as info:
        verify_anchor_proof(proof, trust)
    assert type(info.value).__name__ == case["error"], str(info.value)
