"""QBFT (Hyperledger Besu) committed seals in ledger.anchor_proof.

Checked against Besu's own expectations (tests/assets/qbft/besu.json: literal data from Besu's
tests and from a real Besu QBFT network; tests/assets/qbft/extra-data.json: encodings built
as Besu's codec tests build them) and against synthetic 4-validator blocks made by the
committed generator tests/assets/qbft/generate.py, which does not use ledger.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_hash.auto import keccak
from eth_keys.datatypes import PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import anchor_proof
from ledger.anchor_proof import (
    MAX_BFT_VALIDATORS,
    MAX_COMMITTED_SEALS,
    MAX_EXTRA_DATA_BYTES,
    AnchorProof,
    ChainTrust,
    QbftExtraData,
    QbftVote,
    SealStatus,
    bft_quorum,
    header_block_hash,
    header_timestamp,
    qbft_block_hash,
    qbft_committers,
    qbft_seal_digest,
    verify_anchor_proof,
    verify_block_seal,
)
from ledger.errors import (
    AnchorProofError,
    BlockHeaderError,
    InsufficientSealsError,
    MalformedQbftExtraDataError,
    MalformedSealError,
    SealError,
    SealKindMismatchError,
    UntrustedValidatorSetError,
)

ASSETS = Path(__file__).resolve().parents[1] / "assets"
QBFT_ASSETS = ASSETS / "qbft"
BESU = json.loads((QBFT_ASSETS / "besu.json").read_text())
EXTRA_DATA = json.loads((QBFT_ASSETS / "extra-data.json").read_text())
PROOF_FILES = sorted((QBFT_ASSETS / "proofs").glob("*.json"))

KEYS = [PrivateKey(keccak(f"test_anchor_proof_qbft validator {i}".encode())) for i in range(4)]
VALIDATORS = [key.public_key.to_canonical_address() for key in KEYS]
STRANGER_KEY = PrivateKey(keccak(b"test_anchor_proof_qbft stranger"))
STRANGER = STRANGER_KEY.public_key.to_canonical_address()
TRUST = ChainTrust.sealed(77, VALIDATORS, seal_kind="qbft")


def unhex(value: str) -> bytes:
    assert value.startswith("0x")
    return bytes.fromhex(value[2:])


def uint(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def qbft_header(
    sealers: list[PrivateKey],
    *,
    round_: int = 0,
    validators: list[bytes] | None = None,
    number: int = 12,
    vote: list[bytes] | None = None,
) -> bytes:
    """A QBFT header sealed as Besu seals it, built without ledger (rlp + eth_keys)."""
    listed = VALIDATORS if validators is None else validators
    fields: list[bytes] = [
        keccak(b"parent"),
        keccak(rlp.encode([])),
        listed[0] if listed else bytes(20),
        keccak(b"state"),
        keccak(b"txs"),
        keccak(b"receipts"),
        bytes(256),
        uint(1),
        uint(number),
        uint(30_000_000),
        uint(0),
        uint(1_700_000_000),
        b"",
        keccak(b"mix"),
        bytes(8),
        b"",
    ]
    vote_item = [] if vote is None else vote
    fields[12] = rlp.encode([bytes(32), listed, vote_item, uint(round_), []])
    digest = keccak(rlp.encode(fields))
    seals = [key.sign_msg_hash(digest).to_bytes() for key in sealers]
    fields[12] = rlp.encode([bytes(32), listed, vote_item, uint(round_), seals])
    return rlp.encode(fields)


# --- Besu's literal vectors -------------------------------------------------------------------


def _decoded(extra: QbftExtraData) -> dict[str, Any]:
    vote = (
        None
        if extra.vote is None
        else {"recipient": "0x" + extra.vote.recipient.hex(), "add": extra.vote.add}
    )
    return {
        "vanity": "0x" + extra.vanity.hex(),
        "validators": ["0x" + v.hex() for v in extra.validators],
        "vote": vote,
        "round": extra.round,
        "seals": ["0x" + s.hex() for s in extra.seals],
    }


def test_besu_known_raw_hex_decodes_and_encodes_byte_for_byte() -> None:
    vector = BESU["codecKnownRawHex"]
    extra = QbftExtraData.decode(unhex(vector["hex"]))
    assert _decoded(extra) == vector["decoded"]
    assert "0x" + extra.encode().hex() == vector["hex"]


@pytest.mark.parametrize(("count", "quorum"), BESU["quorum"]["validatorCountToQuorum"])
def test_quorum_matches_besu(count: int, quorum: int) -> None:
    assert bft_quorum(count) == quorum


@given(st.integers(min_value=0, max_value=10_000))
def test_quorum_is_the_smallest_count_over_two_thirds(count: int) -> None:
    quorum = bft_quorum(count)
    assert 3 * quorum >= 2 * count and (quorum == 0 or 3 * (quorum - 1) < 2 * count)


def test_quorum_rejects_a_negative_count() -> None:
    with pytest.raises(ValueError):
        bft_quorum(-1)


@pytest.mark.parametrize("case", EXTRA_DATA["cases"], ids=lambda c: c["name"])
def test_extra_data_as_besu_codec_tests_build_it(case: dict[str, Any]) -> None:
    data = unhex(case["hex"])
    if case["wantErr"]:
        with pytest.raises(MalformedQbftExtraDataError):
            QbftExtraData.decode(data)
        return
    extra = QbftExtraData.decode(data)
    assert _decoded(extra) == case["decoded"]
    assert "0x" + extra.encode_without_seals().hex() == case["encodeWithoutCommitSeals"]
    assert (
        "0x" + extra.encode_without_seals_and_round().hex()
        == case["encodeWithoutCommitSealsAndRoundNumber"]
    )
    assert QbftExtraData.decode(extra.encode()) == extra


def test_extra_data_vectors_cover_valid_and_invalid_cases() -> None:
    labels = [case["wantErr"] for case in EXTRA_DATA["cases"]]
    assert labels.count(False) >= 4 and labels.count(True) >= 4


def test_real_besu_block_seals_sign_the_commit_hash() -> None:
    block = BESU["realBesuBlock"]
    header = unhex(block["header"])
    commit_hash = unhex(block["commitHash"])
    assert keccak(unhex(block["headerWithoutSeals"])) == commit_hash  # the source's own check
    assert qbft_seal_digest(header) == commit_hash
    assert qbft_seal_digest(unhex(block["headerWithoutSeals"])) == commit_hash
    fields = rlp.decode(header)
    extra = QbftExtraData.decode(fields[12])
    assert extra.round == block["round"]
    assert ["0x" + v.hex() for v in extra.validators] == block["validators"]
    assert ["0x" + s.hex() for s in extra.seals] == block["seals"]
    assert header_timestamp(header) == block["timestamp"]
    committers = qbft_committers(header)
    validators = {unhex(v) for v in block["validators"]}
    assert len(set(committers)) == len(committers) == 3
    assert set(committers) <= validators


def test_real_besu_block_verifies_with_its_validators_as_trust() -> None:
    block = BESU["realBesuBlock"]
    header = unhex(block["header"])
    validators = [unhex(v) for v in block["validators"]]
    status = verify_block_seal(header, ChainTrust.sealed(1, validators, seal_kind="qbft"))
    assert status.kind == "qbft" and status.is_sealed
    assert status.signers == qbft_committers(header)
    assert status.signer == status.signers[0]
    # Its block hash leaves out seals and round: it is not keccak of the full RLP.
    assert header_block_hash(header) == qbft_block_hash(header) != keccak(header)
    assert qbft_block_hash(header) == qbft_block_hash(unhex(block["headerWithoutSeals"]))


def test_real_besu_block_fails_when_a_committer_is_not_trusted() -> None:
    block = BESU["realBesuBlock"]
    header = unhex(block["header"])
    committer = qbft_committers(header)[0]
    validators = [unhex(v) for v in block["validators"]]
    with pytest.raises(UntrustedValidatorSetError) as info:
        verify_block_seal(header, ChainTrust.sealed(1, [v for v in validators if v != committer]))
    assert info.value.untrusted == (committer,)


def test_real_besu_one_validator_extra_data() -> None:
    vector = BESU["realBesuExtraDataOneValidator"]
    extra = QbftExtraData.decode(unhex(vector["hex"]))
    assert (extra.round, len(extra.validators), len(extra.seals)) == (
        vector["round"],
        vector["validatorCount"],
        vector["sealCount"],
    )
    assert extra.vote is None


# --- Generated anchor-proof vectors ---------------------------------------------------------


def _trust(trust: dict[str, Any]) -> ChainTrust:
    return ChainTrust(
        chain_id=trust["chainId"],
        validators=frozenset(unhex(v) for v in trust["validators"]),
        contract=unhex(trust["contract"]),
        require_seal=trust["requireSeal"],
        seal_kind=trust["sealKind"],
    )


def test_generator_output_is_unchanged(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(QBFT_ASSETS / "generate.py"), "--out", str(tmp_path)],
        check=True,
        timeout=120,
    )
    assert (tmp_path / "extra-data.json").read_bytes() == (
        QBFT_ASSETS / "extra-data.json"
    ).read_bytes()
    generated = {p.name: p.read_bytes() for p in (tmp_path / "proofs").glob("*.json")}
    committed = {p.name: p.read_bytes() for p in PROOF_FILES}
    assert sorted(generated) == sorted(committed)
    for name, content in generated.items():
        assert content == committed[name], f"{name} differs from the generator's output"


def test_there_are_valid_and_corrupted_proof_vectors() -> None:
    labels = [json.loads(p.read_text())["wantErr"] for p in PROOF_FILES]
    assert labels.count(False) >= 4 and labels.count(True) >= 10


@pytest.mark.parametrize("path", PROOF_FILES, ids=lambda p: p.stem)
def test_proof_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    trust = _trust(case["trust"])
    proof = AnchorProof.from_json(case["proof"])
    if not case["wantErr"]:
        assert case["error"] is None
        result = verify_anchor_proof(proof, trust)
        want = case["want"]
        assert result.block_number == want["blockNumber"]
        assert result.timestamp == want["timestamp"]
        assert (result.anchor_index, result.tree_size) == (want["anchorIndex"], want["treeSize"])
        assert "0x" + result.root_hash.hex() == want["rootHash"]
        assert "0x" + result.anchorer.hex() == want["anchorer"]
        assert result.seal.kind == want["sealKind"]
        assert ["0x" + s.hex() for s in result.seal.signers] == want["sealSigners"]
        assert result.block_hash == header_block_hash(proof.header_rlp)
        return
    with pytest.raises(AnchorProofError) as info:
        verify_anchor_proof(proof, trust)
    assert type(info.value).__name__ == case["error"], str(info.value)


_EXACT_QUORUM = json.loads((QBFT_ASSETS / "proofs" / "valid-3-of-4.json").read_text())


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_bit_flipped_in_an_exact_quorum_header_fails(data: st.DataObject) -> None:
    """3 of 4 seals is exactly the quorum: no single-bit change of the header may verify,
    whether it hits a hashed field, the round (outside the block hash) or a seal."""
    proof = AnchorProof.from_json(_EXACT_QUORUM["proof"])
    trust = _trust(_EXACT_QUORUM["trust"])
    bit = data.draw(st.integers(min_value=0, max_value=8 * len(proof.header_rlp) - 1))
    header = bytearray(proof.header_rlp)
    header[bit // 8] ^= 1 << (bit % 8)
    try:
        block_hash = header_block_hash(bytes(header))
    except AnchorProofError:
        block_hash = proof.block_hash
    tampered = replace(proof, header_rlp=bytes(header), block_hash=block_hash)
    with pytest.raises(AnchorProofError):
        verify_anchor_proof(tampered, trust)


def test_insufficient_seals_error_carries_the_numbers() -> None:
    with pytest.raises(InsufficientSealsError) as info:
        verify_block_seal(qbft_header(KEYS[:2]), TRUST)
    assert (info.value.required, info.value.got, info.value.validator_count) == (3, 2, 4)
    assert isinstance(info.value, SealError)


# --- Policy, as properties ----------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=4), min_size=0, max_size=7))
def test_quorum_of_distinct_trusted_committers_decides(picks: list[int]) -> None:
    """Index 4 is the stranger; any order, duplicates allowed."""
    sealers = [STRANGER_KEY if i == 4 else KEYS[i] for i in picks]
    header = qbft_header(sealers, round_=len(picks))
    distinct = list(dict.fromkeys(VALIDATORS[i] for i in picks if i != 4))
    if len(distinct) >= 3:
        status = verify_block_seal(header, TRUST)
        assert status.signers == tuple(distinct)
    else:
        with pytest.raises(InsufficientSealsError) as info:
            verify_block_seal(header, TRUST)
        assert info.value.got == len(distinct)


@settings(max_examples=40, deadline=None)
@given(
    validators=st.lists(st.binary(min_size=20, max_size=20), max_size=6),
    vote=st.none() | st.tuples(st.binary(min_size=20, max_size=20), st.booleans()),
    round_=st.integers(min_value=0, max_value=2**31 - 1),
    seals=st.lists(st.integers(min_value=1, max_value=2**200), max_size=4),
)
def test_extra_data_round_trips(
    validators: list[bytes], vote: tuple[bytes, bool] | None, round_: int, seals: list[int]
) -> None:
    extra = QbftExtraData(
        bytes(range(32)),
        tuple(validators),
        None if vote is None else QbftVote(*vote),
        round_,
        tuple(s.to_bytes(32, "big") * 2 + b"\x01" for s in seals),
    )
    assert QbftExtraData.decode(extra.encode()) == extra
    without = QbftExtraData.decode(extra.encode_without_seals())
    assert (without.round, without.seals) == (round_, ())
    hashed = QbftExtraData.decode(extra.encode_without_seals_and_round())
    assert (hashed.round, hashed.seals, hashed.validators) == (0, (), extra.validators)


def test_block_hash_ignores_round_and_seals_but_the_seal_digest_keeps_the_round() -> None:
    a = qbft_header(KEYS[:3], round_=0)
    b = qbft_header(KEYS, round_=5)
    assert qbft_block_hash(a) == qbft_block_hash(b)
    assert qbft_seal_digest(a) != qbft_seal_digest(b)
    assert qbft_seal_digest(qbft_header([], round_=0)) == qbft_block_hash(a)


def test_genesis_hashes_as_is() -> None:
    genesis = qbft_header([], number=0)
    assert qbft_block_hash(genesis) == header_block_hash(genesis) == keccak(genesis)
    with pytest.raises(InsufficientSealsError):
        verify_block_seal(genesis, TRUST)


# --- Detection and trust -------------------------------------------------------------------------


CLIQUE_VALID = json.loads((ASSETS / "anchor_proofs" / "valid-sealed.json").read_text())


def test_clique_header_is_still_clique_and_can_be_pinned() -> None:
    header = unhex(CLIQUE_VALID["proof"]["header"])
    validators = [unhex(v) for v in CLIQUE_VALID["trust"]["validators"]]
    status = verify_block_seal(header, ChainTrust.sealed(1, validators, seal_kind="clique"))
    assert status == SealStatus.sealed_by(validators[0])
    assert status.kind == "clique" and status.signers == (validators[0],)
    assert header_block_hash(header) == keccak(header)
    with pytest.raises(SealKindMismatchError) as info:
        verify_block_seal(header, ChainTrust.sealed(1, validators, seal_kind="qbft"))
    assert (info.value.expected_kind, info.value.actual_kind) == ("qbft", "clique")


@settings(max_examples=200)
@given(
    vanity=st.binary(min_size=32, max_size=32)
    | st.builds(lambda b: b"\xd8\x83\x01\x0a" + b, st.binary(min_size=28, max_size=28)),
    signers=st.integers(min_value=0, max_value=5),
    seal=st.binary(min_size=65, max_size=65),
)
def test_clique_extra_data_is_never_taken_for_qbft(
    vanity: bytes, signers: int, seal: bytes
) -> None:
    """Geth-style vanity (an RLP version list) and random bytes stay Clique layouts."""
    extra = vanity + bytes(20 * signers) + seal
    assert anchor_proof._qbft_extra(extra) is None
    fields = rlp.decode(unhex(CLIQUE_VALID["proof"]["header"]))
    fields[12] = extra
    header = rlp.encode(fields)
    assert header_block_hash(header) == keccak(header)


def test_unsafe_trust_reports_a_qbft_block_unsealed() -> None:
    header = qbft_header(KEYS[:1])
    assert verify_block_seal(header, ChainTrust.unsafe_unsealed(77)) == SealStatus.unsealed()
    optional = ChainTrust(77, frozenset(VALIDATORS), require_seal=False)
    assert verify_block_seal(header, optional) == SealStatus.unsealed()
    assert verify_block_seal(qbft_header(KEYS), optional).signers == tuple(VALIDATORS)


def test_validator_contract_mode_counts_committers_against_the_trust() -> None:
    header = qbft_header([KEYS[3], STRANGER_KEY, KEYS[0], KEYS[1]], validators=[])
    assert verify_block_seal(header, TRUST).signers == (VALIDATORS[3], VALIDATORS[0], VALIDATORS[1])


def test_trust_and_status_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        ChainTrust(1, frozenset(VALIDATORS), seal_kind="ibft")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SealStatus("sealed", VALIDATORS[0], None, (VALIDATORS[0],))
    with pytest.raises(ValueError):
        SealStatus("sealed", VALIDATORS[0], "qbft", (VALIDATORS[1],))
    with pytest.raises(ValueError):
        SealStatus("sealed", VALIDATORS[0], "clique", (VALIDATORS[0], VALIDATORS[1]))
    with pytest.raises(ValueError):
        SealStatus("unsealed", None, "qbft")
    with pytest.raises(ValueError):
        SealStatus.committed_by([])
    assert SealStatus.committed_by(VALIDATORS[:3]).signer == VALIDATORS[0]


# --- Limits and malformed input -----------------------------------------------------------------


def _extra(validators: list[bytes], seals: list[bytes], *, vanity: bytes = bytes(32)) -> bytes:
    return rlp.encode([vanity, validators, [], b"", seals])


@pytest.mark.parametrize(
    "extra",
    [
        _extra([bytes(20)] * (MAX_BFT_VALIDATORS + 1), []),
        _extra([], [b"\x01" * 64 + b"\x00"] * (MAX_COMMITTED_SEALS + 1)),
        _extra([], [], vanity=bytes(31)),
        _extra([bytes(19)], []),
        _extra([], [bytes(64) + b"\x00"]),  # r = 0
        _extra([], [b"\xff" * 64 + b"\x00"]),  # r, s >= n
        rlp.encode([bytes(32), [], [], [b"\x01"], []]),  # round is a list
        rlp.encode([bytes(32), [], [], b"\x80\x00\x00\x00", []]),  # round over 2**31 - 1
        rlp.encode([bytes(32), [], [bytes(20)], b"", []]),  # vote without a type
        rlp.encode([bytes(32), [], [], b"", b"not a list"]),
        b"\xc0",
    ],
)
def test_malformed_extra_data(extra: bytes) -> None:
    with pytest.raises(MalformedQbftExtraDataError):
        QbftExtraData.decode(extra)


def test_malformed_qbft_extra_data_fails_the_seal_check() -> None:
    fields = rlp.decode(qbft_header(KEYS))
    fields[12] = _extra([], [bytes(64) + b"\x00"])
    header = rlp.encode(fields)
    with pytest.raises(MalformedSealError):
        verify_block_seal(header, TRUST)
    assert verify_block_seal(header, ChainTrust.unsafe_unsealed(77)) == SealStatus.unsealed()
    assert header_block_hash(header) == keccak(header)


def test_extra_data_over_the_limit_is_a_header_error() -> None:
    fields = rlp.decode(qbft_header(KEYS))
    fields[12] = bytes(MAX_EXTRA_DATA_BYTES + 1)
    with pytest.raises(BlockHeaderError):
        verify_block_seal(rlp.encode(fields), TRUST)


def test_functions_refuse_a_clique_header() -> None:
    header = unhex(CLIQUE_VALID["proof"]["header"])
    for function in (qbft_block_hash, qbft_seal_digest, qbft_committers):
        with pytest.raises(MalformedQbftExtraDataError):
            function(header)
