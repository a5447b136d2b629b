"""The custody map: every object's latest custody state, versioned by checkpoint.

The custody log's checkpoints (``evidence.formats.custody_map``) commit to a sparse Merkle map
of each object's number of events and latest event; these tables keep that map as of the
latest checkpoint and the one before (``evidence.store.versioned_map``). Additive only: the first
anchoring after the upgrade builds the map from the whole custody log.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "custody_map_keys",
        sa.Column("key", sa.LargeBinary(32), primary_key=True),
        sa.Column("first_version", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_custody_map_keys_first_version", "custody_map_keys", ["first_version"])
    op.create_table(
        "custody_map_states",
        sa.Column("key", sa.LargeBinary(32), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("last", sa.LargeBinary(32), nullable=False),
        sa.Column("old_version", sa.BigInteger, nullable=True),
        sa.Column("old_events", sa.BigInteger, nullable=True),
        sa.Column("old_last", sa.LargeBinary(32), nullable=True),
    )
    op.create_table(
        "custody_map_nodes",
        sa.Column("depth", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("prefix", sa.LargeBinary(32), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.Column("old_version", sa.BigInteger, nullable=True),
        sa.Column("old_hash", sa.LargeBinary(32), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("custody_map_nodes")
    op.drop_table("custody_map_states")
    op.drop_index("ix_custody_map_keys_first_version", table_name="custody_map_keys")
    op.drop_table("custody_map_keys")
