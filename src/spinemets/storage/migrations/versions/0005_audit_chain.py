"""Hash-chained audit rows, call counters and reserved case references.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

- ``audit_events`` gains ``seq`` (chain position, unique), ``prev_hash`` and ``row_hash``;
  existing rows are chained in ``id`` order (the append-only triggers are lifted for this one
  backfill and put back in the same transaction).
- ``audit_chain_head``: one row with the last position and hash; appends update it first,
  which serialises them. A trigger refuses deleting it.
- ``audit_counters``: anonymous discovery and health calls, one counter per hour and route.
- ``reserved_case_refs``: references of purged cases, never given to a new case.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from spinemets.storage._chain import GENESIS_HASH, row_digest

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_SQLITE_UPDATE_TRIGGER = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only (UPDATE refused)'); END")


_HEAD_PG = """
CREATE OR REPLACE FUNCTION spinemets_audit_head_kept() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_chain_head cannot be deleted (% refused)', TG_OP;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head
  FOR EACH ROW EXECUTE FUNCTION spinemets_audit_head_kept();
CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head
  FOR EACH STATEMENT EXECUTE FUNCTION spinemets_audit_head_kept();
"""
_HEAD_SQLITE = (
    "CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head "
    "BEGIN SELECT RAISE(ABORT, 'audit_chain_head cannot be deleted (DELETE refused)'); END")


def _backfill() -> tuple[int, str]:
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, at, actor, actor_id, roles, action, case_ref, target, client, outcome, "
        "detail FROM audit_events ORDER BY id")).all()
    if not rows:
        return 0, GENESIS_HASH
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete")
    else:
        op.execute("DROP TRIGGER audit_events_no_update")
    prev, seq = GENESIS_HASH, 0
    for row in rows:
        seq += 1
        at = row.at
        if isinstance(at, str):  # SQLite text through a plain SELECT
            from datetime import datetime  # noqa: PLC0415

            at = datetime.fromisoformat(at)
        digest = row_digest(prev, seq=seq, at=at, actor=row.actor, actor_id=row.actor_id,
                            roles=row.roles or "", action=row.action, case_ref=row.case_ref,
                            target=row.target, client=row.client or "", outcome=row.outcome,
                            detail=row.detail or "")
        connection.execute(sa.text("UPDATE audit_events SET seq = :seq, prev_hash = :prev, "
                                   "row_hash = :hash WHERE id = :id"),
                           {"seq": seq, "prev": prev, "hash": digest, "id": row.id})
        prev = digest
    if postgres:
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete")
    else:
        op.execute(_SQLITE_UPDATE_TRIGGER)
    return seq, prev


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("seq", _BIG, nullable=True))
    op.add_column("audit_events", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_events", sa.Column("row_hash", sa.String(64), nullable=True))
    op.create_index("ix_audit_events_seq", "audit_events", ["seq"], unique=True)
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", _BIG, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
    )
    seq, last = _backfill()
    op.bulk_insert(head, [{"id": 1, "seq": seq, "head_hash": last}])
    op.execute(_HEAD_PG if op.get_bind().dialect.name == "postgresql" else _HEAD_SQLITE)
    op.create_table(
        "audit_counters",
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("route", sa.String(100), primary_key=True),
        sa.Column("outcome", sa.String(20), primary_key=True),
        sa.Column("calls", _BIG, nullable=False),
    )
    op.create_table(
        "reserved_case_refs",
        sa.Column("case_ref", sa.String(200), primary_key=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reserved_case_refs")
    op.drop_table("audit_counters")
    op.drop_table("audit_chain_head")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS spinemets_audit_head_kept()")
    op.drop_index("ix_audit_events_seq", "audit_events")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("row_hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
