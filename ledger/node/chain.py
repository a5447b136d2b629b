"""The embedded proof-of-authority chain: py-evm London rules, Clique-style seals, on SQLite.

Consensus is a signature seal in the EIP-225 (Clique) ``extraData`` layout, which a
Clique-aware tool and :mod:`ledger.anchor_proof` read the same way: ``extraData = 32-byte
vanity || signer list (genesis only) || 65-byte secp256k1 signature`` over the keccak of the
header without those 65 bytes. The validator set is the signer list in the genesis block;
voting is not supported (a production network with several institutions runs Besu QBFT
instead). Unlike Clique, ``coinbase`` names the block's sealer and carries no vote: a Clique
client would read it (with the zero nonce) as a vote to drop that signer, so these headers
are Clique-*sealed*, not a chain that Clique nodes could join.

Gas is free: the genesis base fee is 0 and blocks are filled to at most half of the gas
limit, so by the London rules the base fee stays 0 forever. Spam is held back by the sender
allowlist, the pool limits and the block gas limit instead of by price.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import rlp
from eth.abc import (
    BlockAPI,
    BlockHeaderAPI,
    ConsensusContextAPI,
    ReceiptAPI,
    SignedTransactionAPI,
)
from eth.chains.base import Chain
from eth.consensus.context import ConsensusContext
from eth.constants import BLANK_ROOT_HASH
from eth.db.chain import ChainDB
from eth.db.schema import SchemaV1
from eth.db.trie import make_trie_root_and_nodes
from eth.exceptions import HeaderNotFound, TransactionNotFound
from eth.vm.forks.london import LondonVM
from eth.vm.spoof import SpoofTransaction
from eth_keys.datatypes import PrivateKey
from eth_typing import Address, BlockNumber, Hash32
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError
from eth_utils.hexadecimal import encode_hex

from ledger.anchor_proof import clique_signature_hash, seal_signer
from ledger.errors import (
    AnchorProofError,
    ChainIntegrityError,
    NodeError,
    StoredStateError,
    TransactionRejected,
)
from ledger.node.config import ChainConfig
from ledger.node.db import SqliteAtomicDB
from ledger.node.txpool import TxPool

VANITY_LENGTH = 32
SIGNATURE_LENGTH = 65
DIFF_IN_TURN = 2
DIFF_NO_TURN = 1

#: Most transactions put into one block.
MAX_TXS_PER_BLOCK = 500

#: Largest signed transaction accepted by eth_sendRawTransaction (geth's txMaxSize).
MAX_RAW_TX_BYTES = 128 * 1024

#: Gas cap of eth_call / eth_estimateGas: twice LogAnchor's deployment (1.22 M gas), 18 times
#: an anchor; a call that loops until its gas runs out takes 1.36 s here (4.9 s at 8 M).
CALL_GAS_CAP = 2_500_000


def _key_name(key: bytes) -> str:
    if len(key) != 32 and key.isascii() and key.decode("ascii").isprintable():
        return repr(key.decode("ascii"))
    return "0x" + key.hex()


# --- seals ------------------------------------------------------------------------------


# The node seals and checks with the same pure functions that verify anchor proofs offline,
# so what the node accepts and what a court's verifier accepts cannot drift apart.


def seal_header(header: BlockHeaderAPI, key: PrivateKey) -> BlockHeaderAPI:
    signature = key.sign_msg_hash(clique_signature_hash(rlp.encode(header)))
    return header.copy(extra_data=header.extra_data[:-SIGNATURE_LENGTH] + signature.to_bytes())


def header_signer(header: BlockHeaderAPI) -> bytes:
    try:
        return seal_signer(rlp.encode(header))
    except AnchorProofError as exc:
        raise ValidationError(f"seal of block #{header.block_number}: {exc}") from exc


def genesis_validators(genesis: BlockHeaderAPI) -> tuple[bytes, ...]:
    signers = genesis.extra_data[VANITY_LENGTH:-SIGNATURE_LENGTH]
    if not signers or len(signers) % 20:
        raise ValidationError("genesis extraData holds no validator list")
    return tuple(signers[i : i + 20] for i in range(0, len(signers), 20))


def in_turn_difficulty(number: int, signer: bytes, validators: Sequence[bytes]) -> int:
    ordered = sorted(validators)
    return DIFF_IN_TURN if ordered[number % len(ordered)] == signer else DIFF_NO_TURN


class PoaConsensus:
    """py-evm consensus: a block is valid if a genesis validator sealed it."""

    def __init__(self, context: ConsensusContextAPI) -> None:
        self._db = context.db  # type: ignore[attr-defined]
        self._validators: tuple[bytes, ...] | None = None

    def validators(self) -> tuple[bytes, ...]:
        if self._validators is None:
            genesis = ChainDB(self._db).get_canonical_block_header_by_number(BlockNumber(0))
            self._validators = genesis_validators(genesis)
        return self._validators

    def validate_seal(self, header: BlockHeaderAPI) -> None:
        if header.block_number == 0:
            return
        if len(header.extra_data) != VANITY_LENGTH + SIGNATURE_LENGTH:
            raise ValidationError(f"block #{header.block_number} extraData is not vanity+seal")
        signer = header_signer(header)
        validators = self.validators()
        if signer not in validators:
            raise ValidationError(
                f"block #{header.block_number} sealed by {encode_hex(signer)}, not a validator"
            )
        if header.difficulty != in_turn_difficulty(header.block_number, signer, validators):
            raise ValidationError(f"block #{header.block_number} has the wrong difficulty")

    def validate_seal_extension(
        self, header: BlockHeaderAPI, parents: Sequence[BlockHeaderAPI]
    ) -> None:
        self.validate_seal(header)

    @classmethod
    def get_fee_recipient(cls, header: BlockHeaderAPI) -> Address:
        return header.coinbase


class ZhenglianVM(LondonVM):
    """London rules with PoA seals and no block reward."""

    consensus_class = PoaConsensus  # type: ignore[assignment]
    extra_data_max_bytes = VANITY_LENGTH + SIGNATURE_LENGTH

    def _assign_block_rewards(self, block: BlockAPI) -> None:
        return None


def chain_class(chain_id: int) -> type[Chain]:
    return Chain.configure(
        __name__="ZhenglianChain",
        vm_configuration=((0, ZhenglianVM),),
        chain_id=chain_id,
        consensus_context_class=ConsensusContext,
    )


# --- stored entries -----------------------------------------------------------------------


# py-evm's keys that are not the keccak of their value (eth.db.schema.SchemaV1). Two can be
# 32 bytes long like a hash: the checkpoint list (not used here) and the canonical hash of a
# block numbered from 10**10 on.
_NUMBER_TO_HASH = b"block-number-to-hash:"
_HASH_TO_SCORE = b"block-hash-to-score:"
_TX_TO_BLOCK = b"transaction-hash-to-block:"
_WITHDRAWAL_TO_BLOCK = b"withdrawal-hash-to-block:"
_SINGLE_KEYS = frozenset(
    {
        SchemaV1.make_canonical_head_hash_lookup_key(),
        SchemaV1.make_header_chain_gaps_lookup_key(),
        SchemaV1.make_chain_gaps_lookup_key(),
        SchemaV1.make_checkpoint_headers_key(),
    }
)
_NUMBERED_KEY = re.compile(rb"block-number-to-hash:(?:0|[1-9][0-9]*)")
# The hash in these keys is the repr() of its bytes: b'...' (or b"..." when it holds a ').
_HASHED_KEY = re.compile(
    rb"(block-hash-to-score:|transaction-hash-to-block:|withdrawal-hash-to-block:)b['\"].*",
    re.DOTALL,
)


def _lookup_kind(key: bytes) -> bytes | None:
    """The kind (prefix) of a py-evm lookup key; None for a content-addressed key."""
    if key in _SINGLE_KEYS:
        return key
    if _NUMBERED_KEY.fullmatch(key):
        return _NUMBER_TO_HASH
    hashed = _HASHED_KEY.fullmatch(key) if len(key) > 32 else None
    return None if hashed is None else hashed.group(1)


# --- the chain --------------------------------------------------------------------------


@dataclass(frozen=True)
class CallParams:
    """A parsed eth_call / eth_estimateGas request."""

    sender: bytes
    to: bytes
    gas: int | None
    value: int
    data: bytes


class EmbeddedChain:
    """A persistent PoA chain: transaction pool, block production and queries.

    Every method is safe to call from several threads: one lock serialises access to the
    database and the pool.
    """

    def __init__(
        self,
        db: SqliteAtomicDB,
        config: ChainConfig,
        signer: PrivateKey | None,
        *,
        allowlist: Callable[[], frozenset[bytes]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.config = config
        self.chain_id = config.chain_id
        self._chain = chain_class(config.chain_id)(db)
        self._signer = signer
        self._allowlist = allowlist or (lambda: frozenset(config.allowlist))
        self._clock = clock
        self.lock = threading.RLock()  # guards the pool; the database has its own lock
        self._production = threading.Lock()
        self.pool = TxPool()
        self.new_tx = threading.Condition(self.lock)
        self.validators = self._checked_genesis_validators()
        if tuple(config.validators) != self.validators:
            # The genesis block fixes the validators; config.json only repeats them. An edited
            # copy must not be shown (chain info) or believed (trust) as the chain's.
            raise ChainIntegrityError(
                0,
                "chain/config.json names the validators "
                f"{', '.join('0x' + v.hex() for v in config.validators)} but the genesis block "
                f"{', '.join('0x' + v.hex() for v in self.validators)}: the configuration was "
                "edited",
            )
        if signer is not None and signer.public_key.to_canonical_address() not in self.validators:
            raise NodeError("the node's key is not one of the genesis validators")

    # --- creation & integrity ----------------------------------------------------------

    @staticmethod
    def create_genesis(db: SqliteAtomicDB, config: ChainConfig) -> bytes:
        """Write the genesis block of a new chain; return its hash."""
        extra = b"\x00" * VANITY_LENGTH + b"".join(config.validators) + b"\x00" * SIGNATURE_LENGTH
        params: dict[str, Any] = {
            "difficulty": 1,
            "gas_limit": config.gas_limit,
            "timestamp": config.genesis_timestamp,
            "extra_data": extra,
            "coinbase": b"\x00" * 20,
            "nonce": b"\x00" * 8,
            "mix_hash": b"\x00" * 32,
            "base_fee_per_gas": 0,
        }
        with db.block_transaction():
            state = {
                Address(addr): {"balance": balance, "nonce": 0, "code": b"", "storage": {}}
                for addr, balance in config.alloc
            }
            chain = chain_class(config.chain_id).from_genesis(db, params, state)  # type: ignore[arg-type]
        return bytes(chain.get_canonical_head().hash)

    def _checked_genesis_validators(self) -> tuple[bytes, ...]:
        """The genesis block's validator list, read only once the block is checked.

        Raises :class:`ChainIntegrityError` for block 0 when it is missing, altered, not the
        configured genesis, or does not decode.
        """
        try:
            block_hash = self._chain.chaindb.get_canonical_block_hash(BlockNumber(0))
            raw = self.db[block_hash]
        except (HeaderNotFound, KeyError):
            raise ChainIntegrityError(0, "no genesis block in the chain database") from None
        except Exception as exc:
            raise ChainIntegrityError(0, f"{type(exc).__name__}: {exc}") from exc
        if keccak(raw) != block_hash:
            raise ChainIntegrityError(0, "header bytes do not hash to the block hash")
        if self.config.genesis_hash and block_hash != self.config.genesis_hash:
            raise ChainIntegrityError(0, "genesis differs from the configured one")
        try:
            header = self._chain.chaindb.get_block_header_by_hash(block_hash)
        except Exception as exc:
            raise ChainIntegrityError(0, f"header does not decode: {exc}") from exc
        if header.block_number != 0:
            raise ChainIntegrityError(0, "header carries another block number")
        try:
            return genesis_validators(header)
        except ValidationError as exc:
            raise ChainIntegrityError(0, str(exc)) from exc

    def verify_stored_chain(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-check everything stored: every block, then every other database entry.

        A block: header hash, parent link, seal, transactions and receipts roots, its score
        and transaction lookups, and that its state root is stored. Then
        :meth:`_verify_stored_entries`. Returns the head number; raises
        :class:`ChainIntegrityError` naming the first bad block, or :class:`StoredStateError`.
        """
        chaindb = self._chain.chaindb
        try:
            head = chaindb.get_canonical_head()
            canonical_hash = chaindb.get_canonical_block_hash(head.block_number)
        except Exception as exc:
            raise ChainIntegrityError(-1, f"canonical head unreadable: {exc}") from exc
        if canonical_hash != head.hash:
            raise ChainIntegrityError(
                head.block_number, "the head is not the canonical block of its number"
            )
        consensus = PoaConsensus(ConsensusContext(self.db))
        vm_class = ZhenglianVM
        tx_builder = vm_class.get_transaction_builder()
        receipt_builder = vm_class.get_receipt_builder()
        parent_hash: bytes | None = None
        score = 0
        tx_count = 0
        for number in range(head.block_number + 1):
            try:
                block_hash = chaindb.get_canonical_block_hash(BlockNumber(number))
                raw = self.db[block_hash]
                if keccak(raw) != block_hash:
                    raise ChainIntegrityError(number, "header bytes do not hash to the block hash")
                header = chaindb.get_block_header_by_hash(block_hash)
                if header.block_number != number:
                    raise ChainIntegrityError(number, "header carries another block number")
                if number == 0:
                    if self.config.genesis_hash and block_hash != self.config.genesis_hash:
                        raise ChainIntegrityError(0, "genesis differs from the configured one")
                elif header.parent_hash != parent_hash:
                    raise ChainIntegrityError(
                        number, "parent hash does not link to the block before"
                    )
                else:
                    consensus.validate_seal(header)
                txs = chaindb.get_block_transactions(header, tx_builder)
                if make_trie_root_and_nodes(txs)[0] != header.transaction_root:
                    raise ChainIntegrityError(number, "transactions do not match transactionsRoot")
                receipts = chaindb.get_receipts(header, receipt_builder)
                if make_trie_root_and_nodes(receipts)[0] != header.receipt_root:
                    raise ChainIntegrityError(number, "receipts do not match receiptsRoot")
                score += header.difficulty
                if chaindb.get_score(block_hash) != score:
                    raise ChainIntegrityError(number, "stored total difficulty is wrong")
                for index, tx in enumerate(txs):
                    if chaindb.get_transaction_index(tx.hash) != (number, index):
                        raise ChainIntegrityError(
                            number, f"lookup of transaction {encode_hex(tx.hash)} is wrong"
                        )
                tx_count += len(txs)
                if header.state_root != BLANK_ROOT_HASH and header.state_root not in self.db:
                    raise ChainIntegrityError(
                        number, f"state root {encode_hex(header.state_root)} is missing"
                    )
            except ChainIntegrityError:
                raise
            except Exception as exc:
                raise ChainIntegrityError(number, f"{type(exc).__name__}: {exc}") from exc
            parent_hash = block_hash
            if progress is not None:
                progress(number, head.block_number)
        blocks = head.block_number + 1
        self._verify_stored_entries(
            {
                _NUMBER_TO_HASH: blocks,
                _HASH_TO_SCORE: blocks,
                _TX_TO_BLOCK: tx_count,
                _WITHDRAWAL_TO_BLOCK: 0,  # London has no withdrawals
            }
        )
        return int(head.block_number)

    def _verify_stored_entries(self, lookups: dict[bytes, int]) -> None:
        """Check every entry of the database, in one scan.

        Trie nodes (state, storage, transactions, receipts), contract code, headers and uncle
        lists are stored under the keccak of their value: each must hash to its key, so no
        stored state can be altered without changing a state root, which the sealed headers
        fix. All other keys are py-evm's lookups: ``lookups`` gives how many of each kind the
        blocks accounted for, and there may be no more (an extra ``block-number-to-hash``
        entry would serve a forged block past the head). Unknown keys are refused too.
        """
        counted: Counter[bytes] = Counter()
        for key, value in self.db.committed_items():
            kind = _lookup_kind(key)
            if kind is None:
                if len(key) != 32:
                    raise StoredStateError(key, f"{_key_name(key)} is not a key the chain writes")
                calculated = keccak(value)
                if calculated != key:
                    raise StoredStateError(
                        key,
                        f"entry {_key_name(key)} does not hash to its key "
                        f"(its keccak is {encode_hex(calculated)})",
                    )
            elif kind in lookups:
                counted[kind] += 1
        for kind, expected in lookups.items():
            if counted[kind] != expected:
                raise StoredStateError(
                    kind,
                    f"{counted[kind]} {_key_name(kind)} entries, where the stored blocks "
                    f"account for {expected}",
                )

    # --- transactions ------------------------------------------------------------------

    def decode_transaction(self, raw: bytes) -> SignedTransactionAPI:
        if len(raw) > MAX_RAW_TX_BYTES:
            raise TransactionRejected(f"transaction larger than {MAX_RAW_TX_BYTES} bytes")
        try:
            tx = ZhenglianVM.get_transaction_builder().decode(raw)
            tx.validate()  # field ranges, including EIP-2 low-s
            tx.sender  # noqa: B018 - recovering the sender checks the signature (and caches it)
        except Exception as exc:
            raise TransactionRejected(f"invalid transaction: {exc}") from exc
        return tx

    def submit(self, raw: bytes) -> bytes:
        """Validate a signed transaction and put it in the pool; return its hash."""
        tx = self.decode_transaction(raw)
        if tx.chain_id is None:
            raise TransactionRejected("only replay-protected (EIP-155) transactions are accepted")
        if tx.chain_id != self.chain_id:
            raise TransactionRejected(
                f"wrong chain id {tx.chain_id}; this chain is {self.chain_id}"
            )
        sender = bytes(tx.sender)
        if sender not in self._allowlist():
            raise TransactionRejected(
                f"sender account {encode_hex(sender)} is not authorized to send transactions"
            )
        if tx.gas > self.config.gas_limit // 2:
            raise TransactionRejected(f"gas {tx.gas} exceeds the per-block limit")
        if tx.gas < tx.intrinsic_gas:
            raise TransactionRejected(f"intrinsic gas too low: {tx.gas} < {tx.intrinsic_gas}")
        with self.lock:
            head = self._chain.get_canonical_head()
            state = self._chain.get_vm(head).state
            nonce = state.get_nonce(Address(sender))
            if tx.nonce < nonce:
                raise TransactionRejected(f"nonce too low: {tx.nonce} < {nonce}")
            cost = tx.gas * getattr(tx, "max_fee_per_gas", getattr(tx, "gas_price", 0)) + tx.value
            if state.get_balance(Address(sender)) < cost:
                raise TransactionRejected("insufficient funds for gas * price + value")
            self.pool.add(tx, sender, nonce)
            self.new_tx.notify_all()
        return bytes(tx.hash)

    def nonce(self, address: bytes, *, pending: bool) -> int:
        with self.lock:
            head = self._chain.get_canonical_head()
            state_nonce = int(self._chain.get_vm(head).state.get_nonce(Address(address)))
            if pending:
                return self.pool.next_nonce(address, state_nonce)
            return state_nonce

    # --- block production --------------------------------------------------------------

    def produce_block(self) -> BlockAPI | None:
        """Seal a block of the pool's executable transactions; None when there are none."""
        if self._signer is None:
            raise NodeError("this node has no validator key and cannot seal blocks")
        with self._production:
            with self.lock:
                parent = self._chain.get_canonical_head()
                state = self._chain.get_vm(parent).state
                candidates = self.pool.executable(
                    lambda a: int(state.get_nonce(Address(a))), MAX_TXS_PER_BLOCK
                )
            if not candidates:
                return None
            sealed, included, dropped = self._build_block(parent, candidates)
            with self.lock:
                self.pool.remove(included + dropped)
            return sealed

    def _build_block(
        self, parent: BlockHeaderAPI, candidates: list[SignedTransactionAPI]
    ) -> tuple[BlockAPI | None, list[SignedTransactionAPI], list[SignedTransactionAPI]]:
        """Execute, seal and persist a block on ``parent``; other threads keep reading."""
        assert self._signer is not None
        signer = bytes(self._signer.public_key.to_canonical_address())
        number = parent.block_number + 1
        timestamp = max(int(self._clock()), parent.timestamp + 1)
        header = ZhenglianVM.create_header_from_parent(
            parent,
            timestamp=timestamp,
            coinbase=signer,
            gas_limit=self.config.gas_limit,
            difficulty=in_turn_difficulty(number, signer, self.validators),
            extra_data=b"\x00" * (VANITY_LENGTH + SIGNATURE_LENGTH),
            nonce=b"\x00" * 8,
            mix_hash=b"\x00" * 32,
        )
        target = self.config.gas_limit // 2
        with self.db.block_transaction():
            vm = self._chain.get_vm(header)
            included: list[SignedTransactionAPI] = []
            receipts: list[ReceiptAPI] = []
            dropped: list[SignedTransactionAPI] = []
            current = header
            skip_senders: set[bytes] = set()
            for tx in candidates:
                sender = bytes(tx.sender)
                if sender in skip_senders:
                    continue
                if current.gas_used + tx.gas > target:
                    skip_senders.add(sender)
                    continue
                try:
                    # Validation (nonce, balance, gas) happens before any state change.
                    receipt, _ = vm.apply_transaction(current, tx)
                except ValidationError:
                    dropped.append(tx)
                    skip_senders.add(sender)
                    continue
                current = vm.add_receipt_to_header(current, receipt)
                included.append(tx)
                receipts.append(receipt)
            if not included:
                return None, included, dropped
            block = vm.set_block_transactions_and_withdrawals(
                vm.get_block(), current, included, receipts
            )
            block = vm.finalize_block(block).block
            sealed = block.copy(header=seal_header(block.header, self._signer))
            self._chain.validate_block(sealed)
            self._chain.chaindb.persist_block(sealed)
        return sealed, included, dropped

    # --- queries -----------------------------------------------------------------------

    def head(self) -> BlockHeaderAPI:
        return self._chain.get_canonical_head()

    def header_by_number(self, number: int) -> BlockHeaderAPI | None:
        try:
            return self._chain.chaindb.get_canonical_block_header_by_number(BlockNumber(number))
        except HeaderNotFound:
            return None

    def header_by_hash(self, block_hash: bytes) -> BlockHeaderAPI | None:
        try:
            header = self._chain.chaindb.get_block_header_by_hash(Hash32(block_hash))
        except HeaderNotFound:
            return None
        return header

    def transactions(self, header: BlockHeaderAPI) -> tuple[SignedTransactionAPI, ...]:
        return tuple(
            self._chain.chaindb.get_block_transactions(
                header, ZhenglianVM.get_transaction_builder()
            )
        )

    def receipts(self, header: BlockHeaderAPI) -> tuple[ReceiptAPI, ...]:
        return tuple(self._chain.chaindb.get_receipts(header, ZhenglianVM.get_receipt_builder()))

    def locate_transaction(self, tx_hash: bytes) -> tuple[int, int] | None:
        try:
            number, index = self._chain.chaindb.get_transaction_index(Hash32(tx_hash))
        except TransactionNotFound:
            return None
        return int(number), int(index)

    def pending_transaction(self, tx_hash: bytes) -> SignedTransactionAPI | None:
        with self.lock:
            return self.pool.get(tx_hash)

    def account(self, address: bytes, header: BlockHeaderAPI) -> tuple[int, int, bytes]:
        """(balance, nonce, code) of ``address`` after ``header``."""
        state = self._chain.get_vm(header).state
        return (
            int(state.get_balance(Address(address))),
            int(state.get_nonce(Address(address))),
            bytes(state.get_code(Address(address))),
        )

    def storage_at(self, address: bytes, slot: int, header: BlockHeaderAPI) -> int:
        return int(self._chain.get_vm(header).state.get_storage(Address(address), slot))

    def _spoof(self, params: CallParams, header: BlockHeaderAPI) -> SpoofTransaction:
        vm = self._chain.get_vm(header)
        nonce = vm.state.get_nonce(Address(params.sender))
        gas = min(params.gas if params.gas is not None else CALL_GAS_CAP, CALL_GAS_CAP)
        unsigned = vm.create_unsigned_transaction(
            nonce=nonce,
            gas_price=0,
            gas=gas,
            to=Address(params.to),
            value=params.value,
            data=params.data,
        )
        return SpoofTransaction(unsigned, from_=params.sender)

    def call(self, params: CallParams, header: BlockHeaderAPI) -> bytes:
        """Run a call on the state after ``header``; raises py-evm's VMError on failure."""
        tx = self._spoof(params, header)
        result = self._chain.get_transaction_result(tx, header)  # type: ignore[arg-type]
        return bytes(result)

    def estimate_gas(self, params: CallParams, header: BlockHeaderAPI) -> int:
        tx = self._spoof(params, header)
        return int(self._chain.estimate_gas(tx, header))  # type: ignore[arg-type]

    def score(self, block_hash: bytes) -> int:
        return int(self._chain.chaindb.get_score(Hash32(block_hash)))

    def block_size(self, header: BlockHeaderAPI) -> int:
        block = self._chain.get_block_by_header(header)
        return len(rlp.encode(block))
