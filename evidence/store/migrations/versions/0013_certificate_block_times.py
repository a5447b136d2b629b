"""The block time of each certificate's issue and change, beside its block number.

The server's verification report of a certificate judges the issuer's certificate at the
registration time, which is the issue's block time (docs/report.md §6.2); keeping it with the
row lets the report be made from the service's record of the chain without a chain read per
request (docs/e-certificates.md §8). Unix seconds, NULL while pending (and for rows recorded
before this revision until their next read from the chain). Additive only.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.add_column(sa.Column("issue_block_time", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("change_block_time", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("change_block_time")
        batch.drop_column("issue_block_time")
