"""The CertificateRegistry's events and status record, decoded (docs/certificate-registry.md).

**Verification-critical.** The history of a certificate's status, and the offline proofs of
it, are read from these events: their signatures and the ABI encoding of their fields are
frozen with the contract (``contracts/src/CertificateRegistry.sol``). Pure: the standard
library and ``eth_hash`` (keccak); the topics and data are arguments.

An offline **status proof** (:class:`StatusProof`) is an anchor proof (header, receipt proof,
the transaction) whose proven log is one of these events, for one certificate:
:func:`verify_status_proof` checks it against a pinned :class:`~ledger.anchor_proof.ChainTrust`
(validators, the registry as ``contract``, the service's account as ``anchoring_account``)
with the same code as the anchors (:func:`~ledger.anchor_proof.verify_proven_log`).

The ABI is decoded strictly: an encoding the contract could not have emitted (a word that is
not zero-padded, an offset other than the one solc writes, trailing bytes) is refused, so one
event has one encoding.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Final

from eth_hash.auto import keccak

from ledger.anchor_proof import AnchorProof, ChainTrust, SealStatus, verify_proven_log
from ledger.errors import (
    AnchorProofFormatError,
    MalformedStatusEventError,
    StatusProofError,
)

__all__ = [
    "CERTIFICATE_ISSUED_SIGNATURE",
    "CERTIFICATE_REVOKED_SIGNATURE",
    "CERTIFICATE_SUPERSEDED_SIGNATURE",
    "ISSUER_CODE_BYTES",
    "MAX_SIGNATURE_BYTES",
    "STATUS_EVENT_TOPICS",
    "STATUS_PROOF_TYPE",
    "STATUS_PROOF_VERSION",
    "CertificateState",
    "StatusAction",
    "StatusEvent",
    "StatusProof",
    "StatusRecord",
    "StatusVerification",
    "decode_status_event",
    "verify_status_proof",
]

STATUS_PROOF_TYPE: Final = "zhenglian-certificate-status-proof"
STATUS_PROOF_VERSION: Final = 1

CERTIFICATE_ISSUED_SIGNATURE: Final = "CertificateIssued(bytes32,bytes18,bytes32,bytes,address)"
CERTIFICATE_REVOKED_SIGNATURE: Final = "CertificateRevoked(bytes32,uint8,uint64,bytes,address)"
CERTIFICATE_SUPERSEDED_SIGNATURE: Final = "CertificateSuperseded(bytes32,bytes32,bytes,address)"

MAX_SIGNATURE_BYTES: Final = 512
"""The contract's MAX_SIGNATURE_LENGTH."""
ISSUER_CODE_BYTES: Final = 18
"""A 统一社会信用代码 in ASCII: the contract's bytes18."""

_WORD: Final = 32


class CertificateState(enum.IntEnum):
    """The contract's ``State`` enum (values frozen)."""

    NONE = 0
    ISSUED = 1
    REVOKED = 2
    SUPERSEDED = 3


class StatusAction(enum.StrEnum):
    """Which change an event records (the contract function that emitted it)."""

    ISSUE = "issue"
    REVOKE = "revoke"
    SUPERSEDE = "supersede"


STATUS_EVENT_TOPICS: Final[dict[bytes, StatusAction]] = {
    keccak(CERTIFICATE_ISSUED_SIGNATURE.encode()): StatusAction.ISSUE,
    keccak(CERTIFICATE_REVOKED_SIGNATURE.encode()): StatusAction.REVOKE,
    keccak(CERTIFICATE_SUPERSEDED_SIGNATURE.encode()): StatusAction.SUPERSEDE,
}
"""topic0 of each event."""


@dataclass(frozen=True)
class StatusRecord:
    """What ``statusOf(key)`` returns: everything the contract stores about a certificate
    (the issuer's signatures are in the events, at ``issued_block`` and ``changed_block``)."""

    key: bytes
    state: CertificateState
    reason_code: int
    issuer_code: bytes
    effective_time: int
    certificate_hash: bytes
    successor: bytes
    issued_at: int
    issued_block: int
    changed_at: int
    changed_block: int


