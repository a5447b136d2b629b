"""Errors of the ``ledger`` package.

One root (:class:`LedgerError`), typed subclasses, and every third-party exception
(web3, py-evm, sqlite, rlp) wrapped where it enters with ``raise ... from exc``.
This module is part of the pure core: it imports nothing but the standard library.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every error raised by the ``ledger`` package."""


# --- Merkle log (pure) -------------------------------------------------------------


class MerkleError(LedgerError):
    """A Merkle computation or proof check failed."""


class ProofShapeError(MerkleError):
    """A proof has the wrong number of nodes, a node of the wrong length, or bad sizes."""


class IndexOutOfRangeError(ProofShapeError):
    """A leaf index (or a requested tree size) lies beyond the tree it refers to."""

    def __init__(self, index: int, size: int, *, what: str = "leaf index") -> None:
        self.index = index
        self.size = size
        super().__init__(f"{what} {index} is out of range for a tree of size {size}")


class RootMismatchError(MerkleError):
    """A proof computes a root other than the one it was checked against."""

    def __init__(self, expected_root: bytes, calculated_root: bytes) -> None:
        self.expected_root = expected_root
        self.calculated_root = calculated_root
        super().__init__(
            f"calculated root {calculated_root.hex()} does not match "
            f"expected root {expected_root.hex()}"
        )


# --- Anchor proofs (pure) ----------------------------------------------------------


class AnchorProofError(LedgerError):
    """An offline anchor proof (header, seal, receipt proof, event) does not verify."""


class SealError(AnchorProofError):
    """A block header's seal is missing, malformed or made by an untrusted signer."""


class ReceiptProofError(AnchorProofError):
    """A transaction receipt's Merkle-Patricia proof does not match the header."""


class AnchorEventError(AnchorProofError):
    """The proven receipt holds no (or a malformed) tree-head anchoring event."""


class MalformedStatusEventError(AnchorEventError):
    """A log is not one of the CertificateRegistry's status events, or not encoded as the
    contract emits it."""


class StatusProofError(AnchorProofError):
    """An offline status proof holds, but not for what it claims: another certificate, or an
    event that does not match its statement."""


class AnchorProofFormatError(AnchorProofError):
    """An anchor proof document is malformed: missing field, wrong type, bad hex, over a limit."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"anchor proof field {field!r}: {reason}")


class ChainIdMismatchError(AnchorProofError):
    """The proof is for another chain than the trusted one."""

    def __init__(self, trusted_chain_id: int, proof_chain_id: int) -> None:
        self.trusted_chain_id = trusted_chain_id
        self.proof_chain_id = proof_chain_id
        super().__init__(
            f"proof is for chain {proof_chain_id}, trusted chain is {trusted_chain_id}"
        )


class BlockHeaderError(AnchorProofError):
    """A block header is not an RLP list of at least 15 well-formed header fields."""


class BlockHashMismatchError(AnchorProofError):
    """The header does not hash to the block hash the proof claims."""

    def __init__(self, expected_hash: bytes, calculated_hash: bytes) -> None:
        self.expected_hash = expected_hash
        self.calculated_hash = calculated_hash
        super().__init__(
            f"header hashes to {calculated_hash.hex()}, proof claims block {expected_hash.hex()}"
        )


class BlockNumberMismatchError(AnchorProofError):
    """The header's number is not the block number the proof claims."""

    def __init__(self, expected_number: int, header_number: int) -> None:
        self.expected_number = expected_number
        self.header_number = header_number
        super().__init__(f"header is block #{header_number}, proof claims #{expected_number}")


class MissingSealError(SealError):
    """The header's extraData is too short to hold a Clique (EIP-225) seal."""

    def __init__(self, extra_data_length: int, required_length: int) -> None:
        self.extra_data_length = extra_data_length
        self.required_length = required_length
        super().__init__(
            f"extraData is {extra_data_length} bytes, a Clique seal needs at least "
            f"{required_length}: the block is not sealed"
        )


