"""The metadata database: SQLAlchemy 2 models, engine and session factory, Alembic migrations.

Two databases are supported and tested with the same suite: SQLite (the default, one file
in the data directory; WAL, full fsync, foreign keys, busy timeout) and PostgreSQL 15
through ``postgresql+psycopg://`` URLs. The URL comes from ``ZHENGLIAN_DATABASE_URL``
(read by ``api.settings``, never here): this module takes it as an argument.

The schema is owned by the Alembic migrations in ``evidence/store/migrations/versions``; the models
below must describe exactly what the migrations create (a test compares them on both
databases). Timestamps are stored timezone-aware and always come back as UTC datetimes;
hashes are 32-byte BLOB/BYTEA columns. Queries live in :mod:`evidence.store.repository`.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import URL, Connection, Dialect, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from evidence.errors import StorageError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "CONNECT_TIMEOUT_S",
    "DATABASE_URL_ENV",
    "HASH_BYTES",
    "MAX_ACTION_CHARS",
    "MAX_CASE_CODE_CHARS",
    "MAX_CLIENT_CHARS",
    "MAX_ID_CHARS",
    "MAX_INSTITUTION_NAME_CHARS",
    "MAX_INSTITUTION_TYPE_CHARS",
    "MAX_KIND_CHARS",
    "MAX_ROLE_CHARS",
    "MIGRATIONS_DIR",
    "POOL_MAX_OVERFLOW",
    "POOL_RECYCLE_S",
    "POOL_SIZE",
    "POOL_TIMEOUT_S",
    "SQLITE_BUSY_TIMEOUT_MS",
    "Anchor",
    "AnchorStatus",
    "ApiToken",
    "Base",
    "Case",
    "CaseParticipant",
    "CustodyAnchor",
    "CustodyEventRow",
    "CustodyNode",
    "CustodyState",
    "Database",
    "Document",
    "Institution",
    "LogNode",
    "LogState",
    "ShareCodeRow",
    "UTCDateTime",
    "alembic_config",
    "anchors_table",
    "api_tokens_table",
    "case_participants_table",
    "cases_table",
    "certificates_table",
    "checkpoints_table",
    "cosignatures_table",
    "custody_anchors_table",
    "custody_events_table",
    "custody_map_keys_table",
    "custody_map_nodes_table",
    "custody_map_states_table",
    "custody_nodes_table",
    "custody_state_table",
    "documents_table",
    "head_revision",
    "institutions_table",
    "log_nodes_table",
    "log_state_table",
    "metadata",
    "open_database",
    "share_codes_table",
]

DATABASE_URL_ENV = "ZHENGLIAN_DATABASE_URL"
"""Environment variable holding the SQLAlchemy URL (read by ``api.settings``, not here)."""

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
"""Alembic script directory (``env.py`` and ``versions/``), shipped inside the package."""

HASH_BYTES = 32
"""Length of every stored hash (SHA-256, SM3, salt, token hash, tx hash)."""

MAX_ID_CHARS = 36
"""Longest document or token id (a UUID in its 36-character text form)."""

MAX_KIND_CHARS = 16
"""Longest document kind (``evidence.formats.log_entry.KINDS``)."""

MAX_CASE_CODE_CHARS = 64
"""Longest case code (``evidence.formats.log_entry.CASE_CODE_RE``)."""

MAX_ROLE_CHARS = 16
"""Longest token role (``evidence.access.policy.ROLES``)."""

MAX_INSTITUTION_NAME_CHARS = 200
"""Longest institution name (``evidence.formats.log_entry.MAX_INSTITUTION_CHARS``: names go
into entries)."""

MAX_INSTITUTION_TYPE_CHARS = 32
"""Longest institution type (``evidence.access.policy.INSTITUTION_TYPES``)."""

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""Milliseconds a SQLite writer waits for another writer (e.g. ``zhenglian tokens`` while
the server runs) before failing with "database is locked"."""

POOL_SIZE = 10
"""PostgreSQL connections kept open per process."""

POOL_MAX_OVERFLOW = 10
"""PostgreSQL connections opened beyond :data:`POOL_SIZE` under load, closed when returned."""

POOL_TIMEOUT_S = 30
"""Seconds a request waits for a pooled connection before failing."""

POOL_RECYCLE_S = 1800
"""Seconds after which a pooled PostgreSQL connection is replaced (idle firewalls, failover)."""

