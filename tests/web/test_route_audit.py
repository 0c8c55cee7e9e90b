"""Every protected route writes an audit record, for every principal: generated from the
application's route table, so a new route that reads or changes case data without an audit
record fails here. Refused calls (401/403) are audited with the account when it is known;
anonymous discovery and health calls are counted per hour, not stored one row each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.web import _accounts_helpers as h
from tests.web.test_accounts import _meeting, _sample, route_table

from spinemets import storage
from spinemets.storage._models import AuditCounter
from spinemets.web._state import Permission, permissions_of, requires


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    c = h.open_client(h.make_settings(h.sqlite_url(tmp_path)))
    yield c
    c.__exit__(None, None, None)


def _sessions(client: TestClient) -> Any:
    return client.app.state.spinemets.sessions  # type: ignore[attr-defined]


def _new_rows(client: TestClient, after: int) -> list[storage.AuditEvent]:
    with _sessions(client).begin() as session:
        rows = storage.list_audit(session, limit=None, oldest_first=True)
        return [r for r in rows if r.id > after]


def _last_id(client: TestClient) -> int:
    with _sessions(client).begin() as session:
        rows = storage.list_audit(session, limit=1)
        return rows[0].id if rows else 0


def _counted(client: TestClient) -> int:
    with _sessions(client).begin() as session:
        return int(session.scalar(select(func.sum(AuditCounter.calls))) or 0)


def _protected(app: FastAPI) -> list[tuple[str, str, Permission | None]]:
    return [(path, method, permission) for path, method, permission in route_table(app)
            if permission is not Permission.PUBLIC and path != "/clinician/sign-out"]


def unaudited_calls(client: TestClient, principal: str | None,
                    meeting_id: int) -> list[tuple[str, str, str]]:
    """Protected calls by ``principal`` that wrote no audit record, or a wrong one."""
    granted = permissions_of([principal] if principal else None)
    wrong = []
    for path, method, permission in _protected(client.app):  # type: ignore[arg-type]
        before, counted = _last_id(client), _counted(client)
        response = client.request(method, _sample(path, meeting_id), follow_redirects=False,
                                  data={} if method != "GET" else None)
        rows = _new_rows(client, before)
        label = f"{response.status_code}"
        if principal is None and permission not in granted:  # nobody to name: counted
            if rows or _counted(client) != counted + 1:
                wrong.append((method, path, f"anonymous refusal not counted once ({label})"))
            continue
        if not rows:
            wrong.append((method, path, f"no audit record ({label})"))
            continue
        if permission not in granted:
            if len(rows) != 1 or rows[0].action != "access_refused" \
                    or rows[0].outcome != "forbidden" or rows[0].actor != principal:
                seen = [(r.action, r.outcome, r.actor) for r in rows]
                wrong.append((method, path, f"refusal audited as {seen}"))
        elif "{ref}" in path and not any(r.case_ref == "demo-001" for r in rows):
            wrong.append((method, path, "case route audited without its reference"))
    return wrong


@pytest.mark.parametrize("principal", [None, *h.ROLES], ids=lambda p: p or "anonymous")
def test_every_protected_route_writes_an_audit_record(tmp_path: Path,
                                                     principal: str | None) -> None:
    c = h.open_client(h.make_settings(h.sqlite_url(tmp_path)))
    try:
        meeting_id = _meeting(c)
        if principal:
            assert h.sign_in(c, principal) == 303
        assert len(_protected(c.app)) > 20  # type: ignore[arg-type]
        assert unaudited_calls(c, principal, meeting_id) == []
        with _sessions(c).begin() as session:
            chain = storage.verify_audit_chain(session)
        assert chain.intact, chain.problems
    finally:
        c.__exit__(None, None, None)


def test_the_check_fails_on_a_route_that_writes_no_audit(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the fallback, a protected route that audits nothing is reported."""
    from spinemets.web import _audit  # noqa: PLC0415

    monkeypatch.setattr(_audit, "_write_fallback", lambda *_a, **_k: None)
    client.app.router.add_api_route(  # type: ignore[attr-defined]
        "/api/v1/cases/{ref}/leak", lambda ref: {"ref": ref},
        dependencies=[requires(Permission.CASE_READ)])
    assert h.sign_in(client, "clinician") == 303
    wrong = unaudited_calls(client, "clinician", _meeting(client))
    assert ("GET", "/api/v1/cases/{ref}/leak", "no audit record (200)") in wrong


def test_case_fhir_read_is_audited_with_reference(client: TestClient) -> None:
    assert h.sign_in(client, "clinician") == 303
    before = _last_id(client)
    assert client.get("/api/v1/cases/demo-001/fhir").status_code == 200
    rows = _new_rows(client, before)
    assert [(r.action, r.case_ref, r.actor) for r in rows] == [
        ("case_read", "demo-001", "clinician")]


def test_anonymous_refusals_are_counted_not_stored(client: TestClient) -> None:
    """An anonymous flood (with or without a made-up session cookie) adds no audit rows."""
    before = _last_id(client)
    for _ in range(20):
        assert client.get("/api/v1/cases/demo-001").status_code == 401
    client.cookies.set("sm_session", "not-a-real-session")
    assert client.get("/api/v1/cases/demo-001").status_code == 401
    assert _new_rows(client, before) == []
    with _sessions(client).begin() as session:
        counts = dict(session.execute(select(AuditCounter.outcome, AuditCounter.calls)
                                      .where(AuditCounter.route
                                             == "GET /api/v1/cases/{ref}")).all())
    assert counts == {"sign_in_required": 20, "stale_session": 1}


def test_discovery_and_health_are_counted_not_stored(client: TestClient) -> None:
    before = _last_id(client)
    for _ in range(25):
        assert client.get("/cds-services").status_code == 200
        assert client.get("/healthz").status_code == 200
    assert _new_rows(client, before) == []
    with _sessions(client).begin() as session:
        counts = dict(session.execute(select(AuditCounter.route, func.sum(AuditCounter.calls))
                                      .group_by(AuditCounter.route)).all())
        rows = session.scalar(select(func.count()).select_from(AuditCounter))
    assert counts == {"/cds-services": 25, "/healthz": 25}
    assert rows == 2  # one counter per hour and route, whatever the number of calls