class MalformedSealError(SealError):
    """The seal's layout or signature values are invalid, or no public key can be recovered."""


class UntrustedSignerError(SealError):
    """The seal is a valid signature, but by a key that is not a trusted validator."""

    def __init__(self, signer: bytes) -> None:
        self.signer = signer
        super().__init__(f"block is sealed by 0x{signer.hex()}, which is not a trusted validator")


class MalformedQbftExtraDataError(MalformedSealError):
    """A QBFT extraData is not ``RLP([vanity, validators, vote, round, seals])`` as Besu
    writes it, holds an invalid committed seal value, or exceeds a limit."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"QBFT extraData: {reason}")


class InsufficientSealsError(SealError):
    """Fewer distinct trusted validators committed the QBFT block than the BFT quorum."""

    def __init__(self, required: int, got: int, validator_count: int) -> None:
        self.required = required
        self.got = got
        self.validator_count = validator_count
        super().__init__(
            f"block has committed seals of {got} distinct trusted validator(s), "
            f"the quorum of {validator_count} trusted validators is {required}"
        )


class UntrustedValidatorSetError(SealError):
    """The QBFT header lists validators that the trust does not know (stale trust or
    another network)."""

    def __init__(self, untrusted: tuple[bytes, ...]) -> None:
        self.untrusted = untrusted
        names = ", ".join(f"0x{address.hex()}" for address in untrusted)
        super().__init__(f"header lists validator(s) that are not trusted: {names}")


class SealKindMismatchError(SealError):
    """The header carries another kind of seal (Clique, QBFT) than the trust requires."""

    def __init__(self, expected_kind: str, actual_kind: str) -> None:
        self.expected_kind = expected_kind
        self.actual_kind = actual_kind
        super().__init__(f"trust requires a {expected_kind} seal, the header has {actual_kind}")


class ReceiptProofShapeError(ReceiptProofError):
    """A receipt proof node is malformed, missing or superfluous, or the key is absent."""

    def __init__(self, node_index: int, reason: str) -> None:
        self.node_index = node_index
        self.reason = reason
        super().__init__(f"receipt proof node {node_index}: {reason}")


class ProofNodeHashMismatchError(ReceiptProofError):
    """A receipt proof node does not hash to the reference its parent (or the header) holds."""

    def __init__(self, node_index: int, expected_hash: bytes, calculated_hash: bytes) -> None:
        self.node_index = node_index
        self.expected_hash = expected_hash
        self.calculated_hash = calculated_hash
        super().__init__(
            f"receipt proof node {node_index} hashes to {calculated_hash.hex()}, "
            f"expected {expected_hash.hex()}"
        )


class ReceiptMismatchError(ReceiptProofError):
    """The proof proves another receipt than the one the anchor proof carries."""

    def __init__(self, expected_receipt_hash: bytes, proven_receipt_hash: bytes) -> None:
        self.expected_receipt_hash = expected_receipt_hash
        self.proven_receipt_hash = proven_receipt_hash
        super().__init__(
            f"proof proves a receipt with keccak {proven_receipt_hash.hex()}, "
            f"the anchor proof carries one with keccak {expected_receipt_hash.hex()}"
        )


class MalformedReceiptError(AnchorEventError):
    """The proven receipt does not decode as [status, cumulativeGasUsed, logsBloom, logs]."""


class TransactionFailedError(AnchorEventError):
    """The anchoring transaction reverted (receipt status is not 1)."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"anchoring transaction failed: receipt status is {status}, not 1")


class LogIndexError(AnchorEventError):
    """The receipt has no log at the claimed index."""

    def __init__(self, log_index: int, log_count: int) -> None:
        self.log_index = log_index
        self.log_count = log_count
        super().__init__(f"receipt has {log_count} log(s), proof names log {log_index}")


