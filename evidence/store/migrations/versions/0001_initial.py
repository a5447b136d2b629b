"""Initial schema: log state and nodes, documents, anchors, API tokens.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evidence.store.migrations.schema_parts import anchor_columns, create_log_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_log_tables("log_state", "log_nodes")
    op.create_table(
        "documents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("leaf_index", sa.BigInteger, nullable=False, unique=True),
        sa.Column("sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("sm3", sa.LargeBinary(32), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("case_code", sa.String(64)),
        sa.Column("institution", sa.Text, nullable=False),
        sa.Column("depositor", sa.String(36), nullable=False),
        sa.Column("filename", sa.Text),
        sa.Column("salt", sa.LargeBinary(32), nullable=False),
        sa.Column("entry", sa.LargeBinary, nullable=False),
        sa.Column("deposited_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_documents_sha256", "documents", ["sha256"])
    op.create_index("ix_documents_case_code", "documents", ["case_code"])
    op.create_table("anchors", *anchor_columns(), sa.PrimaryKeyConstraint("tree_size"))
    op.create_index("ix_anchors_status", "anchors", ["status"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("institution", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    for table in ("api_tokens", "anchors", "documents", "log_nodes", "log_state"):
        op.drop_table(table)
