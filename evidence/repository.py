"""Metadata in SQL through SQLAlchemy 2: documents, Merkle log nodes, anchors, API tokens.

SQLite by default (WAL, busy timeout), PostgreSQL through ``postgresql+psycopg://`` URLs.
Functions take the caller's ``Session`` so that a batch of deposits and the log nodes they add
commit in one transaction. Records come back as frozen dataclasses, never ORM objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    and_,
    create_engine,
    event,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from evidence.errors import StorageError
from ledger.errors import MerkleError

metadata = MetaData()

log_state = Table(
    "log_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("size", BigInteger, nullable=False),
)
log_nodes = Table(
    "log_nodes",
    metadata,
    Column("level", SmallInteger, primary_key=True),
    Column("idx", BigInteger, primary_key=True),
    Column("hash", LargeBinary(32), nullable=False),
)
documents = Table(
    "documents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("leaf_index", BigInteger, nullable=False, unique=True),
    Column("sha256", LargeBinary(32), nullable=False, index=True),
    Column("sm3", LargeBinary(32), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("case_code", String(64), index=True),
    Column("institution", Text, nullable=False),
    Column("depositor", String(36), nullable=False),
    Column("filename", Text),
    Column("salt", LargeBinary(32), nullable=False),
    Column("entry", LargeBinary, nullable=False),
    Column("deposited_at", DateTime(timezone=True), nullable=False),
)
anchors = Table(
    "anchors",
    metadata,
    Column("tree_size", BigInteger, primary_key=True),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("tx_hash", LargeBinary(32)),
    Column("raw_tx", LargeBinary),
    Column("block_number", BigInteger),
    Column("anchor_index", BigInteger),
    Column("block_time", DateTime(timezone=True)),
    Column("proof", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("confirmed_at", DateTime(timezone=True)),
)
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("token_hash", LargeBinary(32), nullable=False, unique=True),
    Column("institution", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

#: Seconds a SQLite writer waits for another writer (e.g. `zhenglian tokens` while serving).
SQLITE_BUSY_TIMEOUT_MS = 10_000


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        try:
            with Session(self.engine) as session:
                yield session
        except SQLAlchemyError as exc:
            raise StorageError(
                f"metadata database: {type(exc).__name__}: {exc}".splitlines()[0]
            ) from exc

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        try:
            with self.engine.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot migrate the metadata database: {exc}") from exc


def open_database(url: str) -> Database:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")
                cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                cur.close()
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    except (SQLAlchemyError, ImportError) as exc:
        raise StorageError(f"cannot open database {url.split('@')[-1]}: {exc}") from exc
    return Database(engine)


# --- Merkle nodes -----------------------------------------------------------------------


class SqlNodeStore:
    """ledger.merkle's NodeStore in the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def size(self) -> int:
        value = self._s.execute(select(log_state.c.size).where(log_state.c.id == 1)).scalar()
        return int(value or 0)

    def get_node(self, level: int, index: int) -> bytes:
        return self.get_nodes([(level, index)])[0]

    def get_nodes(self, coordinates: Sequence[tuple[int, int]]) -> list[bytes]:
        if not coordinates:
            return []
        wanted = set(coordinates)
        # One statement: per level, an IN list on the primary key's second column.
        by_level: dict[int, list[int]] = {}
        for level, idx in wanted:
            by_level.setdefault(level, []).append(idx)
        query = select(log_nodes.c.level, log_nodes.c.idx, log_nodes.c.hash).where(
            or_(
                *(
                    and_(log_nodes.c.level == lv, log_nodes.c.idx.in_(ix))
                    for lv, ix in by_level.items()
                )
            )
        )
        found = {(r.level, r.idx): bytes(r.hash) for r in self._s.execute(query)}
        missing = wanted - set(found)
        if missing:
            raise MerkleError(f"log nodes not stored: {sorted(missing)[:3]}")
        return [found[c] for c in coordinates]

    def append_nodes(self, start_size: int, levels: Sequence[Sequence[bytes]]) -> None:
        end = start_size + (len(levels[0]) if levels else 0)
        moved = self._s.execute(
            update(log_state)
            .where(log_state.c.id == 1, log_state.c.size == start_size)
            .values(size=end)
        )
        if getattr(moved, "rowcount", 0) != 1:
            raise MerkleError(f"log is no longer at size {start_size}: another writer appended")
        rows = [
            {"level": level, "idx": (start_size >> level) + i, "hash": h}
            for level, run in enumerate(levels)
            for i, h in enumerate(run)
        ]
        if rows:
            self._s.execute(insert(log_nodes), rows)


# --- documents ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewDocument:
    id: str
    leaf_index: int
    sha256: bytes
    sm3: bytes
    size: int
    kind: str
    title: str
    case_code: str | None
    institution: str
    depositor: str
    filename: str | None
    salt: bytes
    entry: bytes
    deposited_at: datetime

    def with_leaf_index(self, index: int) -> NewDocument:
        return replace(self, leaf_index=index)


DocumentRecord = NewDocument


def _bytes(value: Any) -> bytes:
    # A row edited by hand (e.g. SQLite's replace()) may come back as TEXT: keep its bytes,
    # verification against the log then reports the alteration.
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _document(row: Any) -> DocumentRecord:
    m = dict(row._mapping)
    for k in ("sha256", "sm3", "salt", "entry"):
        m[k] = _bytes(m[k])
    m["deposited_at"] = _utc(m["deposited_at"])
    return DocumentRecord(**m)


