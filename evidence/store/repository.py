"""Metadata queries: the SQL Merkle node store, documents and anchors.

Institutions, tokens, cases and share codes are in :mod:`evidence.access.enforcement`.

Every function takes the caller's ``Session`` and never commits, so a batch of deposits and
the log nodes they add commit in one transaction (see ``evidence.services.deposits``). Records come
back as frozen dataclasses, never ORM objects. Input is checked here, against the same
limits on SQLite and PostgreSQL (InputError), and database errors are wrapped where they
enter: a unique key already stored is DuplicateRecord, anything else StorageError; after
either the caller must roll the session back. A lost append race is ledger's MerkleError.

What is stored and what is derived: a document's leaf index and entry bytes are stored; its
*anchored* state is not — a document is anchored iff its ``leaf_index`` is below the
``tree_size`` of the latest confirmed anchor, i.e. iff :func:`anchor_covering` finds one.
The log size is stored (one ``log_state`` row) because appends are guarded by it.

Models, engine and migrations live in :mod:`evidence.store.database`; the names re-exported below
(``Database``, ``open_database``, ``metadata``, the tables) keep older imports working.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ParamSpec, TypeAlias, TypeVar, cast

from sqlalchemy import (
    CursorResult,
    Engine,
    LargeBinary,
    Select,
    String,
    Table,
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from evidence.errors import DuplicateRecord, InputError, NotFound, StorageError
from evidence.store.database import (
    HASH_BYTES,
    MAX_CASE_CODE_CHARS,
    MAX_CERTIFICATE_ID_CHARS,
    MAX_CERTIFICATE_PDF_BYTES,
    MAX_ID_CHARS,
    MAX_INSTITUTION_NAME_CHARS,
    MAX_INSTITUTION_TYPE_CHARS,
    MAX_KIND_CHARS,
    AnchorStatus,
    Database,
    anchors_table,
    api_tokens_table,
    certificates_table,
    documents_table,
    log_nodes_table,
    log_state_table,
    metadata,
    open_database,
    retired_anchors_table,
)
from ledger.errors import MerkleError
from ledger.merkle import MAX_TREE_SIZE

__all__ = [
    "MAX_CACHED_NODES",
    "MAX_CERTIFICATES_PER_INSERT",
    "MAX_DIGEST_MATCHES",
    "MAX_NODES_PER_QUERY",
    "MAX_PENDING_LISTED",
    "AnchorRecord",
    "AnchorStatus",
    "CertificateRecord",
    "CertificateStatus",
    "Database",
    "DocumentRecord",
    "NewCertificate",
    "NewDocument",
    "SqlNodeStore",
    "add_certificates",
    "add_documents",
    "anchor_covering",
    "bytes_deposited_since",
    "certificate_number_query",
    "certificate_pdf",
    "check_hash",
    "check_text",
    "check_time",
    "confirm_anchor",
    "confirm_certificate_change",
    "confirm_certificate_issue",
    "digest_query",
    "discard_anchor",
    "discard_certificate_change",
    "discard_pending_certificate",
    "document_from_row",
    "find_by_sha256",
    "find_certificate_by_number",
    "forget_cached_nodes",
    "get_certificate",
    "get_document",
    "get_document_by_leaf",
    "latest_confirmed_anchor",
    "latest_submitted_anchor",
    "metadata",
    "open_database",
    "pending_anchor",
    "pending_anchor_count",
    "pending_certificate_count",
    "pending_certificates",
    "record_anchor_submitted",
    "request_certificate_change",
    "retire_anchors",
    "rowcount",
    "wrap_errors",
]

# Older names of the tables (now defined by the models in evidence.store.database).
log_state = log_state_table
log_nodes = log_nodes_table
documents = documents_table
anchors = anchors_table
api_tokens = api_tokens_table

MAX_DIGEST_MATCHES = 100
"""Most documents one digest lookup returns (the same file deposited many times)."""

MAX_NODES_PER_QUERY = 128
"""Most log nodes fetched by one SELECT. A root or proof needs at most 2 * 64 nodes
(``ledger.merkle``), so ``MerkleLog`` always uses a single query; the OR of this many
terms stays well inside SQLite's expression-depth limit (1000)."""

_MAX_LEVEL = 63  # a tree of at most MAX_TREE_SIZE < 2**63 leaves has no complete level 63+

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _is_unique_violation(exc: IntegrityError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)  # psycopg
    return sqlstate == "23505" or "UNIQUE constraint failed" in str(exc.orig)


