"""CDS Hooks records: feedback on cards, and the hand-off behind a card's link."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from spinemets.storage._models import CdsFeedback, CdsHandoff

__all__ = ["list_cds_feedback", "open_cds_handoff", "record_cds_feedback", "store_cds_handoff"]


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