@dataclass(frozen=True)
class StatusEvent:
    """One status change as its event records it. Fields not of its action are None."""

    action: StatusAction
    key: bytes
    signature: bytes
    """The issuing institution's signature over the status statement."""
    registrar: bytes
    """The account that sent the change (the service's)."""
    issuer_code: bytes | None = None
    certificate_hash: bytes | None = None
    reason_code: int | None = None
    effective_time: int | None = None
    successor: bytes | None = None


def decode_status_event(topics: tuple[bytes, ...], data: bytes) -> StatusEvent:
    """Decode one of the registry's three events from its log's topics and data.

    :raises MalformedStatusEventError: not one of the events, or not as the contract emits it.
    """
    if not topics or topics[0] not in STATUS_EVENT_TOPICS:
        raise MalformedStatusEventError("the log is not a CertificateRegistry status event")
    action = STATUS_EVENT_TOPICS[topics[0]]
    expected_topics = 4 if action is not StatusAction.REVOKE else 3
    if len(topics) != expected_topics or any(len(t) != _WORD for t in topics):
        raise MalformedStatusEventError(
            f"a {action} event has {expected_topics} topics of 32 bytes, not {len(topics)}"
        )
    key = topics[1]
    registrar = _address(topics[-1], "registrar")
    if action is StatusAction.ISSUE:
        issuer = topics[2]
        if issuer[ISSUER_CODE_BYTES:] != bytes(_WORD - ISSUER_CODE_BYTES):
            raise MalformedStatusEventError("the issuerCode topic is not a right-padded bytes18")
        certificate_hash = _word(data, 0)
        signature = _bytes_at(data, 1, head_words=2)
        return StatusEvent(
            action,
            key,
            signature,
            registrar,
            issuer_code=issuer[:ISSUER_CODE_BYTES],
            certificate_hash=certificate_hash,
        )
    if action is StatusAction.REVOKE:
        reason = _uint(_word(data, 0), 8, "reasonCode")
        effective = _uint(_word(data, 1), 64, "effectiveTime")
        signature = _bytes_at(data, 2, head_words=3)
        return StatusEvent(
            action, key, signature, registrar, reason_code=reason, effective_time=effective
        )
    signature = _bytes_at(data, 0, head_words=1)
    return StatusEvent(action, key, signature, registrar, successor=topics[2])


def _word(data: bytes, index: int) -> bytes:
    start = index * _WORD
    if len(data) < start + _WORD:
        raise MalformedStatusEventError(f"the event data ends before word {index}")
    return data[start : start + _WORD]


def _uint(word: bytes, bits: int, what: str) -> int:
    value = int.from_bytes(word, "big")
    if value >= 1 << bits:
        raise MalformedStatusEventError(f"{what} is not a zero-padded uint{bits}")
    return value


def _address(word: bytes, what: str) -> bytes:
    if word[:12] != bytes(12):
        raise MalformedStatusEventError(f"the {what} topic is not a zero-padded address")
    return word[12:]


