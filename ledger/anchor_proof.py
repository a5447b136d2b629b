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

1. the block header (full RLP) hashes to ``block_hash``, and its Clique (EIP-225) seal
   recovers to a validator in :class:`ChainTrust` (unless the trust is explicitly unsafe);
2. the header's ``receiptsRoot`` (field 5) commits, through the Merkle-Patricia proof
   ``receipt_proof`` at key ``rlp(tx_index)``, to exactly ``receipt`` (consensus encoding);
3. the receipt has status 1 and its log ``log_index`` is
   ``TreeHeadAnchored(uint256 indexed index, uint64 treeSize, bytes32 rootHash,
   address indexed anchorer)`` emitted by the anchoring contract.

What it does not show: ``tx_hash`` is a locator, not proven (the transactions trie is not
part of the proof), and a seal shows that a trusted validator signed this block, not that
the block is on the canonical chain (a validator could sign a fork).

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
      "logIndex": 0                          # JSON integer, index within the receipt's logs
    }

Hex strings are lowercase, ``0x``-prefixed, with an even number of digits. Unknown and
missing keys are errors. Duplicate JSON keys must be rejected by the caller's JSON parser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import rlp
from eth_hash.auto import keccak
from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError as EthValidationError
from rlp.exceptions import DecodingError as RLPDecodingError

from ledger.errors import (
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
    ReceiptProofShapeError,
    TransactionFailedError,
    UntrustedSignerError,
)

# --- Format and limits ---------------------------------------------------------------

#: Value of the JSON ``"type"`` field.
PROOF_TYPE: Final = "zhenglian-anchor-proof"

#: Value of the JSON ``"version"`` field this module reads and writes.
PROOF_VERSION: Final = 1

#: Largest header RLP accepted. A Prague header without extraData is about 640 bytes; the
#: rest leaves room for a Clique checkpoint extraData (97 bytes + 20 per validator) of
#: more than 60 validators.
MAX_HEADER_BYTES: Final = 2048

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


@dataclass(frozen=True)
class AnchorProof:
    """Everything needed to check one anchoring event offline (see the module docstring).

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

    def __post_init__(self) -> None:
        _require_int("chainId", self.chain_id, minimum=1, maximum=MAX_UINT64)
        _require_bytes("contract", self.contract, length=ADDRESS_BYTES, limit=ADDRESS_BYTES)
        _require_bytes("txHash", self.tx_hash, length=HASH_BYTES, limit=HASH_BYTES)
        _require_int("blockNumber", self.block_number, minimum=0, maximum=MAX_UINT64)
        _require_bytes("blockHash", self.block_hash, length=HASH_BYTES, limit=HASH_BYTES)
        _require_bytes("header", self.header_rlp, limit=MAX_HEADER_BYTES)
        _require_int("txIndex", self.tx_index, minimum=0, maximum=MAX_TX_INDEX)
        _require_bytes("receipt", self.receipt, limit=MAX_RECEIPT_BYTES)
        if not isinstance(self.receipt_proof, tuple):
            raise AnchorProofFormatError("receiptProof", "must be a tuple of bytes")
        if not 1 <= len(self.receipt_proof) <= MAX_PROOF_NODES:
            raise AnchorProofFormatError(
                "receiptProof",
                f"has {len(self.receipt_proof)} nodes, must have 1 to {MAX_PROOF_NODES}",
            )
        last = len(self.receipt_proof) - 1
        for i, node in enumerate(self.receipt_proof):
            limit = MAX_LEAF_NODE_BYTES if i == last else MAX_NODE_BYTES
            _require_bytes(f"receiptProof[{i}]", node, limit=limit)
        _require_int("logIndex", self.log_index, minimum=0, maximum=MAX_LOG_INDEX)

    def to_json(self) -> dict[str, object]:
        """The JSON object of this proof (version 1), ready for ``json.dumps``."""
        return {
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

    @classmethod
    def from_json(cls, obj: object) -> AnchorProof:
        """Parse a JSON object (as from ``json.loads``) strictly into a proof.

        :raises AnchorProofFormatError: wrong type or version, missing or unknown keys,
            values of the wrong JSON type, bad hex, wrong lengths, over a limit.
        """
        if not isinstance(obj, Mapping):
            raise AnchorProofFormatError("$", f"must be a JSON object, not {type(obj).__name__}")
        keys = set(obj)
        if keys != _JSON_KEYS:
            missing = sorted(str(k) for k in _JSON_KEYS - keys)
            unknown = sorted(str(k) for k in keys - _JSON_KEYS)
            raise AnchorProofFormatError("$", f"missing keys {missing}, unknown keys {unknown}")
        if obj["type"] != PROOF_TYPE:
            raise AnchorProofFormatError("type", f"must be {PROOF_TYPE!r}")
        version = obj["version"]
        if not isinstance(version, int) or isinstance(version, bool) or version != PROOF_VERSION:
            raise AnchorProofFormatError("version", f"unsupported version {version!r}")
        nodes = obj["receiptProof"]
        if not isinstance(nodes, list):
            raise AnchorProofFormatError("receiptProof", "must be a JSON array")
        if not 1 <= len(nodes) <= MAX_PROOF_NODES:
            raise AnchorProofFormatError(
                "receiptProof", f"has {len(nodes)} nodes, must have 1 to {MAX_PROOF_NODES}"
            )
        last = len(nodes) - 1
        proof_nodes = tuple(
            _unhex(
                f"receiptProof[{i}]",
                node,
                limit=MAX_LEAF_NODE_BYTES if i == last else MAX_NODE_BYTES,
            )
            for i, node in enumerate(nodes)
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
        )


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

    ``validators`` are the 20-byte addresses whose Clique seals are accepted; ``contract``
    (if given) is the only anchoring contract accepted. Use the named constructors:
    :meth:`sealed` for production, :meth:`unsafe_unsealed` for development chains.

    :raises ValueError: on malformed arguments (a configuration error, not a proof failure).
    """

    chain_id: int
    validators: frozenset[bytes]
    contract: bytes | None = None
    require_seal: bool = True

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

    @classmethod
    def sealed(
        cls, chain_id: int, validators: Iterable[bytes], contract: bytes | None = None
    ) -> ChainTrust:
        """Accept only blocks sealed by one of ``validators``: the production policy."""
        return cls(chain_id, frozenset(validators), contract, require_seal=True)

    @classmethod
    def unsafe_unsealed(cls, chain_id: int, contract: bytes | None = None) -> ChainTrust:
        """UNSAFE: accept blocks without a trusted seal (dev chains such as Hardhat).

        Anyone can forge such a proof: the result's ``seal`` is always ``unsealed``.
        """
        return cls(chain_id, frozenset(), contract, require_seal=False)


