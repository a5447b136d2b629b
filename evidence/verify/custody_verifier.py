"""Offline verification of custody exports: inclusion, anchor, object and hash links.

**Verification-critical.** Courts check custody exports with :func:`verify_custody_export`
(or a re-implementation of ``docs/custody.md``) years later: what is checked, or in which
way, changes what a "verified" export means; change it only together with
``docs/custody.md`` and the vectors in ``tests/assets/custody``. Pure: the standard library,
:mod:`ledger.merkle`, :mod:`ledger.anchor_proof` and :mod:`evidence.formats`; nothing is
fetched.

:func:`verify_custody_export` checks what a parsed export proves: each inclusion proof, the
anchor proof under an explicit :class:`~ledger.anchor_proof.ChainTrust`, that the chain anchors
the export's head, that every event is about the object, and both hash links:
``object_prev`` between consecutive events of the object (so none was left out) and ``prev``
where two listed events are neighbours in the log. For a version 2 export it also checks that
the export is **complete**: the head's checkpoint is in the head, the custody map's proof gives
the checkpoint's root, and the events listed before the checkpoint are exactly as many as the
map says, ending with the one it names as the latest — so an export that leaves out the newest
events fails, as does a page given without the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from evidence.formats.custody_event import GENESIS_HASH, CustodyObject
from evidence.formats.custody_export import CustodyExport, ExportedEvent
from evidence.verify.receipt_verifier import Check, VerificationError, VerificationFailed
from ledger.anchor_proof import AnchorVerification, ChainTrust, verify_anchor_proof
from ledger.errors import LedgerError, RootMismatchError
from ledger.merkle import root_from_inclusion_proof

__all__ = [
    "CHECK_ANCHOR_PROOF",
    "CHECK_CHECKPOINT",
    "CHECK_COMPLETE",
    "CHECK_TREE_HEAD",
    "CustodyVerification",
    "CustodyVerificationFailed",
    "HashLinkError",
    "verify_custody_export",
]

CHECK_ANCHOR_PROOF: Final = "anchor proof"
CHECK_TREE_HEAD: Final = "anchored tree head"
CHECK_CHECKPOINT: Final = "checkpoint"
CHECK_COMPLETE: Final = "complete"


class HashLinkError(VerificationError):
    """An event's ``prev`` / ``object_prev`` is not the leaf hash of the event it must follow."""

    def __init__(self, what: str, leaf_index: int, expected: bytes, actual: bytes) -> None:
        self.leaf_index = leaf_index
        self.expected = expected
        self.actual = actual
        super().__init__(f"event {leaf_index}: {what} is {actual.hex()}, expected {expected.hex()}")


class CustodyVerificationFailed(VerificationFailed):
    """At least one check of a custody export failed (``failed`` lists them, one line each)."""


@dataclass(frozen=True)
class CustodyVerification:
    """What a verified export establishes: ``anchored`` events are proven in the custody
    log head anchored as ``anchor`` says; ``pending`` ones are listed but not yet proven."""

    subject: CustodyObject
    anchored: int
    pending: int
    tree_size: int
    anchor: AnchorVerification | None
    checks: tuple[Check, ...]
    complete_through: int | None = None
    """Every event about the object before this custody leaf (the checkpoint) is listed, as
    the anchored map proves; None when that is not proven (a version 1 export, or nothing
    anchored yet)."""


