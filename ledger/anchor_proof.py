"""Offline anchor proofs: verify that a tree head was anchored on chain, with no network.

VERIFICATION-CRITICAL. Receipts handed to courts and notaries embed an :class:`AnchorProof`
and are checked years later by this module alone. Any change here (JSON layout, limits,
header or seal rules, event decoding) can make old receipts fail to verify, or — worse —
make forged ones pass. Change it only together with new test vectors, never silently.

Pure: imports only the standard library, ``rlp``, ``eth_hash`` (keccak), ``eth_keys``
(signature recovery) and :mod:`ledger.errors`. No web3, no database, no network, no disk;
callers fetch the data (see :mod:`ledger.proof_collector`) and pass it in.

What a proof shows
------------------
An anchor proof is a chain of hashes from a trusted block signer down to one event:

1. the block header (full RLP, seals included) has the block hash ``block_hash`` and is
   sealed under :class:`ChainTrust` (unless the trust is explicitly unsafe), by one of two
   seal kinds, told apart by the header's extraData (field 12):

   * ``clique`` (EIP-225; the embedded chain): raw bytes, 32 vanity bytes, optional
     validator addresses, a 65-byte signature; the signer must be a trusted validator.
     Block hash: ``keccak(header_rlp)``.
   * ``qbft`` (Hyperledger Besu; production): extraData is one RLP list
     ``[vanity, validators, vote, round, committed seals]``; at least
     ``bft_quorum(len(trust.validators))`` distinct trusted validators must have committed
     seals over the header with its seals removed (round kept). Block hash: keccak of the
     header with round 0 and no seals, as Besu computes it (see "QBFT committed seals").
2. the header's ``receiptsRoot`` (field 5) commits, through the Merkle-Patricia proof
   ``receipt_proof`` at key ``rlp(tx_index)``, to exactly ``receipt`` (consensus encoding);
3. the receipt has status 1 and its log ``log_index`` is
   ``TreeHeadAnchored(uint256 indexed index, uint64 treeSize, bytes32 rootHash,
   address indexed anchorer)`` emitted by the anchoring contract;
4. only in an *anchor proof with transaction* (``transaction`` and ``transaction_proof``
   present): the header's ``transactionsRoot`` (field 4) commits, through
   ``transaction_proof`` at the same key ``rlp(tx_index)``, to exactly ``transaction`` (the
   raw typed transaction); ``keccak(transaction) == tx_hash``; the transaction (type 2
   EIP-1559, type 1 EIP-2930 or legacy EIP-155) is signed for the trusted chain id, is sent
   to the anchoring contract, and its signature (low s) recovers the *anchoring account*,
   which must be the trusted one when the trust names one.

What it does not show: without the transaction, ``tx_hash`` is a locator, not proven, and
nothing says which account anchored; with it, both are proven. A seal shows that trusted
validators signed this block, not that the block is on the canonical chain (a Clique
validator, or a QBFT quorum, could sign a fork).

JSON layout (version 1)
-----------------------
::

    {
      "type": "zhenglian-anchor-proof",
      "version": 1,
      "chainId": 31337,                      # JSON integer
      "contract": "0x<20 bytes>",
      "txHash": "0x<32 bytes>",
      "blockNumber": 7,                      # JSON integer
      "blockHash": "0x<32 bytes>",
      "header": "0x<RLP of the block header>",
      "txIndex": 1,                          # JSON integer
      "receipt": "0x<consensus receipt: [type byte ||] rlp([status, gas, bloom, logs])>",
      "receiptProof": ["0x<RLP of node>", ...],   # root first, leaf last
      "logIndex": 0,                         # JSON integer, index within the receipt's logs
      "transaction": "0x<raw tx: [type byte ||] rlp(signed fields)>",  # with transaction
      "transactionProof": ["0x<RLP of node>", ...]  # only: both keys or neither
    }

The last two keys make an *anchor proof with transaction*; the layout is otherwise the same,
and a proof without them (every proof issued before them, and those in version 1 receipts)
parses and verifies exactly as before. Hex strings are lowercase, ``0x``-prefixed, with an
even number of digits. Unknown and missing keys are errors, and so is one of the two
transaction keys without the other. Duplicate JSON keys must be rejected by the caller's
JSON parser.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal, TypeAlias, TypeVar

import rlp
from eth_hash.auto import keccak
from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError as EthValidationError
from rlp.exceptions import DecodingError as RLPDecodingError

from ledger.errors import (
    AnchoringAccountMismatchError,
    AnchorProofFormatError,
    BlockHashMismatchError,
    BlockHeaderError,
    BlockNumberMismatchError,
    ChainIdMismatchError,
    ContractMismatchError,
    InsufficientSealsError,
    LogIndexError,
    MalformedAnchorEventError,
    MalformedQbftExtraDataError,
    MalformedReceiptError,
    MalformedSealError,
    MalformedTransactionError,
    MissingSealError,
    MissingTransactionError,
    ProofNodeHashMismatchError,
    ReceiptMismatchError,
    ReceiptProofError,
    ReceiptProofShapeError,
    SealError,
    SealKindMismatchError,
    TransactionChainIdError,
    TransactionFailedError,
    TransactionHashMismatchError,
    TransactionMismatchError,
    TransactionNotProvenError,
    TransactionRecipientError,
    UnsupportedTransactionTypeError,
    UntrustedSignerError,
    UntrustedValidatorSetError,
)

# --- Format and limits ---------------------------------------------------------------

#: Value of the JSON ``"type"`` field.
PROOF_TYPE: Final = "zhenglian-anchor-proof"

#: Value of the JSON ``"version"`` field this module reads and writes.
PROOF_VERSION: Final = 1

#: Largest header RLP accepted. A Prague header without extraData is about 640 bytes; the
#: rest leaves room for an extraData of up to :data:`MAX_EXTRA_DATA_BYTES` (a QBFT
#: extraData of :data:`MAX_BFT_VALIDATORS` validators and as many committed seals, or a
#: Clique checkpoint of more than 250 validators). Version 1 proofs before QBFT support
#: had a limit of 2048 bytes; raising it accepts more, it rejects nothing that was valid.
MAX_HEADER_BYTES: Final = 8192

#: Largest extraData (header field 12) accepted. A QBFT extraData of 64 validators and 64
#: committed seals is about 5.7 KiB (32 vanity, 21 per address, 67 per seal, framing).
MAX_EXTRA_DATA_BYTES: Final = 6144

#: Largest receipt accepted. An anchoring receipt is about 600 bytes (bloom 256, one
#: event); 64 KiB allows receipts of transactions that emit many other logs too.
MAX_RECEIPT_BYTES: Final = 64 * 1024

#: Most nodes in a receipt proof. The key ``rlp(tx_index)`` has at most 10 nibbles for
#: ``tx_index <= MAX_TX_INDEX``, so a real path has at most about 2 * 10 + 1 nodes.
MAX_PROOF_NODES: Final = 64

#: Largest inner (branch or extension) proof node. A full branch node is 532 bytes
#: (16 hashes of 33 bytes, a value slot and a 3-byte list prefix).
MAX_NODE_BYTES: Final = 1024

#: Largest last (leaf) proof node: it holds the receipt itself plus a short path.
MAX_LEAF_NODE_BYTES: Final = MAX_RECEIPT_BYTES + 64

#: Largest anchoring transaction accepted. ``anchor(uint64, bytes32, bytes32[])`` with a
#: consistency proof of the largest log (about 2 * 64 hashes of 32 bytes) is under 4.5 KiB
#: with its envelope and signature; an access list does not belong in it.
MAX_TRANSACTION_BYTES: Final = 16 * 1024

#: Largest last (leaf) node of a transaction proof: the transaction plus a short path.
MAX_TRANSACTION_LEAF_NODE_BYTES: Final = MAX_TRANSACTION_BYTES + 64

#: Largest chain id and block number (uint64, as in the header and EIP-155 practice).
MAX_UINT64: Final = 2**64 - 1

#: Largest transaction index: far above any block's transaction count.
MAX_TX_INDEX: Final = 2**32 - 1

#: Largest log index within one receipt: more logs than a MAX_RECEIPT_BYTES receipt holds.
MAX_LOG_INDEX: Final = 65_535

ADDRESS_BYTES: Final = 20
HASH_BYTES: Final = 32

# --- Header layout ---------------------------------------------------------------------

#: Fields every header has (Frontier .. Prague): the first 15 of the RLP list.
HEADER_MIN_FIELDS: Final = 15
HEADER_TRANSACTIONS_ROOT: Final = 4
HEADER_RECEIPTS_ROOT: Final = 5
HEADER_NUMBER: Final = 8
HEADER_TIMESTAMP: Final = 11
HEADER_EXTRA_DATA: Final = 12

#: Exact byte length of each fixed-size classic field, by position (None: variable).
_CLASSIC_FIELD_LENGTHS: Final[tuple[int | None, ...]] = (
    32,  # 0 parentHash
    32,  # 1 ommersHash
    20,  # 2 coinbase
    32,  # 3 stateRoot
    32,  # 4 transactionsRoot
    32,  # 5 receiptsRoot
    256,  # 6 logsBloom
    None,  # 7 difficulty (uint256)
    None,  # 8 number (uint64)
    None,  # 9 gasLimit (uint64)
    None,  # 10 gasUsed (uint64)
    None,  # 11 timestamp (uint64)
    None,  # 12 extraData
    32,  # 13 mixHash
    8,  # 14 nonce
)

#: Positions of the integer classic fields and their largest byte length.
_CLASSIC_INT_FIELDS: Final = {7: 32, 8: 8, 9: 8, 10: 8, 11: 8}

# --- Clique (EIP-225) seal --------------------------------------------------------------

#: Bytes of free-form vanity data at the start of a Clique extraData.
CLIQUE_VANITY_BYTES: Final = 32

#: Bytes of the r || s || v signature at the end of a Clique extraData (v in {0, 1}).
CLIQUE_SEAL_BYTES: Final = 65

#: Shortest Clique extraData: vanity and signature, no checkpoint validator list.
CLIQUE_MIN_EXTRA_BYTES: Final = CLIQUE_VANITY_BYTES + CLIQUE_SEAL_BYTES

_SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

# --- QBFT (Hyperledger Besu) committed seals ------------------------------------------------

#: Bytes of vanity data at the start of a QBFT extraData (Besu ``EXTRA_VANITY_LENGTH``;
#: Besu's ``BftVanityDataValidationRule`` rejects any other length).
QBFT_VANITY_BYTES: Final = 32

#: Items of a QBFT extraData RLP list: vanity, validators, vote, round, committed seals.
QBFT_EXTRA_ITEMS: Final = 5

#: Bytes of one committed seal: ``r || s || v`` with the recovery id ``v`` in {0, 1}
#: (Besu ``SECPSignature.encodedBytes``).
QBFT_SEAL_BYTES: Final = 65

#: Most validator addresses accepted in a QBFT extraData. BFT message traffic grows with
#: the square of the validator count; consortia of institutions run 4 to about 20.
MAX_BFT_VALIDATORS: Final = 64

#: Most committed seals accepted in a QBFT extraData (at most one per validator is useful).
MAX_COMMITTED_SEALS: Final = MAX_BFT_VALIDATORS

#: Largest QBFT round number: Besu reads it with ``readIntScalar`` into a Java ``int``
#: (at most 4 bytes, no leading zero byte) and a round never becomes negative.
MAX_QBFT_ROUND: Final = 2**31 - 1

#: Byte of a QBFT vote that adds its recipient (Besu ``Vote.ADD_BYTE_VALUE``).
QBFT_VOTE_ADD: Final = b"\xff"

#: Byte of a QBFT vote that drops its recipient (Besu ``Vote.DROP_BYTE_VALUE``). Besu writes
#: a drop vote as the empty byte string and reads either form.
QBFT_VOTE_DROP: Final = b"\x00"

#: The kinds of seal this module verifies.
SealKind: TypeAlias = Literal["clique", "qbft"]
SEAL_KINDS: Final[tuple[SealKind, ...]] = ("clique", "qbft")

# --- Event ---------------------------------------------------------------------------

#: Solidity signature of the anchoring event.
TREE_HEAD_ANCHORED_SIGNATURE: Final = "TreeHeadAnchored(uint256,uint64,bytes32,address)"

#: topic0 of the anchoring event.
TREE_HEAD_ANCHORED_TOPIC: Final = keccak(TREE_HEAD_ANCHORED_SIGNATURE.encode("ascii"))

#: Length of the event's data: abi.encode(uint64 treeSize, bytes32 rootHash).
TREE_HEAD_ANCHORED_DATA_BYTES: Final = 64

_HEX_RE: Final = re.compile(r"0x(?:[0-9a-f]{2})*")


# --- Records --------------------------------------------------------------------------


def _require_bytes(field: str, value: object, *, length: int | None = None, limit: int) -> None:
    if not isinstance(value, bytes):
        raise AnchorProofFormatError(field, f"must be bytes, not {type(value).__name__}")
    if length is not None and len(value) != length:
        raise AnchorProofFormatError(field, f"must be {length} bytes, not {len(value)}")
    if len(value) > limit:
        raise AnchorProofFormatError(field, f"is {len(value)} bytes, limit is {limit}")


def _require_int(field: str, value: object, *, minimum: int, maximum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise AnchorProofFormatError(field, f"must be an integer, not {type(value).__name__}")
    if not minimum <= value <= maximum:
        raise AnchorProofFormatError(field, f"{value} is outside [{minimum}, {maximum}]")


def _require_proof_nodes(field: str, nodes: object, *, leaf_limit: int) -> None:
    if not isinstance(nodes, tuple):
        raise AnchorProofFormatError(field, "must be a tuple of bytes")
    if not 1 <= len(nodes) <= MAX_PROOF_NODES:
        raise AnchorProofFormatError(
            field, f"has {len(nodes)} nodes, must have 1 to {MAX_PROOF_NODES}"
        )
    last = len(nodes) - 1
    for i, node in enumerate(nodes):
        _require_bytes(f"{field}[{i}]", node, limit=leaf_limit if i == last else MAX_NODE_BYTES)


@dataclass(frozen=True)
class AnchorProof:
    """Everything needed to check one anchoring event offline (see the module docstring).

    ``transaction`` (the raw anchoring transaction) and ``transaction_proof`` (its nodes in
    the block's transactions trie) are both present — an *anchor proof with transaction* —
    or both None, as in every proof issued before they existed.

    Construction checks types, lengths and limits (raising :class:`AnchorProofFormatError`);
    it checks nothing cryptographic: that is :func:`verify_anchor_proof`.
    """

    chain_id: int
    contract: bytes
    tx_hash: bytes
    block_number: int
    block_hash: bytes
    header_rlp: bytes
    tx_index: int
    receipt: bytes
    receipt_proof: tuple[bytes, ...]
    log_index: int
    transaction: bytes | None = None
    transaction_proof: tuple[bytes, ...] | None = None

    def __post_init__(self) -> None:
        _require_int("chainId", self.chain_id, minimum=1, maximum=MAX_UINT64)
        _require_bytes("contract", self.contract, length=ADDRESS_BYTES, limit=ADDRESS_BYTES)
        _require_bytes("txHash", self.tx_hash, length=HASH_BYTES, limit=HASH_BYTES)
        _require_int("blockNumber", self.block_number, minimum=0, maximum=MAX_UINT64)
        _require_bytes("blockHash", self.block_hash, length=HASH_BYTES, limit=HASH_BYTES)
        _require_bytes("header", self.header_rlp, limit=MAX_HEADER_BYTES)
        _require_int("txIndex", self.tx_index, minimum=0, maximum=MAX_TX_INDEX)
        _require_bytes("receipt", self.receipt, limit=MAX_RECEIPT_BYTES)
        _require_proof_nodes("receiptProof", self.receipt_proof, leaf_limit=MAX_LEAF_NODE_BYTES)
        _require_int("logIndex", self.log_index, minimum=0, maximum=MAX_LOG_INDEX)
        if (self.transaction is None) != (self.transaction_proof is None):
            raise AnchorProofFormatError("$", _HALF_TRANSACTION)
        if self.transaction is not None:
            _require_bytes("transaction", self.transaction, limit=MAX_TRANSACTION_BYTES)
            _require_proof_nodes(
                "transactionProof",
                self.transaction_proof,
                leaf_limit=MAX_TRANSACTION_LEAF_NODE_BYTES,
            )

    @property
    def has_transaction(self) -> bool:
        """Whether this is an anchor proof with transaction (see the module docstring)."""
        return self.transaction is not None

    def without_transaction(self) -> AnchorProof:
        """This proof without the transaction and its proof: what a version 1 receipt holds.

        It verifies exactly as before, with :attr:`AnchorVerification.anchoring_account`
        None, under any trust that does not require the transaction.
        """
        return replace(self, transaction=None, transaction_proof=None)

    def to_json(self) -> dict[str, object]:
        """The JSON object of this proof (version 1), ready for ``json.dumps``.

        The keys ``transaction`` and ``transactionProof`` are written only for an anchor
        proof with transaction; without them the object is exactly what it always was.
        """
        document: dict[str, object] = {
            "type": PROOF_TYPE,
            "version": PROOF_VERSION,
            "chainId": self.chain_id,
            "contract": _hex(self.contract),
            "txHash": _hex(self.tx_hash),
            "blockNumber": self.block_number,
            "blockHash": _hex(self.block_hash),
            "header": _hex(self.header_rlp),
            "txIndex": self.tx_index,
            "receipt": _hex(self.receipt),
            "receiptProof": [_hex(node) for node in self.receipt_proof],
            "logIndex": self.log_index,
        }
        if self.transaction is not None and self.transaction_proof is not None:
            document["transaction"] = _hex(self.transaction)
            document["transactionProof"] = [_hex(node) for node in self.transaction_proof]
        return document

    @classmethod
    def from_json(cls, obj: object) -> AnchorProof:
        """Parse a JSON object (as from ``json.loads``) strictly into a proof.

        :raises AnchorProofFormatError: wrong type or version, missing or unknown keys,
            values of the wrong JSON type, bad hex, wrong lengths, over a limit.
        """
        if not isinstance(obj, Mapping):
            raise AnchorProofFormatError("$", f"must be a JSON object, not {type(obj).__name__}")
        keys = set(obj)
        present = keys & _TRANSACTION_JSON_KEYS
        if present and present != _TRANSACTION_JSON_KEYS:
            raise AnchorProofFormatError("$", _HALF_TRANSACTION)
        expected = _JSON_KEYS | present
        if keys != expected:
            missing = sorted(str(k) for k in expected - keys)
            unknown = sorted(str(k) for k in keys - expected)
            raise AnchorProofFormatError("$", f"missing keys {missing}, unknown keys {unknown}")
        if obj["type"] != PROOF_TYPE:
            raise AnchorProofFormatError("type", f"must be {PROOF_TYPE!r}")
        version = obj["version"]
        if not isinstance(version, int) or isinstance(version, bool) or version != PROOF_VERSION:
            raise AnchorProofFormatError("version", f"unsupported version {version!r}")
        proof_nodes = _json_proof_nodes(
            "receiptProof", obj["receiptProof"], leaf_limit=MAX_LEAF_NODE_BYTES
        )
        transaction: bytes | None = None
        transaction_nodes: tuple[bytes, ...] | None = None
        if present:
            transaction = _unhex("transaction", obj["transaction"], limit=MAX_TRANSACTION_BYTES)
            transaction_nodes = _json_proof_nodes(
                "transactionProof",
                obj["transactionProof"],
                leaf_limit=MAX_TRANSACTION_LEAF_NODE_BYTES,
            )
        return cls(
            chain_id=_json_int("chainId", obj["chainId"]),
            contract=_unhex("contract", obj["contract"], limit=ADDRESS_BYTES),
            tx_hash=_unhex("txHash", obj["txHash"], limit=HASH_BYTES),
            block_number=_json_int("blockNumber", obj["blockNumber"]),
            block_hash=_unhex("blockHash", obj["blockHash"], limit=HASH_BYTES),
            header_rlp=_unhex("header", obj["header"], limit=MAX_HEADER_BYTES),
            tx_index=_json_int("txIndex", obj["txIndex"]),
            receipt=_unhex("receipt", obj["receipt"], limit=MAX_RECEIPT_BYTES),
            receipt_proof=proof_nodes,
            log_index=_json_int("logIndex", obj["logIndex"]),
            transaction=transaction,
            transaction_proof=transaction_nodes,
        )


def _json_proof_nodes(field: str, nodes: object, *, leaf_limit: int) -> tuple[bytes, ...]:
    if not isinstance(nodes, list):
        raise AnchorProofFormatError(field, "must be a JSON array")
    if not 1 <= len(nodes) <= MAX_PROOF_NODES:
        raise AnchorProofFormatError(
            field, f"has {len(nodes)} nodes, must have 1 to {MAX_PROOF_NODES}"
        )
    last = len(nodes) - 1
    return tuple(
        _unhex(f"{field}[{i}]", node, limit=leaf_limit if i == last else MAX_NODE_BYTES)
        for i, node in enumerate(nodes)
    )


_HALF_TRANSACTION: Final = (
    "transaction and transactionProof come together (an anchor proof with transaction) "
    "or not at all"
)

#: The keys of an anchor proof with transaction, beyond :data:`_JSON_KEYS`: both or neither.
_TRANSACTION_JSON_KEYS: Final = frozenset({"transaction", "transactionProof"})

_JSON_KEYS: Final = frozenset(
    {
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
    }
)


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _unhex(field: str, value: object, *, limit: int) -> bytes:
    if not isinstance(value, str):
        raise AnchorProofFormatError(field, f"must be a hex string, not {type(value).__name__}")
    if len(value) > 2 + 2 * limit:
        raise AnchorProofFormatError(field, f"is {(len(value) - 2) // 2} bytes, limit is {limit}")
    if _HEX_RE.fullmatch(value) is None:
        raise AnchorProofFormatError(
            field, "must be 0x-prefixed lowercase hex with an even number of digits"
        )
    return bytes.fromhex(value[2:])


def _json_int(field: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise AnchorProofFormatError(field, f"must be a JSON integer, not {type(value).__name__}")
    return value


@dataclass(frozen=True)
class ChainTrust:
    """What the verifier trusts about one chain. Always an explicit input.

    ``validators`` are the 20-byte addresses whose seals are accepted: for a Clique chain,
    the block's single seal must be by one of them; for a QBFT chain, at least
    :func:`bft_quorum` ``(len(validators))`` distinct ones must have committed the block
    (see :func:`verify_block_seal`). ``contract`` (if given) is the only anchoring contract
    accepted; ``seal_kind`` (if given) is the only seal kind accepted (otherwise the kind is
    read from the header). Use the named constructors: :meth:`sealed` for production,
    :meth:`unsafe_unsealed` for development chains.

    The anchoring transaction (an anchor proof with transaction): ``require_transaction``
    refuses proofs without it (:class:`MissingTransactionError`; version 2 receipts require
    it, version 1 receipts never carry it). ``anchoring_account`` (if given) is the only
    sender accepted for a transaction the proof carries; it does not by itself refuse
    proofs without one — set ``require_transaction`` for that.

    :raises ValueError: on malformed arguments (a configuration error, not a proof failure).
    """

    chain_id: int
    validators: frozenset[bytes]
    contract: bytes | None = None
    require_seal: bool = True
    seal_kind: SealKind | None = None
    anchoring_account: bytes | None = None
    require_transaction: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.chain_id, int) or isinstance(self.chain_id, bool):
            raise ValueError("chain_id must be an integer")
        if not 1 <= self.chain_id <= MAX_UINT64:
            raise ValueError(f"chain_id {self.chain_id} is outside [1, {MAX_UINT64}]")
        if not isinstance(self.validators, frozenset):
            raise ValueError("validators must be a frozenset of 20-byte addresses")
        for validator in self.validators:
            if not isinstance(validator, bytes) or len(validator) != ADDRESS_BYTES:
                raise ValueError(f"validator {validator!r} is not a 20-byte address")
        if self.contract is not None and (
            not isinstance(self.contract, bytes) or len(self.contract) != ADDRESS_BYTES
        ):
            raise ValueError(f"contract {self.contract!r} is not a 20-byte address")
        if not isinstance(self.require_seal, bool):
            raise ValueError("require_seal must be a bool")
        if self.require_seal and not self.validators:
            raise ValueError("a trust that requires seals needs at least one validator")
        if self.seal_kind is not None and self.seal_kind not in SEAL_KINDS:
            raise ValueError(f"seal_kind must be one of {SEAL_KINDS} or None")
        if self.anchoring_account is not None and (
            not isinstance(self.anchoring_account, bytes)
            or len(self.anchoring_account) != ADDRESS_BYTES
        ):
            raise ValueError(
                f"anchoring_account {self.anchoring_account!r} is not a 20-byte address"
            )
        if not isinstance(self.require_transaction, bool):
            raise ValueError("require_transaction must be a bool")

    @classmethod
    def sealed(
        cls,
        chain_id: int,
        validators: Iterable[bytes],
        contract: bytes | None = None,
        *,
        seal_kind: SealKind | None = None,
        anchoring_account: bytes | None = None,
        require_transaction: bool = False,
    ) -> ChainTrust:
        """Accept only blocks sealed by ``validators``: the production policy.

        Clique: one seal by a validator. QBFT: committed seals by a BFT quorum of them.
        ``seal_kind`` pins the consensus (recommended once the network is known).
        ``anchoring_account`` pins the sender of a carried anchoring transaction;
        ``require_transaction`` refuses proofs that carry none (see the class docstring).
        """
        return cls(
            chain_id,
            frozenset(validators),
            contract,
            True,
            seal_kind,
            anchoring_account,
            require_transaction,
        )

    @classmethod
    def unsafe_unsealed(
        cls,
        chain_id: int,
        contract: bytes | None = None,
        *,
        anchoring_account: bytes | None = None,
        require_transaction: bool = False,
    ) -> ChainTrust:
        """UNSAFE: accept blocks without a trusted seal (dev chains such as Hardhat).

        Anyone can forge such a proof: the result's ``seal`` is always ``unsealed``.
        """
        return cls(
            chain_id,
            frozenset(),
            contract,
            require_seal=False,
            anchoring_account=anchoring_account,
            require_transaction=require_transaction,
        )


@dataclass(frozen=True)
class SealStatus:
    """Whether trusted validators sealed the block, and how.

    ``sealed``: ``kind`` is ``"clique"`` (``signers`` is the one sealer) or ``"qbft"``
    (``signers`` are the distinct trusted committers, at least a quorum, in seal order);
    ``signer`` is ``signers[0]`` (kept for callers that show one address). ``unsealed``
    (only under a trust that does not require seals): no kind, no signers.
    """

    state: Literal["sealed", "unsealed"]
    signer: bytes | None = None
    kind: SealKind | None = None
    signers: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if self.state == "sealed":
            if self.signer is None:
                raise ValueError("a sealed status has a signer, an unsealed one has none")
            if self.kind not in SEAL_KINDS:
                raise ValueError(f"a sealed status has a kind in {SEAL_KINDS}")
            if not self.signers or self.signers[0] != self.signer:
                raise ValueError("a sealed status lists its signers, the first being `signer`")
            if self.kind == "clique" and len(self.signers) != 1:
                raise ValueError("a Clique block has exactly one signer")
        elif self.signer is not None or self.kind is not None or self.signers:
            raise ValueError("a sealed status has a signer, an unsealed one has none")

    @property
    def description(self) -> str:
        """``sealed by 0x…`` (Clique), ``sealed by N trusted validators (QBFT): 0x…, …``, or
        ``unsealed``."""
        if self.state != "sealed":
            return "unsealed"
        if self.kind == "qbft":
            names = ", ".join(f"0x{s.hex()}" for s in self.signers)
            return f"sealed by {len(self.signers)} trusted validators (QBFT): {names}"
        return f"sealed by 0x{self.signers[0].hex()}"

    @classmethod
    def sealed_by(cls, signer: bytes) -> SealStatus:
        """A Clique block sealed by ``signer``."""
        return cls("sealed", signer, "clique", (signer,))

    @classmethod
    def committed_by(cls, signers: Sequence[bytes]) -> SealStatus:
        """A QBFT block committed by ``signers`` (distinct trusted validators, a quorum)."""
        committers = tuple(signers)
        if not committers:
            raise ValueError("a committed status has at least one signer")
        return cls("sealed", committers[0], "qbft", committers)

    @classmethod
    def unsealed(cls) -> SealStatus:
        return cls("unsealed", None)

    @property
    def is_sealed(self) -> bool:
        return self.state == "sealed"


@dataclass(frozen=True)
class AnchorVerification:
    """What a verified anchor proof establishes.

    ``anchoring_account`` is the sender recovered from the anchoring transaction of an
    anchor proof with transaction, and then ``tx_hash`` is proven too (the transaction in
    the block hashes to it). For a proof without the transaction, ``anchoring_account`` is
    None and ``tx_hash`` is copied from the proof, not proven (see the module docstring).
    ``seal`` is ``unsealed`` only under an explicitly unsafe :class:`ChainTrust`.
    """

    chain_id: int
    contract: bytes
    block_number: int
    block_hash: bytes
    timestamp: int
    tx_hash: bytes
    anchor_index: int
    tree_size: int
    root_hash: bytes
    anchorer: bytes
    seal: SealStatus
    anchoring_account: bytes | None = None


# --- RLP helpers -------------------------------------------------------------------------


def _rlp_decode(data: bytes) -> object:
    """Strict RLP decode; raises ``ValueError`` (malformed, trailing bytes, too deep)."""
    try:
        item: object = rlp.decode(data, strict=True)
    except (RLPDecodingError, RecursionError) as exc:
        raise ValueError(str(exc).split("\n", 1)[0][:200]) from exc
    return item


def _rlp_length_prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(size)]) + size


def _rlp_encode(item: object) -> bytes:
    """RLP of nested lists of byte strings (several times faster than ``rlp.encode``)."""
    if isinstance(item, bytes):
        if len(item) == 1 and item[0] < 0x80:
            return item
        return _rlp_length_prefix(len(item), 0x80) + item
    if isinstance(item, list | tuple):
        payload = b"".join(_rlp_encode(child) for child in item)
        return _rlp_length_prefix(len(payload), 0xC0) + payload
    raise TypeError(f"cannot RLP-encode {type(item).__name__}")


def _uint(value: bytes, *, max_bytes: int) -> int:
    """A canonical RLP integer: big-endian, no leading zero byte, at most ``max_bytes``."""
    if len(value) > max_bytes:
        raise ValueError(f"integer of {len(value)} bytes, at most {max_bytes} allowed")
    if value[:1] == b"\x00":
        raise ValueError("integer with a leading zero byte")
    return int.from_bytes(value, "big")


# --- Header -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    fields: tuple[object, ...]
    transactions_root: bytes
    receipts_root: bytes
    number: int
    timestamp: int
    extra_data: bytes


def header_timestamp(header_rlp: bytes) -> int:
    """The ``timestamp`` field of an RLP block header, read without verifying anything.

    For display before verification (e.g. a receipt's ``block_time``); what the chain proves is
    :attr:`AnchorVerification.timestamp` from :func:`verify_anchor_proof`.

    Raises:
        BlockHeaderError: ``header_rlp`` is not a block header.
    """
    return _decode_header(header_rlp).timestamp


def _decode_header(header_rlp: bytes) -> _Header:
    try:
        item = _rlp_decode(header_rlp)
    except ValueError as exc:
        raise BlockHeaderError(f"header is not valid RLP: {exc}") from exc
    if not isinstance(item, list) or len(item) < HEADER_MIN_FIELDS:
        raise BlockHeaderError(f"header must be an RLP list of at least {HEADER_MIN_FIELDS} fields")
    classic: list[bytes] = []
    for position, length in enumerate(_CLASSIC_FIELD_LENGTHS):
        value = item[position]
        if not isinstance(value, bytes):
            raise BlockHeaderError(f"header field {position} is a list, not a byte string")
        if length is not None and len(value) != length:
            raise BlockHeaderError(
                f"header field {position} is {len(value)} bytes, must be {length}"
            )
        if position in _CLASSIC_INT_FIELDS:
            try:
                _uint(value, max_bytes=_CLASSIC_INT_FIELDS[position])
            except ValueError as exc:
                raise BlockHeaderError(f"header field {position}: {exc}") from exc
        classic.append(value)
    if len(classic[HEADER_EXTRA_DATA]) > MAX_EXTRA_DATA_BYTES:
        raise BlockHeaderError(
            f"header extraData is {len(classic[HEADER_EXTRA_DATA])} bytes, "
            f"limit is {MAX_EXTRA_DATA_BYTES}"
        )
    return _Header(
        fields=tuple(item),
        transactions_root=classic[HEADER_TRANSACTIONS_ROOT],
        receipts_root=classic[HEADER_RECEIPTS_ROOT],
        number=int.from_bytes(classic[HEADER_NUMBER], "big"),
        timestamp=int.from_bytes(classic[HEADER_TIMESTAMP], "big"),
        extra_data=classic[HEADER_EXTRA_DATA],
    )


# --- Clique seal ----------------------------------------------------------------------------


def _split_clique_extra(extra_data: bytes) -> tuple[bytes, bytes]:
    """``(extraData without its seal, 65-byte seal)``; raises SealError if not Clique layout."""
    if len(extra_data) < CLIQUE_MIN_EXTRA_BYTES:
        raise MissingSealError(len(extra_data), CLIQUE_MIN_EXTRA_BYTES)
    if (len(extra_data) - CLIQUE_MIN_EXTRA_BYTES) % ADDRESS_BYTES != 0:
        raise MalformedSealError(
            f"extraData is {len(extra_data)} bytes: not 32 vanity bytes, a whole number of "
            f"20-byte validator addresses and a 65-byte seal"
        )
    return extra_data[:-CLIQUE_SEAL_BYTES], extra_data[-CLIQUE_SEAL_BYTES:]


def _signature_hash(header: _Header, unsealed_extra: bytes) -> bytes:
    fields = list(header.fields)
    fields[HEADER_EXTRA_DATA] = unsealed_extra
    return keccak(_rlp_encode(fields))


def clique_signature_hash(header_rlp: bytes) -> bytes:
    """The hash a Clique validator signs: keccak of the header RLP minus the 65-byte seal.

    The header must already have the Clique extraData layout (32 vanity bytes, optional
    validator list, 65 seal bytes — zeros while sealing). All fields, including any
    post-London ones, are kept in place; only extraData is shortened.

    :raises BlockHeaderError: the header is not a well-formed header.
    :raises SealError: extraData does not have the Clique layout.
    """
    header = _decode_header(header_rlp)
    unsealed_extra, _ = _split_clique_extra(header.extra_data)
    return _signature_hash(header, unsealed_extra)


def _signature_value_problem(seal: bytes, *, low_s: bool) -> str | None:
    """Why the 65-byte ``r || s || v`` is not a usable signature, or None."""
    r = int.from_bytes(seal[0:32], "big")
    s = int.from_bytes(seal[32:64], "big")
    v = seal[64]
    if v not in (0, 1):
        return f"recovery id v is {v}, must be 0 or 1"
    if not 1 <= r < _SECP256K1_N:
        return "r is outside [1, n-1]"
    if low_s and not 1 <= s <= _SECP256K1_N // 2:
        return "s is outside [1, n/2] (zero or non-canonical high s)"
    if not 1 <= s < _SECP256K1_N:
        return "s is outside [1, n-1]"
    return None


def _recover_signer(header: _Header) -> bytes:
    unsealed_extra, seal = _split_clique_extra(header.extra_data)
    problem = _signature_value_problem(seal, low_s=True)
    if problem is not None:
        raise MalformedSealError(f"seal {problem}")
    return _recover(_signature_hash(header, unsealed_extra), seal)


def seal_signer(header_rlp: bytes) -> bytes:
    """The 20-byte address that sealed this Clique header (whether trusted or not).

    :raises BlockHeaderError: the header is not a well-formed header.
    :raises SealError: no seal, wrong extraData layout, invalid or unrecoverable signature.
    """
    return _recover_signer(_decode_header(header_rlp))


# --- QBFT committed seals ----------------------------------------------------------------------
#
# Hyperledger Besu, consensus/qbft QbftExtraDataCodec and consensus/common BftBlockHashing:
#
#   extraData = RLP([vanity(32), [validator(20), ...], vote, round, [seal(65), ...]])
#   vote      = [] (none) | [recipient(20), 0xff (add) | "" or 0x00 (drop)]
#   round     = readIntScalar: minimal big-endian, at most 4 bytes, "" for 0
#
#   block hash  = keccak(RLP(header with extraData re-encoded with round 0 and no seals))
#                 (calculateHashOfBftBlockOnChain; the genesis block hashes as is)
#   seal digest = keccak(RLP(header with extraData re-encoded with its round, no seals))
#                 (calculateDataHashForCommittedSeal)
#
# "Re-encoded" matters: Besu rebuilds extraData from the decoded fields, so a drop vote
# written as 0x00 is hashed as "" (writeNull), exactly as QbftExtraDataCodec.encode does.


@dataclass(frozen=True)
class QbftVote:
    """A validator vote in a QBFT extraData: add (``True``) or drop ``recipient``."""

    recipient: bytes
    add: bool


@dataclass(frozen=True)
class QbftExtraData:
    """The decoded extraData of a QBFT block header (Besu ``BftExtraData``).

    :meth:`decode` is strict: the checks of Besu's ``QbftExtraDataCodec.decodeRaw`` (round
    a canonical int scalar of at most 4 bytes; seals decoded by ``SECPSignature``: 65 bytes,
    r and s in [1, n-1], v in {0, 1}), the 32-byte vanity rule of Besu's header validation,
    and this module's limits. Recent Besu versions leave the list leniently, ignoring items
    after the seals; no Besu encoder writes such items and no seal or hash covers them, so
    here they are an error. The three ``encode*`` methods reproduce Besu's ``EncodingType``
    variants byte for byte (a drop vote is always written as the empty string).
    """

    vanity: bytes
    validators: tuple[bytes, ...]
    vote: QbftVote | None
    round: int
    seals: tuple[bytes, ...]

    @classmethod
    def decode(cls, extra_data: bytes) -> QbftExtraData:
        """Parse a QBFT extraData.

        :raises MalformedQbftExtraDataError: not the QBFT layout, or over a limit.
        """
        try:
            item = _rlp_decode(extra_data)
        except ValueError as exc:
            raise MalformedQbftExtraDataError(f"not valid RLP: {exc}") from exc
        return cls._from_rlp(item)

    @classmethod
    def _from_rlp(cls, item: object) -> QbftExtraData:
        if not isinstance(item, list) or len(item) != QBFT_EXTRA_ITEMS:
            raise MalformedQbftExtraDataError(
                "not an RLP list of [vanity, validators, vote, round, seals]"
            )
        vanity, validators_raw, vote_raw, round_raw, seals_raw = item
        if not isinstance(vanity, bytes) or len(vanity) != QBFT_VANITY_BYTES:
            raise MalformedQbftExtraDataError(f"vanity is not {QBFT_VANITY_BYTES} bytes")
        validators = _address_list("validators", validators_raw, limit=MAX_BFT_VALIDATORS)
        vote = _qbft_vote(vote_raw)
        if not isinstance(round_raw, bytes):
            raise MalformedQbftExtraDataError("round is a list, not an integer")
        try:
            round_number = _uint(round_raw, max_bytes=4)
        except ValueError as exc:
            raise MalformedQbftExtraDataError(f"round: {exc}") from exc
        if round_number > MAX_QBFT_ROUND:
            raise MalformedQbftExtraDataError(
                f"round {round_number} is over the limit {MAX_QBFT_ROUND}"
            )
        if not isinstance(seals_raw, list):
            raise MalformedQbftExtraDataError("committed seals are not an RLP list")
        if len(seals_raw) > MAX_COMMITTED_SEALS:
            raise MalformedQbftExtraDataError(
                f"{len(seals_raw)} committed seals, limit is {MAX_COMMITTED_SEALS}"
            )
        seals = []
        for index, seal in enumerate(seals_raw):
            if not isinstance(seal, bytes) or len(seal) != QBFT_SEAL_BYTES:
                raise MalformedQbftExtraDataError(
                    f"committed seal {index} is not {QBFT_SEAL_BYTES} bytes r || s || v"
                )
            problem = _signature_value_problem(seal, low_s=False)
            if problem is not None:
                raise MalformedQbftExtraDataError(f"committed seal {index}: {problem}")
            seals.append(seal)
        return cls(vanity, validators, vote, round_number, tuple(seals))

    def _items(self, *, round_number: int, seals: tuple[bytes, ...]) -> list[object]:
        if self.vote is None:
            vote: list[object] = []
        else:
            vote = [self.vote.recipient, QBFT_VOTE_ADD if self.vote.add else b""]
        return [
            self.vanity,
            list(self.validators),
            vote,
            round_number.to_bytes((round_number.bit_length() + 7) // 8, "big"),
            list(seals),
        ]

    def encode(self) -> bytes:
        """The full extraData (Besu ``encode``, ``EncodingType.ALL``)."""
        return _rlp_encode(self._items(round_number=self.round, seals=self.seals))

    def encode_without_seals(self) -> bytes:
        """extraData as committed seals sign it (Besu ``encodeWithoutCommitSeals``)."""
        return _rlp_encode(self._items(round_number=self.round, seals=()))

    def encode_without_seals_and_round(self) -> bytes:
        """extraData as the block hash covers it (``encodeWithoutCommitSealsAndRoundNumber``)."""
        return _rlp_encode(self._items(round_number=0, seals=()))


def _address_list(what: str, value: object, *, limit: int) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        raise MalformedQbftExtraDataError(f"{what} are not an RLP list")
    if len(value) > limit:
        raise MalformedQbftExtraDataError(f"{len(value)} {what}, limit is {limit}")
    for address in value:
        if not isinstance(address, bytes) or len(address) != ADDRESS_BYTES:
            raise MalformedQbftExtraDataError(f"{what} holds an item that is not a 20-byte address")
    return tuple(value)


def _qbft_vote(value: object) -> QbftVote | None:
    if value == []:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], bytes)
        or len(value[0]) != ADDRESS_BYTES
    ):
        raise MalformedQbftExtraDataError("vote is neither [] nor [20-byte recipient, type]")
    if value[1] == QBFT_VOTE_ADD:
        return QbftVote(value[0], add=True)
    if value[1] in (b"", QBFT_VOTE_DROP):
        return QbftVote(value[0], add=False)
    raise MalformedQbftExtraDataError(f"vote type {value[1]!r} is neither add (0xff) nor drop")


def _qbft_extra(extra_data: bytes) -> QbftExtraData | None:
    """The QBFT extraData, or None if ``extra_data`` is not QBFT-shaped (e.g. Clique).

    Detection: the whole extraData is one well-formed RLP list. A Clique extraData is raw
    bytes (vanity, addresses, a 65-byte signature): Besu's zero vanity starts with 0x00, and
    geth's vanity starts with a short RLP list (its version) followed by more bytes, so
    neither decodes as a single list. Once it is a list, it must be a valid QBFT extraData.
    """
    if not extra_data or extra_data[0] < 0xC0:
        return None
    try:
        item = _rlp_decode(extra_data)
    except ValueError:
        return None
    return QbftExtraData._from_rlp(item)


def _header_with_extra(header: _Header, extra_data: bytes) -> bytes:
    fields = list(header.fields)
    fields[HEADER_EXTRA_DATA] = extra_data
    return _rlp_encode(fields)


def _qbft_block_hash(header: _Header, extra: QbftExtraData) -> bytes:
    if header.number == 0:
        return keccak(_rlp_encode(list(header.fields)))
    return keccak(_header_with_extra(header, extra.encode_without_seals_and_round()))


def _qbft_seal_digest(header: _Header, extra: QbftExtraData) -> bytes:
    if header.number == 0:
        return keccak(_rlp_encode(list(header.fields)))
    return keccak(_header_with_extra(header, extra.encode_without_seals()))


def _decode_qbft_header(header_rlp: bytes) -> tuple[_Header, QbftExtraData]:
    header = _decode_header(header_rlp)
    extra = _qbft_extra(header.extra_data)
    if extra is None:
        raise MalformedQbftExtraDataError("extraData is not an RLP list (not a QBFT header)")
    return header, extra


def qbft_block_hash(header_rlp: bytes) -> bytes:
    """The block hash of a QBFT header (Besu ``calculateHashOfBftBlockOnChain``).

    keccak of the header RLP with extraData re-encoded with round 0 and no committed seals;
    the genesis block (number 0) hashes as is. It is not ``keccak(header_rlp)``.

    :raises BlockHeaderError: not a well-formed header.
    :raises MalformedQbftExtraDataError: extraData is not a valid QBFT extraData.
    """
    header, extra = _decode_qbft_header(header_rlp)
    return _qbft_block_hash(header, extra)


def qbft_seal_digest(header_rlp: bytes) -> bytes:
    """The hash each committed seal signs (Besu ``calculateDataHashForCommittedSeal``).

    keccak of the header RLP with extraData re-encoded with its round but no seals.

    :raises BlockHeaderError: not a well-formed header.
    :raises MalformedQbftExtraDataError: extraData is not a valid QBFT extraData.
    """
    header, extra = _decode_qbft_header(header_rlp)
    return _qbft_seal_digest(header, extra)


def _recover(message_hash: bytes, seal: bytes) -> bytes:
    r = int.from_bytes(seal[0:32], "big")
    s = int.from_bytes(seal[32:64], "big")
    try:
        public_key = Signature(vrs=(seal[64], r, s)).recover_public_key_from_msg_hash(message_hash)
    except (BadSignature, EthValidationError) as exc:
        raise MalformedSealError(f"seal recovers no public key: {exc}") from exc
    return public_key.to_canonical_address()


def _qbft_committers(header: _Header, extra: QbftExtraData) -> tuple[bytes, ...]:
    digest = _qbft_seal_digest(header, extra)
    return tuple(_recover(digest, seal) for seal in extra.seals)


def qbft_committers(header_rlp: bytes) -> tuple[bytes, ...]:
    """The address recovered from each committed seal, in seal order (trusted or not).

    Besu ``BftBlockHashing.recoverCommitterAddresses``; duplicates are kept.

    :raises BlockHeaderError: not a well-formed header.
    :raises SealError: not a valid QBFT extraData, or a seal recovers no public key.
    """
    header, extra = _decode_qbft_header(header_rlp)
    return _qbft_committers(header, extra)


def bft_quorum(validator_count: int) -> int:
    """Committed seals a BFT block needs: ceil(2n / 3) (Besu
    ``BftHelpers.calculateRequiredValidatorQuorum``, ``Util.fastDivCeiling(2 * n, 3)``)."""
    if validator_count < 0:
        raise ValueError("validator count is negative")
    return -(-2 * validator_count // 3)


def _check_qbft_seals(header: _Header, extra: QbftExtraData, trust: ChainTrust) -> SealStatus:
    """QBFT policy: the trusted validator set is authoritative.

    1. Every validator the header lists must be trusted (an empty list, as in Besu's
       validator-contract mode, lists none): otherwise the trust is stale or the block comes
       from another network, and :class:`UntrustedValidatorSetError` names the strangers.
    2. Each committed seal must be a valid signature of the seal digest (else
       :class:`MalformedSealError`, as Besu rejects the block). Seals by keys that are not
       trusted (or not in the header's non-empty list) are ignored; a signer counts once.
    3. The distinct counted signers must reach :func:`bft_quorum` of the trusted set
       (else :class:`InsufficientSealsError`).

    Besu itself rejects a block with a duplicate or non-validator seal outright; here
    such seals only do not count, which changes no verdict for blocks Besu accepts.
    """
    untrusted = tuple(v for v in extra.validators if v not in trust.validators)
    if untrusted:
        raise UntrustedValidatorSetError(untrusted)
    eligible = frozenset(extra.validators) if extra.validators else trust.validators
    signers: list[bytes] = []
    for committer in _qbft_committers(header, extra):
        if committer in eligible and committer not in signers:
            signers.append(committer)
    required = bft_quorum(len(trust.validators))
    if len(signers) < required:
        raise InsufficientSealsError(required, len(signers), len(trust.validators))
    return SealStatus.committed_by(signers)


def _header_seal_kind(header: _Header) -> tuple[SealKind, QbftExtraData | None]:
    extra = _qbft_extra(header.extra_data)
    return ("clique", None) if extra is None else ("qbft", extra)


def _check_seal(header: _Header, trust: ChainTrust) -> SealStatus:
    try:
        kind, extra = _header_seal_kind(header)
        if trust.seal_kind is not None and kind != trust.seal_kind:
            raise SealKindMismatchError(trust.seal_kind, kind)
        if extra is not None:
            if not trust.validators:
                return SealStatus.unsealed()
            return _check_qbft_seals(header, extra, trust)
        signer = _recover_signer(header)
    except SealError:
        if trust.require_seal:
            raise
        return SealStatus.unsealed()
    if signer in trust.validators:
        return SealStatus.sealed_by(signer)
    if trust.require_seal:
        raise UntrustedSignerError(signer)
    return SealStatus.unsealed()


def _block_hash(header: _Header, header_rlp: bytes) -> bytes:
    """The block hash by the header's consensus: QBFT re-encodes extraData, others do not.

    An extraData that is an RLP list but no valid QBFT one has no QBFT hash: the plain
    keccak is used, and the seal check reports the malformed extraData.
    """
    try:
        extra = _qbft_extra(header.extra_data)
    except MalformedQbftExtraDataError:
        extra = None
    if extra is None:
        return keccak(header_rlp)
    return _qbft_block_hash(header, extra)


def header_block_hash(header_rlp: bytes) -> bytes:
    """The hash by which the chain names this header's block.

    ``keccak(header_rlp)``, except for a QBFT header (extraData is one RLP list), whose hash
    leaves out the round and the committed seals (:func:`qbft_block_hash`). Callers that
    rebuild a header from a node's JSON compare the node's ``hash`` with this.

    :raises BlockHeaderError: not a well-formed header.
    """
    return _block_hash(_decode_header(header_rlp), header_rlp)


def verify_block_seal(header_rlp: bytes, trust: ChainTrust) -> SealStatus:
    """Check the seal of one header against ``trust``, whatever its kind.

    Clique: one valid seal by a trusted validator. QBFT: see :func:`_check_qbft_seals`
    (a quorum of distinct trusted committers). The chain id and contract of ``trust`` are
    not used; :func:`verify_anchor_proof` checks those.

    :raises BlockHeaderError: not a well-formed header.
    :raises SealError: a subclass naming why the seal does not satisfy ``trust``.
    """
    return _check_seal(_decode_header(header_rlp), trust)


# --- Merkle-Patricia proof -------------------------------------------------------------------


def _nibbles(key: bytes) -> tuple[int, ...]:
    return tuple(n for byte in key for n in (byte >> 4, byte & 0x0F))


def _decode_path(node_index: int, encoded: object) -> tuple[bool, tuple[int, ...]]:
    """Hex-prefix decoding: ``(is_leaf, nibbles)``."""
    if not isinstance(encoded, bytes) or not encoded:
        raise ReceiptProofShapeError(node_index, "node path is not a non-empty byte string")
    flag = encoded[0] >> 4
    if flag > 3:
        raise ReceiptProofShapeError(node_index, f"node path has an invalid flag {flag}")
    if flag & 1:
        head: tuple[int, ...] = (encoded[0] & 0x0F,)
    elif encoded[0] & 0x0F:
        raise ReceiptProofShapeError(node_index, "node path has non-zero padding")
    else:
        head = ()
    return flag >= 2, head + _nibbles(encoded[1:])


def _check_child(node_index: int, child: object) -> bytes | list[object]:
    """A child reference: a 32-byte hash, or an embedded node (RLP shorter than 32 bytes)."""
    if isinstance(child, bytes):
        if len(child) != HASH_BYTES:
            raise ReceiptProofShapeError(
                node_index, f"child reference is {len(child)} bytes, not a 32-byte hash"
            )
        return child
    if isinstance(child, list) and len(_rlp_encode(child)) < HASH_BYTES:
        return child
    raise ReceiptProofShapeError(node_index, "child reference is neither a hash nor a short node")


def _decode_proof_node(node_index: int, node_rlp: bytes) -> list[object]:
    try:
        node = _rlp_decode(node_rlp)
    except ValueError as exc:
        raise ReceiptProofShapeError(node_index, f"node is not valid RLP: {exc}") from exc
    if not isinstance(node, list):
        raise ReceiptProofShapeError(node_index, "node is not an RLP list")
    return node


def value_from_proof(root: bytes, key: bytes, proof: Sequence[bytes]) -> bytes:
    """Compute the value that a Merkle-Patricia ``proof`` proves under ``root`` at ``key``.

    ``proof`` lists the RLP of each hash-referenced node from the root down to the node
    holding the value, in order (nodes shorter than 32 bytes are embedded in their parent,
    as in ``eth_getProof``). Every node must be used: a missing, superfluous, reordered
    or altered node is an error, and so is a proof that the key is absent.

    :raises ReceiptProofError: (a subclass naming the node) when the proof does not prove
        a value at ``key``.
    """
    path = _nibbles(key)
    position = 0  # nibbles of ``path`` consumed
    used = 0  # proof nodes consumed
    reference: bytes | list[object] = root
    while True:
        if isinstance(reference, bytes):
            if used >= len(proof):
                raise ReceiptProofShapeError(used, "proof ends before the value: node missing")
            calculated = keccak(proof[used])
            if calculated != reference:
                raise ProofNodeHashMismatchError(used, reference, calculated)
            node = _decode_proof_node(used, proof[used])
            used += 1
        else:
            node = reference
        here = used - 1
        if len(node) == 17:
            if position == len(path):
                value = node[16]
                if not isinstance(value, bytes) or not value:
                    raise ReceiptProofShapeError(here, "key is absent: branch holds no value")
                break
            child = node[path[position]]
            position += 1
            if child == b"":
                raise ReceiptProofShapeError(here, "key is absent: empty branch slot")
            reference = _check_child(here, child)
        elif len(node) == 2:
            is_leaf, node_path = _decode_path(here, node[0])
            if path[position : position + len(node_path)] != node_path:
                raise ReceiptProofShapeError(here, "key is absent: node path diverges")
            position += len(node_path)
            if is_leaf:
                value = node[1]
                if position != len(path):
                    raise ReceiptProofShapeError(here, "key is absent: leaf for a shorter key")
                if not isinstance(value, bytes) or not value:
                    raise ReceiptProofShapeError(here, "leaf value is not a non-empty byte string")
                break
            reference = _check_child(here, node[1])
        else:
            raise ReceiptProofShapeError(here, f"node has {len(node)} items, not 2 or 17")
    if used != len(proof):
        raise ReceiptProofShapeError(used, f"{len(proof) - used} superfluous node(s) after value")
    return value


def receipt_from_proof(receipts_root: bytes, tx_index: int, proof: Sequence[bytes]) -> bytes:
    """Compute the receipt that ``proof`` proves under ``receipts_root`` for ``tx_index``."""
    return value_from_proof(receipts_root, rlp.encode(tx_index), proof)


# --- Receipt and event ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Log:
    address: bytes
    topics: tuple[bytes, ...]
    data: bytes


def _decode_receipt(receipt: bytes) -> tuple[int, tuple[_Log, ...]]:
    """``(status, logs)`` of a consensus-encoded receipt (legacy or EIP-2718 typed)."""
    if not receipt:
        raise MalformedReceiptError("receipt is empty")
    if receipt[0] >= 0xC0:  # legacy: the RLP list itself
        payload = receipt
    elif 0x01 <= receipt[0] <= 0x7F:  # EIP-2718: type byte || RLP list
        payload = receipt[1:]
    else:
        raise MalformedReceiptError(f"receipt starts with 0x{receipt[0]:02x}: no receipt type")
    try:
        item = _rlp_decode(payload)
    except ValueError as exc:
        raise MalformedReceiptError(f"receipt is not valid RLP: {exc}") from exc
    if not isinstance(item, list) or len(item) != 4:
        raise MalformedReceiptError("receipt is not [status, cumulativeGasUsed, logsBloom, logs]")
    status_raw, _gas, _bloom, logs_raw = item
    if not isinstance(status_raw, bytes) or len(status_raw) > 1 or status_raw == b"\x00":
        raise MalformedReceiptError(
            "receipt has no status (a pre-Byzantium state root or a non-canonical value)"
        )
    if not isinstance(logs_raw, list):
        raise MalformedReceiptError("receipt logs are not a list")
    logs = []
    for i, log in enumerate(logs_raw):
        if not (
            isinstance(log, list)
            and len(log) == 3
            and isinstance(log[0], bytes)
            and len(log[0]) == ADDRESS_BYTES
            and isinstance(log[1], list)
            and all(isinstance(t, bytes) and len(t) == HASH_BYTES for t in log[1])
            and isinstance(log[2], bytes)
        ):
            raise MalformedReceiptError(f"receipt log {i} is not [address, topics, data]")
        logs.append(_Log(log[0], tuple(log[1]), log[2]))
    return int.from_bytes(status_raw, "big"), tuple(logs)


@dataclass(frozen=True)
class _TreeHeadAnchored:
    index: int
    tree_size: int
    root_hash: bytes
    anchorer: bytes


def _decode_event(log: _Log) -> _TreeHeadAnchored:
    if len(log.topics) != 3:
        raise MalformedAnchorEventError(f"log has {len(log.topics)} topics, the event has 3")
    signature, index_topic, anchorer_topic = log.topics
    if signature != TREE_HEAD_ANCHORED_TOPIC:
        raise MalformedAnchorEventError(
            f"log topic0 is {signature.hex()}, not {TREE_HEAD_ANCHORED_SIGNATURE} "
            f"({TREE_HEAD_ANCHORED_TOPIC.hex()})"
        )
    if anchorer_topic[:12] != bytes(12):
        raise MalformedAnchorEventError("anchorer topic is not a zero-padded address")
    if len(log.data) != TREE_HEAD_ANCHORED_DATA_BYTES:
        raise MalformedAnchorEventError(
            f"log data is {len(log.data)} bytes, must be {TREE_HEAD_ANCHORED_DATA_BYTES} "
            f"(uint64 treeSize, bytes32 rootHash)"
        )
    if log.data[:24] != bytes(24):
        raise MalformedAnchorEventError("treeSize word is not a zero-padded uint64")
    return _TreeHeadAnchored(
        index=int.from_bytes(index_topic, "big"),
        tree_size=int.from_bytes(log.data[24:32], "big"),
        root_hash=log.data[32:64],
        anchorer=anchorer_topic[12:],
    )


# --- Anchoring transaction -------------------------------------------------------------------
#
# The raw transaction, as the transactions trie holds it and its hash covers it (EIP-2718):
#
#   legacy (EIP-155): rlp([nonce, gasPrice, gas, to, value, data, v, r, s]),
#                     v = 35 + 2 * chainId + yParity (27/28: no chain id, refused)
#                     signed: keccak(rlp([nonce, gasPrice, gas, to, value, data, chainId, 0, 0]))
#   type 1 (EIP-2930): 0x01 || rlp([chainId, nonce, gasPrice, gas, to, value, data,
#                     accessList, yParity, r, s]); signed: keccak(0x01 || rlp(first 8 items))
#   type 2 (EIP-1559): 0x02 || rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas,
#                     to, value, data, accessList, yParity, r, s]);
#                     signed: keccak(0x02 || rlp(first 9 items))
#
# to is empty (contract creation) or 20 bytes; integers are canonical (no leading zero byte),
# at most 32 bytes; accessList is [[address, [32-byte key, ...]], ...]; the signature has
# r in [1, n-1], s in [1, n/2] (EIP-2, as every node requires) and yParity 0 or 1.

#: EIP-2718 transaction types verified here.
TX_TYPE_LEGACY: Final = 0
TX_TYPE_ACCESS_LIST: Final = 1
TX_TYPE_DYNAMIC_FEE: Final = 2

#: The RLP items of each transaction type, in order; the last three are the signature.
_TX_FIELDS: Final[dict[int, tuple[str, ...]]] = {
    TX_TYPE_LEGACY: ("nonce", "gasPrice", "gas", "to", "value", "data", "v", "r", "s"),
    TX_TYPE_ACCESS_LIST: (
        *("chainId", "nonce", "gasPrice", "gas", "to", "value", "data", "accessList"),
        *("yParity", "r", "s"),
    ),
    TX_TYPE_DYNAMIC_FEE: (
        *("chainId", "nonce", "maxPriorityFeePerGas", "maxFeePerGas", "gas", "to", "value"),
        *("data", "accessList", "yParity", "r", "s"),
    ),
}

#: Items of a transaction that are not integers.
_TX_NON_INTEGER_FIELDS: Final = frozenset({"to", "data", "accessList"})

#: Smallest legacy ``v`` that carries a chain id (EIP-155: 35 + 2 * chainId + yParity).
_EIP155_V_OFFSET: Final = 35

#: The ``v`` values of a legacy signature without a chain id (pre-EIP-155).
_PRE_EIP155_V: Final = (27, 28)


@dataclass(frozen=True)
class _Transaction:
    tx_type: int
    chain_id: int | None  # None: a legacy transaction without EIP-155 replay protection
    to: bytes | None  # None: contract creation
    signing_hash: bytes
    signature: bytes  # r || s || yParity, 65 bytes


def _tx_uint(what: str, value: object) -> int:
    if not isinstance(value, bytes):
        raise MalformedTransactionError(f"transaction {what} is a list, not an integer")
    try:
        return _uint(value, max_bytes=32)
    except ValueError as exc:
        raise MalformedTransactionError(f"transaction {what}: {exc}") from exc


def _check_access_list(value: object) -> None:
    if not isinstance(value, list):
        raise MalformedTransactionError("transaction accessList is not a list")
    for entry in value:
        if not (
            isinstance(entry, list)
            and len(entry) == 2
            and isinstance(entry[0], bytes)
            and len(entry[0]) == ADDRESS_BYTES
            and isinstance(entry[1], list)
            and all(isinstance(key, bytes) and len(key) == HASH_BYTES for key in entry[1])
        ):
            raise MalformedTransactionError(
                "transaction accessList entry is not [address, [32-byte storage keys]]"
            )


def _decode_transaction(raw: bytes) -> _Transaction:
    """The fields of a raw signed transaction that the anchor check needs.

    :raises MalformedTransactionError: not a well-formed signed transaction.
    :raises UnsupportedTransactionTypeError: an EIP-2718 type other than 1 or 2.
    """
    if not raw:
        raise MalformedTransactionError("transaction is empty")
    if raw[0] >= 0xC0:  # legacy: the RLP list itself
        tx_type, payload = TX_TYPE_LEGACY, raw
    elif 0x01 <= raw[0] <= 0x7F:  # EIP-2718: type byte || payload
        tx_type, payload = raw[0], raw[1:]
    else:
        raise MalformedTransactionError(
            f"transaction starts with 0x{raw[0]:02x}: neither an RLP list nor a type byte"
        )
    names = _TX_FIELDS.get(tx_type)
    if names is None:
        raise UnsupportedTransactionTypeError(tx_type)
    try:
        item = _rlp_decode(payload)
    except ValueError as exc:
        raise MalformedTransactionError(f"transaction is not valid RLP: {exc}") from exc
    if not isinstance(item, list) or len(item) != len(names):
        raise MalformedTransactionError(
            f"type {tx_type} transaction is not an RLP list of {len(names)} items "
            f"[{', '.join(names)}]"
        )
    fields = dict(zip(names, item, strict=True))
    integers = {
        name: _tx_uint(name, value)
        for name, value in fields.items()
        if name not in _TX_NON_INTEGER_FIELDS
    }
    to = fields["to"]
    if not isinstance(to, bytes) or len(to) not in (0, ADDRESS_BYTES):
        raise MalformedTransactionError("transaction `to` is neither empty nor a 20-byte address")
    if not isinstance(fields["data"], bytes):
        raise MalformedTransactionError("transaction data is a list, not a byte string")
    if "accessList" in fields:
        _check_access_list(fields["accessList"])
    v, r, s = (integers[name] for name in names[-3:])
    unsigned = item[:-3]
    chain_id: int | None
    if tx_type == TX_TYPE_LEGACY:
        if v in _PRE_EIP155_V:
            chain_id, parity = None, v - _PRE_EIP155_V[0]
            signing_hash = keccak(_rlp_encode(unsigned))
        elif v >= _EIP155_V_OFFSET:
            chain_id, parity = divmod(v - _EIP155_V_OFFSET, 2)
            eip155 = [*unsigned, chain_id.to_bytes((chain_id.bit_length() + 7) // 8, "big")]
            eip155 += [b"", b""]
            signing_hash = keccak(_rlp_encode(eip155))
        else:
            raise MalformedTransactionError(f"legacy transaction v is {v}: not 27, 28 or >= 35")
    else:
        chain_id = integers["chainId"]
        if v > 1:
            raise MalformedTransactionError(f"transaction yParity is {v}, must be 0 or 1")
        parity = v
        signing_hash = keccak(bytes([tx_type]) + _rlp_encode(unsigned))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([parity])
    return _Transaction(tx_type, chain_id, to or None, signing_hash, signature)


def _transaction_sender(tx: _Transaction) -> bytes:
    problem = _signature_value_problem(tx.signature, low_s=True)
    if problem is not None:
        raise MalformedTransactionError(f"transaction signature: {problem}")
    try:
        return _recover(tx.signing_hash, tx.signature)
    except MalformedSealError as exc:
        raise MalformedTransactionError("transaction signature recovers no public key") from exc


def _proof_problem(exc: ReceiptProofError) -> tuple[int, str]:
    """``(node index, reason)`` of a failed Merkle-Patricia walk, for a transaction proof."""
    if isinstance(exc, ProofNodeHashMismatchError):
        return exc.node_index, (
            f"hashes to {exc.calculated_hash.hex()}, expected {exc.expected_hash.hex()}"
        )
    if isinstance(exc, ReceiptProofShapeError):
        return exc.node_index, exc.reason
    return -1, str(exc)


def _check_transaction(proof: AnchorProof, header: _Header, trust: ChainTrust) -> bytes | None:
    """Verify the anchoring transaction of ``proof``; its sender, or None if not carried.

    Order: present (if required); in the transactions trie at ``tx_index``; hashes to
    ``tx_hash``; decodes; chain id; recipient; signature; trusted account (if pinned).
    """
    if proof.transaction is None or proof.transaction_proof is None:
        if trust.require_transaction:
            raise MissingTransactionError()
        return None
    try:
        proven = value_from_proof(
            header.transactions_root, rlp.encode(proof.tx_index), proof.transaction_proof
        )
    except ReceiptProofError as exc:
        node_index, reason = _proof_problem(exc)
        raise TransactionNotProvenError(proof.tx_index, node_index, reason) from exc
    if proven != proof.transaction:
        raise TransactionMismatchError(proof.tx_index, keccak(proof.transaction), keccak(proven))
    calculated_hash = keccak(proof.transaction)
    if calculated_hash != proof.tx_hash:
        raise TransactionHashMismatchError(proof.tx_hash, calculated_hash)
    tx = _decode_transaction(proof.transaction)
    if tx.chain_id != trust.chain_id:
        raise TransactionChainIdError(trust.chain_id, tx.chain_id)
    if tx.to != proof.contract:
        raise TransactionRecipientError(proof.contract, tx.to)
    sender = _transaction_sender(tx)
    if trust.anchoring_account is not None and sender != trust.anchoring_account:
        raise AnchoringAccountMismatchError(trust.anchoring_account, sender)
    return sender


# --- Verification ------------------------------------------------------------------------------


def verify_anchor_proof(proof: AnchorProof, trust: ChainTrust) -> AnchorVerification:
    """Check ``proof`` against ``trust`` and return what it establishes.

    Order of checks: chain id; header hash; header shape and number; seal; contract;
    receipt proof under receiptsRoot; receipt status; the event at ``log_index``; then the
    anchoring transaction (see :func:`_check_transaction`), which a proof without it skips
    unless ``trust.require_transaction``. A proof without the transaction is checked exactly
    as before the transaction existed.

    :raises AnchorProofError: a subclass naming the first failed check and its values:
        :class:`ChainIdMismatchError`, :class:`BlockHashMismatchError`,
        :class:`BlockHeaderError`, :class:`BlockNumberMismatchError`, :class:`SealError`
        subclasses, :class:`ReceiptProofError` subclasses, :class:`AnchorEventError`
        subclasses (incl. :class:`ContractMismatchError`, :class:`TransactionFailedError`),
        :class:`TransactionProofError` subclasses (:class:`MissingTransactionError`,
        :class:`TransactionNotProvenError`, :class:`TransactionMismatchError`,
        :class:`TransactionHashMismatchError`, :class:`MalformedTransactionError`,
        :class:`TransactionChainIdError`, :class:`TransactionRecipientError`,
        :class:`AnchoringAccountMismatchError`).
    """
    proven, event = verify_proven_log(
        proof, trust, lambda topics, data: _decode_event(_Log(proof.contract, topics, data))
    )
    return AnchorVerification(
        chain_id=proven.chain_id,
        contract=proven.contract,
        block_number=proven.block_number,
        block_hash=proven.block_hash,
        timestamp=proven.timestamp,
        tx_hash=proven.tx_hash,
        anchor_index=event.index,
        tree_size=event.tree_size,
        root_hash=event.root_hash,
        anchorer=event.anchorer,
        seal=proven.seal,
        anchoring_account=proven.anchoring_account,
    )


E = TypeVar("E")


@dataclass(frozen=True)
class ProvenLog:
    """What :func:`verify_proven_log` establishes about the block and transaction of a log
    (the log itself is handed to the caller's decoder)."""

    chain_id: int
    contract: bytes
    block_number: int
    block_hash: bytes
    timestamp: int
    tx_hash: bytes
    seal: SealStatus
    anchoring_account: bytes | None


def verify_proven_log(
    proof: AnchorProof,
    trust: ChainTrust,
    decode: Callable[[tuple[bytes, ...], bytes], E],
) -> tuple[ProvenLog, E]:
    """The checks of :func:`verify_anchor_proof` for any event of ``proof.contract``:
    ``decode(topics, data)`` reads the proven log at ``proof.log_index`` (and raises an
    :class:`AnchorProofError` subclass if it is not the event expected), between the log's
    contract check and the transaction's, in the order :func:`verify_anchor_proof`
    documents. Used for the CertificateRegistry's status events
    (:mod:`ledger.certificate_status`).

    :raises AnchorProofError: as :func:`verify_anchor_proof`, and what ``decode`` raises.
    """
    if proof.chain_id != trust.chain_id:
        raise ChainIdMismatchError(trust.chain_id, proof.chain_id)
    try:
        header = _decode_header(proof.header_rlp)
    except BlockHeaderError:
        plain_hash = keccak(proof.header_rlp)
        if plain_hash != proof.block_hash:
            raise BlockHashMismatchError(proof.block_hash, plain_hash) from None
        raise
    calculated_hash = _block_hash(header, proof.header_rlp)
    if calculated_hash != proof.block_hash:
        raise BlockHashMismatchError(proof.block_hash, calculated_hash)
    if header.number != proof.block_number:
        raise BlockNumberMismatchError(proof.block_number, header.number)
    seal = _check_seal(header, trust)
    if trust.contract is not None and proof.contract != trust.contract:
        raise ContractMismatchError("proof names another contract", trust.contract, proof.contract)

    proven = receipt_from_proof(header.receipts_root, proof.tx_index, proof.receipt_proof)
    if proven != proof.receipt:
        raise ReceiptMismatchError(keccak(proof.receipt), keccak(proven))

    status, logs = _decode_receipt(proof.receipt)
    if status != 1:
        raise TransactionFailedError(status)
    if proof.log_index >= len(logs):
        raise LogIndexError(proof.log_index, len(logs))
    log = logs[proof.log_index]
    if log.address != proof.contract:
        raise ContractMismatchError("log emitted by another contract", proof.contract, log.address)
    event = decode(log.topics, log.data)
    anchoring_account = _check_transaction(proof, header, trust)
    return (
        ProvenLog(
            chain_id=proof.chain_id,
            contract=proof.contract,
            block_number=header.number,
            block_hash=proof.block_hash,
            timestamp=header.timestamp,
            tx_hash=proof.tx_hash,
            seal=seal,
            anchoring_account=anchoring_account,
        ),
        event,
    )
