"""Pseudonymised case export for research (the ``researcher`` role's only view of cases).

Each live case becomes one record: its reference replaced by a keyed hash (HMAC-SHA256 under a
key derived from the application's secret: stable across exports, not reversible without the
secret), the current document re-built field by field through the case model (so only the
fields of ``spinemets-case/1`` with validated values survive: choices, numbers, flags,
histology ids, vertebral levels, lab value and UCUM unit), the diagnosis date cut to its year
and ages of 90 or more reported as 90. Reasons, authors, MDT decisions, plans (which may
repeat the reference) and exact times are never exported; a stored document that does not
load as a case is left out and counted.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from spinemets.storage._models import CaseRecord

__all__ = ["ExportTally", "pseudonym", "pseudonymise_case", "pseudonymised_cases"]

_KEY_LABEL = b"spinemets-export-pseudonym-v1"
#: Ages at or above this are exported as this value (HIPAA safe harbour groups 90 and over).
AGE_CAP = 90


def _key(secret: bytes) -> bytes:
    return hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()


def pseudonym(case_ref: str, *, secret: bytes) -> str:
    """The keyed hash that stands for ``case_ref`` in exports (``p-`` and 24 hex digits)."""
    digest = hmac.new(_key(secret), case_ref.encode("utf-8"), hashlib.sha256).hexdigest()
    return "p-" + digest[:24]


def pseudonymise_case(data: dict[str, Any], *, secret: bytes) -> dict[str, Any] | None:
    """The export form of one case document, or ``None`` if it does not load as a case."""
    from spinemets.case import Case  # noqa: PLC0415 - core model, loaded when exporting
    from spinemets.errors import InputError  # noqa: PLC0415

    try:
        case = Case.model_validate(dict(data))
    except (ValueError, InputError):
        return None
    out: dict[str, Any] = case.model_dump(mode="json", exclude_none=True,
                                          exclude={"id", "labs", "ehr"})
    out["id"] = pseudonym(str(data.get("id") or ""), secret=secret)
    cancer = out.get("cancer", {})
    diagnosed = cancer.pop("diagnosis_date", None)
    if diagnosed is not None:
        cancer["diagnosis_year"] = int(str(diagnosed)[:4])
    age = out.get("patient", {}).get("age_years")
    if age is not None and age >= AGE_CAP:
        out["patient"]["age_years"] = AGE_CAP
    labs = {name: {"value": given["value"], "unit": given["unit"]}
            for name in type(case.labs).model_fields
            if (given := case.labs.given(name)) is not None}
    if labs:
        out["labs"] = labs
    if not case.lesions_recorded:
        out.pop("lesions", None)  # unknown, not "no spinal lesion"
    return out


@dataclass
class ExportTally:
    """How many cases an export wrote and left out (not loadable as a case)."""

    written: int = 0
    skipped: int = 0


def pseudonymised_cases(session: Session, *, secret: bytes,
                        tally: ExportTally | None = None) -> Iterator[dict[str, Any]]:
    """Every live case, pseudonymised (see the module docstring), in a stable order.

    Each record: ``pseudonym``, ``version`` (how many versions the case has), ``demo``,
    ``updated_year`` and ``case`` (the pseudonymised document).
    """
    tally = tally if tally is not None else ExportTally()
    stmt = (select(CaseRecord).where(CaseRecord.deleted_at.is_(None))
            .order_by(CaseRecord.id))
    for record in session.scalars(stmt):
        case = pseudonymise_case(record.data, secret=secret)
        if case is None:
            tally.skipped += 1
            continue
        tally.written += 1
        case["id"] = pseudonym(record.case_ref, secret=secret)
        yield {"pseudonym": case["id"], "version": record.current_version,
               "demo": record.demo, "updated_year": record.updated_at.year, "case": case}
