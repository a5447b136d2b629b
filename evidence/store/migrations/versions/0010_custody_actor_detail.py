"""The salt of a version 3 custody event's actor detail.

Version 3 custody events commit to the actor's token and client address with a random salt
instead of naming them (``evidence.formats.custody_event``); the salt is kept beside the clear
``actor_token`` and ``client`` columns so that an export can open the commitment for the
actor's own institution. Additive only: older events have none.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (nullable): no table rebuild, however many events there are.
    op.add_column("custody_events", sa.Column("detail_salt", sa.LargeBinary(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("custody_events") as batch:
        batch.drop_column("detail_salt")