class ContractMismatchError(AnchorEventError):
    """The event comes from (or the proof names) another contract than the expected one."""

    def __init__(self, what: str, expected_contract: bytes, actual_contract: bytes) -> None:
        self.what = what
        self.expected_contract = expected_contract
        self.actual_contract = actual_contract
        super().__init__(
            f"{what}: expected contract 0x{expected_contract.hex()}, got 0x{actual_contract.hex()}"
        )


class MalformedAnchorEventError(AnchorEventError):
    """The log is not a well-formed TreeHeadAnchored event (signature, topics, data)."""


class TransactionProofError(AnchorProofError):
    """The anchoring transaction carried by the proof (and its transactions-trie proof) does
    not establish what it must: in the block, with the proof's hash, for the trusted chain,
    sent to the contract, by the trusted account."""


class MissingTransactionError(TransactionProofError):
    """The trust requires the anchoring transaction, and the proof does not carry it."""

    def __init__(self) -> None:
        super().__init__(
            "the trust requires the anchoring transaction and its transactions-trie proof "
            "(an anchor proof with transaction), the proof carries neither"
        )


class TransactionNotProvenError(TransactionProofError):
    """The transaction proof does not lead from the header's transactionsRoot to a value at
    the transaction index: a node is altered, missing or superfluous, or the key is absent."""

    def __init__(self, tx_index: int, node_index: int, reason: str) -> None:
        self.tx_index = tx_index
        self.node_index = node_index
        self.reason = reason
        super().__init__(
            f"transaction proof proves no transaction at index {tx_index} under the header's "
            f"transactionsRoot: node {node_index}: {reason}"
        )


class TransactionMismatchError(TransactionProofError):
    """The transactions trie holds another transaction at the index than the one carried."""

    def __init__(self, tx_index: int, carried_hash: bytes, proven_hash: bytes) -> None:
        self.tx_index = tx_index
        self.carried_hash = carried_hash
        self.proven_hash = proven_hash
        super().__init__(
            f"the block's transaction {tx_index} is 0x{proven_hash.hex()}, "
            f"the proof carries transaction 0x{carried_hash.hex()}: not in the block there"
        )


class TransactionHashMismatchError(TransactionProofError):
    """The carried transaction does not hash to the proof's ``txHash``."""

    def __init__(self, expected_hash: bytes, calculated_hash: bytes) -> None:
        self.expected_hash = expected_hash
        self.calculated_hash = calculated_hash
        super().__init__(
            f"transaction hashes to 0x{calculated_hash.hex()}, "
            f"proof claims txHash 0x{expected_hash.hex()}"
        )


class MalformedTransactionError(TransactionProofError):
    """The carried transaction does not decode as a signed transaction, or its signature
    values are invalid (high s, out of range) or recover no public key."""


class UnsupportedTransactionTypeError(MalformedTransactionError):
    """The transaction has an EIP-2718 type this verifier does not decode (only 0, 1, 2)."""

    def __init__(self, tx_type: int) -> None:
        self.tx_type = tx_type
        super().__init__(
            f"transaction type 0x{tx_type:02x} is not supported: only legacy (EIP-155), "
            f"type 1 (EIP-2930) and type 2 (EIP-1559) transactions are verified"
        )


class TransactionChainIdError(TransactionProofError):
    """The transaction is signed for another chain than the trusted one (or, a legacy
    transaction without EIP-155 replay protection, for no chain at all)."""

    def __init__(self, trusted_chain_id: int, transaction_chain_id: int | None) -> None:
        self.trusted_chain_id = trusted_chain_id
        self.transaction_chain_id = transaction_chain_id
        if transaction_chain_id is None:
            signed = "signed for no chain (a legacy transaction without EIP-155)"
        else:
            signed = f"signed for chain {transaction_chain_id}"
        super().__init__(f"anchoring transaction is {signed}, trusted chain is {trusted_chain_id}")