CONNECT_TIMEOUT_S = 10
"""Seconds to establish a PostgreSQL connection."""

_MIGRATION_LOCK_KEY = 0x5A4C_4D44
"""PostgreSQL advisory lock held while migrating, so concurrent starters migrate one by one."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that is stored and returned as UTC.

    SQLite has no time zones: SQLAlchemy stores the wall-clock digits only, so every value is
    converted to UTC before it is written and marked UTC when read. Naive datetimes are
    refused (the repository reports them as InputError before they get here).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} (timestamps must be aware)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _hash() -> LargeBinary:
    return LargeBinary(HASH_BYTES)


# --- Models (must match the migrations) ---------------------------------------------------


class Base(DeclarativeBase):
    metadata = MetaData()


class LogStateColumns:
    """One row (id 1): the number of leaves in a Merkle log. Guards appends (see
    :meth:`evidence.store.repository.SqlNodeStore.append_nodes`)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)


class LogNodeColumns:
    """A complete subtree of a Merkle log (``ledger.merkle`` storage layout)."""

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(_hash(), nullable=False)


class LogState(LogStateColumns, Base):
    """The document log's size."""

    __tablename__ = "log_state"


class LogNode(LogNodeColumns, Base):
    """A complete subtree of the document log."""

    __tablename__ = "log_nodes"


