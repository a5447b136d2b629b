"""Cosigning: the log signs a checkpoint for every anchored head of the document log, has it
cosigned by independent witnesses and time-stamped by an RFC 3161 authority.

The :class:`CheckpointCosigner` runs beside the anchoring worker. Each time the latest
confirmed anchor is past the latest checkpoint it signs a checkpoint of that head with the
log's key (``formats.checkpoint``; the log signs only heads it anchored, so never two
inconsistent ones). It then asks every configured witness that has not cosigned it yet
(``formats.witness_protocol``, C2SP tlog-witness ``add-checkpoint``, with a consistency proof
from the last size that witness cosigned) and stores each cosignature after checking it
against the witness's pinned key (``formats.cosignature``). Once ``quorum`` witnesses cosigned
it, the time-stamp authority (when one is configured) stamps the signed checkpoint.

Witnesses and authorities are other institutions' servers: one that is down, slow or wrong
delays witnessing — with its reason in :meth:`CheckpointCosigner.status` and so on
``/healthz`` — and never touches a deposit. Only the latest checkpoint is offered: a witness
back after an outage cosigns the newest head, which covers every leaf before it.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from evidence.errors import EvidenceError
from evidence.formats.checkpoint import Checkpoint
from evidence.formats.cosignature import WitnessKey, verify_cosignatures
from evidence.formats.signed_note import Note, NoteError
from evidence.formats.witness_protocol import AddCheckpoint, parse_cosignature_lines, parse_size
from evidence.store.log_key import LogKey
from evidence.store.repository import Database, SqlNodeStore, latest_confirmed_anchor
from evidence.store.witnessed_heads import (
    CheckpointRecord,
    add_cosignature,
    checkpoint_of_size,
    cosignatures_of,
    last_cosigned_size,
    latest_checkpoint,
    record_checkpoint,
    set_time_stamp,
)
from ledger.merkle import MerkleLog

__all__ = [
    "MAX_WITNESSES",
    "CheckpointCosigner",
    "CosigningStatus",
    "HttpWitnessTransport",
    "TimeStamper",
    "WitnessAnswer",
    "WitnessEndpoint",
    "WitnessTransport",
    "WitnessUnavailable",
    "WitnessingPolicy",
    "cosigned_checkpoint",
    "parse_witnesses",
]

log = logging.getLogger(__name__)

MAX_WITNESSES = 32
"""Most witnesses a log is configured with."""
MAX_WITNESS_ANSWER_BYTES = 64 * 1024
"""Largest witness answer read."""
WITNESS_TIMEOUT = 5.0
"""Seconds a witness has to answer one request."""
POLL_INTERVAL = 0.25
"""Seconds between two looks for a newly anchored head."""
MAX_CONCURRENT_WITNESSES = 8
"""Most witnesses asked at the same time."""
RETRY_AFTER = 2.0
"""Seconds before a witness or authority that failed is asked again (doubling to 60)."""
MAX_RETRY_AFTER = 60.0


class WitnessUnavailable(EvidenceError):
    """A witness did not answer (down, refused the connection, timed out)."""


@dataclass(frozen=True)
class WitnessAnswer:
    status: int
    content_type: str
    body: bytes


class WitnessTransport(Protocol):
    def post(self, url: str, body: bytes) -> WitnessAnswer:
        """POST ``body`` to ``url``; :raises WitnessUnavailable: no answer."""
        ...


class TimeStamper(Protocol):
    def stamp(self, message: bytes) -> bytes:
        """A checked RFC 3161 time-stamp token over ``message``."""
        ...


class HttpWitnessTransport:
    """The witness protocol over HTTP (``requests``, kept-alive connections: one session per
    witness, so that witnesses are asked at once)."""

    def __init__(self, timeout: float = WITNESS_TIMEOUT) -> None:
        self._timeout = timeout
        self._sessions: dict[str, tuple[Any, threading.Lock]] = {}
        self._lock = threading.Lock()

    def _session_for(self, url: str) -> tuple[Any, threading.Lock]:
        import requests

        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            if origin not in self._sessions:
                self._sessions[origin] = (requests.Session(), threading.Lock())
            return self._sessions[origin]

    def post(self, url: str, body: bytes) -> WitnessAnswer:
        import requests

        session, lock = self._session_for(url)
        try:
            with lock:
                response = session.post(
                    url,
                    data=body,
                    timeout=self._timeout,
                    stream=True,
                    headers={"Content-Type": "text/plain; charset=utf-8"},
                )
                content = response.raw.read(MAX_WITNESS_ANSWER_BYTES + 1, decode_content=True)
                response.close()
        except (requests.RequestException, OSError) as exc:
            raise WitnessUnavailable(f"{url}: {type(exc).__name__}: {exc}"[:300]) from exc
        if len(content) > MAX_WITNESS_ANSWER_BYTES:
            raise WitnessUnavailable(f"{url}: answer larger than {MAX_WITNESS_ANSWER_BYTES} bytes")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return WitnessAnswer(response.status_code, content_type, content)


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the log asks: its pinned key and its base URL (the protocol's paths are
    appended)."""

    key: WitnessKey
    url: str

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def key_text(self) -> str:
        return self.key.to_text()


