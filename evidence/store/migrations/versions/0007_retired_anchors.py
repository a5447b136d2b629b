"""Anchors of retired LogAnchor contracts (``zhenglian anchoring resume`` after a restore).

When an operator resumes anchoring after restoring from a backup, the log is anchored afresh in
a new LogAnchor contract; the anchor records of the old contract move here, with the log they
belong to, the contract's address and when they were retired. Additive only.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evidence.store.migrations.schema_parts import anchor_columns, serial_id_column

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retired_anchors",
        serial_id_column(),
        *anchor_columns(),
        sa.Column("log", sa.String(16), nullable=False),
        sa.Column("contract", sa.LargeBinary(20), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_retired_anchors_log_contract", "retired_anchors", ["log", "contract"])


def downgrade() -> None:
    op.drop_index("ix_retired_anchors_log_contract", table_name="retired_anchors")
    op.drop_table("retired_anchors")