class Document(Base):
    """A deposited document: its log entry (exact leaf bytes) and searchable metadata."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(MAX_ID_CHARS), primary_key=True)
    leaf_index: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    sha256: Mapped[bytes] = mapped_column(_hash(), nullable=False, index=True)
    sm3: Mapped[bytes] = mapped_column(_hash(), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    kind: Mapped[str] = mapped_column(String(MAX_KIND_CHARS), nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    case_code: Mapped[str | None] = mapped_column(String(MAX_CASE_CODE_CHARS), index=True)
    institution: Mapped[str] = mapped_column(Text, nullable=False)
    depositor: Mapped[str] = mapped_column(String(MAX_ID_CHARS), nullable=False)
    filename: Mapped[str | None] = mapped_column(Text)
    salt: Mapped[bytes] = mapped_column(_hash(), nullable=False)
    entry: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    deposited_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AnchorStatus(StrEnum):
    SUBMITTED = "submitted"
    """Signed and recorded (raw transaction kept) before it is sent; not yet mined."""
    CONFIRMED = "confirmed"
    """Mined and its offline anchor proof collected: documents below ``tree_size`` are anchored."""


class AnchorColumns:
    """The columns of a log head's anchoring, shared by ``anchors`` and ``custody_anchors``."""

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    tree_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    root_hash: Mapped[bytes] = mapped_column(_hash(), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    tx_hash: Mapped[bytes | None] = mapped_column(_hash())
    raw_tx: Mapped[bytes | None] = mapped_column(LargeBinary)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    anchor_index: Mapped[int | None] = mapped_column(BigInteger)
    block_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    proof: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Anchor(AnchorColumns, Base):
    """A tree head sent to (``submitted``) or anchored on (``confirmed``) the chain."""

    __tablename__ = "anchors"
    __table_args__ = (
        UniqueConstraint("tree_size", name="uq_anchors_tree_size"),
        # Anchors are looked up by status in tree-size order (the latest confirmed head, the
        # first confirmed head covering a leaf): one index serves both without a sort.
        Index("ix_anchors_status_tree_size", "status", "tree_size"),
        {"sqlite_autoincrement": True},
    )


class Institution(Base):
    """A notary office, forensic institution, legal-aid centre, court, law firm or justice
    bureau. Its name is what documents and log entries carry; disabling it stops its tokens."""

    __tablename__ = "institutions"

    id: Mapped[str] = mapped_column(String(MAX_ID_CHARS), primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_INSTITUTION_NAME_CHARS), nullable=False)
    type: Mapped[str] = mapped_column(String(MAX_INSTITUTION_TYPE_CHARS), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bureau_id: Mapped[str | None] = mapped_column(
        String(MAX_ID_CHARS),
        ForeignKey("institutions.id", name="fk_institutions_bureau_id"),
        index=True,
    )
    """The justice bureau (司法局) whose admins manage it (migration ``0008``); None for a
    bureau itself, and for an institution no bureau's admin manages (only the operator's
    ``zhenglian`` commands do)."""

    __table_args__ = (UniqueConstraint("name", name="uq_institutions_name"),)


class ApiToken(Base):
    """An API bearer token of one institution and one role, stored as its SHA-256 only."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(MAX_ID_CHARS), primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(_hash(), nullable=False, unique=True)
    role: Mapped[str] = mapped_column(String(MAX_ROLE_CHARS), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    institution_id: Mapped[str] = mapped_column(
        String(MAX_ID_CHARS),
        ForeignKey("institutions.id", name="fk_api_tokens_institution_id"),
        nullable=False,
        index=True,
    )


class Case(Base):
    """A case (一案一码): its code, type, owning institution; documents refer to the code."""

    __tablename__ = "cases"

    code: Mapped[str] = mapped_column(String(MAX_CASE_CODE_CHARS), primary_key=True)
    type: Mapped[str] = mapped_column(String(MAX_KIND_CHARS), nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    institution_id: Mapped[str] = mapped_column(
        String(MAX_ID_CHARS), ForeignKey("institutions.id"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_by: Mapped[str] = mapped_column(String(MAX_ID_CHARS), nullable=False)
    """Id of the token that opened the case."""


class CaseParticipant(Base):
    """A law firm or court added to a case by its owner."""

    __tablename__ = "case_participants"

    case_code: Mapped[str] = mapped_column(
        String(MAX_CASE_CODE_CHARS), ForeignKey("cases.code"), primary_key=True
    )
    institution_id: Mapped[str] = mapped_column(
        String(MAX_ID_CHARS), ForeignKey("institutions.id"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    added_by: Mapped[str] = mapped_column(String(MAX_ID_CHARS), nullable=False)


class ShareCodeRow(Base):
    """A share code (证据提取码), stored as its hash: one document or case, one recipient."""

    __tablename__ = "share_codes"
    __table_args__ = (
        CheckConstraint(
            "(document_id IS NULL) <> (case_code IS NULL)", name="ck_share_codes_one_object"
        ),
        CheckConstraint("uses >= 0 AND uses <= max_uses", name="ck_share_codes_uses"),
    )

    id: Mapped[str] = mapped_column(String(MAX_ID_CHARS), primary_key=True)
    code_hash: Mapped[bytes] = mapped_column(_hash(), nullable=False, unique=True)
    document_id: Mapped[str | None] = mapped_column(
        String(MAX_ID_CHARS), ForeignKey("documents.id")
    )
    case_code: Mapped[str | None] = mapped_column(
        String(MAX_CASE_CODE_CHARS), ForeignKey("cases.code")
    )
    institution_id: Mapped[str] = mapped_column(
        String(MAX_ID_CHARS), ForeignKey("institutions.id"), nullable=False
    )
    """The institution that shared."""
    recipient_id: Mapped[str] = mapped_column(
        String(MAX_ID_CHARS), ForeignKey("institutions.id"), nullable=False, index=True
    )
    created_by: Mapped[str] = mapped_column(String(MAX_ID_CHARS), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    max_uses: Mapped[int] = mapped_column(Integer, nullable=False)
    uses: Mapped[int] = mapped_column(Integer, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- The custody log (a second Merkle log, anchored in its own LogAnchor) ------------------

MAX_ACTION_CHARS = 32
"""Longest custody action name (``evidence.formats.custody_event.ACTIONS``)."""

MAX_CLIENT_CHARS = 45
"""Longest client address text (``evidence.formats.custody_event.MAX_CLIENT_CHARS``)."""


class CustodyState(LogStateColumns, Base):
    """The number of events in the custody log (guards appends)."""

    __tablename__ = "custody_state"


class CustodyNode(LogNodeColumns, Base):
    """A complete subtree of the custody Merkle log (same layout as ``log_nodes``)."""

    __tablename__ = "custody_nodes"


class CustodyEventRow(Base):
    """A custody event: its exact leaf bytes and the columns it is found by."""

    __tablename__ = "custody_events"
    __table_args__ = (Index("ix_custody_events_object", "object_type", "object_id", "leaf_index"),)

    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_hash: Mapped[bytes] = mapped_column(_hash(), nullable=False)
    action: Mapped[str] = mapped_column(String(MAX_ACTION_CHARS), nullable=False)
    object_type: Mapped[str] = mapped_column(String(MAX_KIND_CHARS), nullable=False)
    object_id: Mapped[str] = mapped_column(Text, nullable=False)
    actor_role: Mapped[str] = mapped_column(String(MAX_ROLE_CHARS), nullable=False)
    actor_token: Mapped[str | None] = mapped_column(String(MAX_ID_CHARS))
    actor_institution: Mapped[str | None] = mapped_column(Text)
    client: Mapped[str | None] = mapped_column(String(MAX_CLIENT_CHARS))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    event: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    detail_salt: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    """The salt of a version 3 event's actor detail (with ``actor_token`` and ``client`` it
    opens the commitment; migration 0010)."""


class CustodyAnchor(AnchorColumns, Base):
    """A custody log head sent to or anchored on the chain (the columns of ``anchors``)."""

    __tablename__ = "custody_anchors"
    __table_args__ = (
        UniqueConstraint("tree_size", name="uq_custody_anchors_tree_size"),
        Index("ix_custody_anchors_status_tree_size", "status", "tree_size"),
        {"sqlite_autoincrement": True},
    )


class RetiredAnchor(AnchorColumns, Base):
    """An anchor of a LogAnchor contract that an operator retired (``zhenglian anchoring
    resume``, after a restore from backup): the head it anchored stays on that contract and in
    the receipts issued with it, but the log is anchored afresh in a new contract. ``log`` is
    ``documents`` or ``custody``; ``contract`` the retired contract's address."""

    __tablename__ = "retired_anchors"
    __table_args__ = (
        Index("ix_retired_anchors_log_contract", "log", "contract"),
        {"sqlite_autoincrement": True},
    )

    log: Mapped[str] = mapped_column(String(16), nullable=False)
    contract: Mapped[bytes] = mapped_column(LargeBinary(20), nullable=False)
    retired_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


