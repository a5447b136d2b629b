"""Generate the anchor-proof test vectors in this folder (deterministic: fixed key, fixed data).

    python tests/assets/anchor_proofs/generate.py [--out DIR]

Each ``<case>.json`` holds a ``trust`` (chainId, validators, contract, requireSeal, and for
the cases of anchor proofs with transaction anchoringAccount and requireTransaction), a
``proof`` (the anchor proof JSON, version 1), ``wantErr`` and ``error`` (the name of the
expected ``ledger.errors`` class, or null), ``stage: "parse"`` for the cases that must be
refused when parsed (not only when verified), and for valid cases ``want`` (decoded values).

The cases without a transaction are those of the first release, byte for byte: their block
has a placeholder transactionsRoot and txHash. The transaction cases build a block of real
signed transactions (legacy EIP-155, EIP-2930 and EIP-1559) with its real transactionsRoot.

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
#: The anchoring account's key (signs the anchoring transaction).
ANCHORING_KEY = PrivateKey(keccak(b"zhenglian test vectors: anchoring account"))
#: The key of the block's other transactions.
OTHER_SENDER_KEY = PrivateKey(keccak(b"zhenglian test vectors: other sender"))
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

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
class AnchorTx:
    """The anchoring transaction of a block with real transactions."""

    tx_type: int = 2
    chain_id: int | None = CHAIN_ID  # None: a legacy transaction without EIP-155
    to: bytes = CONTRACT
    signer: PrivateKey = ANCHORING_KEY
    high_s: bool = False  # replace s by n - s (and flip the parity): non-canonical


@dataclass(frozen=True)
class Block:
    """Inputs of one test block; :func:`build` turns them into (trust, proof)."""

    anchor_status: int = 1
    anchor_log_data: bytes | None = None
    sealer: PrivateKey | None = VALIDATOR_KEY
    anchor_tx: AnchorTx | None = None  # None: the first release's placeholder transactions


def sign_transaction(
    tx_type: int,
    *,
    nonce: int,
    to: bytes,
    data: bytes,
    chain_id: int | None,
    key: PrivateKey,
    high_s: bool = False,
) -> bytes:
    """A signed raw transaction, encoded as EIP-155 / EIP-2930 / EIP-1559 specify."""
    gas, value, price = 120_000, 0, 7
    access_list = [[OTHER_CONTRACT, [bytes(31) + b"\x01"]]] if tx_type == 1 else []
    if tx_type == 0:
        unsigned = [uint(nonce), uint(price), uint(gas), to, uint(value), data]
        extra = [] if chain_id is None else [uint(chain_id), b"", b""]
        digest = keccak(rlp.encode(unsigned + extra))
    else:
        assert chain_id is not None
        fees = [uint(price)] if tx_type == 1 else [uint(1), uint(price)]
        unsigned = [uint(chain_id), uint(nonce), *fees, uint(gas), to, uint(value), data]
        unsigned.append(access_list)
        digest = keccak(bytes([tx_type]) + rlp.encode(unsigned))
    signature = key.sign_msg_hash(digest)
    parity, r, s = signature.v, signature.r, signature.s
    if high_s:
        parity, s = 1 - parity, SECP256K1_N - s
    if tx_type == 0:
        v = 27 + parity if chain_id is None else 35 + 2 * chain_id + parity
        return rlp.encode([*unsigned, uint(v), uint(r), uint(s)])
    return bytes([tx_type]) + rlp.encode([*unsigned, uint(parity), uint(r), uint(s)])


def anchor_call() -> bytes:
    """ABI call data of ``anchor(uint64 treeSize, bytes32 rootHash, bytes32[] proof)``."""
    selector = keccak(b"anchor(uint64,bytes32,bytes32[])")[:4]
    proof_offset, proof_length = 3 * 32, 0
    words = [TREE_SIZE.to_bytes(32, "big"), ROOT_HASH, proof_offset.to_bytes(32, "big")]
    return selector + b"".join(words) + proof_length.to_bytes(32, "big")


def block_transactions(anchor: AnchorTx) -> list[bytes]:
    transactions = []
    for index in range(TX_COUNT):
        if index == ANCHOR_TX_INDEX:
            raw = sign_transaction(
                anchor.tx_type,
                nonce=0,
                to=anchor.to,
                data=anchor_call(),
                chain_id=anchor.chain_id,
                key=anchor.signer,
                high_s=anchor.high_s,
            )
        else:
            raw = sign_transaction(
                index % 3,
                nonce=index,
                to=keccak(uint(index))[:20],
                data=uint(index),
                chain_id=CHAIN_ID,
                key=OTHER_SENDER_KEY,
            )
        transactions.append(raw)
    return transactions


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
            tx_type = index % 3 if block.anchor_tx is None else block.anchor_tx.tx_type
        else:
            logs, status, tx_type = [], 1, index % 3
        receipts.append(receipt(status=status, gas=gas, logs=logs, tx_type=tx_type))
    return receipts


def index_trie(values: list[bytes]) -> tuple[bytes, list[bytes]]:
    """(root, proof nodes of ANCHOR_TX_INDEX) of the trie rlp(i) -> values[i]."""
    trie = HexaryTrie({})
    for index, value in enumerate(values):
        trie.set(rlp.encode(index), value)
    nodes = [rlp.encode(node) for node in trie.get_proof(rlp.encode(ANCHOR_TX_INDEX))]
    return trie.root_hash, nodes[:1] + [node for node in nodes[1:] if len(node) >= 32]


def header(
    receipts_root: bytes,
    sealer: PrivateKey | None,
    transactions_root: bytes = keccak(b"transactions"),  # the first release's placeholder
) -> bytes:
    vanity = b"zhenglian test vectors".ljust(32, b"\0")
    fields = [
        keccak(b"parent"),  # parentHash
        keccak(rlp.encode([])),  # ommersHash
        bytes(20),  # coinbase (Clique: zero)
        keccak(b"state"),  # stateRoot
        transactions_root,
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
    receipts_root, nodes = index_trie(receipts)
    if block.anchor_tx is None:
        header_rlp = header(receipts_root, block.sealer)
        transactions: list[bytes] = []
    else:
        transactions = block_transactions(block.anchor_tx)
        transactions_root, transaction_nodes = index_trie(transactions)
        header_rlp = header(receipts_root, block.sealer, transactions_root)
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
    if transactions:
        proof["txHash"] = hx(keccak(transactions[ANCHOR_TX_INDEX]))
        proof["transaction"] = hx(transactions[ANCHOR_TX_INDEX])
        proof["transactionProof"] = [hx(node) for node in transaction_nodes]
        trust["anchoringAccount"] = hx(ANCHORING_KEY.public_key.to_canonical_address())
        trust["requireTransaction"] = True
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

#: Cases whose proof must already be refused by the parser.
PARSE_STAGE_CASES = frozenset(
    {"transaction-without-proof", "transaction-proof-without-transaction"}
)


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


def _pin_account(trust: dict[str, Any], proof: dict[str, Any]) -> None:
    """A trust pinning the anchoring account without requiring the transaction."""
    del proof
    trust["anchoringAccount"] = hx(ANCHORING_KEY.public_key.to_canonical_address())
    trust["requireTransaction"] = False


def _require_transaction(trust: dict[str, Any], proof: dict[str, Any]) -> None:
    del proof
    trust["anchoringAccount"] = None
    trust["requireTransaction"] = True


def _carry_block_transaction(index: int) -> Callable[[dict[str, Any]], None]:
    """Carry the block's transaction ``index`` (with its hash) instead of the anchoring one."""

    def change(proof: dict[str, Any]) -> None:
        other = block_transactions(AnchorTx())[index]
        proof.update(transaction=hx(other), txHash=hx(keccak(other)))

    return change


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
    # --- Anchor proofs with transaction --------------------------------------------------
    (
        "valid-with-transaction",
        "anchor proof with its EIP-1559 anchoring transaction, by the pinned account",
        None,
        Block(anchor_tx=AnchorTx()),
        no_change,
    ),
    (
        "valid-with-legacy-transaction",
        "anchoring transaction is a legacy EIP-155 transaction (chain id in v)",
        None,
        Block(anchor_tx=AnchorTx(tx_type=0)),
        no_change,
    ),
    (
        "valid-with-access-list-transaction",
        "anchoring transaction is an EIP-2930 (type 1) transaction",
        None,
        Block(anchor_tx=AnchorTx(tx_type=1)),
        no_change,
    ),
    (
        "valid-pinned-account-without-transaction",
        "a proof without the transaction (as issued before it existed) under a trust that "
        "pins the anchoring account but does not require the transaction",
        None,
        Block(),
        _pin_account,
    ),
    (
        "transaction-required-but-absent",
        "a proof without the transaction under a trust that requires it",
        "MissingTransactionError",
        Block(),
        _require_transaction,
    ),
    (
        "modified-transaction-proof-0-bit-@40",
        "one bit of the root node of the transaction proof flipped",
        "TransactionNotProvenError",
        Block(anchor_tx=AnchorTx()),
        _modify_proof(
            lambda p: p["transactionProof"].__setitem__(0, flip(p["transactionProof"][0], 40))
        ),
    ),
    (
        "missing-transaction-proof-node",
        "last node of the transaction proof removed",
        "TransactionNotProvenError",
        Block(anchor_tx=AnchorTx()),
        _modify_proof(lambda p: p["transactionProof"].pop()),
    ),
    (
        "wrong-transaction",
        "carries (with its hash) another transaction of the block than the proven one",
        "TransactionMismatchError",
        Block(anchor_tx=AnchorTx()),
        _modify_proof(_carry_block_transaction(ANCHOR_TX_INDEX - 1)),
    ),
    (
        "transaction-hash-mismatch",
        "txHash is not the hash of the proven transaction",
        "TransactionHashMismatchError",
        Block(anchor_tx=AnchorTx()),
        _set("txHash", hx(keccak(b"anchoring transaction"))),
    ),
    (
        "transaction-of-another-chain",
        "the block holds an anchoring transaction signed for chain id + 1",
        "TransactionChainIdError",
        Block(anchor_tx=AnchorTx(chain_id=CHAIN_ID + 1)),
        no_change,
    ),
    (
        "transaction-without-eip155",
        "the anchoring transaction is a legacy transaction signed for no chain (v = 27/28)",
        "TransactionChainIdError",
        Block(anchor_tx=AnchorTx(tx_type=0, chain_id=None)),
        no_change,
    ),
    (
        "transaction-by-another-account",
        "the anchoring transaction is signed by a key that is not the pinned account",
        "AnchoringAccountMismatchError",
        Block(anchor_tx=AnchorTx(signer=STRANGER_KEY)),
        no_change,
    ),
    (
        "transaction-to-another-contract",
        "the anchoring transaction is sent to another contract than the event's",
        "TransactionRecipientError",
        Block(anchor_tx=AnchorTx(to=OTHER_CONTRACT)),
        no_change,
    ),
    (
        "transaction-high-s",
        "the anchoring transaction's signature has s > n/2 (the malleable twin)",
        "MalformedTransactionError",
        Block(anchor_tx=AnchorTx(high_s=True)),
        no_change,
    ),
    (
        "transaction-without-proof",
        "transaction present, transactionProof absent",
        "AnchorProofFormatError",
        Block(anchor_tx=AnchorTx()),
        _modify_proof(lambda p: p.pop("transactionProof")),
    ),
    (
        "transaction-proof-without-transaction",
        "transactionProof present, transaction absent",
        "AnchorProofFormatError",
        Block(anchor_tx=AnchorTx()),
        _modify_proof(lambda p: p.pop("transaction")),
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
    if name in PARSE_STAGE_CASES:
        document["stage"] = "parse"
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
        if "anchoringAccount" in trust:
            sender = ANCHORING_KEY.public_key.to_canonical_address()
            document["want"]["anchoringAccount"] = hx(sender) if "transaction" in proof else None
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
