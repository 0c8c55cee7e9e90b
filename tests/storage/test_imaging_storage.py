"""CT measurements of a case (migration 0008) on SQLite and PostgreSQL: stored as given, found
only through their own case, decisions added with user and time, gone when the case is purged."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from spinemets import storage
from spinemets.storage._imaging import (
    ImagingMeasurement,
    add_measurement,
    get_measurement,
    list_measurements,
    record_imaging_decision,
)

DOC = {"format": "spinemets-imaging/1", "levels": [{"level": "L2", "status": "measured"}]}


def test_measurements_round_trip_and_follow_their_case(engine: Engine) -> None:
    sessions = storage.make_sessionmaker(engine)
    with sessions.begin() as session:
        case = storage.create_case(session, case_ref="ct-1", user=None,
                                   data={"format": "spinemets-case/1", "id": "ct-1"})
        other = storage.create_case(session, case_ref="ct-2", user=None,
                                    data={"format": "spinemets-case/1", "id": "ct-2"})
        first = add_measurement(session, case=case, document=DOC, overlay=b"\x89PNG\r\n\x1a\n",
                                user=None)
        add_measurement(session, case=case, document=DOC, overlay=None, user=None)
        first_id = first.id
    with sessions.begin() as session:
        case = storage.get_case(session, case_ref="ct-1")
        other = storage.get_case(session, case_ref="ct-2")
        assert case is not None and other is not None
        rows = list_measurements(session, case=case)
        assert [r.id for r in rows] == sorted((r.id for r in rows), reverse=True)
        assert get_measurement(session, case=other, measurement_id=first_id) is None
        row = get_measurement(session, case=case, measurement_id=first_id)
        assert row is not None
        assert bytes(row.overlay or b"").startswith(b"\x89PNG")
        assert row.document == DOC
        record_imaging_decision(session, measurement=row, key="L2.collapse", user=None,
                                decision={"decision": "rejected", "value": "under_50"})
    with sessions.begin() as session:
        case = storage.get_case(session, case_ref="ct-1")
        assert case is not None
        row = get_measurement(session, case=case, measurement_id=first_id)
        assert row is not None
        assert row.decisions["L2.collapse"]["decision"] == "rejected"
        assert row.decisions["L2.collapse"]["by"] == "(system)"
        assert storage.purge_case(session, case_ref="ct-1")
    with sessions.begin() as session:
        count = session.scalar(select(func.count()).select_from(ImagingMeasurement))
        assert count == 0
