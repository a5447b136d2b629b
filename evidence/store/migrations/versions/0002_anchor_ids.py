"""Anchors get a surrogate id primary key; tree_size becomes a named unique constraint.

The table is rebuilt (create, copy in tree-size order, drop, rename) the same way on SQLite
and PostgreSQL, so existing anchors keep every column and get ids 1, 2, ... in the order
they were anchored. On SQLite the id is AUTOINCREMENT so the id of a discarded submission is
never reused (as with PostgreSQL's sequence).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_COLUMNS = (
    "tree_size, root_hash, status, tx_hash, raw_tx, block_number, anchor_index, "
    "block_time, proof, created_at, confirmed_at"
)


def _anchor_columns() -> list[sa.Column[object]]:
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


def _rename_sequence(old: str, new: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER SEQUENCE {old} RENAME TO {new}")


def upgrade() -> None:
    op.create_table(
        "anchors_new",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        *_anchor_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_anchors"),
        sa.UniqueConstraint("tree_size", name="uq_anchors_tree_size"),
        sqlite_autoincrement=True,
    )
    op.execute(
        f"INSERT INTO anchors_new ({_COLUMNS}) SELECT {_COLUMNS} FROM anchors ORDER BY tree_size"
    )
    op.drop_index("ix_anchors_status", table_name="anchors")
    op.drop_table("anchors")
    op.rename_table("anchors_new", "anchors")
    _rename_sequence("anchors_new_id_seq", "anchors_id_seq")
    op.create_index("ix_anchors_status", "anchors", ["status"])


def downgrade() -> None:
    op.create_table(
        "anchors_old",
        *_anchor_columns(),
        sa.PrimaryKeyConstraint("tree_size", name="anchors_pkey"),
    )
    op.execute(f"INSERT INTO anchors_old ({_COLUMNS}) SELECT {_COLUMNS} FROM anchors")
    op.drop_index("ix_anchors_status", table_name="anchors")
    op.drop_table("anchors")
    op.rename_table("anchors_old", "anchors")
    op.create_index("ix_anchors_status", "anchors", ["status"])