# --- The custody map (every object's latest custody state, versioned by checkpoint) ------------


class CustodyMapKey(Base):
    """An object's key in the custody map (``evidence.formats.custody_map.object_key``) and the
    first checkpoint whose map holds it (a checkpoint's version is its custody leaf index)."""

    __tablename__ = "custody_map_keys"
    __table_args__ = (Index("ix_custody_map_keys_first_version", "first_version"),)

    key: Mapped[bytes] = mapped_column(_hash(), primary_key=True)
    first_version: Mapped[int] = mapped_column(BigInteger, nullable=False)


class CustodyMapState(Base):
    """An object's state (number of events, latest event's leaf hash) as of ``version``, and
    as of ``old_version`` (the checkpoint kept before; null: none)."""

    __tablename__ = "custody_map_states"

    key: Mapped[bytes] = mapped_column(_hash(), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False)
    events: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last: Mapped[bytes] = mapped_column(_hash(), nullable=False)
    old_version: Mapped[int | None] = mapped_column(BigInteger)
    old_events: Mapped[int | None] = mapped_column(BigInteger)
    old_last: Mapped[bytes | None] = mapped_column(_hash())


class CustodyMapNode(Base):
    """The hash of a subtree of the custody map holding two or more keys — the keys whose first
    ``depth`` bits are those of ``prefix`` (the least such key) — as of ``version``, and as of
    ``old_version`` (the checkpoint kept before; null: none)."""

    __tablename__ = "custody_map_nodes"

    depth: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    prefix: Mapped[bytes] = mapped_column(_hash(), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False)
    hash: Mapped[bytes] = mapped_column(_hash(), nullable=False)
    old_version: Mapped[int | None] = mapped_column(BigInteger)
    old_hash: Mapped[bytes | None] = mapped_column(_hash())


MAX_WITNESS_KEY_CHARS = 400
"""Longest witness verifier key stored (``NAME+KEYID+BASE64``)."""


class SignedCheckpoint(Base):
    """The log's signed checkpoint of an anchored head of the document log (migration
    ``0011``): the note (``evidence.formats.checkpoint``, signed by the log's key) and, once
    asked for, the RFC 3161 time-stamp token over that note."""

    __tablename__ = "checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(_hash(), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    time_stamp: Mapped[bytes | None] = mapped_column(LargeBinary)
    time_stamped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Cosignature(Base):
    """A witness's cosignature on a checkpoint (``evidence.formats.cosignature``): its note
    signature line, checked against the witness's key before it is stored."""

    __tablename__ = "cosignatures"
    __table_args__ = (Index("ix_cosignatures_witness_tree_size", "witness", "tree_size"),)

    tree_size: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("checkpoints.tree_size", name="fk_cosignatures_tree_size"),
        primary_key=True,
        autoincrement=False,
    )
    witness: Mapped[str] = mapped_column(String(MAX_WITNESS_KEY_CHARS), primary_key=True)
    cosigned_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    line: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


