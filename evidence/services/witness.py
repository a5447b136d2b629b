"""An independent witness of other institutions' logs (C2SP tlog-witness, ``add-checkpoint``).

A witness is configured with the verifier keys of the logs it follows (a log's origin is its
key's name). For each log it remembers the latest checkpoint it cosigned, and cosigns a new
one only if the log proves it consistent with that one: then no log can show two institutions
two different histories both cosigned by the same honest witness. :meth:`Witness.add_checkpoint`
applies every rule of the specification's *add-checkpoint*, in its order:

* 400 :class:`MalformedRequest`: the body is not ``old <size>``, proof lines, an empty line
  and a checkpoint note;
* 404 :class:`UnknownLog`: the checkpoint's origin is not a log the witness follows;
* 403 :class:`UntrustedCheckpoint`: no trusted key of that log signed it, or a trusted key's
  signature on it fails;
* 400 :class:`MalformedRequest`: the old size is larger than the checkpoint's size;
* 409 :class:`OldSizeMismatch`: the old size is not the size of the latest checkpoint cosigned
  (0 if none);
* 422 :class:`InconsistentCheckpoint`: a checkpoint of size 0 without the empty tree's root;
  a proof from old size 0 that is not empty; a proof that does not lead from the latest
  cosigned root to the new root; the same size as the latest, with another root.

Then the new checkpoint is recorded durably (:mod:`evidence.store.witness_state`) and only
then is the cosignature (``cosignature/v1``, the time of the injected clock, never 0 and never
earlier than the log's previous cosignature) returned. The old-size check and the update are
one atomic step per log. A validly signed checkpoint refused as inconsistent is kept in the
witness's file of refused requests and logged at WARNING: it may prove the log misbehaved.

The functions at the end (:func:`has_witness_key`, :func:`init_witness`,
:func:`witness_key_of`, :func:`open_witness`) build a witness from its data directory for
``zhenglian witness``.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from evidence.errors import EvidenceError
from evidence.formats.checkpoint import Checkpoint
from evidence.formats.cosignature import MAX_TIMESTAMP, WitnessKey, cosign
from evidence.formats.signed_note import (
    Note,
    NoteError,
    NoteSignature,
    NoteVerificationError,
    VerifierKey,
    verify_note,
)
from evidence.formats.witness_protocol import AddCheckpoint
from evidence.store.witness_state import (
    WITNESS_KEY_FILE,
    LatestCheckpoint,
    RefusedCheckpoint,
    WitnessSigningKey,
    WitnessState,
    create_witness_key,
    load_witness_key,
    origin_hash,
)
from ledger.errors import MerkleError
from ledger.merkle import EMPTY_ROOT, verify_consistency

__all__ = [
    "MAX_TRUSTED_LOGS",
    "Cosigned",
    "InconsistentCheckpoint",
    "MalformedRequest",
    "NotCosigned",
    "OldSizeMismatch",
    "UnknownLog",
    "UntrustedCheckpoint",
    "Witness",
    "WitnessClockError",
    "WitnessRefusal",
    "has_witness_key",
    "init_witness",
    "open_witness",
    "witness_key_of",
]

log = logging.getLogger(__name__)

MAX_TRUSTED_LOGS: Final = 1024
"""Most log keys one witness follows."""

Clock = Callable[[], float]
"""The time now, in POSIX seconds (``time.time``)."""


class WitnessRefusal(EvidenceError):
    """The witness refuses a request; the subclass says why (and which HTTP status)."""


class MalformedRequest(WitnessRefusal):
    """The body is not an add-checkpoint request, or its old size is above the checkpoint's
    size (400)."""


class UnknownLog(WitnessRefusal):
    """The witness follows no log of this origin (404)."""


class UntrustedCheckpoint(WitnessRefusal):
    """No trusted key of the log signed the checkpoint, or a trusted key's signature fails
    (403)."""


class OldSizeMismatch(WitnessRefusal):
    """The request's old size is not the size of the latest checkpoint cosigned (409)."""

    def __init__(self, old_size: int, latest_size: int) -> None:
        self.old_size = old_size
        self.latest_size = latest_size
        super().__init__(f"old size {old_size}, but the latest cosigned size is {latest_size}")


class InconsistentCheckpoint(WitnessRefusal):
    """The checkpoint is not proven consistent with the latest one cosigned (422)."""

    def __init__(self, reason: str, latest: LatestCheckpoint | None) -> None:
        self.latest = latest
        super().__init__(reason)


class NotCosigned(WitnessRefusal):
    """The witness never cosigned a checkpoint of this log (404 on the monitoring read)."""


class WitnessClockError(EvidenceError):
    """The clock gives no usable time for a cosignature (not after 1970, or past 2^63-1)."""


