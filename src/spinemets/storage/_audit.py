"""Append-only audit trail, sign-in throttling and one-time login nonces.

The application has no update or delete path for ``audit_events``; the database refuses them
too (triggers created by migration 0002). Audit rows hold references and ids, never case
content, and are hash-chained (``storage._chain``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from spinemets.storage._chain import append_chained
from spinemets.storage._models import AuditEvent, LoginNonce, SignInThrottle, User

__all__ = [
    "AUDIT_TALLY",
    "ThrottlePolicy",
    "clear_failures",
    "consume_login_nonce",
    "count_audit",
    "issue_login_nonce",
    "list_audit",
    "record_audit",
    "record_failure",
    "throttle_wait",
]


#: Set per web request to a list that collects the actions audited while serving it (the web
#: layer's fallback audit uses it to know whether a route wrote its own record).
AUDIT_TALLY: ContextVar[list[str] | None] = ContextVar("spinemets_audit_tally", default=None)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def record_audit(
    session: Session, *, action: str, outcome: str, user: User | None = None,
    actor: str | None = None, client: str = "", case_ref: str | None = None,
    target: str | None = None, detail: str = "",
) -> AuditEvent:
    """Append one audit record (in the caller's transaction: it commits with the change).

    The record is linked into the hash chain; the append holds the chain head until the
    transaction ends, so concurrent appends queue rather than fork the chain.
    """
    who = user.username if user else actor
    event = AuditEvent(
        at=datetime.now(UTC), actor=who and who[:80],
        actor_id=user.id if user else None, roles=user.roles if user else "",
        action=action, outcome=outcome, client=client[:64],
        case_ref=case_ref and case_ref[:200], target=(target or None) and target[:200],
        detail=detail[:200])
    append_chained(session, event)
    tally = AUDIT_TALLY.get()
    if tally is not None:
        tally.append(action)
    return event


def list_audit(
    session: Session, *, actor: str | None = None, action: str | None = None,
    case_ref: str | None = None, outcome: str | None = None, since: datetime | None = None,
    until: datetime | None = None, limit: int | None = 500, oldest_first: bool = False,
) -> Sequence[AuditEvent]:
    """Audit records matching every filter given, newest first unless ``oldest_first``."""
    stmt = select(AuditEvent)
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if case_ref:
        stmt = stmt.where(AuditEvent.case_ref == case_ref)
    if outcome:
        stmt = stmt.where(AuditEvent.outcome == outcome)
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.at < until)
    stmt = stmt.order_by(AuditEvent.id if oldest_first else AuditEvent.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return session.scalars(stmt).all()


def count_audit(session: Session, *, action: str | None = None) -> int:
    """How many audit records there are (of one action, if given)."""
    stmt = select(func.count()).select_from(AuditEvent)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return int(session.scalar(stmt) or 0)


# --------------------------------------------------------------------------- throttling


@dataclass(frozen=True)
class ThrottlePolicy:
    """Exponential back-off after ``free`` failures of one key within ``window``.

    After the ``free``-th failure the key is blocked for ``base``; each further failure doubles
    the block, up to ``cap``. A blocked attempt is refused without checking the password and
    does not count. ``window`` without failures forgets the key.
    """

    free: int = 5
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(minutes=15)
    window: timedelta = timedelta(minutes=15)

    def block(self, failures: int) -> timedelta | None:
        """How long to block after ``failures`` failures (``None``: not yet)."""
        if failures < self.free:
            return None
        doublings = min(failures - self.free, 20)
        block: timedelta = self.base * (2 ** doublings)
        return min(block, self.cap)


def throttle_wait(session: Session, *, key: str, now: datetime | None = None) -> float:
    """Seconds until ``key`` may try again (0 when it may try now)."""
    now = now or datetime.now(UTC)
    row = session.get(SignInThrottle, key)
    if row is None or row.blocked_until is None:
        return 0.0
    return max(0.0, (_aware(row.blocked_until) - now).total_seconds())


def record_failure(session: Session, *, key: str, policy: ThrottlePolicy,
                   now: datetime | None = None) -> int:
    """Count one failure of ``key`` (atomic upsert, safe across workers); the new count."""
    now = now or datetime.now(UTC)
    forget_before = now - policy.window
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = SignInThrottle.__table__
    stmt = insert(SignInThrottle).values(key=key, failures=1, last_failure_at=now,
                                         blocked_until=None)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"failures": case((table.c.last_failure_at < forget_before, 1),
                               else_=table.c.failures + 1),
              "last_failure_at": now})
    session.execute(stmt)
    failures = int(session.scalar(select(SignInThrottle.failures)
                                  .where(SignInThrottle.key == key)) or 1)
    block = policy.block(failures)
    session.execute(update(SignInThrottle).where(SignInThrottle.key == key)
                    .values(blocked_until=now + block if block else None)
                    .execution_options(synchronize_session=False))
    session.expire_all()
    return failures


def clear_failures(session: Session, *, key: str) -> None:
    """Forget the failures of ``key`` (after a successful sign-in)."""
    session.execute(delete(SignInThrottle).where(SignInThrottle.key == key))


# --------------------------------------------------------------------------- login nonces


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def issue_login_nonce(session: Session, *, lifetime: timedelta = timedelta(hours=1)) -> str:
    """A fresh one-time nonce for the sign-in form (only its hash is stored)."""
    now = datetime.now(UTC)
    session.execute(delete(LoginNonce).where(LoginNonce.expires_at < now))
    nonce = secrets.token_urlsafe(32)
    session.add(LoginNonce(nonce_hash=_digest(nonce), expires_at=now + lifetime))
    session.flush()
    return nonce


def consume_login_nonce(session: Session, *, nonce: str) -> bool:
    """``True`` once for an issued, unexpired nonce; it cannot be used again."""
    result = session.execute(delete(LoginNonce).where(
        LoginNonce.nonce_hash == _digest(nonce), LoginNonce.expires_at >= datetime.now(UTC)))
    return getattr(result, "rowcount", 0) == 1