_URL = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")


def parse_witnesses(raw: str) -> tuple[WitnessEndpoint, ...]:
    """``ZHENGLIAN_WITNESSES``: a JSON list of ``{"key": VKEY, "url": BASE_URL}``.

    :raises ValueError: not such a list, a key that is not a witness's verifier key, a URL
        that is not http(s) without query, a witness listed twice, or more than
        :data:`MAX_WITNESSES`.
    """
    try:
        items = json.loads(raw)
    except ValueError:
        raise ValueError("ZHENGLIAN_WITNESSES is not JSON") from None
    if not isinstance(items, list) or len(items) > MAX_WITNESSES:
        raise ValueError(f"ZHENGLIAN_WITNESSES is a JSON list of at most {MAX_WITNESSES}")
    out = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or set(item) != {"key", "url"}:
            raise ValueError(f'ZHENGLIAN_WITNESSES item {number} is not {{"key": ..., "url": ...}}')
        key, url = item["key"], item["url"]
        if not isinstance(url, str) or len(url) > 500 or _URL.fullmatch(url) is None:
            raise ValueError(f"ZHENGLIAN_WITNESSES item {number}: url {url!r:.80} is not http(s)")
        if not isinstance(key, str):
            raise ValueError(f"ZHENGLIAN_WITNESSES item {number}: key is not a string")
        try:
            witness_key = WitnessKey.from_text(key)
        except NoteError as exc:
            raise ValueError(f"ZHENGLIAN_WITNESSES item {number}: {exc}") from None
        out.append(WitnessEndpoint(witness_key, url))
    if len({w.key_text for w in out}) != len(out):
        raise ValueError("ZHENGLIAN_WITNESSES lists a witness twice")
    return tuple(out)


@dataclass(frozen=True)
class WitnessingPolicy:
    """Whom to ask, and how many of them must cosign before a head counts as witnessed."""

    witnesses: tuple[WitnessEndpoint, ...] = ()
    quorum: int = 0

    def __post_init__(self) -> None:
        if len(self.witnesses) > MAX_WITNESSES:
            raise ValueError(f"at most {MAX_WITNESSES} witnesses")
        if not 0 <= self.quorum <= len(self.witnesses):
            raise ValueError(
                f"a quorum of {self.quorum} from {len(self.witnesses)} witnesses is impossible"
            )
        keys = [w.key_text for w in self.witnesses]
        if len(set(keys)) != len(keys):
            raise ValueError("a witness is listed twice")