@dataclass(frozen=True)
class Cosigned:
    """A checkpoint cosigned: the witness's signature line(s), recorded before returned."""

    checkpoint: Checkpoint
    time: int
    lines: bytes
    """The 200 answer: note signature lines, each ``— <name> <base64>`` and a newline."""


def signature_lines(signatures: Sequence[NoteSignature]) -> bytes:
    return "".join(
        f"\u2014 {s.name} {base64.b64encode(s.key_id + s.signature).decode()}\n" for s in signatures
    ).encode("utf-8")


class Witness:
    """Cosigns the checkpoints of ``logs`` that are consistent with what it cosigned before.

    ``key`` is the witness's own key, ``logs`` the verifier keys (Ed25519, type 0x01) of the
    logs it follows (several keys of one origin are all trusted), ``state`` its memory and
    ``clock`` the time of its cosignatures.
    """

    def __init__(
        self,
        key: WitnessSigningKey,
        logs: Sequence[VerifierKey],
        state: WitnessState,
        clock: Clock = time.time,
    ) -> None:
        if not logs:
            raise ValueError("a witness follows at least one log")
        if len(logs) > MAX_TRUSTED_LOGS:
            raise ValueError(f"a witness follows at most {MAX_TRUSTED_LOGS} log keys")
        by_origin: dict[str, list[VerifierKey]] = {}
        for each in logs:
            keys = by_origin.setdefault(each.name, [])
            if each not in keys:
                keys.append(each)
        self._key = key
        self._verifier = key.verifier
        self._logs = {origin: tuple(keys) for origin, keys in by_origin.items()}
        self._by_hash = {origin_hash(origin): origin for origin in self._logs}
        self._state = state
        self._clock = clock

    @property
    def verifier(self) -> WitnessKey:
        """The witness's public key, as those who check its cosignatures pin it."""
        return self._verifier

    @property
    def origins(self) -> tuple[str, ...]:
        """The origins of the logs followed."""
        return tuple(self._logs)

    def close(self) -> None:
        """Release the witness's data directory."""
        self._state.close()

    def add_checkpoint(self, body: bytes) -> Cosigned:
        """Check an add-checkpoint request (see the module's list) and cosign its checkpoint.

        :raises WitnessRefusal: a subclass, per refused rule.
        :raises StorageError: the memory cannot be read or written (nothing was cosigned).
        :raises WitnessClockError: the clock is unusable (nothing was cosigned).
        """
        try:
            request = AddCheckpoint.parse(body)
            note = Note.parse(request.checkpoint)
            checkpoint = Checkpoint.from_text(note.text)
        except NoteError as exc:
            raise MalformedRequest(str(exc)) from None
        keys = self._logs.get(checkpoint.origin)
        if keys is None:
            raise UnknownLog(f"this witness does not follow the log {checkpoint.origin!r:.200}")
        try:
            verify_note(note, keys)
        except NoteVerificationError as exc:
            raise UntrustedCheckpoint(f"checkpoint of {checkpoint.origin!r:.200}: {exc}") from None
        if request.old_size > checkpoint.size:
            raise MalformedRequest(
                f"old size {request.old_size} is larger than the checkpoint's size "
                f"{checkpoint.size}"
            )

        def decide(latest: LatestCheckpoint | None) -> LatestCheckpoint:
            latest_size = 0 if latest is None else latest.size
            if request.old_size != latest_size:
                raise OldSizeMismatch(request.old_size, latest_size)
            _check_consistency(request, checkpoint, latest)
            timestamp = self._timestamp(latest)
            line = cosign(note.text, self._key.name, self._key.private_key, timestamp)
            return LatestCheckpoint(
                origin=checkpoint.origin,
                size=checkpoint.size,
                root=checkpoint.root,
                checkpoint=request.checkpoint,
                cosignature=signature_lines([line]),
                time=timestamp,
            )

        try:
            recorded = self._state.check_and_update(checkpoint.origin, decide)
        except InconsistentCheckpoint as exc:
            self._keep_refused(body, checkpoint, exc)
            raise
        log.info(
            "cosigned %s at size %d (time %d)", checkpoint.origin, checkpoint.size, recorded.time
        )
        return Cosigned(checkpoint, recorded.time, recorded.cosignature)

    def latest_checkpoint(self, origin: str) -> bytes:
        """The latest checkpoint cosigned for ``origin``: its text, the signature lines of the
        log's trusted keys it came with, and the witness's cosignature (the monitoring read).

        :raises UnknownLog: not a log followed.
        :raises NotCosigned: none cosigned yet.
        """
        keys = self._logs.get(origin)
        if keys is None:
            raise UnknownLog(f"this witness does not follow the log {origin!r:.200}")
        latest = self._state.latest(origin)
        if latest is None:
            raise NotCosigned(f"this witness has not cosigned a checkpoint of {origin!r:.200}")
        note = Note.parse(latest.checkpoint)  # parsed when it was recorded and when read
        trusted = {(k.name, k.key_id) for k in keys}
        log_lines = [s for s in note.signatures if (s.name, s.key_id) in trusted]
        return note.text.encode("utf-8") + b"\n" + signature_lines(log_lines) + latest.cosignature

    def latest_checkpoint_by_hash(self, hashed_origin: str) -> bytes:
        """:meth:`latest_checkpoint` of the log whose origin has this SHA-256 (lowercase hex).

        :raises UnknownLog: no log followed has that origin hash.
        :raises NotCosigned: none cosigned yet.
        """
        origin = self._by_hash.get(hashed_origin)
        if origin is None:
            raise UnknownLog("this witness follows no log of that origin hash")
        return self.latest_checkpoint(origin)

    def _timestamp(self, latest: LatestCheckpoint | None) -> int:
        now = int(self._clock())
        if not 0 < now <= MAX_TIMESTAMP:
            raise WitnessClockError(f"the clock says {now}: no time to cosign at")
        # A later cosignature never states an earlier time, even if the clock was set back.
        return now if latest is None else max(now, latest.time)

    def _keep_refused(
        self, body: bytes, checkpoint: Checkpoint, refusal: InconsistentCheckpoint
    ) -> None:
        latest = refusal.latest
        refused = RefusedCheckpoint(
            received=int(self._clock()),
            origin=checkpoint.origin,
            reason=str(refusal),
            latest_size=0 if latest is None else latest.size,
            latest_root=None if latest is None else latest.root,
            request=body,
        )
        try:
            kept = self._state.record_refused(refused)
        except EvidenceError as exc:
            log.error("could not keep a refused checkpoint of %s: %s", checkpoint.origin, exc)
            kept = False
        where = (
            f"kept in {self._state.refused_path}"
            if kept
            else f"NOT kept: {self._state.refused_path} is full or unwritable"
        )
        log.warning(
            "refused an inconsistent checkpoint of %s, validly signed by the log (size %d, "
            "latest cosigned %d): %s; %s",
            checkpoint.origin,
            checkpoint.size,
            refused.latest_size,
            refusal,
            where,
        )


