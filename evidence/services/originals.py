"""Serving stored originals: streamed, re-hashed on the way, never completed if altered.

The blob stores re-check the digest at the end of every read (:func:`evidence.store.blob_store.
checked_stream`), which is too late for a download: the altered bytes would all be out.
:func:`checked_original` therefore holds the last chunk back until the digest and the
recorded size have been confirmed, so a client never receives the complete original of a
tampered blob — the response is cut short (or, for an original of one chunk, never starts).
A mismatch — or an original missing from the store — is logged at WARNING as tampering, with
the document id, and reported to the caller's ``on_tampering`` (the API records a
``tamper_detected`` custody event with it).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator

from evidence.errors import TamperingDetected
from evidence.store.blob_store import BlobNotFound, BlobStore
from evidence.store.repository import DocumentRecord

log = logging.getLogger(__name__)

__all__ = ["checked_original"]


def checked_original(
    blobs: BlobStore,
    record: DocumentRecord,
    on_tampering: Callable[[TamperingDetected], None] | None = None,
) -> Iterator[bytes]:
    """The original of ``record`` in chunks; TamperingDetected before its last chunk if the
    stored bytes are not exactly the deposited ones (``on_tampering`` is called first; what
    it raises is logged, never hides the tampering)."""
    sent = 0
    held: bytes | None = None
    try:
        try:
            chunks = iter(blobs.open(record.sha256))
            first = next(chunks, None)
        except BlobNotFound:
            # The row and its anchored entry say it was deposited: a missing original is
            # tampering (or loss), never "no such document".
            raise TamperingDetected("the stored original is missing") from None
        for chunk in itertools.chain([] if first is None else [first], chunks):
            if not chunk:
                continue
            sent += len(chunk)
            if sent > record.size:
                raise TamperingDetected(
                    f"stored original is longer than the {record.size} bytes deposited"
                )
            if held is not None:
                yield held
            held = chunk
        if sent != record.size:
            raise TamperingDetected(
                f"stored original has {sent} bytes, {record.size} were deposited"
            )
    except TamperingDetected as exc:
        log.warning("tampering: document %s: %s (download aborted)", record.id, exc)
        if on_tampering is not None:
            try:
                on_tampering(exc)
            except Exception:
                log.exception("tampering: document %s: could not report it", record.id)
        raise
    if held is not None:
        yield held
