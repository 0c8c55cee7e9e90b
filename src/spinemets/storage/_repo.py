"""Repository functions for accounts, sessions and cases. Session first, then keywords.

Cases are never overwritten: :func:`create_case` refuses a reference already used and
:func:`update_case` appends a version only when the edit started from the current one (an
atomic compare-and-set on ``cases.current_version``, safe across workers on SQLite and
PostgreSQL).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from spinemets.storage._chain import is_reserved_ref, reserve_ref
from spinemets.storage._credentials import (
    InvalidUsernameError,
    check_new_username,
    normalise_username,
)
from spinemets.storage._errors import (
    CaseExistsError,
    CaseNotFoundError,
    ReservedCaseRefError,
    StaleVersionError,
)
from spinemets.storage._models import CaseRecord, CaseVersion, User, WebSession
from spinemets.storage._refs import check_case_ref

__all__ = [
    "ROLES",
    "VersionInfo",
    "case_versions",
    "count_versions",
    "create_case",
    "create_session",
    "create_user",
    "delete_session",
    "delete_user_sessions",
    "get_case",
    "get_session_user",
    "get_user",
    "get_user_by_id",
    "get_user_by_oidc_subject",
    "get_version",
    "list_cases",
    "list_users",
    "purge_case",
    "record_decision",
    "set_roles",
    "soft_delete_case",
    "update_case",
    "update_user",
]

#: The roles an account may hold (see ``spinemets.web._state.POLICY`` for what each may do).
ROLES = ("clinician", "coordinator", "researcher", "admin")


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _check_roles(roles: Iterable[str]) -> str:
    chosen = sorted(set(roles))
    unknown = [r for r in chosen if r not in ROLES]
    if unknown or not chosen:
        msg = f"roles must be one or more of {', '.join(ROLES)} (got {', '.join(chosen)})"
        raise ValueError(msg)
    return " ".join(chosen)


# --------------------------------------------------------------------------- accounts


def create_user(
    session: Session, *, username: str, password_hash: str, display_name: str,
    roles: Iterable[str] = ("clinician",), oidc_subject: str | None = None,
) -> User:
    """Add an account; the caller hashes the password.

    The name is normalised and checked (:func:`check_new_username`): a name taken, breaking
    the rules or confusable with an existing account's raises :class:`InvalidUsernameError`.
    """
    existing = session.scalars(select(User.username)).all()
    name = check_new_username(username, existing=existing)
    user = User(username=name, password_hash=password_hash, display_name=display_name,
                roles=_check_roles(roles), disabled=False, oidc_subject=oidc_subject)
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, *, username: str) -> User | None:
    """The account called ``username`` (in any case or width: the name is normalised), if any."""
    try:
        name = normalise_username(username)
    except InvalidUsernameError:
        name = username  # a name stored before the rules (left alone by migration 0006)
    user = session.scalars(select(User).where(User.username == name)).first()
    if user is None and name != username:
        user = session.scalars(select(User).where(User.username == username)).first()
    return user


def get_user_by_oidc_subject(session: Session, *, subject: str) -> User | None:
    """The account linked to the single sign-on ``subject``, if any."""
    return session.scalars(select(User).where(User.oidc_subject == subject)).first()


def get_user_by_id(session: Session, *, user_id: int) -> User | None:
    """The account with id ``user_id``, if any."""
    return session.get(User, user_id)


def list_users(session: Session) -> Sequence[User]:
    """Every account, by username."""
    return session.scalars(select(User).order_by(User.username)).all()


def update_user(
    session: Session, *, username: str, password_hash: str | None = None,
    disabled: bool | None = None, display_name: str | None = None,
) -> User:
    """Change an account's password hash, disabled flag or display name.

    A new password or disabling the account ends every session of the account.
    """
    user = get_user(session, username=username)
    if user is None:
        raise LookupError(f"no account {username!r}")
    if password_hash is not None:
        user.password_hash = password_hash
    if display_name is not None:
        user.display_name = display_name
    if disabled is not None:
        user.disabled = disabled
    if password_hash is not None or disabled:
        delete_user_sessions(session, user_id=user.id)
    session.flush()
    return user


def set_roles(session: Session, *, username: str, roles: Iterable[str]) -> User:
    """Replace the roles of an account (and end its sessions)."""
    user = get_user(session, username=username)
    if user is None:
        raise LookupError(f"no account {username!r}")
    user.roles = _check_roles(roles)
    delete_user_sessions(session, user_id=user.id)
    session.flush()
    return user


# --------------------------------------------------------------------------- sessions


def create_session(session: Session, *, user_id: int, lifetime: timedelta) -> str:
    """Open a sign-in session and return its secret token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.add(WebSession(token_hash=_hash_token(token), user_id=user_id, created_at=now,
                           expires_at=now + lifetime, last_seen_at=now))
    session.flush()
    return token


