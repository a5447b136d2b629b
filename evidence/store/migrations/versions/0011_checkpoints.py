"""The log's signed checkpoints, the witnesses' cosignatures and the time-stamp tokens.

For every anchored head of the document log the log signs a checkpoint (C2SP
tlog-checkpoint); the witnesses configured (``ZHENGLIAN_WITNESSES``) cosign it, and an RFC
3161 authority (``ZHENGLIAN_TSA_URL``) stamps it (``evidence.services.cosigning``). Additive
only: heads anchored before the upgrade get no checkpoint; the next anchored head does.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkpoints",
        sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_stamp", sa.LargeBinary, nullable=True),
        sa.Column("time_stamped_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "cosignatures",
        sa.Column(
            "tree_size",
            sa.BigInteger,
            sa.ForeignKey("checkpoints.tree_size", name="fk_cosignatures_tree_size"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("witness", sa.String(400), primary_key=True),
        sa.Column("cosigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cosignatures_witness_tree_size", "cosignatures", ["witness", "tree_size"])


def downgrade() -> None:
    op.drop_index("ix_cosignatures_witness_tree_size", table_name="cosignatures")
    op.drop_table("cosignatures")
    op.drop_table("checkpoints")