@dataclass(frozen=True)
class CosigningStatus:
    """What ``/healthz`` reports about witnessing and time stamps."""

    checkpoint: int | None
    """The latest checkpoint's tree size (None: no anchored head yet)."""
    cosigned: int
    quorum: int
    time_stamped: bool | None
    """Whether the latest checkpoint is time-stamped (None: no authority configured)."""
    waiting_s: float | None
    """Seconds since the oldest checkpoint not yet witnessed and stamped was signed (None:
    the latest one is)."""
    errors: dict[str, str] = field(default_factory=dict)
    """The last failure of each witness (by name) and of the authority (``"time stamp"``)."""


@dataclass(frozen=True)
class _Cosigned:
    """A witness's cosignature, checked, not yet stored."""

    witness: WitnessEndpoint
    cosigned_at: datetime
    line: str
    """The cosignature line as it is stored and served (``— NAME BASE64``)."""


@dataclass
class _Backoff:
    until: float = 0.0
    delay: float = RETRY_AFTER

    def failed(self, now: float) -> None:
        self.until = now + self.delay
        self.delay = min(self.delay * 2, MAX_RETRY_AFTER)

    def succeeded(self) -> None:
        self.until, self.delay = 0.0, RETRY_AFTER


def cosigned_checkpoint(session: Session, tree_size: int | None = None) -> str | None:
    """The checkpoint of ``tree_size`` (default: the latest) as a signed note carrying the
    log's signature and every cosignature stored for it; None if there is none."""
    checkpoint = (
        latest_checkpoint(session) if tree_size is None else checkpoint_of_size(session, tree_size)
    )
    if checkpoint is None:
        return None
    lines = "".join(f"{c.line}\n" for c in cosignatures_of(session, checkpoint.tree_size))
    return checkpoint.note + lines


