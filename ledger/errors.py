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


# --- Embedded node -----------------------------------------------------------------


class NodeError(LedgerError):
    """The embedded chain node cannot start or run."""


class ChainIntegrityError(NodeError):
    """A stored block fails its hash-link, seal or content check."""

    def __init__(self, block_number: int, reason: str) -> None:
        self.block_number = block_number
        self.reason = reason
        super().__init__(f"stored block #{block_number} is corrupt: {reason}")


class KeystoreError(NodeError):
    """The validator keystore is missing, malformed or the passphrase is wrong."""


class TransactionRejected(NodeError):
    """A submitted transaction is invalid (chain id, nonce, sender, gas, balance)."""


# --- Client ------------------------------------------------------------------------


class ClientError(LedgerError):
    """Talking to an Ethereum JSON-RPC node failed."""


class NodeUnavailable(ClientError):
    """The node could not be reached or did not answer in time."""


class ContractError(ClientError):
    """A contract call or transaction reverted, or a deployment is missing."""


class AnchorRejected(ContractError):
    """The LogAnchor contract refused a head (bad consistency proof, smaller head, no role)."""


class InclusionTimeout(ClientError):
    """A transaction was not included in a block within the allowed time."""
