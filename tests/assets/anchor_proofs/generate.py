"""Generate the anchor-proof test vectors in this folder (deterministic: fixed key, fixed data).

    python tests/assets/anchor_proofs/generate.py [--out DIR]

Each ``<case>.json`` holds a ``trust`` (chainId, validators, contract, requireSeal), a
``proof`` (the anchor proof JSON, version 1), ``wantErr`` and ``error`` (the name of the
expected ``ledger.errors`` class, or null), and for valid cases ``want`` (decoded values).

Independent of ``ledger`` on purpose: headers, seals, receipts and tries are built here
with rlp, eth_keys and trie directly, so the vectors do not inherit the verifier's bugs.
ECDSA signatures are deterministic (RFC 6979), so the output is byte-for-byte stable;
``tests/unit/test_anchor_proof.py`` checks that it is unchanged.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rlp
from eth_hash.auto import keccak
from eth_keys.datatypes import PrivateKey
from trie.hexary import HexaryTrie

HERE = Path(__file__).resolve().parent

#: Fixed validator key of the test chain (test data only, never used anywhere else).
VALIDATOR_KEY = PrivateKey(keccak(b"zhenglian test vectors: anchor proof validator"))
#: A key that is not in the trust: seals made with it must be rejected.
STRANGER_KEY = PrivateKey(keccak(b"zhenglian test vectors: untrusted sealer"))

CHAIN_ID = 20_240_601
CONTRACT = bytes.fromhex("a11ce0000000000000000000000000000000a1c0")
OTHER_CONTRACT = bytes.fromhex("b0b0000000000000000000000000000000000b0b")
ANCHORER = bytes.fromhex("ac4e000000000000000000000000000000000ac4")
EVENT_TOPIC = keccak(b"TreeHeadAnchored(uint256,uint64,bytes32,address)")
BLOCK_NUMBER = 4_096
TIMESTAMP = 1_717_200_000
ANCHOR_INDEX = 41
TREE_SIZE = 123_456
ROOT_HASH = keccak(b"zhenglian test vectors: tree head root")
TX_COUNT = 24
ANCHOR_TX_INDEX = 17


def uint(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def bloom(logs: list[list[Any]]) -> bytes:
    bits = 0
    for address, topics, _data in logs:
        for item in (address, *topics):
            digest = keccak(item)
            for i in (0, 2, 4):
                bits |= 1 << (int.from_bytes(digest[i : i + 2], "big") & 2047)
    return bits.to_bytes(256, "big")


def anchor_log(*, data: bytes | None = None, topic0: bytes = EVENT_TOPIC) -> list[Any]:
    if data is None:
        data = TREE_SIZE.to_bytes(32, "big") + ROOT_HASH
    return [
        CONTRACT,
        [topic0, ANCHOR_INDEX.to_bytes(32, "big"), bytes(12) + ANCHORER],
        data,
    ]


def receipt(*, status: int, gas: int, logs: list[list[Any]], tx_type: int) -> bytes:
    payload = rlp.encode([uint(status), uint(gas), bloom(logs), logs])
    return payload if tx_type == 0 else bytes([tx_type]) + payload


@dataclass(frozen=True)
class Block:
    """Inputs of one test block; :func:`build` turns them into (trust, proof)."""

    anchor_status: int = 1
    anchor_log_data: bytes | None = None
    sealer: PrivateKey | None = VALIDATOR_KEY


def block_receipts(block: Block) -> list[bytes]:
    receipts = []
    gas = 0
    for index in range(TX_COUNT):
        gas += 21_000 + 1_000 * index
        if index == ANCHOR_TX_INDEX:
            logs = [
                [OTHER_CONTRACT, [keccak(b"Unrelated(uint256)")], uint(7).rjust(32, b"\0")],
                anchor_log(data=block.anchor_log_data),
            ]
            status = block.anchor_status
        else:
            logs, status = [], 1
        receipts.append(receipt(status=status, gas=gas, logs=logs, tx_type=index % 3))
    return receipts


def header(receipts_root: bytes, sealer: PrivateKey | None) -> bytes:
    vanity = b"zhenglian test vectors".ljust(32, b"\0")
    fields = [
        keccak(b"parent"),  # parentHash
        keccak(rlp.encode([])),  # ommersHash
        bytes(20),  # coinbase (Clique: zero)
        keccak(b"state"),  # stateRoot
        keccak(b"transactions"),  # transactionsRoot
        receipts_root,
        bytes(256),  # logsBloom
        uint(2),  # difficulty (Clique in-turn)
        uint(BLOCK_NUMBER),
        uint(30_000_000),  # gasLimit
        uint(1_000_000),  # gasUsed
        uint(TIMESTAMP),
        vanity + bytes(65) if sealer else vanity,  # extraData
        bytes(32),  # mixHash
        bytes(8),  # nonce
        uint(7),  # baseFeePerGas (London)
    ]
    if sealer is None:
        return rlp.encode(fields)
    signing = list(fields)
    signing[12] = vanity
    signature = sealer.sign_msg_hash(keccak(rlp.encode(signing))).to_bytes()
    fields[12] = vanity + signature
    return rlp.encode(fields)


def build(block: Block) -> tuple[dict[str, Any], dict[str, Any]]:
    receipts = block_receipts(block)
    trie = HexaryTrie({})
    for index, value in enumerate(receipts):
        trie.set(rlp.encode(index), value)
    nodes = [rlp.encode(node) for node in trie.get_proof(rlp.encode(ANCHOR_TX_INDEX))]
    nodes = nodes[:1] + [node for node in nodes[1:] if len(node) >= 32]
    header_rlp = header(trie.root_hash, block.sealer)
    proof = {
        "type": "zhenglian-anchor-proof",
        "version": 1,
        "chainId": CHAIN_ID,
        "contract": hx(CONTRACT),
        "txHash": hx(keccak(b"anchoring transaction")),
        "blockNumber": BLOCK_NUMBER,
        "blockHash": hx(keccak(header_rlp)),
        "header": hx(header_rlp),
        "txIndex": ANCHOR_TX_INDEX,
        "receipt": hx(receipts[ANCHOR_TX_INDEX]),
        "receiptProof": [hx(node) for node in nodes],
        "logIndex": 1,
    }
    trust = {
        "chainId": CHAIN_ID,
        "validators": [hx(VALIDATOR_KEY.public_key.to_canonical_address())],
        "contract": hx(CONTRACT),
        "requireSeal": True,
    }
    return trust, proof


def hx(value: bytes) -> str:
    return "0x" + value.hex()


def unhx(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def flip(value: str, byte_index: int) -> str:
    """Flip the low bit of one byte of a hex string (negative index: from the end)."""
    data = bytearray(unhx(value))
    data[byte_index] ^= 0x01
    return hx(bytes(data))


def rehash(proof: dict[str, Any]) -> None:
    """Make ``blockHash`` match a modified header (so that the later check is reached)."""
    proof["blockHash"] = hx(keccak(unhx(proof["header"])))


def with_header_extra(proof: dict[str, Any], change: Callable[[bytes], bytes]) -> None:
    fields = rlp.decode(unhx(proof["header"]))
    fields[12] = change(fields[12])
    proof["header"] = hx(rlp.encode(fields))
    rehash(proof)


Case = tuple[str, str, str | None, Block, Callable[[dict[str, Any], dict[str, Any]], None]]


def no_change(trust: dict[str, Any], proof: dict[str, Any]) -> None:
    del trust, proof


def _set(key: str, value: Any, where: str = "proof") -> Callable[..., None]:
    def change(trust: dict[str, Any], proof: dict[str, Any]) -> None:
        (proof if where == "proof" else trust)[key] = value

    return change


def _modify_proof(change: Callable[[dict[str, Any]], None]) -> Callable[..., None]:
    def apply(trust: dict[str, Any], proof: dict[str, Any]) -> None:
        del trust
        change(proof)

    return apply


def _flip_seal_v(extra: bytes) -> bytes:
    return extra[:-1] + bytes([extra[-1] + 27])


def _flip_seal_r(extra: bytes) -> bytes:
    return extra[:-65] + bytes([extra[-65] ^ 0x01]) + extra[-64:]


CASES: list[Case] = [
    ("valid-sealed", "sealed by the trusted validator", None, Block(), no_change),
    (
        "wrong-chain-id",
        "trust is for another chain",
        "ChainIdMismatchError",
        Block(),
        _set("chainId", CHAIN_ID + 1, "trust"),
    ),
    (
        "modified-header-bit-@100",
        "one bit of the header flipped",
        "BlockHashMismatchError",
        Block(),
        _modify_proof(lambda p: p.update(header=flip(p["header"], 100))),
    ),
    (
        "wrong-block-number",
        "proof claims another block number",
        "BlockNumberMismatchError",
        Block(),
        _set("blockNumber", BLOCK_NUMBER + 1),
    ),
    (
        "unsealed",
        "header has only vanity extraData and the trust requires a seal",
        "MissingSealError",
        Block(sealer=None),
        no_change,
    ),
    (
        "untrusted-signer",
        "validly sealed, by a key that is not in the trust",
        "UntrustedSignerError",
        Block(sealer=STRANGER_KEY),
        no_change,
    ),
    (
        "modified-seal-v",
        "seal recovery id set to 27/28 (Ethereum transaction style), block hash recomputed",
        "MalformedSealError",
        Block(),
        _modify_proof(lambda p: with_header_extra(p, _flip_seal_v)),
    ),
    (
        "modified-seal-r",
        "one bit of the seal's r flipped, block hash recomputed: recovers a stranger",
        "UntrustedSignerError",
        Block(),
        _modify_proof(lambda p: with_header_extra(p, _flip_seal_r)),
    ),
    (
        "wrong-contract",
        "trust names another anchoring contract",
        "ContractMismatchError",
        Block(),
        _set("contract", hx(OTHER_CONTRACT), "trust"),
    ),
    (
        "modified-receipt-proof-0-bit-@40",
        "one bit of the root proof node flipped",
        "ProofNodeHashMismatchError",
        Block(),
        _modify_proof(lambda p: p["receiptProof"].__setitem__(0, flip(p["receiptProof"][0], 40))),
    ),
    (
        "missing-receipt-proof-node",
        "last proof node removed",
        "ReceiptProofShapeError",
        Block(),
        _modify_proof(lambda p: p["receiptProof"].pop()),
    ),
    (
        "extra-receipt-proof-node",
        "a copy of the root node appended",
        "ReceiptProofShapeError",
        Block(),
        _modify_proof(lambda p: p["receiptProof"].append(p["receiptProof"][0])),
    ),
    (
        "wrong-receipt",
        "receipt with another log than the proven one",
        "ReceiptMismatchError",
        Block(),
        _modify_proof(
            lambda p: p.update(
                receipt=hx(
                    receipt(
                        status=1,
                        gas=1,
                        logs=[anchor_log(data=bytes(32) + ROOT_HASH)],
                        tx_type=2,
                    )
                )
            )
        ),
    ),
    (
        "failed-transaction",
        "proven receipt has status 0",
        "TransactionFailedError",
        Block(anchor_status=0),
        no_change,
    ),
    (
        "wrong-log-index",
        "log index past the receipt's logs",
        "LogIndexError",
        Block(),
        _set("logIndex", 2),
    ),
    (
        "other-contract-log",
        "log index names the unrelated log of another contract",
        "ContractMismatchError",
        Block(),
        _set("logIndex", 0),
    ),
    (
        "long-event-data",
        "event data of 96 bytes instead of 64",
        "MalformedAnchorEventError",
        Block(anchor_log_data=TREE_SIZE.to_bytes(32, "big") + ROOT_HASH + bytes(32)),
        no_change,
    ),
]


def fixture(name: str, description: str, error: str | None, block: Block, change: Any) -> str:
    trust, proof = build(block)
    change(trust, proof)
    document: dict[str, Any] = {
        "description": description,
        "trust": trust,
        "proof": proof,
        "wantErr": error is not None,
        "error": error,
    }
    if error is None:
        document["want"] = {
            "blockNumber": BLOCK_NUMBER,
            "timestamp": TIMESTAMP,
            "anchorIndex": ANCHOR_INDEX,
            "treeSize": TREE_SIZE,
            "rootHash": hx(ROOT_HASH),
            "anchorer": hx(ANCHORER),
            "sealSigner": hx(VALIDATOR_KEY.public_key.to_canonical_address()),
        }
    return json.dumps(document, indent=2) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    for name, description, error, block, change in CASES:
        (out / f"{name}.json").write_text(fixture(name, description, error, block, change))


if __name__ == "__main__":
    main()
