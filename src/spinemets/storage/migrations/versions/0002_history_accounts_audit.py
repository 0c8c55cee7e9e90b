"""Case history, roles, sign-in throttling, append-only audit, MDT meetings.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01

- ``cases.case_ref`` widened to 200 characters (the case format's limit);
  ``current_version``, ``updated_by``, ``deleted_at`` added; every existing case gets version 1
  in ``case_versions`` (reason "migrated").
- ``users.roles`` (existing accounts become clinicians), ``disabled``, ``oidc_subject``;
  ``web_sessions.last_seen_at`` for the idle timeout.
- ``audit_events``: append-only; a trigger refuses UPDATE and DELETE (and, on PostgreSQL,
  TRUNCATE).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_PG_TRIGGER = """
CREATE OR REPLACE FUNCTION spinemets_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION spinemets_audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION spinemets_audit_append_only();
"""

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only (UPDATE refused)'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only (DELETE refused)'); END",
)


def _alter_existing() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("case_ref", type_=sa.String(200), existing_type=sa.String(80),
                           existing_nullable=False)
        batch.add_column(sa.Column("current_version", sa.Integer(), nullable=False,
                                   server_default="1"))
        batch.add_column(sa.Column("updated_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key("fk_cases_updated_by", "users", ["updated_by"], ["id"],
                                 ondelete="SET NULL")
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("roles", sa.String(120), nullable=False,
                                   server_default="clinician"))
        batch.add_column(sa.Column("disabled", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("oidc_subject", sa.String(255), nullable=True))
        batch.create_unique_constraint("uq_users_oidc_subject", ["oidc_subject"])
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))


def _create_history() -> None:
    op.create_table(
        "case_versions",
        sa.Column("id", _BIG, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("author", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("software_version", sa.String(40), nullable=False),
        sa.Column("tables_hash", sa.String(64), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=True),
        sa.UniqueConstraint("case_id", "version", name="uq_case_versions_case_version"),
    )
    op.create_index("ix_case_versions_case_id", "case_versions", ["case_id"])
    cases = sa.table("cases", sa.column("id", sa.Integer()), sa.column("data", sa.JSON()),
                     sa.column("created_at", sa.DateTime(timezone=True)),
                     sa.column("created_by", sa.Integer()))
    versions = sa.table(
        "case_versions", sa.column("case_id", sa.Integer()), sa.column("version", sa.Integer()),
        sa.column("kind", sa.String()), sa.column("author_id", sa.Integer()),
        sa.column("author", sa.String()), sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("reason", sa.Text()), sa.column("data", sa.JSON()),
        sa.column("software_version", sa.String()), sa.column("tables_hash", sa.String()))
    connection = op.get_bind()
    rows = connection.execute(sa.select(cases.c.id, cases.c.data, cases.c.created_at,
                                        cases.c.created_by)).all()
    if rows:
        connection.execute(versions.insert(), [
            {"case_id": r.id, "version": 1, "kind": "create", "author_id": r.created_by,
             "author": "(before history)", "created_at": r.created_at or datetime.now(UTC),
             "reason": "migrated: the version stored before case history existed",
             "data": r.data, "software_version": "", "tables_hash": ""} for r in rows])


def _create_audit() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", _BIG, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(80), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("roles", sa.String(120), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("case_ref", sa.String(200), nullable=True),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
    )
    for column in ("at", "actor", "action", "case_ref"):
        op.create_index(f"ix_audit_events_{column}", "audit_events", [column])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_TRIGGER)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def _create_sign_in_tables() -> None:
    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "login_nonces",
        sa.Column("nonce_hash", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_nonces_expires_at", "login_nonces", ["expires_at"])


def _create_meetings() -> None:
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("attendees", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "meeting_cases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("meeting_id", sa.Integer(),
                  sa.ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.UniqueConstraint("meeting_id", "case_id", name="uq_meeting_cases"),
    )
    op.create_index("ix_meeting_cases_meeting_id", "meeting_cases", ["meeting_id"])


def upgrade() -> None:
    _alter_existing()
    _create_history()
    _create_audit()
    _create_sign_in_tables()
    _create_meetings()


def downgrade() -> None:
    op.drop_table("meeting_cases")
    op.drop_table("meetings")
    op.drop_table("login_nonces")
    op.drop_table("sign_in_throttle")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE audit_events")
        op.execute("DROP FUNCTION IF EXISTS spinemets_audit_append_only()")
    else:
        op.drop_table("audit_events")
    op.drop_table("case_versions")
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("last_seen_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_oidc_subject", type_="unique")
        batch.drop_column("oidc_subject")
        batch.drop_column("disabled")
        batch.drop_column("roles")
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint("fk_cases_updated_by", type_="foreignkey")
        batch.drop_column("deleted_at")
        batch.drop_column("updated_by")
        batch.drop_column("current_version")
        batch.alter_column("case_ref", type_=sa.String(80), existing_type=sa.String(200),
                           existing_nullable=False)