def get_session_user(
    session: Session, *, token: str, idle: timedelta | None = None
) -> User | None:
    """The (enabled) user of a session token within its absolute and idle limits, or ``None``.

    An expired or idle session is deleted; a live one has ``last_seen_at`` refreshed (at most
    once a minute, to keep reads cheap).
    """
    row = session.get(WebSession, _hash_token(token))
    if row is None:
        return None
    now = datetime.now(UTC)
    seen = _aware(row.last_seen_at or row.created_at)
    if _aware(row.expires_at) <= now or (idle is not None and seen + idle <= now):
        session.delete(row)
        session.flush()
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    if now - seen > timedelta(minutes=1):
        row.last_seen_at = now
        session.flush()
    return user


def delete_session(session: Session, *, token: str) -> None:
    """Sign out: forget the session token."""
    session.execute(delete(WebSession).where(WebSession.token_hash == _hash_token(token)))


def delete_user_sessions(session: Session, *, user_id: int) -> None:
    """End every session of an account."""
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))


# --------------------------------------------------------------------------- cases


class VersionInfo:
    """What a saved version records besides the document: the plan and how it was computed."""

    __slots__ = ("plan", "software_version", "tables_hash")

    def __init__(self, *, plan: dict[str, Any] | None = None, software_version: str = "",
                 tables_hash: str = "") -> None:
        self.plan = plan
        self.software_version = software_version
        self.tables_hash = tables_hash


def _author(user: User | None) -> tuple[int | None, str]:
    return (user.id, user.username) if user is not None else (None, "(system)")


def _version(record: CaseRecord, *, version: int, kind: str, data: dict[str, Any],
             user: User | None, reason: str, info: VersionInfo | None,
             decision: dict[str, Any] | None = None) -> CaseVersion:
    author_id, author = _author(user)
    info = info or VersionInfo()
    return CaseVersion(case_id=record.id, version=version, kind=kind, author_id=author_id,
                       author=author, created_at=datetime.now(UTC), reason=reason, data=data,
                       plan=info.plan, software_version=info.software_version,
                       tables_hash=info.tables_hash, decision=decision)


def create_case(
    session: Session, *, case_ref: str, data: dict[str, Any], user: User | None,
    reason: str = "", info: VersionInfo | None = None, demo: bool = False,
) -> CaseRecord:
    """Store a new case as version 1; :class:`CaseExistsError` if the reference is used.

    A deleted case keeps its reference (its history is kept), so it is refused too, and so is
    the reference of a purged case (:class:`ReservedCaseRefError`): a new case never inherits
    an old one's audit trail.
    """
    check_case_ref(case_ref)
    if is_reserved_ref(session, case_ref=case_ref):
        raise ReservedCaseRefError(case_ref)
    if session.scalar(select(CaseRecord.id).where(CaseRecord.case_ref == case_ref)) is not None:
        raise CaseExistsError(case_ref)
    now = datetime.now(UTC)
    record = CaseRecord(case_ref=case_ref, data=data, demo=demo, current_version=1,
                        created_by=user.id if user else None,
                        updated_by=user.id if user else None, created_at=now, updated_at=now)
    session.add(record)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent create won the race (transaction is void)
        raise CaseExistsError(case_ref) from exc
    session.add(_version(record, version=1, kind="create", data=data, user=user,
                         reason=reason, info=info))
    session.flush()
    return record


def _advance(session: Session, *, case_ref: str, base_version: int,
             values: dict[str, Any]) -> CaseRecord:
    """Compare-and-set ``current_version`` from ``base_version`` to the next, or raise."""
    record = get_case(session, case_ref=case_ref)
    if record is None:
        raise CaseNotFoundError(case_ref)
    result = session.execute(
        update(CaseRecord)
        .where(CaseRecord.id == record.id, CaseRecord.current_version == base_version,
               CaseRecord.deleted_at.is_(None))
        .values(current_version=base_version + 1, updated_at=datetime.now(UTC), **values)
        .execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 0) != 1:
        session.refresh(record)
        if record.deleted_at is not None:
            raise CaseNotFoundError(case_ref)
        raise StaleVersionError(case_ref, base_version=base_version,
                                current_version=record.current_version)
    session.refresh(record)
    return record