def _check_consistency(
    request: AddCheckpoint, checkpoint: Checkpoint, latest: LatestCheckpoint | None
) -> None:
    """The 422 rules, given ``request.old_size`` is the latest cosigned size."""
    if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
        raise InconsistentCheckpoint(
            "a checkpoint of size 0 must have the empty tree's root", latest
        )
    if request.old_size == 0:
        if request.proof:
            raise InconsistentCheckpoint(
                "from old size 0 the consistency proof must be empty", latest
            )
        return
    assert latest is not None  # the old size is the latest cosigned size, and not 0
    if checkpoint.size == latest.size:
        if checkpoint.root != latest.root:
            raise InconsistentCheckpoint(
                f"size {checkpoint.size} was cosigned with root "
                f"{base64.b64encode(latest.root).decode()}, not "
                f"{base64.b64encode(checkpoint.root).decode()}",
                latest,
            )
        if request.proof:
            raise InconsistentCheckpoint(
                "the consistency proof between two trees of the same size is empty", latest
            )
        return
    try:
        verify_consistency(
            latest.size, checkpoint.size, latest.root, checkpoint.root, request.proof
        )
    except MerkleError as exc:
        raise InconsistentCheckpoint(
            f"the consistency proof from size {latest.size} to {checkpoint.size} does not "
            f"verify: {exc}",
            latest,
        ) from None


# --- Building a witness from its data directory (for ``zhenglian witness``) -------------


def has_witness_key(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds a witness key file."""
    return (data_dir / WITNESS_KEY_FILE).exists()


def init_witness(data_dir: Path, name: str, passphrase: str) -> tuple[WitnessKey, bool]:
    """The witness key of ``data_dir`` (made under ``name`` if there is none) and whether it
    was made now.

    :raises WitnessKeyConflict: the directory's key has another name.
    :raises StorageError: the key cannot be made or read.
    """
    key, made = create_witness_key(data_dir, name, passphrase)
    return key.verifier, made


def witness_key_of(data_dir: Path, passphrase: str) -> WitnessKey:
    """The witness key of ``data_dir``.

    :raises StorageError: there is none, or it cannot be read.
    """
    return load_witness_key(data_dir, passphrase).verifier


def open_witness(
    data_dir: Path, passphrase: str, logs: Sequence[VerifierKey], clock: Clock = time.time
) -> Witness:
    """The witness of ``data_dir``, holding its lock until :meth:`Witness.close`.

    :raises WitnessBusy: another process serves ``data_dir``.
    :raises StorageError: no key, or the directory cannot be used.
    """
    state = WitnessState.open(data_dir)
    try:
        return Witness(load_witness_key(data_dir, passphrase), logs, state, clock)
    except BaseException:
        state.close()
        raise