def verify_custody_export(export: CustodyExport, trust: ChainTrust) -> CustodyVerification:
    """Check everything an export proves, offline, under ``trust``.

    :raises CustodyVerificationFailed: with every check performed and the failed ones.
    """
    checks: list[Check] = []
    causes: dict[str, Exception] = {}

    def record(name: str, error: Exception | None, detail: str) -> None:
        checks.append(Check(name, error is None, detail if error is None else str(error)))
        if error is not None:
            causes[name] = error

    # 1. The anchor proof, and that it anchors the export's head.
    anchored: AnchorVerification | None = None
    if export.anchor is None:
        record(CHECK_ANCHOR_PROOF, None, "no custody head anchored yet: every event is pending")
    else:
        try:
            anchored = verify_anchor_proof(export.anchor, trust)
        except LedgerError as exc:
            record(CHECK_ANCHOR_PROOF, exc, "")
        if anchored is not None:
            signer = anchored.seal.signer
            record(
                CHECK_ANCHOR_PROOF,
                None,
                f"event {anchored.anchor_index} of contract 0x{anchored.contract.hex()} in block "
                f"{anchored.block_number} of chain {anchored.chain_id}, "
                + (
                    f"sealed by trusted validator 0x{signer.hex()}"
                    if signer is not None
                    else "UNSEALED (unsafe trust)"
                ),
            )
            head = (export.tree_size, export.root_hash)
            error: Exception | None = None
            if (anchored.tree_size, anchored.root_hash) != head:
                error = VerificationError(
                    f"the chain anchors size {anchored.tree_size} root "
                    f"{anchored.root_hash.hex()}, the export claims size {export.tree_size} "
                    f"root {(export.root_hash or b'').hex()}"
                )
            record(CHECK_TREE_HEAD, error, f"the chain anchors custody head {export.tree_size}")

    # 2. Per event: about the object, included in the head, linked to its predecessors.
    previous: ExportedEvent | None = None
    for item in export.events:
        name = f"event {item.leaf_index}"
        event = item.event
        leaf = item.leaf_hash
        about = None
        if event.object != export.subject:
            about = VerificationError(
                f"is about {event.object.type} {event.object.id!r}, not the exported object"
            )
        record(
            f"{name} object",
            about,
            f"{event.action} by {event.actor.role} at {event.to_json()['time']}",
        )
        if item.disclosed is not None:
            opened = None
            if item.disclosed.commitment() != event.actor_detail:
                opened = VerificationError(
                    "the token, client and salt given do not open the event's actor_detail"
                )
            record(
                f"{name} actor",
                opened,
                f"token {item.disclosed.token_id or '-'} from {item.disclosed.client or '-'}",
            )
        if item.inclusion is not None and export.root_hash is not None:
            inclusion_error: Exception | None = None
            try:
                root = root_from_inclusion_proof(
                    item.leaf_index, export.tree_size, leaf, item.inclusion.hashes
                )
                if root != export.root_hash:
                    inclusion_error = RootMismatchError(export.root_hash, root)
            except LedgerError as exc:
                inclusion_error = exc
            record(
                f"{name} inclusion proof", inclusion_error, f"in custody head {export.tree_size}"
            )
        expected_object_prev = GENESIS_HASH if previous is None else previous.leaf_hash
        link = None
        if event.object_prev != expected_object_prev:
            link = HashLinkError(
                "object_prev", item.leaf_index, expected_object_prev, event.object_prev
            )
            if previous is not None:
                link = HashLinkError(
                    "object_prev (events about the object are missing between the two)",
                    item.leaf_index,
                    expected_object_prev,
                    event.object_prev,
                )
        if previous is not None or export.after is None:
            record(
                f"{name} object link",
                link,
                "first event about the object"
                if previous is None
                else f"follows event {previous.leaf_index}",
            )
        if previous is not None and previous.leaf_index + 1 == item.leaf_index:
            log_link = None
            if event.prev != previous.leaf_hash:
                log_link = HashLinkError("prev", item.leaf_index, previous.leaf_hash, event.prev)
            record(f"{name} log link", log_link, f"follows log entry {previous.leaf_index}")
        elif item.leaf_index == 0:
            log_link = None
            if event.prev != GENESIS_HASH:
                log_link = HashLinkError("prev", 0, GENESIS_HASH, event.prev)
            record(f"{name} log link", log_link, "first entry of the custody log")
        previous = item

    # 3. (Version 2) complete: the checkpoint in the head, the map's word on the object.
    complete_through = None
    if export.version >= 2:
        complete_through = _completeness(export, record)

    final = tuple(checks)
    if causes:
        raise CustodyVerificationFailed(final, causes) from next(iter(causes.values()))
    pending = sum(1 for item in export.events if item.inclusion is None)
    return CustodyVerification(
        subject=export.subject,
        anchored=len(export.events) - pending,
        pending=pending,
        tree_size=export.tree_size,
        anchor=anchored,
        checks=final,
        complete_through=complete_through,
    )


