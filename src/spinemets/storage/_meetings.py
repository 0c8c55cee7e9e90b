"""MDT (tumour board) meetings: a date, attendees and the cases to discuss."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spinemets.storage._errors import CaseNotFoundError
from spinemets.storage._models import CaseRecord, Meeting, MeetingCase, User
from spinemets.storage._repo import get_case

__all__ = ["add_meeting_case", "create_meeting", "get_meeting", "list_meetings",
           "meeting_cases"]


def create_meeting(session: Session, *, title: str, held_on: date, attendees: str,
                   user: User | None) -> Meeting:
    """Plan a meeting."""
    meeting = Meeting(title=title, held_on=held_on, attendees=attendees,
                      created_by=user.id if user else None, created_at=datetime.now(UTC))
    session.add(meeting)
    session.flush()
    return meeting


def list_meetings(session: Session, *, limit: int = 100) -> Sequence[Meeting]:
    """Meetings, latest date first."""
    stmt = select(Meeting).order_by(Meeting.held_on.desc(), Meeting.id.desc()).limit(limit)
    return session.scalars(stmt).all()


def get_meeting(session: Session, *, meeting_id: int) -> Meeting | None:
    """One meeting."""
    return session.get(Meeting, meeting_id)


def add_meeting_case(session: Session, *, meeting_id: int, case_ref: str) -> None:
    """Put a (live) case on a meeting's list; adding it twice changes nothing."""
    record = get_case(session, case_ref=case_ref)
    if record is None:
        raise CaseNotFoundError(case_ref)
    exists = session.scalar(select(MeetingCase.id).where(
        MeetingCase.meeting_id == meeting_id, MeetingCase.case_id == record.id))
    if exists is not None:
        return
    position = session.scalar(select(func.count()).select_from(MeetingCase)
                              .where(MeetingCase.meeting_id == meeting_id)) or 0
    session.add(MeetingCase(meeting_id=meeting_id, case_id=record.id, position=position))
    session.flush()


def meeting_cases(session: Session, *, meeting_id: int) -> Sequence[CaseRecord]:
    """The live cases on a meeting's list, in the order they were added."""
    stmt = (select(CaseRecord).join(MeetingCase, MeetingCase.case_id == CaseRecord.id)
            .where(MeetingCase.meeting_id == meeting_id, CaseRecord.deleted_at.is_(None))
            .order_by(MeetingCase.position))
    return session.scalars(stmt).all()
