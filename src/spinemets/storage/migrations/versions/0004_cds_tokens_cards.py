"""CDS Hooks: the JWT replay store and the cards issued.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

- ``cds_token_uses``: the hash of (issuer, ``jti``) of every accepted CDS Hooks JWT until it
  expires: a replay is refused by every worker, also after a restart (it was process memory).
- ``cds_cards``: the uuid of every card issued (30 days): feedback is accepted only for them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cds_token_uses",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cds_token_uses_expires_at", "cds_token_uses", ["expires_at"])
    op.create_table(
        "cds_cards",
        sa.Column("uuid", sa.String(64), primary_key=True),
        sa.Column("service", sa.String(100), nullable=False),
        sa.Column("issuer", sa.String(300), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cds_cards_expires_at", "cds_cards", ["expires_at"])


def downgrade() -> None:
    op.drop_table("cds_cards")
    op.drop_table("cds_token_uses")
