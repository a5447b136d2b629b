"""Generate the QBFT test vectors in this folder (deterministic: fixed keys, fixed data).

    python tests/assets/qbft/generate.py [--out DIR]

Writes two kinds of vectors:

``extra-data.json``
    QBFT extraData encodings built exactly as the tests of Hyperledger Besu build them
    (``consensus/qbft/src/test/java/org/hyperledger/besu/consensus/qbft/QbftExtraDataCodecTest``,
    read at commit 0412fd797ece9828471214ddd11c80268753eeac): each case names the Besu test
    it mirrors, the hex, whether Besu's ``QbftExtraDataCodec.decodeRaw`` rejects it, and for
    valid ones the decoded fields and Besu's two hash encodings (``encodeWithoutCommitSeals``,
    ``encodeWithoutCommitSealsAndRoundNumber``). Literal data copied from Besu and from a
    real Besu network is in ``besu.json`` (hand-transcribed, not generated).

``proofs/<case>.json``
    Complete anchor proofs of synthetic QBFT blocks of a 4-validator network, in the format
    of ``tests/assets/anchor_proofs``: ``trust`` (chainId, validators, contract,
    requireSeal, sealKind), ``proof``, ``wantErr``, ``error`` and for valid cases ``want``
    (incl. the seal kind and the distinct trusted committers in seal order).

Independent of ``ledger`` on purpose: headers, extraData, seals, receipts and tries are
built here with rlp, eth_keys and trie directly, following Besu's ``BftBlockHashing``:
a committed seal signs keccak(RLP(header with extraData re-encoded without seals, round
kept)); the block hash is keccak(RLP(header with extraData re-encoded with round 0 and no
seals)). ECDSA signatures are deterministic (RFC 6979), so the output is byte-for-byte
stable; ``tests/unit/test_anchor_proof_qbft.py`` checks that it is unchanged.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rlp
from eth_hash.auto import keccak
from eth_keys.datatypes import PrivateKey
from trie.hexary import HexaryTrie

HERE = Path(__file__).resolve().parent

#: The four validator keys of the test network (test data only, never used anywhere else).
VALIDATOR_KEYS = [
    PrivateKey(keccak(f"zhenglian qbft vectors: validator {i}".encode())) for i in range(4)
]
#: A key that is not a validator: its seals must not count.
STRANGER_KEY = PrivateKey(keccak(b"zhenglian qbft vectors: stranger"))


def address(key: PrivateKey) -> bytes:
    return key.public_key.to_canonical_address()


VALIDATORS = [address(key) for key in VALIDATOR_KEYS]
STRANGER = address(STRANGER_KEY)

CHAIN_ID = 20_251_129
CONTRACT = bytes.fromhex("a11ce0000000000000000000000000000000a1c0")
ANCHORER = bytes.fromhex("ac4e000000000000000000000000000000000ac4")
EVENT_TOPIC = keccak(b"TreeHeadAnchored(uint256,uint64,bytes32,address)")
BLOCK_NUMBER = 5_120
TIMESTAMP = 1_764_374_400
ANCHOR_INDEX = 9
TREE_SIZE = 65_537
ROOT_HASH = keccak(b"zhenglian qbft vectors: tree head root")
TX_COUNT = 5
ANCHOR_TX_INDEX = 2
#: Besu's BFT mixHash ("ctical byzantine fault tolerance"), BftHelpers.EXPECTED_MIX_HASH.
BFT_MIX_HASH = bytes.fromhex("63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365")
VANITY = bytes(32)


def uint(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def hx(value: bytes) -> str:
    return "0x" + value.hex()


# --- Besu's codec test constructions ---------------------------------------------------------

BESU_TEST = (
    "hyperledger/besu consensus/qbft/src/test/java/org/hyperledger/besu/consensus/qbft/"
    "QbftExtraDataCodecTest.java @ 0412fd797ece9828471214ddd11c80268753eeac"
)
ADDRESS_1 = bytes(19) + b"\x01"
ADDRESS_2 = bytes(19) + b"\x02"
#: createNonEmptyVanityData(): bytes 1..32.
BESU_VANITY = bytes(range(1, 33))
#: createSignature(ONE, TEN, 0) and createSignature(TEN, ONE, 0), as encodedBytes().
BESU_SEALS = [
    (1).to_bytes(32, "big") + (10).to_bytes(32, "big") + b"\x00",
    (10).to_bytes(32, "big") + (1).to_bytes(32, "big") + b"\x00",
]
ROUND = 0x00FEDCBA


def _decoded(
    vanity: bytes, validators: list[bytes], vote: Any, round_: int, seals: list[bytes]
) -> dict[str, Any]:
    return {
        "vanity": hx(vanity),
        "validators": [hx(v) for v in validators],
        "vote": vote,
        "round": round_,
        "seals": [hx(s) for s in seals],
    }


def _valid(
    name: str, test: str, items: list[Any], decoded: dict[str, Any], vote_item: list[Any]
) -> dict[str, Any]:
    """A valid case; Besu re-encodes the vote from its decoded form (drop: empty string)."""
    vanity, validators = items[0], items[1]
    round_ = decoded["round"]
    return {
        "name": name,
        "besuTest": test,
        "hex": hx(rlp.encode(items)),
        "wantErr": False,
        "decoded": decoded,
        "encodeWithoutCommitSeals": hx(
            rlp.encode([vanity, validators, vote_item, uint(round_), []])
        ),
        "encodeWithoutCommitSealsAndRoundNumber": hx(
            rlp.encode([vanity, validators, vote_item, b"", []])
        ),
    }


def _invalid(name: str, test: str, encoded: bytes) -> dict[str, Any]:
    return {"name": name, "besuTest": test, "hex": hx(encoded), "wantErr": True}


def extra_data_cases() -> dict[str, Any]:
    add_1 = [ADDRESS_1, b"\xff"]
    cases = [
        _valid(
            "fully-populated",
            "fullyPopulatedDataProducesCorrectlyFormedExtraDataObject (vanity 1..32, not random)",
            [BESU_VANITY, [ADDRESS_1, ADDRESS_2], add_1, uint(ROUND), BESU_SEALS],
            _decoded(
                BESU_VANITY,
                [ADDRESS_1, ADDRESS_2],
                {"recipient": hx(ADDRESS_1), "add": True},
                ROUND,
                BESU_SEALS,
            ),
            add_1,
        ),
        _valid(
            "round-as-two-bytes",
            "correctlyCodedRoundConstitutesValidContent",
            [bytes(32), [], add_1, b"\xdc\xba", []],
            _decoded(bytes(32), [], {"recipient": hx(ADDRESS_1), "add": True}, 0xDCBA, []),
            add_1,
        ),
        _valid(
            "no-vote",
            "nullVoteAndListConstituteValidContent",
            [bytes(32), [], [], uint(ROUND), []],
            _decoded(bytes(32), [], None, ROUND, []),
            [],
        ),
        _valid(
            "drop-vote-as-null",
            "emptyListConstituteValidContent (drop vote written with writeNull)",
            [bytes(32), [], [ADDRESS_1, b""], uint(ROUND), []],
            _decoded(bytes(32), [], {"recipient": hx(ADDRESS_1), "add": False}, ROUND, []),
            [ADDRESS_1, b""],
        ),
        _valid(
            "drop-vote-as-zero-byte",
            "decodeVote: DROP_BYTE_VALUE 0x00 is read as a drop and re-encoded with writeNull",
            [bytes(32), [], [ADDRESS_1, b"\x00"], uint(ROUND), []],
            _decoded(bytes(32), [], {"recipient": hx(ADDRESS_1), "add": False}, ROUND, []),
            [ADDRESS_1, b""],
        ),
        _invalid(
            "vote-outside-a-list",
            "incorrectlyEncodedRoundThrowsRlpException",
            rlp.encode([bytes(32), [], ADDRESS_1, b"\xff", b"\x00\xdc\xba", []]),
        ),
        _invalid(
            "round-with-leading-zero",
            "readIntScalar rejects a leading zero byte (writeInt-style fixed 4 bytes)",
            rlp.encode([bytes(32), [], add_1, b"\x00\xfe\xdc\xba", []]),
        ),
        _invalid(
            "trailing-item",
            "incorrectlyStructuredRlpThrowsException (writeInt round, then writeLong(1))",
            rlp.encode([bytes(32), [], add_1, b"\x00\xfe\xdc\xba", [], b"\x01"]),
        ),
        _invalid(
            "vote-type-0xaa",
            "incorrectVoteTypeThrowsException",
            rlp.encode(
                [bytes(32), [ADDRESS_1, ADDRESS_2], [ADDRESS_1, b"\xaa"], uint(ROUND), BESU_SEALS]
            ),
        ),
        _invalid("empty", "emptyExtraDataThrowsException", b""),
    ]
    return {"source": BESU_TEST, "cases": cases}


# --- Synthetic QBFT anchor proofs --------------------------------------------------------------


def bloom(logs: list[list[Any]]) -> bytes:
    bits = 0
    for log_address, topics, _data in logs:
        for item in (log_address, *topics):
            digest = keccak(item)
            for i in (0, 2, 4):
                bits |= 1 << (int.from_bytes(digest[i : i + 2], "big") & 2047)
    return bits.to_bytes(256, "big")


def receipts() -> list[bytes]:
    result = []
    gas = 0
    for index in range(TX_COUNT):
        gas += 30_000 + 500 * index
        logs: list[list[Any]] = []
        if index == ANCHOR_TX_INDEX:
            data = TREE_SIZE.to_bytes(32, "big") + ROOT_HASH
            logs = [
                [
                    CONTRACT,
                    [EVENT_TOPIC, ANCHOR_INDEX.to_bytes(32, "big"), bytes(12) + ANCHORER],
                    data,
                ]
            ]
        payload = rlp.encode([uint(1), uint(gas), bloom(logs), logs])
        result.append(bytes([2]) + payload)
    return result


@dataclass(frozen=True)
class Block:
    """Inputs of one QBFT test block; :func:`build` turns them into (trust, proof)."""

    validators: tuple[bytes, ...] = tuple(VALIDATORS)
    vote: tuple[bytes, ...] = ()  # () or (recipient, type byte(s)) as written
    round: int = 1
    sealers: tuple[PrivateKey, ...] = tuple(VALIDATOR_KEYS[:3])
    trusted: tuple[bytes, ...] = tuple(VALIDATORS)
    seal_kind: str | None = None
    require_seal: bool = True
    state_root_after_sealing: bytes | None = None
    round_after_sealing: int | None = None
    seal_edit: Callable[[list[bytes]], list[bytes]] | None = field(default=None, compare=False)
    extra_edit: Callable[[list[Any]], list[Any]] | None = field(default=None, compare=False)
    claim_full_rlp_hash: bool = False
    malformed_extra: bool = False  # no BFT hash exists: the proof claims the plain keccak


def _vote_as_besu_rewrites_it(vote: tuple[bytes, ...]) -> list[bytes]:
    if not vote:
        return []
    recipient, kind = vote
    return [recipient, b"\xff" if kind == b"\xff" else b""]


def header_fields(receipts_root: bytes, extra: bytes) -> list[bytes]:
    return [
        keccak(b"qbft parent"),  # parentHash
        keccak(rlp.encode([])),  # ommersHash
        VALIDATORS[1],  # coinbase: the proposer
        keccak(b"qbft state"),  # stateRoot
        keccak(b"qbft transactions"),  # transactionsRoot
        receipts_root,
        bytes(256),  # logsBloom
        uint(1),  # difficulty (BFT: 1)
        uint(BLOCK_NUMBER),
        uint(30_000_000),  # gasLimit
        uint(150_000),  # gasUsed
        uint(TIMESTAMP),
        extra,
        BFT_MIX_HASH,
        bytes(8),  # nonce
        b"",  # baseFeePerGas (London with zeroBaseFee: 0)
    ]


def build(block: Block) -> tuple[dict[str, Any], dict[str, Any]]:
    all_receipts = receipts()
    trie = HexaryTrie({})
    for index, value in enumerate(all_receipts):
        trie.set(rlp.encode(index), value)
    nodes = [rlp.encode(node) for node in trie.get_proof(rlp.encode(ANCHOR_TX_INDEX))]
    nodes = nodes[:1] + [node for node in nodes[1:] if len(node) >= 32]

    validators = list(block.validators)
    written_vote = list(block.vote)
    hashed_vote = _vote_as_besu_rewrites_it(block.vote)

    def extra(vote: list[bytes], round_: int, seals: list[bytes]) -> bytes:
        return rlp.encode([VANITY, validators, vote, uint(round_), seals])

    fields = header_fields(trie.root_hash, extra(hashed_vote, block.round, []))
    digest = keccak(rlp.encode(fields))  # calculateDataHashForCommittedSeal
    seals = [key.sign_msg_hash(digest).to_bytes() for key in block.sealers]
    if block.seal_edit is not None:
        seals = block.seal_edit(seals)
    final_round = block.round if block.round_after_sealing is None else block.round_after_sealing
    if block.state_root_after_sealing is not None:
        fields[3] = block.state_root_after_sealing
    items: list[Any] = [VANITY, validators, written_vote, uint(final_round), seals]
    if block.extra_edit is not None:
        items = block.extra_edit(items)
    fields[12] = rlp.encode(items)
    header_rlp = rlp.encode(fields)

    if block.claim_full_rlp_hash or block.malformed_extra:
        block_hash = keccak(header_rlp)
    else:
        hash_fields = list(fields)
        hash_fields[12] = extra(hashed_vote, 0, [])  # calculateHashOfBftBlockOnChain
        block_hash = keccak(rlp.encode(hash_fields))
    proof = {
        "type": "zhenglian-anchor-proof",
        "version": 1,
        "chainId": CHAIN_ID,
        "contract": hx(CONTRACT),
        "txHash": hx(keccak(b"qbft anchoring transaction")),
        "blockNumber": BLOCK_NUMBER,
        "blockHash": hx(block_hash),
        "header": hx(header_rlp),
        "txIndex": ANCHOR_TX_INDEX,
        "receipt": hx(all_receipts[ANCHOR_TX_INDEX]),
        "receiptProof": [hx(node) for node in nodes],
        "logIndex": 0,
    }
    trust = {
        "chainId": CHAIN_ID,
        "validators": [hx(v) for v in block.trusted],
        "contract": hx(CONTRACT),
        "requireSeal": block.require_seal,
        "sealKind": block.seal_kind,
    }
    return trust, proof


def _flip_s_bit(index: int) -> Callable[[list[bytes]], list[bytes]]:
    def edit(seals: list[bytes]) -> list[bytes]:
        seal = bytearray(seals[index])
        seal[63] ^= 0x01  # low bit of s: still in range, recovers another key
        return [*seals[:index], bytes(seal), *seals[index + 1 :]]

    return edit


def _set_seal_byte(index: int, position: int, value: int) -> Callable[[list[bytes]], list[bytes]]:
    def edit(seals: list[bytes]) -> list[bytes]:
        seal = bytearray(seals[index])
        seal[position] = value
        return [*seals[:index], bytes(seal), *seals[index + 1 :]]

    return edit


V = VALIDATOR_KEYS
Case = tuple[str, str, str | None, Block, list[bytes] | None]

CASES: list[Case] = [
    ("valid-3-of-4", "3 of 4 validators committed in round 1", None, Block(), VALIDATORS[:3]),
    (
        "valid-4-of-4-add-vote",
        "all 4 committed, round 0, header carries an add vote for the stranger",
        None,
        Block(vote=(STRANGER, b"\xff"), round=0, sealers=tuple(V)),
        VALIDATORS,
    ),
    (
        "valid-drop-vote-as-zero-byte",
        "drop vote written as 0x00: Besu hashes and signs it re-encoded as the empty string",
        None,
        Block(vote=(VALIDATORS[3], b"\x00"), round=3, sealers=(V[3], V[0], V[2])),
        [VALIDATORS[3], VALIDATORS[0], VALIDATORS[2]],
    ),
    (
        "valid-duplicate-and-stranger-seals",
        "seals v0, v1, v1, stranger, v2: the duplicate counts once, the stranger not at all",
        None,
        Block(sealers=(V[0], V[1], V[1], STRANGER_KEY, V[2])),
        VALIDATORS[:3],
    ),
    (
        "valid-validator-contract-mode",
        "empty validator list (validator-contract mode): committers counted against the trust",
        None,
        Block(validators=(), sealers=(V[2], V[3], V[1])),
        [VALIDATORS[2], VALIDATORS[3], VALIDATORS[1]],
    ),
    (
        "two-of-four",
        "only 2 of 4 committed: below the quorum ceil(2*4/3) = 3",
        "InsufficientSealsError",
        Block(sealers=(V[0], V[1])),
        None,
    ),
    (
        "duplicate-seal-counted-once",
        "seals v0, v1, v1: two distinct committers",
        "InsufficientSealsError",
        Block(sealers=(V[0], V[1], V[1])),
        None,
    ),
    (
        "non-validator-seal-ignored",
        "seals v0, v1, stranger: the stranger's seal does not count",
        "InsufficientSealsError",
        Block(sealers=(V[0], V[1], STRANGER_KEY)),
        None,
    ),
    (
        "tampered-state-root",
        "stateRoot changed after sealing, block hash recomputed: no seal signs this header",
        "InsufficientSealsError",
        Block(sealers=tuple(V), state_root_after_sealing=keccak(b"forged state")),
        None,
    ),
    (
        "round-changed-after-sealing",
        "round 1 rewritten to 2: the block hash is unchanged but the seals sign round 1",
        "InsufficientSealsError",
        Block(sealers=tuple(V), round_after_sealing=2),
        None,
    ),
    (
        "seal-s-bit-flipped",
        "low bit of s of the third of 3 seals flipped: it recovers another key",
        "InsufficientSealsError",
        Block(seal_edit=_flip_s_bit(2)),
        None,
    ),
    (
        "untrusted-validator-listed",
        "header lists a fifth validator the trust does not know",
        "UntrustedValidatorSetError",
        Block(validators=(*VALIDATORS, STRANGER), sealers=tuple(V)),
        None,
    ),
    (
        "larger-trusted-set",
        "trust of 6 validators (quorum 4), only 3 committed",
        "InsufficientSealsError",
        Block(trusted=(*VALIDATORS, STRANGER, keccak(b"sixth")[:20])),
        None,
    ),
    (
        "full-rlp-block-hash",
        "proof claims keccak(header RLP), which is not the QBFT block hash",
        "BlockHashMismatchError",
        Block(claim_full_rlp_hash=True),
        None,
    ),
    (
        "seal-recovery-id-27",
        "third seal's v set to 27 (transaction style), not 0/1",
        "MalformedQbftExtraDataError",
        Block(seal_edit=_set_seal_byte(2, 64, 27), malformed_extra=True),
        None,
    ),
    (
        "seal-of-64-bytes",
        "third seal truncated to 64 bytes",
        "MalformedQbftExtraDataError",
        Block(seal_edit=lambda seals: [*seals[:2], seals[2][:64]], malformed_extra=True),
        None,
    ),
    (
        "six-item-extra-data",
        "extraData list with a sixth item",
        "MalformedQbftExtraDataError",
        Block(extra_edit=lambda items: [*items, b"\x01"], malformed_extra=True),
        None,
    ),
    (
        "round-with-leading-zero",
        "round written as 4 fixed bytes 0x00000001 (readIntScalar rejects it)",
        "MalformedQbftExtraDataError",
        Block(
            extra_edit=lambda items: [*items[:3], b"\x00\x00\x00\x01", items[4]],
            malformed_extra=True,
        ),
        None,
    ),
    (
        "clique-trust",
        "trust pins Clique seals, the block is QBFT",
        "SealKindMismatchError",
        Block(seal_kind="clique"),
        None,
    ),
]


def fixture(description: str, error: str | None, block: Block, signers: list[bytes] | None) -> str:
    trust, proof = build(block)
    document: dict[str, Any] = {
        "description": description,
        "trust": trust,
        "proof": proof,
        "wantErr": error is not None,
        "error": error,
    }
    if error is None:
        assert signers is not None
        document["want"] = {
            "blockNumber": BLOCK_NUMBER,
            "timestamp": TIMESTAMP,
            "anchorIndex": ANCHOR_INDEX,
            "treeSize": TREE_SIZE,
            "rootHash": hx(ROOT_HASH),
            "anchorer": hx(ANCHORER),
            "sealKind": "qbft",
            "sealSigners": [hx(s) for s in signers],
        }
    return json.dumps(document, indent=2) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder")
    out: Path = parser.parse_args().out
    (out / "proofs").mkdir(parents=True, exist_ok=True)
    (out / "extra-data.json").write_text(json.dumps(extra_data_cases(), indent=2) + "\n")
    for name, description, error, block, signers in CASES:
        (out / "proofs" / f"{name}.json").write_text(fixture(description, error, block, signers))


if __name__ == "__main__":
    main()
