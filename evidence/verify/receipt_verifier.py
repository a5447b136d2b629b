"""Verifying a document against its receipt: pure, offline, trust given explicitly.

**Verification-critical.** This is what a court runs. ``verify_receipt(receipt, document,
trust)`` fetches nothing and reads no configuration: the caller hashes the document and says
which validators (and, ideally, which anchoring contract) it trusts. A change to what is
checked, or in which way, changes what a "verified" receipt means; change it only together
with ``docs/receipt.md`` and the vectors in ``tests/assets/receipts``. Pure: the standard
library, :mod:`ledger.merkle`, :mod:`ledger.anchor_proof` and
:mod:`evidence.formats.receipt_format`.

Every step is recorded as a named :class:`Check`, in this order, and every step runs even
when an earlier one failed (so a reader sees everything that is wrong at once):

1. ``document digest``: the document's SHA-256 (and SM3 and size, when given) equal the
   entry's;
2. ``leaf hash``: the leaf hash is computed from the exact entry bytes;
3. ``leaf index``: ``leaf_index < tree_size`` and the proof is for that leaf and size;
4. ``inclusion proof``: the proof computes the receipt's tree-head root;
5. ``anchor proof``: the anchor proof verifies under the trust (header hash, seal by a
   trusted validator, receipt proof, successful transaction, the contract's event);
6. ``anchored tree head``: that event anchors exactly the receipt's (tree_size, root_hash).
   It is only performed when the anchor proof verified.

Success is a :class:`VerificationResult`. Failure is :class:`ReceiptInvalid` when anything
but the document digest failed (the receipt proves nothing, so nothing is said about the
document), else :class:`DocumentAltered` (the receipt is valid and the file is not the
document it was issued for). Both are :class:`VerificationFailed` and carry every check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from evidence.errors import EvidenceError, InputError
from evidence.formats.checkpoint import Checkpoint
from evidence.formats.cosignature import Cosignature, WitnessKey, verify_cosignatures
from evidence.formats.log_entry import DocumentKind, LogEntry
from evidence.formats.receipt_format import Receipt
from evidence.formats.signed_note import NoteError, VerifierKey
from evidence.verify.time_stamp_check import TimeStampError, TimeStampFacts, verify_time_stamp
from ledger.anchor_proof import (
    AnchorVerification,
    ChainTrust,
    SealStatus,
    verify_anchor_proof,
)
from ledger.errors import (
    AnchoringAccountMismatchError,
    ChainIdMismatchError,
    ContractMismatchError,
    InsufficientSealsError,
    LedgerError,
    MissingSealError,
    RootMismatchError,
    TransactionChainIdError,
    UntrustedSignerError,
    UntrustedValidatorSetError,
)
from ledger.merkle import HASH_SIZE, hash_leaf, root_from_inclusion_proof

__all__ = [
    "CHECK_ANCHOR_PROOF",
    "CHECK_CHECKPOINT",
    "CHECK_CLAIMED_TIME",
    "CHECK_DOCUMENT_DIGEST",
    "CHECK_INCLUSION_PROOF",
    "CHECK_LEAF_HASH",
    "CHECK_LEAF_INDEX",
    "CHECK_TIME_STAMP",
    "CHECK_TREE_HEAD",
    "CHECK_WITNESSES",
    "CLAIMED_TIME_TOLERANCE",
    "VERDICTS",
    "VERDICT_ALTERED",
    "VERDICT_INTACT",
    "VERDICT_RECEIPT_INVALID",
    "VERDICT_UNTRUSTED",
    "Check",
    "DigestMismatchError",
    "DocumentAltered",
    "DocumentDigestError",
    "HasDigests",
    "IndependenceTrust",
    "ReceiptInvalid",
    "TreeHeadMismatchError",
    "VerificationError",
    "VerificationFailed",
    "VerificationResult",
    "verdict_of",
    "verify_receipt",
]

CHECK_DOCUMENT_DIGEST: Final = "document digest"
CHECK_LEAF_HASH: Final = "leaf hash"
CHECK_LEAF_INDEX: Final = "leaf index"
CHECK_INCLUSION_PROOF: Final = "inclusion proof"
CHECK_ANCHOR_PROOF: Final = "anchor proof"
CHECK_TREE_HEAD: Final = "anchored tree head"
CHECK_CHECKPOINT: Final = "checkpoint"
CHECK_WITNESSES: Final = "witnesses"
CHECK_TIME_STAMP: Final = "time stamp"
CHECK_CLAIMED_TIME: Final = "claimed time"

VERDICT_INTACT: Final = "intact"
"""Every required check passed."""
VERDICT_ALTERED: Final = "altered"
"""The receipt holds, but the document does not match it."""
VERDICT_RECEIPT_INVALID: Final = "receipt-invalid"
"""The receipt is malformed or one of its proofs fails."""
VERDICT_UNTRUSTED: Final = "untrusted"
"""The proofs hold, but not by the pinned keys, or the quorum is not met, or unsealed."""
VERDICTS: Final = (VERDICT_INTACT, VERDICT_ALTERED, VERDICT_RECEIPT_INVALID, VERDICT_UNTRUSTED)

CLAIMED_TIME_TOLERANCE: Final = timedelta(hours=1)
"""How far before the proven time bound the entry's claimed time may lie unflagged (deposits
are anchored, witnessed and stamped within seconds)."""

#: Anchor-proof failures that mean "not what the verifier pinned", not "a broken proof".
_TRUST_ERRORS: Final = (
    AnchoringAccountMismatchError,
    TransactionChainIdError,
    ChainIdMismatchError,
    ContractMismatchError,
    UntrustedSignerError,
    UntrustedValidatorSetError,
    InsufficientSealsError,
    MissingSealError,
)


@dataclass(frozen=True)
class IndependenceTrust:
    """What a verifier pins beyond the chain: the log's key (its checkpoints), the witnesses
    whose cosignatures count and how many are needed, and the time-stamp authorities' roots
    (DER; none pinned: time stamps are not required)."""

    log_key: VerifierKey
    witnesses: tuple[WitnessKey, ...] = ()
    quorum: int = 0
    time_stamp_roots: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.quorum <= len(self.witnesses):
            raise ValueError(f"a quorum of {self.quorum} from {len(self.witnesses)} witnesses")


class HasDigests(Protocol):
    """What :func:`verify_receipt` needs of a document: ``evidence.digest.DocumentDigest``."""

    @property
    def sha256(self) -> bytes: ...

    @property
    def sm3(self) -> bytes: ...

    @property
    def size(self) -> int: ...


@dataclass(frozen=True)
class Check:
    """One verification step: its name, whether it passed, and one readable line why.

    ``trust`` marks a check whose failure means *not by what the verifier pinned* (another
    validator, contract, chain, anchoring account, log key; too few witnesses; an authority
    not trusted; an unsealed chain): the proofs may hold, but they prove nothing to this
    verifier (verdict ``untrusted``), unlike a broken proof (``receipt-invalid``)."""

    name: str
    ok: bool
    detail: str
    trust: bool = False

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'FAILED'} {self.name}: {self.detail}"


# --- Errors ---------------------------------------------------------------------------


class DocumentDigestError(InputError):
    """The document digest given to the verifier is malformed (not a caller's document)."""


class VerificationError(EvidenceError):
    """Root of the errors of receipt verification."""


class DigestMismatchError(VerificationError):
    """One digest (or the size) of the document differs from the deposited entry's."""

    def __init__(self, what: str, expected: bytes | int, actual: bytes | int) -> None:
        self.what = what
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"the document's {what} is {_show(actual)}, "
            f"the deposited document's is {_show(expected)}"
        )


