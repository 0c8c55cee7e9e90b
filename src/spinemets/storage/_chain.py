"""The audit trail's hash chain, call counters and reserved references.

Every audit row carries its chain position (``seq``), the hash of the row before it
(``prev_hash``) and its own hash (``row_hash``): SHA-256 over the previous hash and the row's
fields in a fixed order. :func:`verify_audit_chain` recomputes the chain and reports a changed
row (hash mismatch), an inserted row (position or link mismatch) and a deleted row (a gap, or a
head that points past the last row).

Appends are serialised through the one row of ``audit_chain_head``: the append updates it
before inserting, which takes a row lock on PostgreSQL and the database's write lock on SQLite
(held to commit), so two writers never link to the same predecessor.

Anonymous discovery and health calls are not stored one row each: :func:`count_call` adds one
to a counter per hour, route and outcome.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from spinemets.storage._models import AuditChainHead, AuditCounter, AuditEvent, ReservedCaseRef

__all__ = [
    "GENESIS_HASH",
    "AuditVerification",
    "append_chained",
    "count_call",
    "is_reserved_ref",
    "reserve_ref",
    "row_digest",
    "verify_audit_chain",
]

#: The ``prev_hash`` of the first row.
GENESIS_HASH = "0" * 64


def _utc(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def row_digest(prev_hash: str, *, seq: int, at: datetime, actor: str | None,
               actor_id: int | None, roles: str, action: str, case_ref: str | None,
               target: str | None, client: str, outcome: str, detail: str) -> str:
    """The hash of one audit row (SHA-256 hex over ``prev_hash`` and the fields, in order)."""
    payload = json.dumps([prev_hash, seq, _utc(at), actor, actor_id, roles, action, case_ref,
                          target, client, outcome, detail],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _digest_of(event: AuditEvent, prev_hash: str, seq: int) -> str:
    return row_digest(prev_hash, seq=seq, at=event.at, actor=event.actor,
                      actor_id=event.actor_id, roles=event.roles or "", action=event.action,
                      case_ref=event.case_ref, target=event.target, client=event.client or "",
                      outcome=event.outcome, detail=event.detail or "")


def append_chained(session: Session, event: AuditEvent) -> AuditEvent:
    """Give ``event`` the next chain position and hashes, insert it and move the head."""
    head = AuditChainHead
    row = session.execute(
        update(head).where(head.id == 1).values(seq=head.seq + 1)
        .returning(head.seq, head.head_hash)
        .execution_options(synchronize_session=False)).first()
    if row is None:  # a schema made without migration 0005's seed row
        session.add(AuditChainHead(id=1, seq=1, head_hash=GENESIS_HASH))
        session.flush()
        seq, prev = 1, GENESIS_HASH
    else:
        seq, prev = int(row[0]), str(row[1])
    event.seq = seq
    event.prev_hash = prev
    event.row_hash = _digest_of(event, prev, seq)
    session.add(event)
    session.flush()
    session.execute(update(head).where(head.id == 1).values(head_hash=event.row_hash)
                    .execution_options(synchronize_session=False))
    return event


@dataclass
class AuditVerification:
    """What :func:`verify_audit_chain` found: rows checked, problems (empty: intact)."""

    rows: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


_MAX_PROBLEMS = 50


class _Problems(list[str]):
    def add(self, text: str) -> None:
        if len(self) < _MAX_PROBLEMS:
            self.append(text)
        elif len(self) == _MAX_PROBLEMS:
            self.append("... more problems not shown")


def _check_row(event: AuditEvent, *, expected_seq: int, prev: str, last_id: int,
               problems: _Problems) -> None:
    seq = int(event.seq or 0)
    if seq > expected_seq:
        problems.add(f"chain positions {expected_seq} to {seq - 1} are missing before audit "
                     f"row {event.id} (rows were deleted)")
    elif seq < expected_seq:
        problems.add(f"audit row {event.id} repeats chain position {seq}")
    if event.prev_hash != prev:
        problems.add(f"audit row {event.id} (position {seq}) does not link to the row before "
                     "it (a row was inserted, deleted or changed before it)")
    if event.row_hash != _digest_of(event, event.prev_hash or "", seq):
        problems.add(f"audit row {event.id} (position {seq}) was changed after it was written")
    if event.id <= last_id:
        problems.add(f"audit row {event.id} is out of order (position {seq})")


def verify_audit_chain(session: Session, *, batch: int = 2000) -> AuditVerification:
    """Recompute the whole chain; every inserted, changed or deleted row is a problem."""
    problems = _Problems()
    result = AuditVerification(problems=problems)
    unchained = int(session.scalar(select(func.count()).select_from(AuditEvent)
                                   .where(AuditEvent.seq.is_(None))) or 0)
    if unchained:
        problems.add(f"{unchained} audit row(s) have no chain position (inserted outside the "
                     "application)")
    expected_seq, prev, last_id = 1, GENESIS_HASH, 0
    stmt = (select(AuditEvent).where(AuditEvent.seq.is_not(None)).order_by(AuditEvent.seq)
            .execution_options(yield_per=batch))
    for event in session.scalars(stmt):
        _check_row(event, expected_seq=expected_seq, prev=prev, last_id=last_id,
                   problems=problems)
        last_id, prev = event.id, event.row_hash or ""
        expected_seq = int(event.seq or 0) + 1
        result.rows += 1
        session.expunge(event)
    head = session.get(AuditChainHead, 1)
    if head is not None:
        result.head_seq, result.head_hash = int(head.seq), head.head_hash
        if head.seq != expected_seq - 1 or head.head_hash != prev:
            problems.add(f"the chain head (position {head.seq}) does not match the last audit "
                         f"row (position {expected_seq - 1}): rows were deleted or inserted at "
                         "the end")
    elif result.rows:
        problems.add("the chain head row is missing")
    return result


def count_call(session: Session, *, route: str, outcome: str,
               now: datetime | None = None) -> None:
    """Add one anonymous call of ``route`` to this hour's counter (atomic upsert)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    hour = moment.replace(minute=0, second=0, microsecond=0)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = AuditCounter.__table__
    stmt = insert(AuditCounter).values(hour=hour, route=route[:100], outcome=outcome[:20],
                                       calls=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.hour, table.c.route, table.c.outcome],
        set_={"calls": table.c.calls + 1})
    session.execute(stmt)


def reserve_ref(session: Session, *, case_ref: str) -> None:
    """Keep ``case_ref`` (of a purged case) from ever naming a new case."""
    if session.get(ReservedCaseRef, case_ref) is None:
        session.add(ReservedCaseRef(case_ref=case_ref, purged_at=datetime.now(UTC)))
        session.flush()


def is_reserved_ref(session: Session, *, case_ref: str) -> bool:
    """Whether ``case_ref`` belonged to a purged case."""
    return session.get(ReservedCaseRef, case_ref) is not None
