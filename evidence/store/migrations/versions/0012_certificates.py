"""Registered e-certificates (电子证照): the signed material, the issuer's PDF and the status.

One row per certificate, keyed by its identifier; ``(issuer_code, type, number)`` is unique
(issue 12: numbers are unique per issuer and type) and is the index a lookup by number reads.
The status mirrors the chain's ``CertificateRegistry``: a row is ``pending`` until the chain
holds its issue, and a requested change is pending until its transaction is recorded
(docs/e-certificates.md §8). Additive only.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("issuer_code", sa.String(18), nullable=False),
        sa.Column("issuer_name", sa.String(200), nullable=False),
        sa.Column("issuer_type", sa.String(32), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("encoded", sa.LargeBinary, nullable=False),
        sa.Column("certificate_sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("signer_certificate", sa.LargeBinary, nullable=False),
        sa.Column("pdf", sa.LargeBinary, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("issue_signature", sa.LargeBinary, nullable=False),
        sa.Column("issue_tx", sa.LargeBinary(32), nullable=True),
        sa.Column("issue_block", sa.BigInteger, nullable=True),
        sa.Column("registered_by", sa.String(36), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("change_action", sa.String(16), nullable=True),
        sa.Column("change_reason", sa.SmallInteger, nullable=True),
        sa.Column("change_effective_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("change_successor", sa.String(64), nullable=True),
        sa.Column("change_signature", sa.LargeBinary, nullable=True),
        sa.Column("change_signer_certificate", sa.LargeBinary, nullable=True),
        sa.Column("changed_by", sa.String(36), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("change_tx", sa.LargeBinary(32), nullable=True),
        sa.Column("change_block", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("issuer_code", "type", "number", name="uq_certificates_number"),
    )
    op.create_index(
        "ix_certificates_pending", "certificates", ["status", "change_action", "change_tx"]
    )


def downgrade() -> None:
    op.drop_index("ix_certificates_pending", table_name="certificates")
    op.drop_table("certificates")