MAX_FINDING_KIND_CHARS = 32
"""Longest finding kind (``evidence.services.audit`` names them)."""


class AuditFinding(Base):
    """A finding of the integrity audit (``evidence.services.audit``): what was found, about
    what, and the evidence; open until a later sweep that checks its kind no longer sees it."""

    __tablename__ = "audit_findings"
    __table_args__ = (
        UniqueConstraint("fingerprint", name="uq_audit_findings_fingerprint"),
        Index("ix_audit_findings_resolved_at", "resolved_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    fingerprint: Mapped[bytes] = mapped_column(_hash(), nullable=False)
    kind: Mapped[str] = mapped_column(String(MAX_FINDING_KIND_CHARS), nullable=False)
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False)
    evidence: Mapped[str] = mapped_column(Text, nullable=False)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


MAX_CERTIFICATE_ID_CHARS = 64
"""Longest e-certificate identifier stored (an identifier has 34 characters)."""

MAX_CERTIFICATE_PDF_BYTES = 2 * 1024 * 1024
"""Largest issuer's PDF of an e-certificate kept (a rendered one is about 30 KiB)."""


class CertificateRow(Base):
    """A registered e-certificate (migration ``0012``): the signed material as the issuer sent
    it, the issuer's optional PDF, and its status with the chain transaction of each change.

    ``status`` is ``pending`` until the chain holds the issue (``issue_tx``), then ``issued``,
    ``revoked`` or ``superseded``. A change asked for is ``change_action`` with its fields and
    the issuer's signature; it is pending until ``change_tx`` is set (docs/e-certificates.md §8).
    """

    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("issuer_code", "type", "number", name="uq_certificates_number"),
        Index("ix_certificates_pending", "status", "change_action", "change_tx"),
    )

    id: Mapped[str] = mapped_column(String(MAX_CERTIFICATE_ID_CHARS), primary_key=True)
    issuer_code: Mapped[str] = mapped_column(String(18), nullable=False)
    issuer_name: Mapped[str] = mapped_column(String(MAX_INSTITUTION_NAME_CHARS), nullable=False)
    issuer_type: Mapped[str] = mapped_column(String(MAX_INSTITUTION_TYPE_CHARS), nullable=False)
    type: Mapped[str] = mapped_column(String(MAX_INSTITUTION_TYPE_CHARS), nullable=False)
    number: Mapped[str] = mapped_column(String(64), nullable=False)
    encoded: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    certificate_sha256: Mapped[bytes] = mapped_column(_hash(), nullable=False)
    signature: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    signer_certificate: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    issue_signature: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    issue_tx: Mapped[bytes | None] = mapped_column(_hash())
    issue_block: Mapped[int | None] = mapped_column(BigInteger)
    issue_block_time: Mapped[int | None] = mapped_column(BigInteger)
    registered_by: Mapped[str] = mapped_column(String(MAX_ID_CHARS), nullable=False)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    change_action: Mapped[str | None] = mapped_column(String(16))
    change_reason: Mapped[int | None] = mapped_column(SmallInteger)
    change_effective_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    change_successor: Mapped[str | None] = mapped_column(String(MAX_CERTIFICATE_ID_CHARS))
    change_signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    change_signer_certificate: Mapped[bytes | None] = mapped_column(LargeBinary)
    changed_by: Mapped[str | None] = mapped_column(String(MAX_ID_CHARS))
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    change_tx: Mapped[bytes | None] = mapped_column(_hash())
    change_block: Mapped[int | None] = mapped_column(BigInteger)
    change_block_time: Mapped[int | None] = mapped_column(BigInteger)