def _bytes_at(data: bytes, index: int, *, head_words: int) -> bytes:
    """The ``bytes`` argument whose offset is word ``index``, as solc encodes it: right after
    the head, its length, its content zero-padded to whole words, and nothing after."""
    offset = _uint(_word(data, index), 64, "the signature's offset")
    if offset != head_words * _WORD:
        raise MalformedStatusEventError(
            f"the signature's offset is {offset}, not {head_words * 32}"
        )
    length = _uint(_word(data, head_words), 64, "the signature's length")
    if not 0 < length <= MAX_SIGNATURE_BYTES:
        raise MalformedStatusEventError(
            f"a signature of {length} bytes (1 to {MAX_SIGNATURE_BYTES})"
        )
    start = (head_words + 1) * _WORD
    padded = -(-length // _WORD) * _WORD
    if len(data) != start + padded:
        raise MalformedStatusEventError(
            f"the event data is {len(data)} bytes, the encoding of its fields {start + padded}"
        )
    if data[start + length :] != bytes(padded - length):
        raise MalformedStatusEventError("the signature's padding is not zero")
    return data[start : start + length]


# --- Offline status proofs ---------------------------------------------------------------------


@dataclass(frozen=True)
class StatusProof:
    """The offline proof that a status change of ``certificate`` is on chain: an anchor proof
    (with its transaction) whose log at ``log_index`` is the registry's status event.

    JSON::

        {"type": "zhenglian-certificate-status-proof", "version": 1,
         "certificate": "0x<32-byte key>", "proof": <anchor proof JSON, with transaction>}
    """

    certificate: bytes
    proof: AnchorProof

    def __post_init__(self) -> None:
        if not isinstance(self.certificate, bytes) or len(self.certificate) != _WORD:
            raise AnchorProofFormatError("certificate", "not a 32-byte key")
        if not self.proof.has_transaction:
            raise AnchorProofFormatError("proof", "a status proof carries its transaction")

    def to_json(self) -> dict[str, object]:
        return {
            "type": STATUS_PROOF_TYPE,
            "version": STATUS_PROOF_VERSION,
            "certificate": "0x" + self.certificate.hex(),
            "proof": self.proof.to_json(),
        }

    def to_json_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2) + "\n").encode()

    @classmethod
    def from_json(cls, obj: object) -> StatusProof:
        """:raises AnchorProofFormatError: naming the field that is wrong."""
        if not isinstance(obj, dict) or set(obj) != {"type", "version", "certificate", "proof"}:
            raise AnchorProofFormatError(
                "$", "not an object with exactly type, version, certificate, proof"
            )
        if obj["type"] != STATUS_PROOF_TYPE:
            raise AnchorProofFormatError("type", f"must be {STATUS_PROOF_TYPE!r}")
        if type(obj["version"]) is not int or obj["version"] != STATUS_PROOF_VERSION:
            raise AnchorProofFormatError("version", f"only version {STATUS_PROOF_VERSION}")
        text = obj["certificate"]
        if (
            not isinstance(text, str)
            or len(text) != 66
            or not text.startswith("0x")
            or text[2:] != text[2:].lower()
        ):
            raise AnchorProofFormatError("certificate", "not 0x and 64 lower-case hex digits")
        try:
            certificate = bytes.fromhex(text[2:])
        except ValueError:
            raise AnchorProofFormatError("certificate", "not hex") from None
        return cls(certificate, AnchorProof.from_json(obj["proof"]))


@dataclass(frozen=True)
class StatusVerification:
    """What a verified status proof establishes: this change, in this sealed block, sent by
    ``anchoring_account`` to the registry ``registry`` on chain ``chain_id``."""

    event: StatusEvent
    chain_id: int
    registry: bytes
    block_number: int
    block_hash: bytes
    timestamp: int
    tx_hash: bytes
    seal: SealStatus
    anchoring_account: bytes | None


def verify_status_proof(proof: StatusProof, trust: ChainTrust) -> StatusVerification:
    """Check ``proof`` against ``trust`` (which should pin the registry as ``contract`` and
    the service's account as ``anchoring_account``, with ``require_transaction``).

    :raises AnchorProofError: a subclass naming the first failed check (as
        :func:`~ledger.anchor_proof.verify_anchor_proof`), :class:`MalformedStatusEventError`
        if the proven log is not a status event, :class:`StatusProofError` if it is another
        certificate's.
    """
    if trust.contract is None:
        raise StatusProofError("a status proof is checked against a pinned registry contract")
    proven, event = verify_proven_log(proof.proof, trust, decode_status_event)
    if event.key != proof.certificate:
        raise StatusProofError(
            f"the proven {event.action} event is of certificate 0x{event.key.hex()}, the proof "
            f"claims 0x{proof.certificate.hex()}"
        )
    return StatusVerification(
        event=event,
        chain_id=proven.chain_id,
        registry=proven.contract,
        block_number=proven.block_number,
        block_hash=proven.block_hash,
        timestamp=proven.timestamp,
        tx_hash=proven.tx_hash,
        seal=proven.seal,
        anchoring_account=proven.anchoring_account,
    )