def wrap_errors(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn SQLAlchemy/driver errors into DuplicateRecord or StorageError at the border."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except IntegrityError as exc:
            detail = (str(exc.orig).strip().splitlines() or [""])[0]
            error: StorageError
            if _is_unique_violation(exc):
                error = DuplicateRecord(f"{fn.__name__}: already stored: {detail}")
            else:
                error = StorageError(f"{fn.__name__}: integrity error: {detail}")
            error.internal = True
            raise error from exc
        except SQLAlchemyError as exc:
            detail = (str(exc).strip().splitlines() or [""])[0]
            error = StorageError(f"{fn.__name__}: {type(exc).__name__}: {detail}")
            error.internal = True
            raise error from exc

    return wrapper


def rowcount(result: object) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


# --- Input checks (the same on both databases) --------------------------------------------


def check_hash(value: object, name: str) -> None:
    if type(value) is not bytes or len(value) != HASH_BYTES:
        raise InputError(f"{name} must be {HASH_BYTES} bytes, got {value!r:.80}")


def check_text(value: object, name: str, max_chars: int | None, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string, got {type(value).__name__}")
    if max_chars is not None and len(value) > max_chars:
        raise InputError(f"{name} longer than {max_chars} characters")
    if "\x00" in value:
        raise InputError(f"{name} contains a NUL character")  # PostgreSQL refuses it in TEXT


def _check_count(value: object, name: str) -> None:
    if type(value) is not int or not 0 <= value <= MAX_TREE_SIZE:
        raise InputError(f"{name} must be an int in [0, {MAX_TREE_SIZE}], got {value!r}")


def check_time(value: object, name: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InputError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _bytes(value: Any) -> bytes:
    # A row edited by hand (e.g. SQLite's replace()) may come back as TEXT: keep its bytes,
    # verification against the log then reports the alteration.
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _optional_bytes(value: Any) -> bytes | None:
    return None if value is None else _bytes(value)


# --- Merkle nodes ---------------------------------------------------------------------------


def _size_sql(state_table: str) -> str:
    """The log size, as prepared driver SQL (read before every root and proof)."""
    return f"SELECT size FROM {state_table} WHERE id = 1"


MAX_CACHED_NODES = 1 << 16
"""Most log nodes :class:`SqlNodeStore` keeps in memory per database (engine), ~10 MB.

Committed nodes never change (the log is append-only), so every store on the same engine
shares one cache of the nodes it has read; when it is full it is emptied and refills with
the nodes proofs actually use (the upper levels, shared by every proof, come back first)."""

_NODE_CACHES: weakref.WeakKeyDictionary[Engine, dict[str, dict[tuple[int, int], bytes]]] = (
    weakref.WeakKeyDictionary()
)
_NODE_CACHES_LOCK = threading.Lock()  # creating an engine's cache; the dicts are GIL-atomic

_WROTE_NODES = "zhenglian.log_nodes_written_in"
"""``Connection.info`` key: the transaction in which this connection wrote log nodes.

Nodes read in that transaction may be its own uncommitted writes, so they are not cached."""

_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
"""Positional placeholder of the DB-API paramstyles the prepared node SQL supports
(sqlite3: qmark, psycopg: pyformat); any other driver uses the SQLAlchemy statement."""


def _driver_rows(connection: Connection, sql: str, params: tuple[int, ...] = ()) -> list[Any]:
    """Run prepared SQL on the session's own DB-API connection (so in its transaction) and
    return all rows: skips SQLAlchemy's per-statement result machinery (~80 µs of a
    ~250 µs proof). A driver error becomes StorageError, as ``wrap_errors`` does."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    except connection.dialect.loaded_dbapi.Error as exc:
        detail = (str(exc).strip().splitlines() or [""])[0]
        raise StorageError(f"log store query: {type(exc).__name__}: {detail}") from exc
    finally:
        cursor.close()


def _node_cache(engine: Engine, nodes_table: str) -> dict[tuple[int, int], bytes]:
    """The cache of one log's nodes (by its nodes table) in ``engine``'s database."""
    caches = _NODE_CACHES.get(engine)
    if caches is None:
        with _NODE_CACHES_LOCK:
            caches = _NODE_CACHES.setdefault(engine, {})
    cache = caches.get(nodes_table)
    if cache is None:
        with _NODE_CACHES_LOCK:
            cache = caches.setdefault(nodes_table, {})
    return cache


def forget_cached_nodes(engine: Engine) -> None:
    """Drop the in-memory log nodes of ``engine``'s database.

    Only needed if ``log_nodes`` rows were deleted or rewritten behind the application's
    back (a test resetting the log, a restored backup): the cache assumes they never are.
    """
    with _NODE_CACHES_LOCK:
        _NODE_CACHES.pop(engine, None)


@functools.lru_cache(maxsize=4 * MAX_NODES_PER_QUERY)
def _nodes_query(count: int, table: Table = log_nodes_table) -> Select[int, int, bytes]:
    """``SELECT level, idx, hash FROM log_nodes WHERE (level = :l0 AND idx = :i0) OR ...``."""
    c = table.c
    return select(c.level, c.idx, c.hash).where(
        or_(
            *(
                and_(c.level == bindparam(f"l{i}"), c.idx == bindparam(f"i{i}"))
                for i in range(count)
            )
        )
    )


@functools.lru_cache(maxsize=4 * MAX_NODES_PER_QUERY)
def _nodes_sql(placeholder: str, count: int, nodes_table: str = "log_nodes") -> str:
    """The same SELECT as :func:`_nodes_query` as prepared driver SQL with positional
    parameters ``level0, idx0, level1, idx1, ...`` (no SQLAlchemy compilation per call).
    ``nodes_table`` is one of our own tables' names, never input."""
    term = f"(level = {placeholder} AND idx = {placeholder})"
    return f"SELECT level, idx, hash FROM {nodes_table} WHERE " + " OR ".join([term] * count)


class SqlNodeStore:
    """``ledger.merkle.NodeStore`` on the ``log_nodes`` table, in the caller's transaction.

    ``append_nodes`` is race-safe: it moves the size in the one ``log_state`` row with
    ``UPDATE ... WHERE size = start_size`` before inserting anything, so of two writers that
    read the same size only one succeeds; the other gets MerkleError and has written nothing
    (on PostgreSQL the losing UPDATE waits for the winner's commit, then matches no row).
    Nodes are immutable, so reads need no locking.

    Committed nodes never change, so the nodes read are kept in a cache shared by all
    stores on the same engine (at most :data:`MAX_CACHED_NODES`). Only nodes read in a
    transaction that has not itself written log nodes go into it: a transaction sees other
    transactions' nodes only once they are committed (SQLite and PostgreSQL have no dirty
    reads), while its own may still be rolled back. See :func:`forget_cached_nodes`.
    """

    __slots__ = ("_nodes", "_session", "_size_sql", "_state")

    def __init__(
        self,
        session: Session,
        *,
        nodes_table: Table = log_nodes_table,
        state_table: Table = log_state_table,
    ) -> None:
        """``nodes_table`` / ``state_table`` name another log's tables (default: documents')."""
        self._session = session
        self._nodes = nodes_table
        self._state = state_table
        self._size_sql = _size_sql(state_table.name)

    @wrap_errors
    def size(self) -> int:
        rows = _driver_rows(self._session.connection(), self._size_sql)
        value = rows[0][0] if rows else None
        if value is None:
            raise StorageError(
                f"the {self._state.name} row is missing: the database is not migrated"
            )
        return int(value)

    def get_node(self, level: int, index: int) -> bytes:
        return self.get_nodes([(level, index)])[0]

    @wrap_errors
    def get_nodes(self, coordinates: Sequence[tuple[int, int]]) -> list[bytes]:
        """The nodes at ``coordinates``, in order; MerkleError if one is not stored.

        Cached nodes first; the rest with one SELECT per :data:`MAX_NODES_PER_QUERY`
        distinct coordinates (so one for any root or proof): ``(level = ? AND idx = ?) OR
        ...``, each term a primary-key lookup, sent to the driver as SQL prepared once per
        count.
        """
        connection = self._session.connection()
        engine = connection.engine
        cache = _node_cache(engine, self._nodes.name)
        found: dict[tuple[int, int], bytes] = {}
        wanted: list[tuple[int, int]] = []
        for coordinate in coordinates:
            level, index = coordinate
            if not (
                type(level) is int
                and type(index) is int
                and 0 <= level <= _MAX_LEVEL
                and 0 <= index <= MAX_TREE_SIZE
            ):
                raise MerkleError(f"invalid node coordinates ({level!r}, {index!r})")
            node = cache.get(coordinate)
            if node is not None:
                found[coordinate] = node
            elif coordinate not in found:
                found[coordinate] = b""  # placeholder: also de-duplicates
                wanted.append(coordinate)
        if wanted:
            read: dict[tuple[int, int], bytes] = {}
            placeholder = _PLACEHOLDERS.get(engine.dialect.paramstyle)
            for start in range(0, len(wanted), MAX_NODES_PER_QUERY):
                chunk = wanted[start : start + MAX_NODES_PER_QUERY]
                if placeholder is None:
                    params: dict[str, int] = {}
                    for i, (level, index) in enumerate(chunk):
                        params[f"l{i}"] = level
                        params[f"i{i}"] = index
                    query = _nodes_query(len(chunk), self._nodes)
                    rows = self._session.execute(query, params).all()
                else:
                    rows = _driver_rows(
                        connection,
                        _nodes_sql(placeholder, len(chunk), self._nodes.name),
                        tuple(value for coordinate in chunk for value in coordinate),
                    )
                for level, index, node in rows:
                    read[(level, index)] = _bytes(node)
            if len(read) != len(wanted):
                missing = sorted(set(wanted) - set(read))
                raise MerkleError(f"log nodes not stored: {missing[:3]} ({len(missing)} in all)")
            found.update(read)
            limit = MAX_CACHED_NODES
            if (
                connection.info.get(_WROTE_NODES) is not connection.get_transaction()
                and len(read) <= limit
            ):
                if len(cache) + len(read) > limit:
                    cache.clear()
                cache.update(read)
        return [found[coordinate] for coordinate in coordinates]

    @wrap_errors
    def append_nodes(self, start_size: int, levels: Sequence[Sequence[bytes]]) -> None:
        """Store the new nodes of an append from ``start_size`` (bulk insert), moving the size.

        The shape is checked first (as ``InMemoryNodeStore`` does); MerkleError if it is wrong
        or if the log is no longer at ``start_size`` (another writer appended).
        """
        if type(start_size) is not int or not 0 <= start_size <= MAX_TREE_SIZE:
            raise MerkleError(f"invalid start size {start_size!r}")
        end_size = start_size + (len(levels[0]) if levels else 0)
        if end_size > MAX_TREE_SIZE:
            raise MerkleError(f"the log would exceed {MAX_TREE_SIZE} leaves")
        level = 0
        for run in levels:
            if len(run) != (end_size >> level) - (start_size >> level):
                raise MerkleError(f"wrong number of new nodes on level {level}")
            if any(type(h) is not bytes or len(h) != HASH_BYTES for h in run):
                raise MerkleError(f"a new node on level {level} is not {HASH_BYTES} bytes")
            level += 1
        if (end_size >> level) != (start_size >> level):
            raise MerkleError(f"the new nodes on level {level} are missing")
        connection = self._session.connection()
        # From here on this transaction may read its own uncommitted nodes: cache none of
        # them (a new transaction on this connection is a new object, so it caches again).
        connection.info[_WROTE_NODES] = connection.get_transaction()
        moved = self._session.execute(
            update(self._state)
            .where(self._state.c.id == 1, self._state.c.size == start_size)
            .values(size=end_size)
        )
        if rowcount(moved) != 1:
            raise MerkleError(
                f"append from size {start_size}, but the log is at size {self.size()}: "
                "another writer appended first"
            )
        rows = [
            {"level": lv, "idx": (start_size >> lv) + i, "hash": node}
            for lv, run in enumerate(levels)
            for i, node in enumerate(run)
        ]
        if rows:
            self._session.execute(insert(self._nodes), rows)


# --- Documents ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewDocument:
    """A document row: the metadata and the exact log entry bytes of one deposit."""

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
    """The id of the API token that deposited it."""
    filename: str | None
    salt: bytes
    entry: bytes
    """The exact leaf data: the log's leaf hash is ``hash_leaf(entry)``."""
    deposited_at: datetime

    def with_leaf_index(self, index: int) -> NewDocument:
        return replace(self, leaf_index=index)


DocumentRecord: TypeAlias = NewDocument
"""A stored document (the same fields as it was added with)."""

_DOCUMENT_FIELDS = tuple(f.name for f in fields(NewDocument))


def _check_document(row: NewDocument) -> None:
    if not isinstance(row, NewDocument):
        raise InputError(f"expected a NewDocument, got {type(row).__name__}")
    check_text(row.id, "document id", MAX_ID_CHARS)
    _check_count(row.leaf_index, "leaf_index")
    check_hash(row.sha256, "sha256")
    check_hash(row.sm3, "sm3")
    _check_count(row.size, "size")
    check_text(row.kind, "kind", MAX_KIND_CHARS)
    check_text(row.title, "title", None)
    check_text(row.case_code, "case_code", MAX_CASE_CODE_CHARS, optional=True)
    check_text(row.institution, "institution", None)
    check_text(row.depositor, "depositor", MAX_ID_CHARS)
    check_text(row.filename, "filename", None, optional=True)
    check_hash(row.salt, "salt")
    if type(row.entry) is not bytes:
        raise InputError("entry must be bytes")
    check_time(row.deposited_at, "deposited_at")


def document_from_row(row: Any) -> DocumentRecord:
    m = dict(row._mapping)
    for name in ("sha256", "sm3", "salt", "entry"):
        m[name] = _bytes(m[name])
    return DocumentRecord(**m)


@wrap_errors
def add_documents(session: Session, rows: Sequence[NewDocument]) -> list[DocumentRecord]:
    """Insert documents in one bulk statement; return them as records.

    InputError if a row is malformed or over a column limit; DuplicateRecord if an id or a
    leaf index is already stored (also within ``rows``).
    """
    for row in rows:
        _check_document(row)
    if rows:
        session.execute(
            insert(documents_table),
            [{name: getattr(row, name) for name in _DOCUMENT_FIELDS} for row in rows],
        )
    return list(rows)


@wrap_errors
def get_document(session: Session, document_id: str) -> DocumentRecord | None:
    if not isinstance(document_id, str) or len(document_id) > MAX_ID_CHARS:
        return None
    row = session.execute(
        select(documents_table).where(documents_table.c.id == document_id)
    ).first()
    return document_from_row(row) if row else None


@wrap_errors
def get_document_by_leaf(session: Session, leaf_index: int) -> DocumentRecord | None:
    _check_count(leaf_index, "leaf_index")
    row = session.execute(
        select(documents_table).where(documents_table.c.leaf_index == leaf_index)
    ).first()
    return document_from_row(row) if row else None


def digest_query(sha256: bytes, limit: int = MAX_DIGEST_MATCHES) -> Any:
    """The SELECT behind :func:`find_by_sha256` (tests EXPLAIN it to see the index used)."""
    return (
        select(documents_table)
        .where(documents_table.c.sha256 == sha256)
        .order_by(documents_table.c.leaf_index)
        .limit(limit)
    )


@wrap_errors
def find_by_sha256(
    session: Session, sha256: bytes, *, limit: int = MAX_DIGEST_MATCHES
) -> list[DocumentRecord]:
    """Documents with this SHA-256, oldest first (at most ``limit``); uses ix_documents_sha256."""
    if type(sha256) is not bytes or len(sha256) != HASH_BYTES:
        return []  # no stored digest has another length
    if not 1 <= limit <= MAX_DIGEST_MATCHES:
        raise InputError(f"limit must be in [1, {MAX_DIGEST_MATCHES}], got {limit!r}")
    return [document_from_row(row) for row in session.execute(digest_query(sha256, limit))]


@wrap_errors
def bytes_deposited_since(session: Session, institution: str, since: datetime) -> int:
    """Total size of the documents ``institution`` deposited at or after ``since``
    (uses ix_documents_institution_time)."""
    check_text(institution, "institution", None)
    check_time(since, "since")
    c = documents_table.c
    total = session.execute(
        select(func.coalesce(func.sum(c.size), 0)).where(
            c.institution == institution, c.deposited_at >= since
        )
    ).scalar_one()
    return int(total)


# --- Anchors --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnchorRecord:
    """A tree head sent to or anchored on the chain."""

    id: int
    tree_size: int
    root_hash: bytes
    status: AnchorStatus
    tx_hash: bytes | None
    raw_tx: bytes | None
    """The signed transaction, kept until it is confirmed (to re-send it after a crash)."""
    block_number: int | None
    anchor_index: int | None
    block_time: datetime | None
    proof: str | None
    """The offline anchor proof (``ledger.anchor_proof.AnchorProof.to_json``) as JSON text."""
    created_at: datetime
    confirmed_at: datetime | None

    @property
    def confirmed(self) -> bool:
        return self.status is AnchorStatus.CONFIRMED


def _anchor(row: Any) -> AnchorRecord:
    m = dict(row._mapping)
    m["root_hash"] = _bytes(m["root_hash"])
    m["tx_hash"] = _optional_bytes(m["tx_hash"])
    m["raw_tx"] = _optional_bytes(m["raw_tx"])
    m["status"] = AnchorStatus(m["status"])
    return AnchorRecord(**m)


def _one_anchor(session: Session, query: Any) -> AnchorRecord | None:
    row = session.execute(query.limit(1)).first()
    return _anchor(row) if row else None


@wrap_errors
def latest_confirmed_anchor(
    session: Session, *, table: Table = anchors_table
) -> AnchorRecord | None:
    """The confirmed anchor with the largest tree size: documents below it are anchored."""
    return _one_anchor(
        session,
        select(table)
        .where(table.c.status == AnchorStatus.CONFIRMED.value)
        .order_by(table.c.tree_size.desc()),
    )


@wrap_errors
def pending_anchor(session: Session, *, table: Table = anchors_table) -> AnchorRecord | None:
    """The submitted (not yet confirmed) anchor with the smallest tree size, if any."""
    return _one_anchor(
        session,
        select(table)
        .where(table.c.status == AnchorStatus.SUBMITTED.value)
        .order_by(table.c.tree_size),
    )


@wrap_errors
def latest_submitted_anchor(
    session: Session, *, table: Table = anchors_table
) -> AnchorRecord | None:
    """The anchor (submitted or confirmed) with the largest tree size: the head the next one
    is sent after, and proves consistency from."""
    return _one_anchor(session, select(table).order_by(table.c.tree_size.desc()))


@wrap_errors
def pending_anchor_count(session: Session, *, table: Table = anchors_table) -> int:
    """How many anchors are submitted and not yet confirmed (in flight)."""
    return int(
        session.execute(
            select(func.count())
            .select_from(table)
            .where(table.c.status == AnchorStatus.SUBMITTED.value)
        ).scalar_one()
    )


@wrap_errors
def anchor_of_size(
    session: Session, *, tree_size: int, table: Table = anchors_table
) -> AnchorRecord | None:
    """The anchor record (submitted or confirmed) of exactly ``tree_size``, if any."""
    _check_count(tree_size, "tree_size")
    return _one_anchor(session, select(table).where(table.c.tree_size == tree_size))


@wrap_errors
def anchor_covering(
    session: Session, leaf_index: int, *, table: Table = anchors_table
) -> AnchorRecord | None:
    """The first confirmed anchor whose head includes ``leaf_index`` (``tree_size > leaf_index``).

    None means the document at ``leaf_index`` is not anchored yet.
    """
    _check_count(leaf_index, "leaf_index")
    return _one_anchor(
        session,
        select(table)
        .where(
            table.c.status == AnchorStatus.CONFIRMED.value,
            table.c.tree_size > leaf_index,
        )
        .order_by(table.c.tree_size),
    )


@wrap_errors
def record_anchor_submitted(
    session: Session,
    *,
    tree_size: int,
    root_hash: bytes,
    tx_hash: bytes,
    raw_tx: bytes | None = None,
    created_at: datetime | None = None,
    table: Table = anchors_table,
) -> AnchorRecord:
    """Record a signed anchoring transaction before it is sent (status ``submitted``).

    DuplicateRecord if an anchor of this tree size is already recorded.
    """
    _check_count(tree_size, "tree_size")
    check_hash(root_hash, "root_hash")
    check_hash(tx_hash, "tx_hash")
    if raw_tx is not None and type(raw_tx) is not bytes:
        raise InputError("raw_tx must be bytes")
    check_time(created_at, "created_at", optional=True)
    values: dict[str, Any] = {
        "tree_size": tree_size,
        "root_hash": root_hash,
        "status": AnchorStatus.SUBMITTED.value,
        "tx_hash": tx_hash,
        "raw_tx": raw_tx,
        "created_at": (created_at or datetime.now(UTC)).astimezone(UTC),
    }
    new_id = session.execute(insert(table).values(**values).returning(table.c.id)).scalar_one()
    return AnchorRecord(
        id=int(new_id),
        tree_size=tree_size,
        root_hash=root_hash,
        status=AnchorStatus.SUBMITTED,
        tx_hash=tx_hash,
        raw_tx=raw_tx,
        block_number=None,
        anchor_index=None,
        block_time=None,
        proof=None,
        created_at=values["created_at"],
        confirmed_at=None,
    )


@wrap_errors
def confirm_anchor(
    session: Session,
    *,
    tree_size: int,
    block_number: int,
    anchor_index: int,
    block_time: datetime,
    proof_json: str,
    confirmed_at: datetime | None = None,
    tx_hash: bytes | None = None,
    table: Table = anchors_table,
) -> None:
    """Mark the submitted anchor of ``tree_size`` confirmed, with its offline proof.

    ``tx_hash``, when given, is the transaction that the chain shows anchored the head (found
    by reading the contract after a crash or a lost race) and replaces the recorded one. The
    raw transaction is dropped (it is on chain now). NotFound if no anchor of that size is
    waiting for confirmation.
    """
    _check_count(tree_size, "tree_size")
    _check_count(block_number, "block_number")
    _check_count(anchor_index, "anchor_index")
    check_time(block_time, "block_time")
    check_text(proof_json, "proof_json", None)
    check_time(confirmed_at, "confirmed_at", optional=True)
    mined: dict[str, Any] = {}
    if tx_hash is not None:
        check_hash(tx_hash, "tx_hash")
        mined["tx_hash"] = tx_hash
    done = session.execute(
        update(table)
        .where(
            table.c.tree_size == tree_size,
            table.c.status == AnchorStatus.SUBMITTED.value,
        )
        .values(
            status=AnchorStatus.CONFIRMED.value,
            block_number=block_number,
            anchor_index=anchor_index,
            block_time=block_time,
            proof=proof_json,
            raw_tx=None,
            confirmed_at=confirmed_at or datetime.now(UTC),
            **mined,
        )
    )
    if rowcount(done) != 1:
        raise NotFound(f"no submitted anchor of tree size {tree_size} to confirm")


@wrap_errors
def discard_anchor(session: Session, *, tree_size: int, table: Table = anchors_table) -> bool:
    """Forget a submitted anchor (reverted or refused); confirmed ones are never removed."""
    _check_count(tree_size, "tree_size")
    done = session.execute(
        table.delete().where(
            table.c.tree_size == tree_size,
            table.c.status == AnchorStatus.SUBMITTED.value,
        )
    )
    return rowcount(done) == 1


_ANCHOR_COLUMNS = (
    "tree_size",
    "root_hash",
    "status",
    "tx_hash",
    "raw_tx",
    "block_number",
    "anchor_index",
    "block_time",
    "proof",
    "created_at",
    "confirmed_at",
)


@wrap_errors
def retire_anchors(
    session: Session, *, log: str, contract: bytes, now: datetime, table: Table = anchors_table
) -> int:
    """Move every anchor record of ``table`` (the ``log``'s anchors in ``contract``) to
    ``retired_anchors``, in the caller's transaction; returns how many. The log is then
    anchored afresh in a new contract (``zhenglian anchoring resume``)."""
    columns = [table.c[name] for name in _ANCHOR_COLUMNS]
    moved = session.execute(
        insert(retired_anchors_table).from_select(
            [*_ANCHOR_COLUMNS, "log", "contract", "retired_at"],
            select(
                *columns,
                literal(log, String()),
                literal(contract, LargeBinary()),
                literal(now, retired_anchors_table.c.retired_at.type),
            ).order_by(table.c.tree_size),
        )
    )
    session.execute(table.delete())
    return rowcount(moved)


# --- Registered e-certificates ----------------------------------------------------------------


class CertificateStatus(StrEnum):
    """A registered certificate's status, as the chain's CertificateRegistry holds it; ``pending``
    until the chain holds the issue (docs/e-certificates.md §8)."""

    PENDING = "pending"
    ISSUED = "issued"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


MAX_CERTIFICATES_PER_INSERT = 10_000
"""Most rows :func:`add_certificates` takes at once (a seeding script sends batches)."""

MAX_PENDING_LISTED = 100
"""Most pending certificates :func:`pending_certificates` returns at once."""


@dataclass(frozen=True, slots=True)
class NewCertificate:
    """A certificate row as registered: the signed material and the issuer's signature over the
    issue statement; ``status`` ``pending`` until the chain holds it (a seeded row may be
    ``issued`` with its transaction)."""

    id: str
    issuer_code: str
    issuer_name: str
    issuer_type: str
    type: str
    number: str
    encoded: bytes
    certificate_sha256: bytes
    signature: bytes
    signer_certificate: bytes
    issue_signature: bytes
    registered_by: str
    """The id of the API token that registered it."""
    registered_at: datetime
    pdf: bytes | None = None
    status: CertificateStatus = CertificateStatus.PENDING
    issue_tx: bytes | None = None
    issue_block: int | None = None
    issue_block_time: int | None = None


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    """A stored certificate without its PDF (``has_pdf`` says whether there is one)."""

    id: str
    issuer_code: str
    issuer_name: str
    issuer_type: str
    type: str
    number: str
    encoded: bytes
    certificate_sha256: bytes
    signature: bytes
    signer_certificate: bytes
    has_pdf: bool
    status: CertificateStatus
    issue_signature: bytes
    issue_tx: bytes | None
    issue_block: int | None
    registered_by: str
    registered_at: datetime
    change_action: str | None
    """``revoke`` or ``supersede`` once asked for (pending while ``change_tx`` is None)."""
    change_reason: int | None
    change_effective_at: datetime | None
    change_successor: str | None
    change_signature: bytes | None
    change_signer_certificate: bytes | None
    changed_by: str | None
    changed_at: datetime | None
    change_tx: bytes | None
    change_block: int | None
    issue_block_time: int | None = None
    """Unix seconds of the issue's block (None while pending, or not known)."""
    change_block_time: int | None = None
    """Unix seconds of the change's block (None while pending, or not known)."""

    @property
    def issue_pending(self) -> bool:
        return self.status is CertificateStatus.PENDING

    @property
    def change_pending(self) -> bool:
        return self.change_action is not None and self.change_tx is None


_CERTIFICATE_COLUMNS = tuple(
    f.name for f in fields(CertificateRecord) if f.name not in ("has_pdf",)
)
_CERTIFICATE_BYTES = (
    "encoded",
    "certificate_sha256",
    "signature",
    "signer_certificate",
    "issue_signature",
    "issue_tx",
    "change_signature",
    "change_signer_certificate",
    "change_tx",
)


def _certificate_select() -> Select[Any]:
    c = certificates_table.c
    return select(*(c[name] for name in _CERTIFICATE_COLUMNS), c.pdf.is_not(None).label("has_pdf"))


def _certificate(row: Any) -> CertificateRecord:
    m = dict(row._mapping)
    for name in _CERTIFICATE_BYTES:
        m[name] = _optional_bytes(m[name])
    m["status"] = CertificateStatus(m["status"])
    m["has_pdf"] = bool(m["has_pdf"])
    return CertificateRecord(**m)


def _check_certificate(row: NewCertificate) -> None:
    if not isinstance(row, NewCertificate):
        raise InputError(f"expected a NewCertificate, got {type(row).__name__}")
    check_text(row.id, "certificate id", MAX_CERTIFICATE_ID_CHARS)
    check_text(row.issuer_code, "issuer_code", 18)
    check_text(row.issuer_name, "issuer_name", MAX_INSTITUTION_NAME_CHARS)
    check_text(row.issuer_type, "issuer_type", MAX_INSTITUTION_TYPE_CHARS)
    check_text(row.type, "type", MAX_INSTITUTION_TYPE_CHARS)
    check_text(row.number, "number", 64)
    check_hash(row.certificate_sha256, "certificate_sha256")
    for name in ("encoded", "signature", "signer_certificate", "issue_signature"):
        if type(getattr(row, name)) is not bytes:
            raise InputError(f"{name} must be bytes")
    if row.pdf is not None and (
        type(row.pdf) is not bytes or len(row.pdf) > MAX_CERTIFICATE_PDF_BYTES
    ):
        raise InputError(f"pdf must be bytes, at most {MAX_CERTIFICATE_PDF_BYTES}")
    check_text(row.registered_by, "registered_by", MAX_ID_CHARS)
    check_time(row.registered_at, "registered_at")
    if row.issue_tx is not None:
        check_hash(row.issue_tx, "issue_tx")
    if row.issue_block is not None:
        _check_count(row.issue_block, "issue_block")
    if not isinstance(row.status, CertificateStatus):
        raise InputError(f"status must be a CertificateStatus, got {row.status!r}")


@wrap_errors
def add_certificates(session: Session, rows: Sequence[NewCertificate]) -> None:
    """Insert certificates in one bulk statement (registration inserts one; a benchmark seeds
    :data:`MAX_CERTIFICATES_PER_INSERT` per call).

    InputError if a row is malformed; DuplicateRecord if an identifier or an
    ``(issuer_code, type, number)`` is stored already (also within ``rows``).
    """
    if len(rows) > MAX_CERTIFICATES_PER_INSERT:
        raise InputError(f"at most {MAX_CERTIFICATES_PER_INSERT} certificates per insert")
    for row in rows:
        _check_certificate(row)
    if rows:
        session.execute(
            insert(certificates_table),
            [
                {
                    f.name: (
                        getattr(row, f.name).value if f.name == "status" else getattr(row, f.name)
                    )
                    for f in fields(NewCertificate)
                }
                for row in rows
            ],
        )


def certificate_number_query(issuer_code: str, type: str, number: str) -> Select[Any]:
    """The SELECT of :func:`find_certificate_by_number` (one entry of uq_certificates_number;
    tests EXPLAIN it)."""
    c = certificates_table.c
    return _certificate_select().where(
        c.issuer_code == issuer_code, c.type == type, c.number == number
    )


@wrap_errors
def get_certificate(session: Session, certificate_id: str) -> CertificateRecord | None:
    """The certificate of this identifier (primary key), without its PDF."""
    if not isinstance(certificate_id, str) or len(certificate_id) > MAX_CERTIFICATE_ID_CHARS:
        return None
    row = session.execute(
        _certificate_select().where(certificates_table.c.id == certificate_id)
    ).first()
    return _certificate(row) if row else None


@wrap_errors
def find_certificate_by_number(
    session: Session, *, issuer_code: str, type: str, number: str
) -> CertificateRecord | None:
    """The certificate an issuer registered under ``(type, number)`` (uq_certificates_number)."""
    for value, limit in ((issuer_code, 18), (type, MAX_INSTITUTION_TYPE_CHARS), (number, 64)):
        if not isinstance(value, str) or len(value) > limit:
            return None
    row = session.execute(certificate_number_query(issuer_code, type, number)).first()
    return _certificate(row) if row else None


@wrap_errors
def certificate_pdf(session: Session, certificate_id: str) -> bytes | None:
    """The issuer's PDF of a certificate; None if there is no such certificate or no PDF."""
    if not isinstance(certificate_id, str) or len(certificate_id) > MAX_CERTIFICATE_ID_CHARS:
        return None
    c = certificates_table.c
    value = session.execute(select(c.pdf).where(c.id == certificate_id)).scalar_one_or_none()
    return _optional_bytes(value)


@wrap_errors
def confirm_certificate_issue(
    session: Session,
    certificate_id: str,
    *,
    tx_hash: bytes,
    block_number: int,
    block_time: int | None = None,
) -> None:
    """Mark a pending certificate issued by the chain's transaction ``tx_hash``.

    NotFound if it is not pending."""
    check_hash(tx_hash, "tx_hash")
    _check_count(block_number, "block_number")
    c = certificates_table.c
    done = session.execute(
        update(certificates_table)
        .where(c.id == certificate_id, c.status == CertificateStatus.PENDING.value)
        .values(
            status=CertificateStatus.ISSUED.value,
            issue_tx=tx_hash,
            issue_block=block_number,
            issue_block_time=block_time,
        )
    )
    if rowcount(done) != 1:
        raise NotFound(f"no pending certificate {certificate_id}")


@wrap_errors
def discard_pending_certificate(session: Session, certificate_id: str) -> bool:
    """Forget a certificate the chain refused (never one the chain holds)."""
    c = certificates_table.c
    done = session.execute(
        certificates_table.delete().where(
            c.id == certificate_id, c.status == CertificateStatus.PENDING.value
        )
    )
    return rowcount(done) == 1


@wrap_errors
def request_certificate_change(
    session: Session,
    certificate_id: str,
    *,
    action: str,
    signature: bytes,
    signer_certificate: bytes,
    changed_by: str,
    changed_at: datetime,
    reason: int | None = None,
    effective_at: datetime | None = None,
    successor: str | None = None,
) -> bool:
    """Record a revocation or supersession asked for (pending until
    :func:`confirm_certificate_change`); False if the certificate is not issued or has a
    change asked for already."""
    if action not in ("revoke", "supersede"):
        raise InputError(f"unknown change {action!r}")
    check_text(changed_by, "changed_by", MAX_ID_CHARS)
    check_time(changed_at, "changed_at")
    check_time(effective_at, "effective_at", optional=True)
    check_text(successor, "successor", MAX_CERTIFICATE_ID_CHARS, optional=True)
    c = certificates_table.c
    done = session.execute(
        update(certificates_table)
        .where(
            c.id == certificate_id,
            c.status == CertificateStatus.ISSUED.value,
            c.change_action.is_(None),
        )
        .values(
            change_action=action,
            change_reason=reason,
            change_effective_at=effective_at,
            change_successor=successor,
            change_signature=signature,
            change_signer_certificate=signer_certificate,
            changed_by=changed_by,
            changed_at=changed_at,
        )
    )
    return rowcount(done) == 1


@wrap_errors
def confirm_certificate_change(
    session: Session,
    certificate_id: str,
    *,
    tx_hash: bytes,
    block_number: int,
    block_time: int | None = None,
) -> CertificateStatus:
    """Mark the pending change of a certificate done by the chain's transaction ``tx_hash``;
    returns the new status. NotFound if no change is pending."""
    check_hash(tx_hash, "tx_hash")
    _check_count(block_number, "block_number")
    record = get_certificate(session, certificate_id)
    if record is None or not record.change_pending:
        raise NotFound(f"no pending change of certificate {certificate_id}")
    status = (
        CertificateStatus.REVOKED
        if record.change_action == "revoke"
        else CertificateStatus.SUPERSEDED
    )
    c = certificates_table.c
    session.execute(
        update(certificates_table)
        .where(c.id == certificate_id, c.change_tx.is_(None))
        .values(
            status=status.value,
            change_tx=tx_hash,
            change_block=block_number,
            change_block_time=block_time,
        )
    )
    return status


@wrap_errors
def discard_certificate_change(session: Session, certificate_id: str) -> bool:
    """Forget a change the chain refused (never one it holds)."""
    c = certificates_table.c
    done = session.execute(
        update(certificates_table)
        .where(
            c.id == certificate_id,
            c.change_action.is_not(None),
            c.change_tx.is_(None),
        )
        .values(
            change_action=None,
            change_reason=None,
            change_effective_at=None,
            change_successor=None,
            change_signature=None,
            change_signer_certificate=None,
            changed_by=None,
            changed_at=None,
        )
    )
    return rowcount(done) == 1


@wrap_errors
def pending_certificates(session: Session, *, limit: int = MAX_PENDING_LISTED) -> list[str]:
    """Identifiers of certificates whose issue or change the chain does not hold yet (uses
    ix_certificates_pending)."""
    if not 1 <= limit <= MAX_PENDING_LISTED:
        raise InputError(f"limit must be in [1, {MAX_PENDING_LISTED}]")
    c = certificates_table.c
    query = (
        select(c.id)
        .where(
            or_(
                c.status == CertificateStatus.PENDING.value,
                and_(c.status == CertificateStatus.ISSUED.value, c.change_action.is_not(None)),
            )
        )
        .order_by(c.id)
        .limit(limit)
    )
    return [str(v) for v in session.execute(query).scalars()]


@wrap_errors
def pending_certificate_count(session: Session) -> int:
    """How many certificates have an issue or change the chain does not hold yet."""
    c = certificates_table.c
    return int(
        session.execute(
            select(func.count())
            .select_from(certificates_table)
            .where(
                or_(
                    c.status == CertificateStatus.PENDING.value,
                    and_(
                        c.status == CertificateStatus.ISSUED.value,
                        c.change_action.is_not(None),
                    ),
                )
            )
        ).scalar_one()
    )