class TransactionRecipientError(TransactionProofError):
    """The transaction is sent to another address than the anchoring contract (or creates
    a contract)."""

    def __init__(self, expected_contract: bytes, recipient: bytes | None) -> None:
        self.expected_contract = expected_contract
        self.recipient = recipient
        sent = "creates a contract" if recipient is None else f"is sent to 0x{recipient.hex()}"
        super().__init__(
            f"anchoring transaction {sent}, not to the anchoring contract "
            f"0x{expected_contract.hex()}"
        )


class AnchoringAccountMismatchError(TransactionProofError):
    """The transaction was signed by another account than the trusted anchoring account."""

    def __init__(self, trusted_account: bytes, sender: bytes) -> None:
        self.trusted_account = trusted_account
        self.sender = sender
        super().__init__(
            f"anchoring transaction is signed by 0x{sender.hex()}, "
            f"the trusted anchoring account is 0x{trusted_account.hex()}"
        )


# --- Embedded node -----------------------------------------------------------------


class NodeError(LedgerError):
    """The embedded chain node cannot start or run."""


class ChainIntegrityError(NodeError):
    """A stored block fails its hash-link, seal or content check."""

    def __init__(self, block_number: int, reason: str) -> None:
        self.block_number = block_number
        self.reason = reason
        super().__init__(f"stored block #{block_number} is corrupt: {reason}")


class StoredStateError(NodeError):
    """The chain database was altered outside the blocks: a trie node or contract code that
    does not hash to its key, or an entry that the stored blocks do not account for."""

    def __init__(self, key: bytes, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"the chain's state database was altered: {reason}")


class KeystoreError(NodeError):
    """The validator keystore is missing, malformed or the passphrase is wrong."""


class TransactionRejected(NodeError):
    """A submitted transaction is invalid (chain id, nonce, sender, gas, balance)."""


# --- Client ------------------------------------------------------------------------


class ClientError(LedgerError):
    """Talking to an Ethereum JSON-RPC node failed."""


class NodeUnavailable(ClientError):
    """The node could not be reached or did not answer in time."""


class NodeHttpError(ClientError):
    """The server answered a JSON-RPC request with an HTTP error status (it is not a node,
    or a proxy in front of it refused the request)."""

    def __init__(self, request: str, url: str, status: int, reason: str) -> None:
        self.request = request
        self.url = url
        self.status = status
        self.reason = reason
        super().__init__(f"{request}: {url} answered HTTP {status} {reason}".rstrip())


class NodeRpcError(ClientError):
    """The node answered a JSON-RPC request with an error object."""

    def __init__(self, request: str, code: int | None, rpc_message: str) -> None:
        self.request = request
        self.code = code
        self.rpc_message = rpc_message
        shown = rpc_message if code is None else f"{rpc_message} (code {code})"
        super().__init__(f"{request}: node answered with an error: {shown}")


class DeploymentFormatError(ClientError):
    """A deployment record (deployments.json) is malformed: missing field, wrong type,
    bad hex or wrong length."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"deployment record field {field!r}: {reason}")


class ContractError(ClientError):
    """A contract call or transaction reverted, or a deployment is missing."""


class AnchorRejected(ContractError):
    """The LogAnchor contract refused a head (bad consistency proof, smaller head, no role)."""


class StatusChangeRefused(ContractError):
    """The CertificateRegistry refuses a status change (found by running it with eth_call
    before sending). ``rule`` is the contract's custom error (e.g. ``AlreadyRegistered``),
    ``values`` its arguments."""

    def __init__(self, message: str, *, rule: str, values: tuple[object, ...] = ()) -> None:
        self.rule = rule
        self.values = values
        super().__init__(message)


class CertificateAlreadyRegistered(StatusChangeRefused):
    """``issue`` of an identifier registered before, in any state (identifiers are unique)."""


class CertificateNotRegistered(StatusChangeRefused):
    """``revoke`` or ``supersede`` of an identifier never issued."""


class CertificateStatusFinal(StatusChangeRefused):
    """``revoke`` or ``supersede`` of a certificate already revoked or superseded (final)."""


class SuccessorNotIssued(StatusChangeRefused):
    """``supersede`` to a successor that is not issued (never, or no longer), or itself."""


class RegistrarNotAuthorized(StatusChangeRefused):
    """The sending account does not hold the registry's REGISTRAR_ROLE."""