def _completeness(
    export: CustodyExport, record: Callable[[str, Exception | None, str], None]
) -> int | None:
    """Check that a version 2 export lists every event up to its head's checkpoint; return the
    checkpoint's leaf index if it does (None if nothing is anchored yet)."""
    listed = len(export.events)
    missing: list[str] = []
    if export.after is not None:
        missing.append(f"the events up to leaf {export.after} are on another page: give every page")
    if export.next is not None:
        missing.append(f"more events follow leaf {export.next} on another page: give every page")
    checkpoint = export.checkpoint
    if checkpoint is None:
        if export.tree_size and not missing:
            missing.append(
                "the anchored head holds no checkpoint of the custody map (it was anchored "
                "before custody maps), so completeness cannot be proven: export again after the "
                "next anchoring"
            )
        if missing:
            record(CHECK_COMPLETE, VerificationError("; ".join(missing)), "")
        else:
            record(
                CHECK_COMPLETE,
                None,
                f"nothing anchored yet: the {listed} pending events are listed, not proven",
            )
        return None
    # The checkpoint: in the head, and the map proof gives its root.
    root_error: Exception | None = None
    try:
        root = root_from_inclusion_proof(
            checkpoint.leaf_index,
            export.tree_size,
            checkpoint.leaf_hash,
            checkpoint.inclusion.hashes,
        )
        if root != export.root_hash:
            root_error = RootMismatchError(export.root_hash or b"", root)
        elif checkpoint.map_proof.root() != checkpoint.checkpoint.root:
            root_error = VerificationError(
                f"the map proof gives root {checkpoint.map_proof.root().hex()}, the checkpoint "
                f"commits to {checkpoint.checkpoint.root.hex()}"
            )
    except LedgerError as exc:
        root_error = exc
    state = checkpoint.map_proof.state
    record(
        CHECK_CHECKPOINT,
        root_error,
        f"custody leaf {checkpoint.leaf_index} in head {export.tree_size} commits to a map of "
        f"{checkpoint.checkpoint.objects} objects, which says: "
        + ("no event about the object" if state is None else f"{state.events} events about it"),
    )
    before = [item for item in export.events if item.leaf_index < checkpoint.leaf_index]
    count = 0 if state is None else state.events
    if not missing:
        if len(before) != count:
            missing.append(
                f"{len(before)} events listed before the checkpoint at leaf "
                f"{checkpoint.leaf_index}, but the anchored map says {count}"
            )
        elif before and state is not None and before[-1].leaf_hash != state.last:
            missing.append(
                f"the last event listed before the checkpoint is leaf {before[-1].leaf_index}, "
                "but the anchored map names another as the latest (newer events were left out)"
            )
        elif export.total is not None and listed != export.total:
            missing.append(f"{listed} events listed, but the export says it holds {export.total}")
    if missing:
        record(CHECK_COMPLETE, VerificationError("; ".join(missing)), "")
        return None
    after_checkpoint = listed - len(before)
    record(
        CHECK_COMPLETE,
        None,
        f"all {count} events about the object up to custody leaf {checkpoint.leaf_index} are "
        "listed, as the anchored map says"
        + (
            f"; {after_checkpoint} later events are listed, not yet proven complete"
            if after_checkpoint
            else ""
        ),
    )
    return checkpoint.leaf_index
