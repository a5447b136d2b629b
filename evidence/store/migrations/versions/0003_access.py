"""Institutions, tokens bound to them, cases (一案一码) with participants, share codes.

Existing tokens named their institution in free text. Every distinct name becomes an
institution; its type is inferred from the roles of its tokens (the first of notary,
forensic, legal_aid, court, lawyer, admin that occurs gives notary_office,
forensic_institution, legal_aid_centre, court, law_firm, justice_bureau), and each token
points to its institution by id. The free-text column is then dropped (on SQLite by
Alembic's batch copy-and-move). Documents keep the institution name they were deposited
with: it is part of their log entries.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: Role of an existing token -> type of its institution, in order of precedence.
_TYPE_OF_ROLE = (
    ("notary", "notary_office"),
    ("forensic", "forensic_institution"),
    ("legal_aid", "legal_aid_centre"),
    ("court", "court"),
    ("lawyer", "law_firm"),
    ("admin", "justice_bureau"),
)


def _inferred_type(roles: set[str]) -> str:
    for role, institution_type in _TYPE_OF_ROLE:
        if role in roles:
            return institution_type
    return "justice_bureau"


def upgrade() -> None:
    institutions = op.create_table(
        "institutions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("name", name="uq_institutions_name"),
    )
    bind = op.get_bind()
    roles: dict[str, set[str]] = {}
    for name, role in bind.execute(sa.text("SELECT institution, role FROM api_tokens")):
        roles.setdefault(name, set()).add(role)
    now = datetime.now(UTC)
    if roles:
        op.bulk_insert(
            institutions,
            [
                {
                    "id": str(uuid.uuid4()),
                    "name": name,
                    "type": _inferred_type(found),
                    "created_at": now,
                    "disabled_at": None,
                }
                for name, found in sorted(roles.items())
            ],
        )
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("institution_id", sa.String(36), nullable=True))
    op.execute(
        "UPDATE api_tokens SET institution_id = "
        "(SELECT id FROM institutions WHERE institutions.name = api_tokens.institution)"
    )
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("institution_id", existing_type=sa.String(36), nullable=False)
        batch.create_foreign_key(
            "fk_api_tokens_institution_id", "institutions", ["institution_id"], ["id"]
        )
        batch.create_index("ix_api_tokens_institution_id", ["institution_id"])
        batch.drop_column("institution")

    op.create_table(
        "cases",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column(
            "institution_id", sa.String(36), sa.ForeignKey("institutions.id"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(36), nullable=False),
    )
    op.create_index("ix_cases_institution_id", "cases", ["institution_id"])
    op.create_table(
        "case_participants",
        sa.Column("case_code", sa.String(64), sa.ForeignKey("cases.code"), primary_key=True),
        sa.Column(
            "institution_id", sa.String(36), sa.ForeignKey("institutions.id"), primary_key=True
        ),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(36), nullable=False),
    )
    op.create_index("ix_case_participants_institution_id", "case_participants", ["institution_id"])
    op.create_table(
        "share_codes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("code_hash", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id")),
        sa.Column("case_code", sa.String(64), sa.ForeignKey("cases.code")),
        sa.Column(
            "institution_id", sa.String(36), sa.ForeignKey("institutions.id"), nullable=False
        ),
        sa.Column("recipient_id", sa.String(36), sa.ForeignKey("institutions.id"), nullable=False),
        sa.Column("created_by", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_uses", sa.Integer, nullable=False),
        sa.Column("uses", sa.Integer, nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "(document_id IS NULL) <> (case_code IS NULL)", name="ck_share_codes_one_object"
        ),
        sa.CheckConstraint("uses >= 0 AND uses <= max_uses", name="ck_share_codes_uses"),
    )
    op.create_index("ix_share_codes_recipient_id", "share_codes", ["recipient_id"])


def downgrade() -> None:
    op.drop_index("ix_share_codes_recipient_id", table_name="share_codes")
    op.drop_table("share_codes")
    op.drop_index("ix_case_participants_institution_id", table_name="case_participants")
    op.drop_table("case_participants")
    op.drop_index("ix_cases_institution_id", table_name="cases")
    op.drop_table("cases")
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("institution", sa.Text, nullable=True))
    op.execute(
        "UPDATE api_tokens SET institution = "
        "(SELECT name FROM institutions WHERE institutions.id = api_tokens.institution_id)"
    )
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("institution", existing_type=sa.Text, nullable=False)
        batch.drop_index("ix_api_tokens_institution_id")
        batch.drop_constraint("fk_api_tokens_institution_id", type_="foreignkey")
        batch.drop_column("institution_id")
    op.drop_table("institutions")
