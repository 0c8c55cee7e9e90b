"""CDS Hooks feedback and card hand-offs.

Revision ID: 0003
Revises: 0002
Create Date: 2025-03-01

- ``cds_feedback``: one row per feedback item an EHR sent on a card (service, issuer, card,
  outcome, override reason code and text, accepted suggestions, times).
- ``cds_handoffs``: the FHIR Bundle behind a card's "open in spinemets" link, for one hour,
  found by the hash of the link's token (shared by every worker, unlike process memory).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cds_feedback",
        sa.Column("id", _BIG, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service", sa.String(100), nullable=False),
        sa.Column("issuer", sa.String(300), nullable=True),
        sa.Column("card", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("override_code", sa.String(100), nullable=True),
        sa.Column("override_text", sa.String(500), nullable=True),
        sa.Column("accepted_suggestions", sa.JSON(), nullable=True),
    )
    op.create_index("ix_cds_feedback_received_at", "cds_feedback", ["received_at"])
    op.create_index("ix_cds_feedback_card", "cds_feedback", ["card"])
    op.create_table(
        "cds_handoffs",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bundle", sa.JSON(), nullable=False),
    )
    op.create_index("ix_cds_handoffs_expires_at", "cds_handoffs", ["expires_at"])


def downgrade() -> None:
    op.drop_table("cds_handoffs")
    op.drop_table("cds_feedback")
