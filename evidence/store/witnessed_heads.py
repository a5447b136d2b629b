"""The log's signed checkpoints, with the witnesses' cosignatures and time-stamp tokens.

One row per anchored head of the document log that the log signed a checkpoint for
(``checkpoints``), one per witness cosignature on it (``cosignatures``): what receipts of
version 2 carry as proof that the head was not the operator's word alone
(``evidence.services.cosigning`` fills them; migration ``0011``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from evidence.errors import DuplicateRecord, InputError, NotFound
from evidence.store.database import MAX_WITNESS_KEY_CHARS, checkpoints_table, cosignatures_table
from evidence.store.repository import (
    check_hash,
    check_text,
    check_time,
    rowcount,
    wrap_errors,
)
from ledger.merkle import MAX_TREE_SIZE

__all__ = [
    "MAX_CHECKPOINT_NOTE_CHARS",
    "MAX_TIME_STAMP_BYTES_STORED",
    "CheckpointRecord",
    "CosignatureRecord",
    "add_cosignature",
    "checkpoint_of_size",
    "cosignatures_of",
    "first_witnessed_checkpoint",
    "last_cosigned_size",
    "latest_checkpoint",
    "record_checkpoint",
    "set_time_stamp",
]

MAX_CHECKPOINT_NOTE_CHARS = 4096
"""Longest checkpoint note stored (three lines and the log's signature: about 150)."""

MAX_TIME_STAMP_BYTES_STORED = 64 * 1024
"""Largest time-stamp token stored."""


@dataclass(frozen=True)
class CheckpointRecord:
    tree_size: int
    root_hash: bytes
    note: str
    """The checkpoint as the log signed it (text, blank line, the log's signature line)."""
    created_at: datetime
    time_stamp: bytes | None
    time_stamped_at: datetime | None


@dataclass(frozen=True)
class CosignatureRecord:
    tree_size: int
    witness: str
    """The witness's verifier key (``NAME+KEYID+BASE64``)."""
    cosigned_at: datetime
    line: str
    """The note signature line (``— NAME BASE64``), without its newline."""
    recorded_at: datetime


def _checkpoint(row: Any) -> CheckpointRecord:
    m = dict(row._mapping)
    m["root_hash"] = bytes(m["root_hash"])
    if m["time_stamp"] is not None:
        m["time_stamp"] = bytes(m["time_stamp"])
    return CheckpointRecord(**m)


def _size(value: object, name: str) -> None:
    if type(value) is not int or not 0 < value <= MAX_TREE_SIZE:
        raise InputError(f"{name} must be a tree size in [1, {MAX_TREE_SIZE}], got {value!r}")


@wrap_errors
def record_checkpoint(
    session: Session, *, tree_size: int, root_hash: bytes, note: str, created_at: datetime
) -> bool:
    """Store the signed checkpoint of ``tree_size``; False if one is stored already."""
    _size(tree_size, "tree_size")
    check_hash(root_hash, "root_hash")
    check_text(note, "note", MAX_CHECKPOINT_NOTE_CHARS)
    check_time(created_at, "created_at")
    if checkpoint_of_size(session, tree_size) is not None:
        return False
    session.execute(
        insert(checkpoints_table).values(
            tree_size=tree_size, root_hash=root_hash, note=note, created_at=created_at
        )
    )
    return True


@wrap_errors
def checkpoint_of_size(session: Session, tree_size: int) -> CheckpointRecord | None:
    row = session.execute(
        select(checkpoints_table).where(checkpoints_table.c.tree_size == tree_size)
    ).first()
    return _checkpoint(row) if row is not None else None


@wrap_errors
def latest_checkpoint(session: Session) -> CheckpointRecord | None:
    row = session.execute(
        select(checkpoints_table).order_by(checkpoints_table.c.tree_size.desc()).limit(1)
    ).first()
    return _checkpoint(row) if row is not None else None


@wrap_errors
def set_time_stamp(session: Session, *, tree_size: int, token: bytes, at: datetime) -> None:
    """Store the time-stamp token over the checkpoint of ``tree_size`` (kept if one is)."""
    if type(token) is not bytes or not 0 < len(token) <= MAX_TIME_STAMP_BYTES_STORED:
        raise InputError(f"a time-stamp token is 1 to {MAX_TIME_STAMP_BYTES_STORED} bytes")
    check_time(at, "at")
    done = session.execute(
        update(checkpoints_table)
        .where(checkpoints_table.c.tree_size == tree_size)
        .where(checkpoints_table.c.time_stamp.is_(None))
        .values(time_stamp=token, time_stamped_at=at)
    )
    if not rowcount(done) and checkpoint_of_size(session, tree_size) is None:
        raise NotFound(f"no checkpoint of size {tree_size}")


@wrap_errors
def add_cosignature(
    session: Session,
    *,
    tree_size: int,
    witness: str,
    cosigned_at: datetime,
    line: str,
    recorded_at: datetime,
) -> bool:
    """Store a checked cosignature; False if that witness's is stored already."""
    _size(tree_size, "tree_size")
    check_text(witness, "witness", MAX_WITNESS_KEY_CHARS)
    check_text(line, "line", MAX_CHECKPOINT_NOTE_CHARS)
    check_time(cosigned_at, "cosigned_at")
    check_time(recorded_at, "recorded_at")
    exists = session.execute(
        select(cosignatures_table.c.tree_size)
        .where(cosignatures_table.c.tree_size == tree_size)
        .where(cosignatures_table.c.witness == witness)
    ).first()
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.execute(
                insert(cosignatures_table).values(
                    tree_size=tree_size,
                    witness=witness,
                    cosigned_at=cosigned_at,
                    line=line,
                    recorded_at=recorded_at,
                )
            )
    except DuplicateRecord:
        return False
    return True


@wrap_errors
def cosignatures_of(session: Session, tree_size: int) -> list[CosignatureRecord]:
    rows = session.execute(
        select(cosignatures_table)
        .where(cosignatures_table.c.tree_size == tree_size)
        .order_by(cosignatures_table.c.cosigned_at, cosignatures_table.c.witness)
    ).all()
    return [CosignatureRecord(**dict(row._mapping)) for row in rows]


@wrap_errors
def last_cosigned_size(session: Session, witness: str) -> int:
    """The largest checkpoint ``witness`` cosigned that the log stored (0: none)."""
    size = session.execute(
        select(func.max(cosignatures_table.c.tree_size)).where(
            cosignatures_table.c.witness == witness
        )
    ).scalar()
    return int(size or 0)


@wrap_errors
def first_witnessed_checkpoint(
    session: Session,
    *,
    covering: int,
    witnesses: tuple[str, ...],
    quorum: int,
    time_stamped: bool,
) -> CheckpointRecord | None:
    """The smallest checkpoint past leaf index ``covering`` cosigned by at least ``quorum`` of
    ``witnesses`` (and time-stamped, when ``time_stamped``): the earliest proof of the leaf."""
    query = select(checkpoints_table).where(checkpoints_table.c.tree_size > covering)
    if time_stamped:
        query = query.where(checkpoints_table.c.time_stamp.is_not(None))
    if quorum > 0:
        cosigned = (
            select(cosignatures_table.c.tree_size)
            .where(cosignatures_table.c.witness.in_(witnesses))
            .group_by(cosignatures_table.c.tree_size)
            .having(func.count() >= quorum)
        )
        query = query.where(checkpoints_table.c.tree_size.in_(cosigned))
    row = session.execute(query.order_by(checkpoints_table.c.tree_size).limit(1)).first()
    return _checkpoint(row) if row is not None else None
