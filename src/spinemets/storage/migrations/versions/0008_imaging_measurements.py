"""CT measurements of a case.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-07

- ``imaging_measurements``: a ``spinemets-imaging/1`` document (per-level measurements and
  SINS suggestions from a CT and its vertebra masks), its overlay PNG, who stored it and when,
  and the clinician's accept / reject decision on each suggestion.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "imaging_measurements",
        sa.Column("id", _BIG, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("overlay", sa.LargeBinary(), nullable=True),
        sa.Column("decisions", sa.JSON(), nullable=False),
    )
    op.create_index("ix_imaging_measurements_case_id", "imaging_measurements", ["case_id"])


def downgrade() -> None:
    op.drop_table("imaging_measurements")