metadata = Base.metadata
log_state_table = cast(Table, LogState.__table__)
log_nodes_table = cast(Table, LogNode.__table__)
documents_table = cast(Table, Document.__table__)
anchors_table = cast(Table, Anchor.__table__)
api_tokens_table = cast(Table, ApiToken.__table__)
institutions_table = cast(Table, Institution.__table__)
cases_table = cast(Table, Case.__table__)
case_participants_table = cast(Table, CaseParticipant.__table__)
share_codes_table = cast(Table, ShareCodeRow.__table__)
custody_state_table = cast(Table, CustodyState.__table__)
custody_nodes_table = cast(Table, CustodyNode.__table__)
custody_events_table = cast(Table, CustodyEventRow.__table__)
custody_anchors_table = cast(Table, CustodyAnchor.__table__)
audit_findings_table = cast(Table, AuditFinding.__table__)
retired_anchors_table = cast(Table, RetiredAnchor.__table__)
custody_map_keys_table = cast(Table, CustodyMapKey.__table__)
custody_map_states_table = cast(Table, CustodyMapState.__table__)
custody_map_nodes_table = cast(Table, CustodyMapNode.__table__)
checkpoints_table = cast(Table, SignedCheckpoint.__table__)
cosignatures_table = cast(Table, Cosignature.__table__)
certificates_table = cast(Table, CertificateRow.__table__)

Index(
    "ix_documents_institution_time", documents_table.c.institution, documents_table.c.deposited_at
)
"""Daily upload quotas sum an institution's deposits since midnight (added by migration 0004)."""


# --- Migrations ---------------------------------------------------------------------------


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for our migrations (no alembic.ini), bound to ``connection``.

    ``env.py`` runs the migrations on that connection, inside its current transaction.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


_REVISION_LINE: Final = re.compile(r'^(down_revision|revision) = "([0-9a-z_]+)"$', re.MULTILINE)


def shipped_head() -> str:
    """The newest migration revision shipped with this code, read from the migration files'
    ``revision = "…"`` and ``down_revision = "…"`` lines without importing Alembic (whose
    import costs the server 9.5 MiB): the one revision no other names as its parent. A test
    holds it equal to Alembic's own :func:`head_revision`.

    :raises StorageError: the files do not make one chain with one head.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("[0-9]*.py")):
        found = dict((k, v) for k, v in _REVISION_LINE.findall(path.read_text("utf-8")))
        if "revision" not in found:
            raise StorageError(f"migration {path.name} names no revision")
        revisions.add(found["revision"])
        if "down_revision" in found:
            parents.add(found["down_revision"])
    heads = revisions - parents
    if len(heads) != 1:
        raise StorageError(f"the shipped migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def head_revision() -> str:
    """The newest migration revision shipped with this code."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


# --- Engine and sessions ------------------------------------------------------------------


def _redacted(url: URL | str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def _storage_error(what: str, exc: BaseException) -> StorageError:
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return StorageError(f"{what}: {type(exc).__name__}: {first_line}")


class Database:
    """An engine and its session factory. Sessions wrap database errors in StorageError."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._migrate_lock = threading.Lock()

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session; the caller commits. Uncommitted work is rolled back on exit.

        SQLAlchemy/driver errors raised inside the block (e.g. by ``session.commit()``) leave
        as StorageError; errors of our own (MerkleError, EvidenceError) pass unchanged.
        """
        try:
            with self._sessions() as session:
                yield session
        except SQLAlchemyError as exc:
            raise _storage_error("metadata database", exc) from exc

    def current_revision(self) -> str | None:
        """The migration revision the database is at (None before the first migration)."""
        from alembic.migration import MigrationContext

        try:
            with self.engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        except SQLAlchemyError as exc:
            raise _storage_error("metadata database", exc) from exc

    def at_shipped_head(self) -> bool:
        """Whether the schema is at :func:`shipped_head`, asked with one query and without
        Alembic (False also when there is no schema yet, or it cannot be read: then
        :meth:`migrate` says what is wrong)."""
        try:
            with self.engine.connect() as conn:
                found = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        except SQLAlchemyError:
            return False
        return [row[0] for row in found] == [shipped_head()]

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (default: the newest); a no-op when already there.

        Runs in one transaction. Concurrent migrators (several processes starting at once)
        are serialised: ``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL.
        """
        from alembic import command
        from alembic.util import CommandError

        with self._migrate_lock:
            try:
                with self.engine.connect() as conn:
                    if self.dialect == "sqlite":
                        # pysqlite would leave DDL outside a transaction; take the write lock.
                        conn.exec_driver_sql("BEGIN IMMEDIATE")
                    elif self.dialect == "postgresql":
                        conn.execute(
                            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                        )
                    command.upgrade(alembic_config(conn), revision)
                    conn.commit()
            except CommandError as exc:
                raise StorageError(
                    f"cannot migrate the metadata database to {revision!r}: {exc} "
                    "(is the database newer than this version of zhenglian?)"
                ) from exc
            except SQLAlchemyError as exc:
                raise _storage_error("cannot migrate the metadata database", exc) from exc

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _set_wal(cur: Any) -> None:
    """Put the database in WAL mode (once per file; later connections find it set).

    Switching a new file to WAL needs it to itself, and SQLite answers "database is locked" at
    once (no busy wait) when another connection is opening the same new file. So: retry for up
    to the busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "BEGIN")