class InvalidStatusChange(StatusChangeRefused):
    """A value the registry refuses whatever the state: a zero key, issuer code or hash, a
    signature of the wrong length, a reason not offered, a zero effective time."""


class InclusionTimeout(ClientError):
    """A transaction was not included in a block within the allowed time."""


class NodeDataError(ClientError):
    """A node's answer is malformed or inconsistent (e.g. does not re-encode to its own hashes)."""


class HeaderReencodingError(NodeDataError):
    """The header rebuilt from the node's JSON block does not hash to the block hash."""

    def __init__(self, block_hash: bytes, calculated_hash: bytes) -> None:
        self.block_hash = block_hash
        self.calculated_hash = calculated_hash
        super().__init__(
            f"header rebuilt from the node's JSON hashes to {calculated_hash.hex()}, "
            f"not to block {block_hash.hex()} (unknown fork fields?)"
        )


class ReceiptsRootMismatchError(NodeDataError):
    """The receipts rebuilt from the node's JSON do not form the header's receiptsRoot."""

    def __init__(self, block_hash: bytes, receipts_root: bytes, calculated_root: bytes) -> None:
        self.block_hash = block_hash
        self.receipts_root = receipts_root
        self.calculated_root = calculated_root
        super().__init__(
            f"receipts of block {block_hash.hex()} rebuild to root {calculated_root.hex()}, "
            f"header says {receipts_root.hex()}"
        )


class TransactionReencodingError(NodeDataError):
    """A transaction rebuilt from the node's JSON does not hash to the transaction's hash."""

    def __init__(self, tx_hash: bytes, calculated_hash: bytes) -> None:
        self.tx_hash = tx_hash
        self.calculated_hash = calculated_hash
        super().__init__(
            f"transaction rebuilt from the node's JSON hashes to 0x{calculated_hash.hex()}, "
            f"not to 0x{tx_hash.hex()}"
        )


class TransactionsRootMismatchError(NodeDataError):
    """The transactions rebuilt from the node's JSON do not form the header's
    transactionsRoot."""

    def __init__(self, block_hash: bytes, transactions_root: bytes, calculated_root: bytes) -> None:
        self.block_hash = block_hash
        self.transactions_root = transactions_root
        self.calculated_root = calculated_root
        super().__init__(
            f"transactions of block {block_hash.hex()} rebuild to root "
            f"{calculated_root.hex()}, header says {transactions_root.hex()}"
        )


class TransactionNotFound(ClientError):
    """The node knows no mined transaction with this hash."""

    def __init__(self, tx_hash: bytes) -> None:
        self.tx_hash = tx_hash
        super().__init__(f"no mined transaction 0x{tx_hash.hex()}")


class BlockTooLargeError(ClientError):
    """A block holds more transactions than we fetch receipts for."""

    def __init__(self, block_hash: bytes, transaction_count: int, limit: int) -> None:
        self.block_hash = block_hash
        self.transaction_count = transaction_count
        self.limit = limit
        super().__init__(
            f"block {block_hash.hex()} has {transaction_count} transactions, limit is {limit}"
        )


class AnchorEventNotFound(ClientError):
    """The transaction's receipt holds no TreeHeadAnchored event from the contract."""

    def __init__(self, tx_hash: bytes, contract: bytes) -> None:
        self.tx_hash = tx_hash
        self.contract = contract
        super().__init__(
            f"transaction 0x{tx_hash.hex()} emitted no TreeHeadAnchored event "
            f"from contract 0x{contract.hex()}"
        )