@dataclass(frozen=True)
class SealStatus:
    """Whether a trusted validator sealed the block: ``sealed`` (with its address) or not."""

    state: Literal["sealed", "unsealed"]
    signer: bytes | None = None

    def __post_init__(self) -> None:
        if (self.state == "sealed") != (self.signer is not None):
            raise ValueError("a sealed status has a signer, an unsealed one has none")

    @classmethod
    def sealed_by(cls, signer: bytes) -> SealStatus:
        return cls("sealed", signer)

    @classmethod
    def unsealed(cls) -> SealStatus:
        return cls("unsealed", None)

    @property
    def is_sealed(self) -> bool:
        return self.state == "sealed"


@dataclass(frozen=True)
class AnchorVerification:
    """What a verified anchor proof establishes.

    ``tx_hash`` is copied from the proof, not proven (see the module docstring).
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
    return _Header(
        fields=tuple(item),
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


def _recover_signer(header: _Header) -> bytes:
    unsealed_extra, seal = _split_clique_extra(header.extra_data)
    r = int.from_bytes(seal[0:32], "big")
    s = int.from_bytes(seal[32:64], "big")
    v = seal[64]
    if v not in (0, 1):
        raise MalformedSealError(f"seal recovery id v is {v}, must be 0 or 1")
    if not 1 <= r < _SECP256K1_N:
        raise MalformedSealError("seal r is outside [1, n-1]")
    if not 1 <= s <= _SECP256K1_N // 2:
        raise MalformedSealError("seal s is outside [1, n/2] (zero or non-canonical high s)")
    message_hash = _signature_hash(header, unsealed_extra)
    try:
        public_key = Signature(vrs=(v, r, s)).recover_public_key_from_msg_hash(message_hash)
    except (BadSignature, EthValidationError) as exc:
        raise MalformedSealError(f"seal recovers no public key: {exc}") from exc
    return public_key.to_canonical_address()


def seal_signer(header_rlp: bytes) -> bytes:
    """The 20-byte address that sealed this Clique header (whether trusted or not).

    :raises BlockHeaderError: the header is not a well-formed header.
    :raises SealError: no seal, wrong extraData layout, invalid or unrecoverable signature.
    """
    return _recover_signer(_decode_header(header_rlp))


def _check_seal(header: _Header, trust: ChainTrust) -> SealStatus:
    try:
        signer = _recover_signer(header)
    except (MissingSealError, MalformedSealError):
        if trust.require_seal:
            raise
        return SealStatus.unsealed()
    if signer in trust.validators:
        return SealStatus.sealed_by(signer)
    if trust.require_seal:
        raise UntrustedSignerError(signer)
    return SealStatus.unsealed()


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


# --- Verification ------------------------------------------------------------------------------


def verify_anchor_proof(proof: AnchorProof, trust: ChainTrust) -> AnchorVerification:
    """Check ``proof`` against ``trust`` and return what it establishes.

    Order of checks: chain id; header hash; header shape and number; seal; contract;
    receipt proof under receiptsRoot; receipt status; the event at ``log_index``.

    :raises AnchorProofError: a subclass naming the first failed check and its values:
        :class:`ChainIdMismatchError`, :class:`BlockHashMismatchError`,
        :class:`BlockHeaderError`, :class:`BlockNumberMismatchError`, :class:`SealError`
        subclasses, :class:`ReceiptProofError` subclasses, :class:`AnchorEventError`
        subclasses (incl. :class:`ContractMismatchError`, :class:`TransactionFailedError`).
    """
    if proof.chain_id != trust.chain_id:
        raise ChainIdMismatchError(trust.chain_id, proof.chain_id)
    calculated_hash = keccak(proof.header_rlp)
    if calculated_hash != proof.block_hash:
        raise BlockHashMismatchError(proof.block_hash, calculated_hash)
    header = _decode_header(proof.header_rlp)
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
    event = _decode_event(log)
    return AnchorVerification(
        chain_id=proof.chain_id,
        contract=proof.contract,
        block_number=header.number,
        block_hash=proof.block_hash,
        timestamp=header.timestamp,
        tx_hash=proof.tx_hash,
        anchor_index=event.index,
        tree_size=event.tree_size,
        root_hash=event.root_hash,
        anchorer=event.anchorer,
        seal=seal,
    )
