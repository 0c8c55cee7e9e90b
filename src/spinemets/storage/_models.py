"""Storage models (separate from the API's pydantic models).

A case is a row in ``cases`` (its reference, current version number and a copy of the current
document for listing) plus an append-only sequence of ``case_versions``: nothing is ever
overwritten. ``audit_events`` is append-only too (triggers refuse UPDATE and DELETE).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "CASE_REF_MAX",
    "AuditChainHead",
    "AuditCounter",
    "AuditEvent",
    "Base",
    "CaseRecord",
    "CaseVersion",
    "CdsFeedback",
    "CdsHandoff",
    "LoginNonce",
    "Meeting",
    "MeetingCase",
    "ReservedCaseRef",
    "SignInThrottle",
    "User",
    "WebSession",
]

#: Longest case reference: the same in the case format (``id``, max_length 200), the form and
#: both databases.
CASE_REF_MAX = 200

_BigId = BigInteger().with_variant(Integer(), "sqlite")


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every spinemets table."""


class User(Base):
    """An account: local password (Argon2) or single sign-on subject; space-separated roles."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    roles: Mapped[str] = mapped_column(String(120), default="clinician")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    oidc_subject: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)

    @property
    def role_set(self) -> frozenset[str]:
        """The roles of this account."""
        return frozenset(self.roles.split())


class WebSession(Base):
    """A server-side sign-in session; the cookie holds the token, the table only its hash."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CaseRecord(Base):
    """A case reference, its current version number and a copy of the current document."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(CASE_REF_MAX), unique=True, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    demo: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=_now
    )
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CaseVersion(Base):
    """One immutable version of a case: who, when, why, the document and the plan at save."""

    __tablename__ = "case_versions"
    __table_args__ = (UniqueConstraint("case_id", "version", name="uq_case_versions_case_version"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    author: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    reason: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    software_version: Mapped[str] = mapped_column(String(40), default="")
    tables_hash: Mapped[str] = mapped_column(String(64), default="")
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class AuditEvent(Base):
    """An append-only audit record: who (and role), when, what, which case, from where, outcome.

    Holds references and ids only, never case content.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    actor: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    roles: Mapped[str] = mapped_column(String(120), default="")
    action: Mapped[str] = mapped_column(String(40), index=True)
    case_ref: Mapped[str | None] = mapped_column(String(CASE_REF_MAX), nullable=True, index=True)
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    client: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(String(200), default="")
    #: Position in the hash chain (1, 2, ...), the previous row's hash and this row's hash
    #: (migration 0005; see ``storage._chain``).
    seq: Mapped[int | None] = mapped_column(_BigId, nullable=True, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    row_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class SignInThrottle(Base):
    """Failed sign-ins per key (``account:<name>`` or ``address:<ip>``), shared by workers."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LoginNonce(Base):
    """A one-time login-CSRF nonce (hash only); consumed by the sign-in attempt that uses it."""

    __tablename__ = "login_nonces"

    nonce_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Meeting(Base):
    """A multidisciplinary team (tumour board) meeting."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    held_on: Mapped[date] = mapped_column(Date)
    attendees: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class MeetingCase(Base):
    """A case on a meeting's list."""

    __tablename__ = "meeting_cases"
    __table_args__ = (UniqueConstraint("meeting_id", "case_id", name="uq_meeting_cases"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"),
                                            index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)


class CdsFeedback(Base):
    """Feedback an EHR sent on a CDS Hooks card (accepted or overridden, and why)."""

    __tablename__ = "cds_feedback"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now,
                                                  index=True)
    service: Mapped[str] = mapped_column(String(100))
    issuer: Mapped[str | None] = mapped_column(String(300), nullable=True)
    card: Mapped[str] = mapped_column(String(200), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    outcome_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    override_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    override_text: Mapped[str | None] = mapped_column(String(500), nullable=True)
    accepted_suggestions: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)


class CdsHandoff(Base):
    """The Bundle behind a card's link, kept for an hour (token hash only)."""

    __tablename__ = "cds_handoffs"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    bundle: Mapped[dict[str, Any]] = mapped_column(JSON)


class AuditChainHead(Base):
    """The one row (``id`` 1) holding the audit chain's last position and hash.

    Every append updates it first, which serialises appends (a row lock on PostgreSQL, the
    write lock on SQLite), so the chain stays linear under concurrent writers.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(_BigId, default=0)
    head_hash: Mapped[str] = mapped_column(String(64))


class AuditCounter(Base):
    """Anonymous discovery and health calls: one counter per hour, route and outcome."""

    __tablename__ = "audit_counters"

    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    route: Mapped[str] = mapped_column(String(100), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    calls: Mapped[int] = mapped_column(_BigId, default=0)


class ReservedCaseRef(Base):
    """The reference of a purged case: never given to a new case (so never inherits its audit)."""

    __tablename__ = "reserved_case_refs"

    case_ref: Mapped[str] = mapped_column(String(CASE_REF_MAX), primary_key=True)
    purged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
