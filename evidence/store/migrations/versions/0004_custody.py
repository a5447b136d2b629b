"""The custody log: its state row, Merkle nodes, events and anchors (``docs/custody.md``).

A second RFC 6962 log beside the document log, with the same layout (``custody_state`` and
``custody_nodes`` as ``log_state`` and ``log_nodes``), its events (exact leaf bytes plus the
columns they are found by) and its anchors (the columns of ``anchors``); and an index of
documents by institution and time, for daily upload quotas. Additive only.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evidence.store.migrations.schema_parts import (
    anchor_columns,
    create_log_tables,
    serial_id_column,
)

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_log_tables("custody_state", "custody_nodes")
    op.create_table(
        "custody_events",
        sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("event_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("object_type", sa.String(16), nullable=False),
        sa.Column("object_id", sa.Text, nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("actor_token", sa.String(36)),
        sa.Column("actor_institution", sa.Text),
        sa.Column("client", sa.String(45)),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.LargeBinary, nullable=False),
    )
    op.create_index(
        "ix_custody_events_object", "custody_events", ["object_type", "object_id", "leaf_index"]
    )
    op.create_table(
        "custody_anchors",
        serial_id_column(),
        *anchor_columns(),
        sa.UniqueConstraint("tree_size", name="uq_custody_anchors_tree_size"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_custody_anchors_status", "custody_anchors", ["status"])
    op.create_index("ix_documents_institution_time", "documents", ["institution", "deposited_at"])


def downgrade() -> None:
    op.drop_index("ix_documents_institution_time", table_name="documents")
    op.drop_index("ix_custody_anchors_status", table_name="custody_anchors")
    op.drop_table("custody_anchors")
    op.drop_index("ix_custody_events_object", table_name="custody_events")
    for table in ("custody_events", "custody_nodes", "custody_state"):
        op.drop_table(table)
