"""CDS Hooks records: feedback on cards, the hand-off behind a card's link, the cards issued and
the JWT ids already used (the replay store, shared by every worker and kept across restarts)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from spinemets.storage._models import Base, CdsFeedback, CdsHandoff

__all__ = [
    "CdsCard",
    "CdsTokenUse",
    "cds_card_issued",
    "claim_cds_jti",
    "list_cds_feedback",
    "open_cds_handoff",
    "record_cds_cards",
    "record_cds_feedback",
    "store_cds_handoff",
]


def _now() -> datetime:
    return datetime.now(UTC)


class CdsTokenUse(Base):
    """A CDS Hooks JWT already accepted (hash of issuer and ``jti``), kept until it expires."""

    __tablename__ = "cds_token_uses"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class CdsCard(Base):
    """A card the service issued (its uuid): feedback is accepted only for these."""

    __tablename__ = "cds_cards"

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    service: Mapped[str] = mapped_column(String(100))
    issuer: Mapped[str | None] = mapped_column(String(300), nullable=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def claim_cds_jti(sessions: sessionmaker[Session], *, issuer: str, jti: str,
                  expires_at: datetime) -> bool:
    """Record a token's ``jti``; False if it was already used (a replay), in any worker.

    The primary key makes the claim atomic across processes; expired ids are deleted first.
    """
    key = hashlib.sha256(f"{issuer}\0{jti}".encode()).hexdigest()
    now = datetime.now(UTC)
    try:
        with sessions.begin() as session:
            session.execute(delete(CdsTokenUse).where(CdsTokenUse.expires_at < now))
            session.add(CdsTokenUse(key=key, used_at=now, expires_at=_aware(expires_at)))
    except IntegrityError:
        return False
    return True


def record_cds_cards(session: Session, *, cards: list[str], service: str, issuer: str | None,
                     lifetime: timedelta = timedelta(days=30)) -> None:
    """Remember the uuids of the cards just issued (for ``lifetime``); prune expired ones."""
    now = datetime.now(UTC)
    session.execute(delete(CdsCard).where(CdsCard.expires_at < now))
    for card in cards:
        session.add(CdsCard(uuid=card[:64], service=service[:100],
                            issuer=issuer[:300] if issuer else None, issued_at=now,
                            expires_at=now + lifetime))
    session.flush()


def cds_card_issued(session: Session, *, card: str, service: str) -> bool:
    """Whether this service issued ``card`` (and it has not expired)."""
    row = session.get(CdsCard, card[:64])
    return row is not None and row.service == service and (
        _aware(row.expires_at) > datetime.now(UTC))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def record_cds_feedback(
    session: Session, *, service: str, issuer: str | None, card: str, outcome: str,
    outcome_at: datetime, override_code: str | None = None, override_text: str | None = None,
    accepted_suggestions: list[Any] | None = None,
) -> CdsFeedback:
    """Store one feedback item (texts cut to the column sizes)."""
    row = CdsFeedback(received_at=datetime.now(UTC), service=service[:100],
                      issuer=issuer[:300] if issuer else None, card=card[:200],
                      outcome=outcome[:20], outcome_at=outcome_at,
                      override_code=override_code[:100] if override_code else None,
                      override_text=override_text[:500] if override_text else None,
                      accepted_suggestions=accepted_suggestions)
    session.add(row)
    session.flush()
    return row


def list_cds_feedback(session: Session, *, limit: int = 500) -> Sequence[CdsFeedback]:
    """Feedback items, newest first."""
    stmt = select(CdsFeedback).order_by(CdsFeedback.id.desc()).limit(limit)
    return session.scalars(stmt).all()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def store_cds_handoff(session: Session, *, bundle: dict[str, Any],
                      lifetime: timedelta = timedelta(hours=1)) -> str:
    """Keep ``bundle`` for ``lifetime`` and return the link's token (only its hash is stored).

    Expired hand-offs are deleted on the way.
    """
    now = datetime.now(UTC)
    session.execute(delete(CdsHandoff).where(CdsHandoff.expires_at < now))
    token = secrets.token_urlsafe(24)
    session.add(CdsHandoff(token_hash=_digest(token), created_at=now,
                           expires_at=now + lifetime, bundle=bundle))
    session.flush()
    return token


def open_cds_handoff(session: Session, *, token: str) -> dict[str, Any] | None:
    """The Bundle behind ``token`` while it has not expired, else ``None``."""
    row = session.get(CdsHandoff, _digest(token))
    if row is None or _aware(row.expires_at) <= datetime.now(UTC):
        return None
    return dict(row.bundle)
