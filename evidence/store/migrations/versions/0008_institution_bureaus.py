"""Institutions belong to a justice bureau (司法局): ``institutions.bureau_id``.

An admin's token manages only its own bureau and the institutions linked to it
(docs/access.md). Every institution that is not itself a ``justice_bureau`` is linked to the
deployment's bureau if there is exactly one enabled bureau; otherwise (none, or several) it
stays unlinked, and only the operator's ``zhenglian`` commands manage it. Additive only.

On SQLite the column is added (and dropped) in place, ``ALTER TABLE ... ADD COLUMN ...
REFERENCES``: a copy-and-move of ``institutions`` would drop a table that every token, case
and share refers to, which SQLite refuses while foreign keys are enforced.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: The institution type of a justice bureau (evidence.access.policy.INSTITUTION_TYPES).
_BUREAU = "justice_bureau"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE institutions ADD COLUMN bureau_id VARCHAR(36) "
            "CONSTRAINT fk_institutions_bureau_id REFERENCES institutions (id)"
        )
    else:
        op.add_column("institutions", sa.Column("bureau_id", sa.String(36), nullable=True))
        op.create_foreign_key(
            "fk_institutions_bureau_id", "institutions", "institutions", ["bureau_id"], ["id"]
        )
    op.create_index("ix_institutions_bureau_id", "institutions", ["bureau_id"])
    bureaus = bind.execute(
        sa.text("SELECT id FROM institutions WHERE type = :bureau AND disabled_at IS NULL"),
        {"bureau": _BUREAU},
    ).all()
    if len(bureaus) == 1:
        bind.execute(
            sa.text("UPDATE institutions SET bureau_id = :bureau_id WHERE type <> :bureau"),
            {"bureau_id": bureaus[0][0], "bureau": _BUREAU},
        )


def downgrade() -> None:
    op.drop_index("ix_institutions_bureau_id", table_name="institutions")
    if op.get_bind().dialect.name == "sqlite":
        # In place (SQLite 3.35+): its own REFERENCES clause does not stop DROP COLUMN.
        op.execute("ALTER TABLE institutions DROP COLUMN bureau_id")
    else:
        op.drop_constraint("fk_institutions_bureau_id", "institutions", type_="foreignkey")
        op.drop_column("institutions", "bureau_id")