def _show(value: bytes | int) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)


class TreeHeadMismatchError(VerificationError):
    """The anchored event names another tree head than the receipt."""

    def __init__(self, receipt_head: tuple[int, bytes], anchored_head: tuple[int, bytes]) -> None:
        self.receipt_head = receipt_head
        self.anchored_head = anchored_head
        super().__init__(
            f"the chain anchors the head of size {anchored_head[0]} with root "
            f"{anchored_head[1].hex()}, the receipt claims size {receipt_head[0]} with root "
            f"{receipt_head[1].hex()}"
        )


class VerificationFailed(VerificationError):
    """At least one check failed.

    ``checks`` lists every check performed, in order; ``failed`` only the failed ones (one
    readable line each: ``str(check)``); ``causes`` maps a failed check's name to the typed
    error behind it (e.g. :class:`ledger.errors.RootMismatchError` with both roots,
    :class:`ledger.errors.UntrustedSignerError` with the signer).
    """

    def __init__(self, checks: tuple[Check, ...], causes: Mapping[str, Exception]) -> None:
        self.checks = checks
        self.causes = dict(causes)
        super().__init__("; ".join(f"{c.name}: {c.detail}" for c in self.failed))

    @property
    def verdict(self) -> str:
        return verdict_of(self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.ok)


