"""Column sets that several migrations create: the tables of an RFC 6962 log (a state row and
its Merkle nodes) and the columns of an anchor record.

**Frozen.** Each builder describes what migrations already applied on deployed databases
created; changing one would change history. A later change to these tables is a new migration
with its own ``op`` calls, never an edit here (the schema test compares every migration's
result with the models in :mod:`evidence.store.database`, on SQLite and PostgreSQL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["anchor_columns", "copy_anchor_rows", "create_log_tables", "serial_id_column"]


def create_log_tables(state_table: str, nodes_table: str) -> None:
    """A log's state row (``id`` 1, ``size`` 0) and its Merkle node table keyed by
    ``(level, idx)``."""
    op.create_table(
        state_table,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    op.execute(f"INSERT INTO {state_table} (id, size) VALUES (1, 0)")
    op.create_table(
        nodes_table,
        sa.Column("level", sa.SmallInteger, primary_key=True),
        sa.Column("idx", sa.BigInteger, primary_key=True),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )


def anchor_columns() -> list[sa.Column[object]]:
    """The columns of an anchor record: the head, its status and its transaction."""
    return [
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tx_hash", sa.LargeBinary(32)),
        sa.Column("raw_tx", sa.LargeBinary),
        sa.Column("block_number", sa.BigInteger),
        sa.Column("anchor_index", sa.BigInteger),
        sa.Column("block_time", sa.DateTime(timezone=True)),
        sa.Column("proof", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True)),
    ]


def serial_id_column() -> sa.Column[object]:
    """An auto-incrementing 64-bit ``id`` primary key (``INTEGER`` on SQLite, where only that
    type is the rowid)."""
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def copy_anchor_rows(source_table: str, target_table: str) -> None:
    """Copy every row's :func:`anchor_columns` from one table to another, in tree size order
    (so a new serial ``id`` follows the order in which heads were anchored)."""
    columns = ", ".join(column.name for column in anchor_columns())
    op.execute(
        f"INSERT INTO {target_table} ({columns}) "
        f"SELECT {columns} FROM {source_table} ORDER BY tree_size"
    )
