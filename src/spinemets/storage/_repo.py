"""Repository functions: the only code that issues queries. Session first, then keywords."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from spinemets.storage._models import CaseRecord, User, WebSession

__all__ = [
    "create_session",
    "create_user",
    "delete_case",
    "delete_session",
    "get_case",
    "get_session_user",
    "get_user",
    "list_cases",
    "save_case",
]


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(
    session: Session, *, username: str, password_hash: str, display_name: str
) -> User:
    """Add a clinician account; the caller hashes the password."""
    user = User(username=username, password_hash=password_hash, display_name=display_name)
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, *, username: str) -> User | None:
    """The account called ``username``, if any."""
    return session.scalars(select(User).where(User.username == username)).first()


def create_session(session: Session, *, user_id: int, lifetime: timedelta) -> str:
    """Open a sign-in session and return its secret token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.add(
        WebSession(
            token_hash=_hash_token(token), user_id=user_id, created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return token


def get_session_user(session: Session, *, token: str) -> User | None:
    """The user of an unexpired session token, or ``None``."""
    row = session.get(WebSession, _hash_token(token))
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if expires <= datetime.now(UTC):
        session.delete(row)
        session.flush()
        return None
    return session.get(User, row.user_id)


def delete_session(session: Session, *, token: str) -> None:
    """Sign out: forget the session token."""
    session.execute(delete(WebSession).where(WebSession.token_hash == _hash_token(token)))


def save_case(
    session: Session,
    *,
    case_ref: str,
    data: dict[str, Any],
    created_by: int | None = None,
    demo: bool = False,
) -> CaseRecord:
    """Insert or replace the case stored under ``case_ref``."""
    record = session.scalars(select(CaseRecord).where(CaseRecord.case_ref == case_ref)).first()
    if record is None:
        record = CaseRecord(case_ref=case_ref, data=data, created_by=created_by, demo=demo)
        session.add(record)
    else:
        record.data = data
    session.flush()
    return record


def get_case(session: Session, *, case_ref: str) -> CaseRecord | None:
    """The case stored under ``case_ref``, if any."""
    return session.scalars(select(CaseRecord).where(CaseRecord.case_ref == case_ref)).first()


def list_cases(session: Session, *, limit: int = 200) -> Sequence[CaseRecord]:
    """Stored cases, newest first."""
    stmt = select(CaseRecord).order_by(CaseRecord.updated_at.desc(), CaseRecord.id.desc())
    return session.scalars(stmt.limit(limit)).all()


def delete_case(session: Session, *, case_ref: str) -> bool:
    """Remove a case; ``True`` if one was removed."""
    result = session.execute(delete(CaseRecord).where(CaseRecord.case_ref == case_ref))
    return bool(getattr(result, "rowcount", 0))
