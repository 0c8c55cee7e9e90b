"""CT measurements of a case (``spinemets-imaging/1`` documents) and the clinician's decision
on each suggestion.

A measurement is stored as it came (checked document, overlay PNG, who stored it and when) and
never changed; each accept or reject is added to its ``decisions`` with the user and the time.
Accepting writes the value into the case only through :func:`~spinemets.storage.update_case`
(a new version), never over a value a clinician entered: the caller checks that first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from spinemets.storage._models import Base, CaseRecord, User, _BigId

__all__ = ["ImagingMeasurement", "add_measurement", "get_measurement", "list_measurements",
           "record_imaging_decision"]


def _now() -> datetime:
    return datetime.now(UTC)


class ImagingMeasurement(Base):
    """One stored CT measurement of a case."""

    __tablename__ = "imaging_measurements"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                         index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    author: Mapped[str] = mapped_column(String(100))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    overlay: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    decisions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def add_measurement(session: Session, *, case: CaseRecord, document: dict[str, Any],
                    overlay: bytes | None, user: User | None) -> ImagingMeasurement:
    """Store a checked measurement document (and its overlay) for ``case``."""
    row = ImagingMeasurement(case_id=case.id, document=document, overlay=overlay,
                             created_by=user.id if user else None,
                             author=user.username if user else "(system)", decisions={})
    session.add(row)
    session.flush()
    return row


def list_measurements(session: Session, *, case: CaseRecord) -> Sequence[ImagingMeasurement]:
    """The measurements of ``case``, newest first."""
    stmt = (select(ImagingMeasurement).where(ImagingMeasurement.case_id == case.id)
            .order_by(ImagingMeasurement.id.desc()))
    return session.scalars(stmt).all()


def get_measurement(session: Session, *, case: CaseRecord,
                    measurement_id: int) -> ImagingMeasurement | None:
    """One measurement of ``case`` (``None`` if it belongs to another case or does not exist)."""
    row = session.get(ImagingMeasurement, measurement_id)
    return row if row is not None and row.case_id == case.id else None


def record_imaging_decision(session: Session, *, measurement: ImagingMeasurement, key: str,
                            decision: dict[str, Any], user: User | None) -> None:
    """Add (or replace) the decision on one suggestion (``key`` = ``"L2.collapse"``)."""
    decisions = dict(measurement.decisions or {})
    decisions[key] = {**decision, "by": user.username if user else "(system)",
                      "at": _now().isoformat(timespec="seconds")}
    measurement.decisions = decisions
    session.flush()