def update_case(
    session: Session, *, case_ref: str, data: dict[str, Any], base_version: int,
    user: User | None, reason: str = "", info: VersionInfo | None = None,
) -> CaseRecord:
    """Append a new version made from ``base_version``; :class:`StaleVersionError` if stale."""
    record = _advance(session, case_ref=case_ref, base_version=base_version,
                      values={"data": data, "updated_by": user.id if user else None})
    session.add(_version(record, version=base_version + 1, kind="edit", data=data, user=user,
                         reason=reason, info=info))
    session.flush()
    return record


def record_decision(
    session: Session, *, case_ref: str, base_version: int, decision: dict[str, Any],
    user: User | None, reason: str = "", info: VersionInfo | None = None,
) -> CaseRecord:
    """Append a tumour-board decision as a new version (the document itself is unchanged)."""
    current = get_case(session, case_ref=case_ref)
    if current is None:
        raise CaseNotFoundError(case_ref)
    data = dict(current.data)
    record = _advance(session, case_ref=case_ref, base_version=base_version,
                      values={"updated_by": user.id if user else None})
    session.add(_version(record, version=base_version + 1, kind="decision", data=data,
                         user=user, reason=reason, info=info, decision=decision))
    session.flush()
    return record


def soft_delete_case(
    session: Session, *, case_ref: str, base_version: int, user: User | None, reason: str = "",
) -> CaseRecord:
    """Mark a case deleted; its history stays (a final ``delete`` version is appended)."""
    current = get_case(session, case_ref=case_ref)
    if current is None:
        raise CaseNotFoundError(case_ref)
    data = dict(current.data)
    record = _advance(session, case_ref=case_ref, base_version=base_version,
                      values={"deleted_at": datetime.now(UTC),
                              "updated_by": user.id if user else None})
    session.add(_version(record, version=base_version + 1, kind="delete", data=data,
                         user=user, reason=reason, info=None))
    session.flush()
    return record


def purge_case(session: Session, *, case_ref: str) -> bool:
    """Remove a case and its whole history for good (admins only); ``True`` if removed.

    The reference stays reserved (never reused) and its audit records stay.
    """
    record = get_case(session, case_ref=case_ref, include_deleted=True)
    if record is None:
        return False
    reserve_ref(session, case_ref=case_ref)
    session.execute(delete(CaseVersion).where(CaseVersion.case_id == record.id))
    session.execute(delete(CaseRecord).where(CaseRecord.id == record.id))
    session.expunge(record)
    return True


def get_case(session: Session, *, case_ref: str,
             include_deleted: bool = False) -> CaseRecord | None:
    """The case stored under ``case_ref`` (``None`` if absent or deleted, unless asked)."""
    stmt = select(CaseRecord).where(CaseRecord.case_ref == case_ref)
    if not include_deleted:
        stmt = stmt.where(CaseRecord.deleted_at.is_(None))
    return session.scalars(stmt).first()


def list_cases(session: Session, *, limit: int = 200,
               include_deleted: bool = False) -> Sequence[CaseRecord]:
    """Stored cases, most recently changed first."""
    stmt = select(CaseRecord).order_by(CaseRecord.updated_at.desc(), CaseRecord.id.desc())
    if not include_deleted:
        stmt = stmt.where(CaseRecord.deleted_at.is_(None))
    return session.scalars(stmt.limit(limit)).all()


def case_versions(session: Session, *, case_ref: str) -> Sequence[CaseVersion]:
    """Every version of a case (deleted cases too), oldest first."""
    stmt = (select(CaseVersion).join(CaseRecord, CaseRecord.id == CaseVersion.case_id)
            .where(CaseRecord.case_ref == case_ref).order_by(CaseVersion.version))
    return session.scalars(stmt).all()


def get_version(session: Session, *, case_ref: str, version: int) -> CaseVersion | None:
    """One version of a case."""
    stmt = (select(CaseVersion).join(CaseRecord, CaseRecord.id == CaseVersion.case_id)
            .where(CaseRecord.case_ref == case_ref, CaseVersion.version == version))
    return session.scalars(stmt).first()


def count_versions(session: Session) -> int:
    """How many case versions are stored (all cases)."""
    return int(session.scalar(select(func.count()).select_from(CaseVersion)) or 0)