class CheckpointCosigner:
    def __init__(
        self,
        database: Database,
        log_key: LogKey,
        policy: WitnessingPolicy,
        *,
        transport: WitnessTransport | None = None,
        time_stamps: TimeStamper | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.database = database
        self.log_key = log_key
        self.policy = policy
        self._transport = transport if transport is not None else HttpWitnessTransport()
        self._time_stamps = time_stamps
        self._clock = clock
        self._monotonic = monotonic or time.monotonic
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._known: dict[str, int] = {}
        """The latest size each witness (by key) says it cosigned, as learnt this run."""
        self._backoff: dict[str, _Backoff] = {}
        self._errors: dict[str, str] = {}
        self._incomplete_since: datetime | None = None
        self.last_error: str | None = None
        self._pool: ThreadPoolExecutor | None = None
        """Threads asking witnesses at once (made on first use)."""

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="zl-cosigning", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def poke(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
                self.last_error = None
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("cosigning worker error")
                self._stop.wait(RETRY_AFTER)
                continue
            if not busy:
                self._wake.wait(POLL_INTERVAL)
                self._wake.clear()

    # --- one step ----------------------------------------------------------------------

    def run_once(self) -> bool:
        """Sign the newest anchored head, ask the witnesses, stamp; True if work was done."""
        checkpoint, signed = self._sign_latest()
        if checkpoint is None:
            return False
        with self.database.session() as session:
            have = {c.witness for c in cosignatures_of(session, checkpoint.tree_size)}
        due = [w for w in self.policy.witnesses if w.key_text not in have and self._due(w.key_text)]
        cosigned = self._ask_all(due, checkpoint)
        have.update(c.witness.key_text for c in cosigned)
        witnessed = len(have) >= self.policy.quorum
        stamped = checkpoint.time_stamp is not None
        token = None
        if witnessed and not stamped and self._time_stamps is not None and self._due("tsa"):
            token = self._stamp(checkpoint)
            stamped = token is not None
        if cosigned or token is not None:
            self._record(checkpoint, cosigned, token)
        complete = witnessed and (stamped or self._time_stamps is None)
        if complete:
            self._incomplete_since = None
        elif self._incomplete_since is None:
            self._incomplete_since = checkpoint.created_at
        return signed

    def status(self) -> CosigningStatus:
        with self.database.session() as session:
            checkpoint = latest_checkpoint(session)
            cosigned = (
                {c.witness for c in cosignatures_of(session, checkpoint.tree_size)}
                if checkpoint is not None
                else set()
            )
        keys = {w.key_text for w in self.policy.witnesses}
        since = self._incomplete_since
        return CosigningStatus(
            checkpoint=checkpoint.tree_size if checkpoint is not None else None,
            cosigned=len(cosigned & keys),
            quorum=self.policy.quorum,
            time_stamped=(
                None
                if self._time_stamps is None
                else checkpoint is not None and checkpoint.time_stamp is not None
            ),
            waiting_s=(self._clock() - since).total_seconds() if since is not None else None,
            errors=dict(self._errors),
        )

    # --- the steps ---------------------------------------------------------------------

    def _sign_latest(self) -> tuple[CheckpointRecord | None, bool]:
        """The latest checkpoint, after signing one for a newer anchored head if there is."""
        with self.database.session() as session:
            anchor = latest_confirmed_anchor(session)
            latest = latest_checkpoint(session)
            if anchor is None or (latest is not None and latest.tree_size >= anchor.tree_size):
                return latest, False
            if anchor.proof is None or '"transaction"' not in anchor.proof:
                # Anchored before proofs carried the transaction (an upgrade): a version 2
                # receipt could not prove it. The next anchored head will.
                return latest, False
            root = MerkleLog(SqlNodeStore(session)).root(anchor.tree_size)
            if root != anchor.root_hash:
                raise EvidenceError(
                    f"the log's root at {anchor.tree_size} is not the anchored one: "
                    "no checkpoint is signed (see `zhenglian audit`)"
                )
            checkpoint = Checkpoint(self.log_key.name, anchor.tree_size, root)
            note = checkpoint.sign(self.log_key.private_key).to_bytes().decode("utf-8")
            now = self._clock()
            record_checkpoint(
                session, tree_size=anchor.tree_size, root_hash=root, note=note, created_at=now
            )
            session.commit()
            log.info("checkpoint %d signed", anchor.tree_size)
            return CheckpointRecord(anchor.tree_size, root, note, now, None, None), True

    def _due(self, key: str) -> bool:
        backoff = self._backoff.get(key)
        return backoff is None or self._monotonic() >= backoff.until

    def _failed(self, key: str, label: str, reason: str) -> None:
        self._backoff.setdefault(key, _Backoff()).failed(self._monotonic())
        if self._errors.get(label) != reason:
            log.warning("%s: %s", label, reason)
        self._errors[label] = reason

    def _succeeded(self, key: str, label: str) -> None:
        self._backoff.pop(key, None)
        if self._errors.pop(label, None) is not None:
            log.info("%s answers again", label)

    def _ask_all(
        self, witnesses: Sequence[WitnessEndpoint], checkpoint: CheckpointRecord
    ) -> list[_Cosigned]:
        """Offer ``checkpoint`` to each of ``witnesses`` at once; their checked cosignatures."""
        if len(witnesses) <= 1:
            answers = [self._ask(w, checkpoint) for w in witnesses]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=min(len(self.policy.witnesses), MAX_CONCURRENT_WITNESSES),
                    thread_name_prefix="zl-witness",
                )
            pool = self._pool
            answers = list(pool.map(lambda w: self._ask(w, checkpoint), witnesses))
        return [a for a in answers if a is not None]

    def _record(
        self, checkpoint: CheckpointRecord, cosigned: Sequence[_Cosigned], token: bytes | None
    ) -> None:
        """Store the cosignatures and the time stamp in one transaction."""
        now = self._clock()
        with self.database.session() as session:
            for c in cosigned:
                add_cosignature(
                    session,
                    tree_size=checkpoint.tree_size,
                    witness=c.witness.key_text,
                    cosigned_at=c.cosigned_at,
                    line=c.line,
                    recorded_at=now,
                )
            if token is not None:
                set_time_stamp(session, tree_size=checkpoint.tree_size, token=token, at=now)
            session.commit()
        for c in cosigned:
            self._known[c.witness.key_text] = checkpoint.tree_size
            self._succeeded(c.witness.key_text, f"witness {c.witness.name}")
            log.info("checkpoint %d cosigned by %s", checkpoint.tree_size, c.witness.name)
        if token is not None:
            self._succeeded("tsa", "time stamp")
            log.info("checkpoint %d time-stamped", checkpoint.tree_size)

    def _ask(self, witness: WitnessEndpoint, checkpoint: CheckpointRecord) -> _Cosigned | None:
        """Offer ``checkpoint`` to ``witness``; its checked cosignature (None: see _failed)."""
        key, label = witness.key_text, f"witness {witness.name}"
        note = Note.parse(checkpoint.note.encode("utf-8"))
        if key not in self._known:
            with self.database.session() as session:
                self._known[key] = last_cosigned_size(session, key)
        for _attempt in range(2):  # a 409 teaches the witness's size: one more try
            old = self._known[key]
            if old > checkpoint.tree_size:
                self._failed(
                    key,
                    label,
                    f"has cosigned a tree of {old} entries, larger than the log's latest "
                    f"checkpoint ({checkpoint.tree_size}): the log was rolled back or forked",
                )
                return None
            with self.database.session() as session:
                merkle = MerkleLog(SqlNodeStore(session))
                proof = (
                    merkle.consistency_proof(old, checkpoint.tree_size).hashes
                    if 0 < old < checkpoint.tree_size
                    else ()
                )
            request = AddCheckpoint(old, tuple(proof), checkpoint.note.encode("utf-8"))
            try:
                answer = self._transport.post(
                    witness.url.rstrip("/") + "/add-checkpoint", request.to_bytes()
                )
            except WitnessUnavailable as exc:
                self._failed(key, label, f"unreachable: {exc}")
                return None
            if answer.status == 409:
                try:
                    self._known[key] = parse_size(answer.body)
                except NoteError as exc:
                    self._failed(key, label, f"409 without its size: {exc}")
                    return None
                if self._known[key] == old:
                    self._failed(key, label, f"409 for the size it names ({old})")
                    return None
                continue
            if answer.status != 200:
                text = answer.body[:200].decode("utf-8", errors="replace").strip()
                self._failed(
                    key, label, f"refused checkpoint {checkpoint.tree_size}: {answer.status} {text}"
                )
                return None
            return self._check(witness, note, answer.body)
        return None

    def _check(self, witness: WitnessEndpoint, note: Note, body: bytes) -> _Cosigned | None:
        """The cosignature by ``witness``'s pinned key in its answer ``body``, checked."""
        key, label = witness.key_text, f"witness {witness.name}"
        try:
            lines = parse_cosignature_lines(note.text, body)
            found = verify_cosignatures(Note(note.text, lines), [witness.key])
        except NoteError as exc:
            self._failed(key, label, f"answered an invalid cosignature: {exc}")
            return None
        if not found:
            self._failed(key, label, "answered no cosignature by its pinned key")
            return None
        line = next(
            s for s in lines if (s.name, s.key_id) == (witness.key.name, witness.key.key_id)
        )
        text = f"\u2014 {line.name} {base64.b64encode(line.key_id + line.signature).decode()}"
        return _Cosigned(witness, datetime.fromtimestamp(found[0].time, UTC), text)

    def _stamp(self, checkpoint: CheckpointRecord) -> bytes | None:
        """A checked time-stamp token over ``checkpoint`` (None: see _failed)."""
        assert self._time_stamps is not None
        try:
            return self._time_stamps.stamp(checkpoint.note.encode("utf-8"))
        except EvidenceError as exc:
            self._failed("tsa", "time stamp", str(exc)[:300])
            return None