_HOLDS_WRITE_MUTEX = "zl_holds_write_mutex"


class SqliteWriteMutex:
    """Queues this process's writers to one SQLite file on a mutex.

    SQLite lets one writer at a time hold its write lock; the others poll (the busy handler
    sleeps 1, 2, 5 … up to 100 ms between tries), so a writer may sleep on after the lock is
    free, and which one gets it next is luck. Here a connection takes the mutex before its
    first write statement (where pysqlite begins the transaction) and gives it back when it
    returns to the pool, after its commit or rollback: this process's writers queue, and each
    starts as soon as the one before ends. Between processes (``zhenglian tokens`` beside
    ``serve``) the busy timeout still arbitrates. A writer that waits longer than the busy
    timeout fails as SQLite would ("database is locked").
    """

    def __init__(self, timeout_s: float = SQLITE_BUSY_TIMEOUT_MS / 1000) -> None:
        self._lock = threading.Lock()
        self._timeout_s = timeout_s

    def install(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before_execute)
        event.listen(engine, "checkin", self._checkin)

    def _before_execute(
        self,
        conn: Connection,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        record = conn.connection.record_info
        if record is None or record.get(_HOLDS_WRITE_MUTEX):
            return
        if not statement.lstrip()[:8].upper().startswith(_WRITE_VERBS):
            return
        if not self._lock.acquire(timeout=self._timeout_s):
            raise sqlite3.OperationalError(
                f"database is locked (another writer of this process held it for "
                f"{self._timeout_s:g} s)"
            )
        record[_HOLDS_WRITE_MUTEX] = True

    def _checkin(self, _dbapi_conn: Any, connection_record: Any) -> None:
        # record_info outlives an invalidated connection (info does not): never left held.
        if connection_record.record_info.pop(_HOLDS_WRITE_MUTEX, False):
            self._lock.release()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _set_wal(cur)
        cur.execute("PRAGMA synchronous=FULL")  # durable before a deposit is acknowledged
        cur.execute("PRAGMA foreign_keys=ON")
    finally:
        cur.close()


def _engine(url: URL) -> Engine:
    backend = url.get_backend_name()
    if backend == "sqlite":
        memory = url.database in (None, "", ":memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            # One shared connection for an in-memory database (each would get its own).
            **({"poolclass": StaticPool} if memory else {"pool_timeout": POOL_TIMEOUT_S}),
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if not memory:  # one connection shared by every thread: nothing to queue
            SqliteWriteMutex().install(engine)
        return engine
    if backend == "postgresql":
        if url.get_driver_name() != "psycopg":
            url = url.set(drivername="postgresql+psycopg")
        return create_engine(
            url,
            pool_size=POOL_SIZE,
            max_overflow=POOL_MAX_OVERFLOW,
            pool_timeout=POOL_TIMEOUT_S,
            pool_recycle=POOL_RECYCLE_S,
            pool_pre_ping=True,
            connect_args={
                "connect_timeout": CONNECT_TIMEOUT_S,
                "application_name": "zhenglian",
                "options": "-c timezone=UTC",
            },
        )
    raise StorageError(
        f"unsupported database {_redacted(url)}: use sqlite:///PATH or postgresql+psycopg://..."
    )


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Open the metadata database at ``url`` and (by default) migrate it to the newest schema
    (when it is not there already: :meth:`Database.at_shipped_head`, one query).

    ``sqlite:///PATH`` or ``postgresql+psycopg://USER@HOST:PORT/DB`` (``postgresql://`` and
    ``postgres://`` are taken to mean psycopg 3). Raises StorageError if the URL is not
    usable or migrating fails; the password never appears in the message.
    """
    try:
        if url.startswith("postgres://"):
            url = "postgresql://" + url.removeprefix("postgres://")
        engine = _engine(make_url(url))
    except (ArgumentError, ImportError) as exc:
        raise StorageError(f"cannot open database {_redacted(url)}: {exc}") from exc
    database = Database(engine)
    if migrate and not database.at_shipped_head():  # current: Alembic is not even imported
        database.migrate()
    return database