def add_documents(session: Session, rows: Sequence[NewDocument]) -> list[DocumentRecord]:
    session.execute(insert(documents), [r.__dict__ for r in rows])
    return list(rows)


def get_document(session: Session, document_id: str) -> DocumentRecord | None:
    if len(document_id) > 36:
        return None
    row = session.execute(select(documents).where(documents.c.id == document_id)).first()
    return _document(row) if row else None


def get_document_by_leaf(session: Session, leaf_index: int) -> DocumentRecord | None:
    row = session.execute(select(documents).where(documents.c.leaf_index == leaf_index)).first()
    return _document(row) if row else None


#: Most documents one digest lookup returns (the same file deposited many times).
MAX_DIGEST_MATCHES = 100


def find_by_sha256(session: Session, sha256: bytes) -> list[DocumentRecord]:
    rows = session.execute(
        select(documents)
        .where(documents.c.sha256 == sha256)
        .order_by(documents.c.leaf_index)
        .limit(MAX_DIGEST_MATCHES)
    )
    return [_document(r) for r in rows]


# --- anchors -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorRecord:
    tree_size: int
    root_hash: bytes
    status: str
    tx_hash: bytes | None
    raw_tx: bytes | None
    block_number: int | None
    anchor_index: int | None
    block_time: datetime | None
    proof: str | None
    created_at: datetime
    confirmed_at: datetime | None


def _anchor(row: Any) -> AnchorRecord:
    m = dict(row._mapping)
    for k in ("root_hash", "tx_hash", "raw_tx"):
        m[k] = bytes(m[k]) if m[k] is not None else None
    for k in ("block_time", "created_at", "confirmed_at"):
        m[k] = _utc(m[k])
    return AnchorRecord(**m)


def latest_confirmed_anchor(session: Session) -> AnchorRecord | None:
    row = session.execute(
        select(anchors)
        .where(anchors.c.status == "confirmed")
        .order_by(anchors.c.tree_size.desc())
        .limit(1)
    ).first()
    return _anchor(row) if row else None


def pending_anchor(session: Session) -> AnchorRecord | None:
    row = session.execute(
        select(anchors)
        .where(anchors.c.status == "submitted")
        .order_by(anchors.c.tree_size)
        .limit(1)
    ).first()
    return _anchor(row) if row else None


def anchor_covering(session: Session, leaf_index: int) -> AnchorRecord | None:
    """The first confirmed anchor whose head includes ``leaf_index``."""
    row = session.execute(
        select(anchors)
        .where(anchors.c.status == "confirmed", anchors.c.tree_size > leaf_index)
        .order_by(anchors.c.tree_size)
        .limit(1)
    ).first()
    return _anchor(row) if row else None


def record_anchor_submitted(
    session: Session, *, tree_size: int, root_hash: bytes, tx_hash: bytes, raw_tx: bytes
) -> None:
    session.execute(
        insert(anchors).values(
            tree_size=tree_size,
            root_hash=root_hash,
            status="submitted",
            tx_hash=tx_hash,
            raw_tx=raw_tx,
            created_at=datetime.now(UTC),
        )
    )


def confirm_anchor(
    session: Session,
    *,
    tree_size: int,
    block_number: int,
    anchor_index: int,
    block_time: datetime,
    proof_json: str,
) -> None:
    session.execute(
        update(anchors)
        .where(anchors.c.tree_size == tree_size)
        .values(
            status="confirmed",
            block_number=block_number,
            anchor_index=anchor_index,
            block_time=block_time,
            proof=proof_json,
            raw_tx=None,
            confirmed_at=datetime.now(UTC),
        )
    )


def discard_anchor(session: Session, *, tree_size: int) -> None:
    session.execute(
        anchors.delete().where(anchors.c.tree_size == tree_size, anchors.c.status == "submitted")
    )


# --- tokens ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenRecord:
    id: str
    token_hash: bytes
    institution: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def _token(row: Any) -> TokenRecord:
    m = dict(row._mapping)
    m["token_hash"] = bytes(m["token_hash"])
    for k in ("created_at", "expires_at", "revoked_at"):
        m[k] = _utc(m[k])
    return TokenRecord(**m)


def add_token(
    session: Session,
    *,
    id: str,
    token_hash: bytes,
    institution: str,
    role: str,
    created_at: datetime,
    expires_at: datetime | None,
) -> None:
    session.execute(
        insert(api_tokens).values(
            id=id,
            token_hash=token_hash,
            institution=institution,
            role=role,
            created_at=created_at,
            expires_at=expires_at,
        )
    )


def find_token_by_hash(session: Session, token_hash: bytes) -> TokenRecord | None:
    row = session.execute(select(api_tokens).where(api_tokens.c.token_hash == token_hash)).first()
    return _token(row) if row else None


def list_tokens(session: Session) -> list[TokenRecord]:
    return [
        _token(r) for r in session.execute(select(api_tokens).order_by(api_tokens.c.created_at))
    ]


def revoke_token(session: Session, token_id: str, when: datetime) -> bool:
    done = session.execute(
        update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=when)
    )
    return bool(getattr(done, "rowcount", 0))
