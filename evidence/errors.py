"""Errors of the ``evidence`` package: one root, typed subclasses, third-party errors wrapped."""

from __future__ import annotations


class EvidenceError(Exception):
    """Root of every error raised by the ``evidence`` package."""


class InputError(EvidenceError):
    """Caller input is malformed or over a named limit (HTTP 4xx / CLI exit 2)."""


class NotFound(EvidenceError):
    """The document, blob or receipt asked for does not exist."""


class StorageError(EvidenceError):
    """A blob store or the metadata database failed (wraps the driver's error)."""

    internal: bool = False
    """True when the message quotes a driver's words (SQL, constraint names): shown to
    operators in logs, never to API callers."""


class TamperingDetected(EvidenceError):
    """Stored data no longer matches its digest or the log: it was altered."""


class DuplicateRecord(StorageError):
    """A row with the same unique key (id, leaf index, tree size, token hash) is stored."""


class Unauthenticated(EvidenceError):
    """No valid credentials: an unknown, forged, revoked or expired token, or a disabled
    institution's (HTTP 401)."""


class Forbidden(EvidenceError):
    """The caller is known and may see the object, but not do this to it (HTTP 403)."""


class Conflict(EvidenceError):
    """The request contradicts the object's state: for example removing a case's owner from
    its own case (HTTP 409)."""


class Gone(EvidenceError):
    """The object existed but may no longer be used: a share code revoked, expired or used up
    (HTTP 410)."""


class BlobTooLarge(InputError):
    """A document is over the upload limit (HTTP 413); ``limit`` is that limit in bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"documents are limited to {limit} bytes")


class ChainDivergence(EvidenceError):
    """The log's records and the chain disagree in a way no retry can heal: the chain lost
    heads the database recorded as anchored (reset, replaced, rolled back), holds a head the
    log does not contain (the database was rolled back or forked), or holds another root for a
    recorded size. Anchoring stops and says so until an operator resolves it."""
