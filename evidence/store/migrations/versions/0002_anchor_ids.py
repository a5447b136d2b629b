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

from evidence.store.migrations.schema_parts import (
    anchor_columns,
    copy_anchor_rows,
    serial_id_column,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _rename_sequence(old: str, new: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER SEQUENCE {old} RENAME TO {new}")


def upgrade() -> None:
    op.create_table(
        "anchors_new",
        serial_id_column(),
        *anchor_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_anchors"),
        sa.UniqueConstraint("tree_size", name="uq_anchors_tree_size"),
        sqlite_autoincrement=True,
    )
    copy_anchor_rows("anchors", "anchors_new")
    op.drop_index("ix_anchors_status", table_name="anchors")
    op.drop_table("anchors")
    op.rename_table("anchors_new", "anchors")
    _rename_sequence("anchors_new_id_seq", "anchors_id_seq")
    op.create_index("ix_anchors_status", "anchors", ["status"])


def downgrade() -> None:
    op.create_table(
        "anchors_old",
        *anchor_columns(),
        sa.PrimaryKeyConstraint("tree_size", name="anchors_pkey"),
    )
    copy_anchor_rows("anchors", "anchors_old")
    op.drop_index("ix_anchors_status", table_name="anchors")
    op.drop_table("anchors")
    op.rename_table("anchors_old", "anchors")
    op.create_index("ix_anchors_status", "anchors", ["status"])