def verdict_of(checks: tuple[Check, ...]) -> str:
    """The verdict of a list of checks (see the ``VERDICT_*`` constants)."""
    failed = [c for c in checks if not c.ok]
    if not failed:
        return VERDICT_INTACT
    if any(not c.trust and c.name != CHECK_DOCUMENT_DIGEST for c in failed):
        return VERDICT_RECEIPT_INVALID
    if any(c.trust for c in failed):
        return VERDICT_UNTRUSTED
    return VERDICT_ALTERED


class ReceiptInvalid(VerificationFailed):
    """The receipt does not prove a deposit: a proof, the anchor or the trust failed.

    Nothing follows about the document, whether or not its digest matches the entry.
    """


class DocumentAltered(VerificationFailed):
    """The receipt is valid, but the document is not the one deposited: its digest (or size)
    differs from the entry's."""


# --- Result ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationResult:
    """What a verified receipt establishes, with the checks that established it.

    ``seal`` is unsealed only under an explicitly unsafe :class:`ChainTrust`. ``tx_hash`` is
    a locator, not proven. ``block_time`` is an upper bound of the deposit time; the
    ``deposited_at`` of the entry is the service's statement.
    """

    document_id: str
    entry: LogEntry
    kind: DocumentKind
    institution: str
    case_code: str | None
    deposited_at: datetime
    leaf_index: int
    tree_size: int
    root_hash: bytes
    chain_id: int
    contract: bytes
    block_number: int
    block_hash: bytes
    block_time: datetime
    tx_hash: bytes
    anchor_index: int
    seal: SealStatus
    checks: tuple[Check, ...]
    receipt: Receipt
    anchor: AnchorVerification
    cosignatures: tuple[Cosignature, ...] = ()
    """The pinned witnesses' cosignatures on the receipt's checkpoint (version 2)."""
    time_stamp: TimeStampFacts | None = None
    """The verified time stamp over the checkpoint (version 2, when one is pinned)."""

    @property
    def verdict(self) -> str:
        """``intact``, or ``untrusted`` when the trust accepted an unsealed chain."""
        return VERDICT_UNTRUSTED if self.seal.signer is None else VERDICT_INTACT

    @property
    def back_dated(self) -> bool:
        """Whether the entry's claimed time lies more than :data:`CLAIMED_TIME_TOLERANCE`
        before :attr:`proven_time` (False when nothing independent bounds the time)."""
        proven = self.proven_time
        return proven is not None and proven - self.deposited_at > CLAIMED_TIME_TOLERANCE

    @property
    def proven_time(self) -> datetime | None:
        """The document existed no later than this: the earliest of the time stamp and the
        witnesses' cosignatures (None: a version 1 receipt, or nothing independent)."""
        times = [datetime.fromtimestamp(c.time, UTC) for c in self.cosignatures]
        if self.time_stamp is not None:
            times.append(self.time_stamp.time)
        return min(times) if times else None

    @property
    def sealed_by(self) -> bytes | None:
        """The trusted validator that sealed the anchoring block, or None if unsealed."""
        return self.seal.signer

    @property
    def seal_description(self) -> str:
        """``sealed by 0x…`` (QBFT: every committer) or ``unsealed``."""
        return self.seal.description


# --- Verification ---------------------------------------------------------------------


