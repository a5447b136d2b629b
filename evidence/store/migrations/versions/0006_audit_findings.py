"""Findings of the integrity audit (``zhenglian audit``, and serve's background sweep).

One row per distinct finding (its fingerprint: kind, subject and evidence), with when it was
first and last seen and, once a later sweep no longer sees it, when it was resolved.
Additive only.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evidence.store.migrations.schema_parts import serial_id_column

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_findings",
        serial_id_column(),
        sa.Column("fingerprint", sa.LargeBinary(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("fingerprint", name="uq_audit_findings_fingerprint"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_findings_resolved_at", "audit_findings", ["resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_findings_resolved_at", table_name="audit_findings")
    op.drop_table("audit_findings")
