"""Retention: expired rows of the short-lived tables are deleted (see docs/accounts.md).

Sessions, login nonces and CDS hand-offs expire; they are deleted when next touched, and
:func:`prune_expired` removes the ones nobody touches again (run at start-up and by
``spinemets db prune``). Audit rows, counters and reserved references are kept for good.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from spinemets.storage._models import CdsHandoff, LoginNonce, WebSession

__all__ = ["prune_expired"]


def prune_expired(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Delete expired sessions, login nonces and CDS hand-offs; how many of each."""
    now = now or datetime.now(UTC)
    removed: dict[str, int] = {}
    for name, model, column in (("web_sessions", WebSession, WebSession.expires_at),
                                ("login_nonces", LoginNonce, LoginNonce.expires_at),
                                ("cds_handoffs", CdsHandoff, CdsHandoff.expires_at)):
        result = session.execute(delete(model).where(column < now))
        removed[name] = int(getattr(result, "rowcount", 0) or 0)
    return removed