def verify_receipt(
    receipt: Receipt,
    document: HasDigests | bytes,
    trust: ChainTrust,
    *,
    sm3: bytes | None = None,
    size: int | None = None,
    independence: IndependenceTrust | None = None,
) -> VerificationResult:
    """Check that ``document`` is the document ``receipt`` proves was deposited and anchored.

    ``document`` is a :class:`HasDigests` (SHA-256, SM3 and size are all compared) or a
    32-byte SHA-256 alone, optionally with ``sm3`` and ``size``. ``trust`` says which chain,
    validators and contract are trusted. Pure: nothing is fetched.

    A version 2 receipt is also checked against ``independence`` (without it, it is
    ``untrusted``): its checkpoint is signed by the pinned log key and names the tree head,
    at least ``quorum`` pinned witnesses cosigned it, and — when authorities are pinned — its
    time stamp is over the log-signed checkpoint by one of them. A version 1 receipt carries
    none of these and is checked as before.

    :raises DocumentAltered: the receipt is valid but the document is not the deposited one.
    :raises ReceiptInvalid: the receipt does not prove a deposit (see the module docstring).
    :raises DocumentDigestError: ``document`` is malformed.
    """
    sha256, sm3, size = _document_digests(document, sm3, size)
    checks: list[Check] = []
    causes: dict[str, Exception] = {}

    def record(name: str, error: Exception | None, detail: str, *, trust: bool = False) -> None:
        if error is None:
            checks.append(Check(name, True, detail))
        else:
            checks.append(Check(name, False, str(error), trust or isinstance(error, _TRUST_ERRORS)))
            causes[name] = error

    entry = receipt.entry

    # 1. The document is the one in the entry.
    digest_error: Exception | None = None
    if sha256 != entry.sha256:
        digest_error = DigestMismatchError("SHA-256", entry.sha256, sha256)
    elif sm3 is not None and sm3 != entry.sm3:
        digest_error = DigestMismatchError("SM3", entry.sm3, sm3)
    elif size is not None and size != entry.size:
        digest_error = DigestMismatchError("size", entry.size, size)
    compared = (
        "SHA-256" + (", SM3" if sm3 is not None else "") + (", size" if size is not None else "")
    )
    record(CHECK_DOCUMENT_DIGEST, digest_error, f"{compared} equal the deposited entry's")

    # 2. The leaf hash, from the exact entry bytes.
    leaf = hash_leaf(receipt.entry_bytes)
    leaf_error: Exception | None = None
    if receipt.entry.encode() != receipt.entry_bytes:  # guaranteed by Receipt; cheap to recheck
        leaf_error = VerificationError("the entry bytes are not the encoding of the entry")
    record(CHECK_LEAF_HASH, leaf_error, f"leaf hash {leaf.hex()}")

    # 3. The leaf index lies in the tree, and the proof is for this leaf in this tree.
    index_error: Exception | None = None
    if not 0 <= receipt.leaf_index < receipt.tree_size:
        index_error = VerificationError(
            f"leaf index {receipt.leaf_index} is not below tree size {receipt.tree_size}"
        )
    elif (receipt.inclusion.leaf_index, receipt.inclusion.tree_size) != (
        receipt.leaf_index,
        receipt.tree_size,
    ):
        index_error = VerificationError("the inclusion proof is for another leaf or tree size")
    record(
        CHECK_LEAF_INDEX,
        index_error,
        f"entry {receipt.leaf_index} of a log of {receipt.tree_size} entries",
    )

    # 4. The inclusion proof leads from the leaf to the receipt's tree head.
    inclusion_error: Exception | None = None
    try:
        calculated = root_from_inclusion_proof(
            receipt.leaf_index, receipt.tree_size, leaf, receipt.inclusion.hashes
        )
        if len(receipt.root_hash) != HASH_SIZE or calculated != receipt.root_hash:
            inclusion_error = RootMismatchError(receipt.root_hash, calculated)
    except LedgerError as exc:
        inclusion_error = exc
    record(
        CHECK_INCLUSION_PROOF,
        inclusion_error,
        f"the entry is in the tree of size {receipt.tree_size} with root {receipt.root_hash.hex()}",
    )

    # 5. The anchor proof verifies under the trust (a version 2 receipt's must carry the
    # anchoring transaction: its signature binds the chain id and the anchoring account).
    if receipt.tlog_proof is not None and not trust.require_transaction:
        trust = replace(trust, require_transaction=True)
    anchored: AnchorVerification | None = None
    anchor_error: Exception | None = None
    try:
        anchored = verify_anchor_proof(receipt.anchor, trust)
    except LedgerError as exc:
        anchor_error = exc
    if anchored is None:
        record(CHECK_ANCHOR_PROOF, anchor_error, "")
    else:
        seal = anchored.seal
        if seal.signer is None:
            sealed = "UNSEALED: the trust accepts unsealed blocks (unsafe)"
        elif seal.kind == "clique":
            sealed = f"sealed by trusted validator 0x{seal.signer.hex()}"
        else:
            sealed = seal.description
        record(
            CHECK_ANCHOR_PROOF,
            None,
            f"event {anchored.anchor_index} of contract 0x{anchored.contract.hex()} in block "
            f"{anchored.block_number} of chain {anchored.chain_id}, {sealed}",
        )

        # 6. The anchored tree head is the receipt's.
        receipt_head = (receipt.tree_size, receipt.root_hash)
        anchored_head = (anchored.tree_size, anchored.root_hash)
        record(
            CHECK_TREE_HEAD,
            None
            if anchored_head == receipt_head
            else TreeHeadMismatchError(receipt_head, anchored_head),
            f"the chain anchors this tree head (size {anchored.tree_size})",
        )

    # 7-9. Version 2: the checkpoint, the witnesses, the time stamp.
    cosignatures: tuple[Cosignature, ...] = ()
    stamp: TimeStampFacts | None = None
    if receipt.tlog_proof is not None:
        cosignatures, stamp = _independence_checks(receipt, independence, record)
        bound = [datetime.fromtimestamp(c.time, UTC) for c in cosignatures]
        bound += [stamp.time] if stamp is not None else []
        if bound:
            proven = min(bound)
            claimed = entry.deposited_at
            gap = proven - claimed
            warning = (
                f"; WARNING: claimed {gap} before the proven bound (back-dated?)"
                if gap > CLAIMED_TIME_TOLERANCE
                else ""
            )
            record(
                CHECK_CLAIMED_TIME,
                None,
                f"the service claims deposit at {claimed.isoformat()}; proven to exist no "
                f"later than {proven.isoformat()}{warning}",
            )

    final = tuple(checks)
    if causes:
        first = next(iter(causes.values()))
        if set(causes) == {CHECK_DOCUMENT_DIGEST}:
            raise DocumentAltered(final, causes) from first
        raise ReceiptInvalid(final, causes) from first
    assert anchored is not None  # no failure means the anchor proof verified
    return VerificationResult(
        document_id=receipt.document_id,
        entry=entry,
        kind=entry.kind,
        institution=entry.institution,
        case_code=entry.case_code,
        deposited_at=entry.deposited_at,
        leaf_index=receipt.leaf_index,
        tree_size=receipt.tree_size,
        root_hash=receipt.root_hash,
        chain_id=anchored.chain_id,
        contract=anchored.contract,
        block_number=anchored.block_number,
        block_hash=anchored.block_hash,
        block_time=datetime.fromtimestamp(anchored.timestamp, UTC),
        tx_hash=anchored.tx_hash,
        anchor_index=anchored.anchor_index,
        seal=anchored.seal,
        checks=final,
        receipt=receipt,
        anchor=anchored,
        cosignatures=cosignatures,
        time_stamp=stamp,
    )


class _Record(Protocol):
    def __call__(
        self, name: str, error: Exception | None, detail: str, *, trust: bool = False
    ) -> None: ...


def _independence_checks(
    receipt: Receipt, independence: IndependenceTrust | None, record: _Record
) -> tuple[tuple[Cosignature, ...], TimeStampFacts | None]:
    """Checks 7-9 of a version 2 receipt; the cosignatures and time stamp that held."""
    assert receipt.tlog_proof is not None
    note = receipt.tlog_proof.checkpoint
    if independence is None:
        record(
            CHECK_CHECKPOINT,
            VerificationError("no log key pinned: the checkpoint cannot be checked"),
            "",
            trust=True,
        )
        return (), None
    # 7. The checkpoint is the log's (its pinned key) and names the receipt's tree head.
    try:
        checkpoint = Checkpoint.verify(note, independence.log_key)
        record(
            CHECK_CHECKPOINT,
            None,
            f"signed by the log key {independence.log_key.name} for the tree head of size "
            f"{checkpoint.size}",
        )
    except NoteError as exc:
        record(CHECK_CHECKPOINT, exc, "", trust=True)
    # 8. Enough pinned witnesses cosigned it.
    cosignatures: tuple[Cosignature, ...] = ()
    try:
        cosignatures = verify_cosignatures(note, independence.witnesses)
    except NoteError as exc:
        record(CHECK_WITNESSES, exc, "")
    else:
        names = ", ".join(
            f"{c.witness.name} at {datetime.fromtimestamp(c.time, UTC).isoformat()}"
            for c in cosignatures
        )
        if len(cosignatures) < independence.quorum:
            record(
                CHECK_WITNESSES,
                VerificationError(
                    f"{len(cosignatures)} of the pinned witnesses cosigned, "
                    f"{independence.quorum} are required" + (f" ({names})" if names else "")
                ),
                "",
                trust=True,
            )
        elif independence.quorum == 0:
            record(
                CHECK_WITNESSES,
                None,
                "no independent witness is required by this trust (quorum 0): the head rests "
                "on the operator and the chain" + (f"; cosigned by {names}" if names else ""),
            )
        else:
            record(
                CHECK_WITNESSES,
                None,
                f"{len(cosignatures)} of {len(independence.witnesses)} pinned witnesses "
                f"cosigned (quorum {independence.quorum}): {names}",
            )
    # 9. The time stamp is over the log-signed checkpoint, by a pinned authority.
    stamp: TimeStampFacts | None = None
    if not independence.time_stamp_roots:
        record(
            CHECK_TIME_STAMP,
            None,
            "no time-stamp authority pinned: time rests on the witnesses and the chain",
        )
        return cosignatures, None
    signed = receipt.log_signed_checkpoint(independence.log_key.name)
    if receipt.time_stamp is None or signed is None:
        record(
            CHECK_TIME_STAMP,
            VerificationError("the receipt carries no time stamp over its checkpoint"),
            "",
            trust=True,
        )
        return cosignatures, None
    try:
        stamp = verify_time_stamp(receipt.time_stamp, signed, independence.time_stamp_roots)
    except TimeStampError as exc:
        record(CHECK_TIME_STAMP, exc, "", trust=exc.reason in ("untrusted", "roots"))
        return cosignatures, None
    record(
        CHECK_TIME_STAMP,
        None,
        f"the checkpoint existed no later than {stamp.time.isoformat()} "
        f"(RFC 3161, {stamp.authority}, serial {stamp.serial})",
    )
    return cosignatures, stamp


def _document_digests(
    document: HasDigests | bytes, sm3: bytes | None, size: int | None
) -> tuple[bytes, bytes | None, int | None]:
    if isinstance(document, bytes):
        sha256 = document
    else:
        if sm3 is not None or size is not None:
            raise TypeError("give sm3 and size only with a bare SHA-256, not with a digest")
        try:
            sha256, sm3, size = document.sha256, document.sm3, document.size
        except AttributeError:
            raise DocumentDigestError(
                f"a document is its SHA-256 (bytes) or has sha256, sm3 and size, "
                f"not {type(document).__name__}"
            ) from None
    if not isinstance(sha256, bytes) or len(sha256) != HASH_SIZE:
        raise DocumentDigestError("the document's SHA-256 must be 32 bytes")
    if sm3 is not None and (not isinstance(sm3, bytes) or len(sm3) != HASH_SIZE):
        raise DocumentDigestError("the document's SM3 must be 32 bytes")
    if size is not None and (type(size) is not int or size < 0):
        raise DocumentDigestError("the document's size must be a non-negative integer")
    return sha256, sm3, size
