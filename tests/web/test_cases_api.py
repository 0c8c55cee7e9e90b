"""JSON case API with optimistic concurrency, on SQLite and PostgreSQL: ETag on read,
If-Match required on write (428), stale If-Match refused (412), no overwrite on create (409),
version list, permissions from the policy table, every call audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.web import _accounts_helpers as accounts_helpers

from spinemets import storage

h = accounts_helpers


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    if request.param == "sqlite":
        urls: Iterator[str] = iter([h.sqlite_url(tmp_path)])
    else:
        urls = h.postgres_database()
    c = h.open_client(h.make_settings(next(urls)))
    assert h.sign_in(c, "clinician") == 303
    yield c
    c.__exit__(None, None, None)
    for _ in urls:  # drops the PostgreSQL database
        pass


def _audit(client: TestClient, **filters: Any) -> list[storage.AuditEvent]:
    with client.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        return list(storage.list_audit(session, **filters))


def _doc(client: TestClient, ref: str = "demo-001") -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/api/v1/cases/{ref}").json()["case"]
    return body


def test_read_gives_latest_version_with_etag_and_is_audited(client: TestClient) -> None:
    response = client.get("/api/v1/cases/demo-001")
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    body = response.json()
    assert body["ref"] == "demo-001" and body["version"] == 1 and body["kind"] == "create"
    assert body["case"]["id"] == "demo-001"
    [event] = _audit(client, action="case_read", case_ref="demo-001")
    assert (event.actor, event.outcome, event.detail) == ("clinician", "success",
                                                          "api, version 1")
    assert client.get("/api/v1/cases/nope").status_code == 404
    assert _audit(client, action="case_read", case_ref="nope")[0].outcome == "not_found"


def test_put_needs_if_match_and_refuses_a_stale_one(client: TestClient) -> None:
    doc = _doc(client)
    doc["patient"]["age_years"] = 65
    missing = client.put("/api/v1/cases/demo-001", json=doc)
    assert missing.status_code == 428
    for bad in ("*", "1", 'W/"1"', '"1", "2"'):
        assert client.put("/api/v1/cases/demo-001", json=doc,
                          headers={"If-Match": bad}).status_code == 428
    ok = client.put("/api/v1/cases/demo-001?reason=age%20corrected", json=doc,
                    headers={"If-Match": '"1"'})
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] == '"2"' and ok.json() == {"ref": "demo-001", "version": 2}
    doc["patient"]["age_years"] = 70
    stale = client.put("/api/v1/cases/demo-001", json=doc, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["etag"] == '"2"' and "version 2" in stale.json()["detail"]
    latest = client.get("/api/v1/cases/demo-001").json()
    assert latest["version"] == 2 and latest["case"]["patient"]["age_years"] == 65
    assert latest["reason"] == "age corrected" and latest["author"] == "clinician"
    assert latest["plan"] is not None and latest["tables_hash"]
    outcomes = [e.outcome for e in _audit(client, action="case_update", case_ref="demo-001",
                                          oldest_first=True)]
    assert outcomes == ["refused"] * 5 + ["success", "conflict"]


def test_put_cannot_change_the_reference_or_store_an_invalid_case(client: TestClient) -> None:
    doc = _doc(client)
    doc["id"] = "demo-002"
    response = client.put("/api/v1/cases/demo-001", json=doc, headers={"If-Match": '"1"'})
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "id"
    doc = _doc(client)
    doc["patient"]["age_years"] = -3
    response = client.put("/api/v1/cases/demo-001", json=doc, headers={"If-Match": '"1"'})
    assert response.status_code == 422
    assert any(p["field"] == "patient.age_years" for p in response.json()["problems"])
    assert client.get("/api/v1/cases/demo-001").headers["etag"] == '"1"'
    assert [e.outcome for e in _audit(client, action="case_update")] == ["invalid", "invalid"]


def test_post_creates_and_never_overwrites(client: TestClient) -> None:
    doc = _doc(client)
    doc["id"] = "api-new-1"
    created = client.post("/api/v1/cases", json=doc)
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == "/api/v1/cases/api-new-1"
    other = _doc(client, "demo-002")
    other["id"] = "api-new-1"
    again = client.post("/api/v1/cases", json=other)
    assert again.status_code == 409
    assert client.get("/api/v1/cases/api-new-1").json()["case"] == doc
    doc["id"] = "bad ref/with slash"
    assert client.post("/api/v1/cases", json=doc).status_code == 422
    outcomes = [e.outcome for e in _audit(client, action="case_create", oldest_first=True)
                if e.actor == "clinician"]
    assert outcomes == ["success", "refused", "invalid"]


def test_versions_list_every_version(client: TestClient) -> None:
    doc = _doc(client)
    for version in (1, 2):
        doc["patient"]["age_years"] = 60 + version
        assert client.put("/api/v1/cases/demo-001", json=doc,
                          headers={"If-Match": f'"{version}"'}).status_code == 200
    body = client.get("/api/v1/cases/demo-001/versions").json()
    assert body["current_version"] == 3
    assert [v["version"] for v in body["versions"]] == [1, 2, 3]
    assert [v["kind"] for v in body["versions"]] == ["create", "edit", "edit"]
    assert client.get("/api/v1/cases/nope/versions").status_code == 404


def test_deleted_case_is_gone_from_the_api(client: TestClient) -> None:
    with client.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        storage.soft_delete_case(session, case_ref="demo-001", base_version=1, user=None)
    assert client.get("/api/v1/cases/demo-001").status_code == 404
    doc = _doc(client, "demo-002")
    doc["id"] = "demo-001"
    assert client.put("/api/v1/cases/demo-001", json=doc,
                      headers={"If-Match": '"2"'}).status_code == 404
    assert client.post("/api/v1/cases", json=doc).status_code == 409


@pytest.mark.parametrize(("principal", "read", "write"), [
    (None, 401, 401), ("coordinator", 200, 403), ("researcher", 403, 403), ("admin", 403, 403),
])
def test_permissions_come_from_the_policy_table(tmp_path: Path, principal: str | None,
                                                read: int, write: int) -> None:
    c = h.open_client(h.make_settings(h.sqlite_url(tmp_path)))
    try:
        if principal:
            assert h.sign_in(c, principal) == 303
        assert c.get("/api/v1/cases/demo-001").status_code == read
        assert c.get("/api/v1/cases/demo-001/versions").status_code == read
        doc = storage.demo_cases()[0]
        assert c.put("/api/v1/cases/demo-001", json=doc,
                     headers={"If-Match": '"1"'}).status_code == write
        doc["id"] = "perm-1"
        assert c.post("/api/v1/cases", json=doc).status_code == write
    finally:
        c.__exit__(None, None, None)


def test_researcher_export_is_pseudonymised(tmp_path: Path) -> None:
    import json  # noqa: PLC0415

    c = h.open_client(h.make_settings(h.sqlite_url(tmp_path)))
    try:
        state = c.app.state.spinemets  # type: ignore[attr-defined]
        doc = storage.demo_cases()[0]
        doc |= {"id": "Smith-John-1950"}
        doc["cancer"]["diagnosis_date"] = "2023-05-17"
        doc["patient"]["age_years"] = 97
        with state.sessions.begin() as session:
            storage.create_case(session, case_ref="Smith-John-1950", data=doc, user=None,
                                reason="Seen by Dr Whoever at St Elsewhere")
            storage.record_decision(session, case_ref="Smith-John-1950", base_version=1,
                                    decision={"text": "Mr Smith prefers palliation"},
                                    user=None, reason="MDT")
            storage.create_case(session, case_ref="freetext-1", user=None, data={
                **storage.demo_cases()[1], "id": "freetext-1", "notes": "Jane Doe, NHS 123"})
        assert h.sign_in(c, "clinician") == 303
        assert c.get("/api/v1/export/cases.jsonl").status_code == 403
        c.post("/clinician/sign-out", data={"csrf": h.csrf(c)})
        assert h.sign_in(c, "researcher") == 303
        assert c.get("/api/v1/cases/demo-001").status_code == 403
        response = c.get("/api/v1/export/cases.jsonl")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        text = response.text
        for leak in ("Smith", "John", "1950", "Whoever", "Elsewhere", "palliation",
                     "freetext", "Jane", "NHS", "demo-00", "2023-05-17", "05-17", "clinician"):
            assert leak not in text, leak
        records = [json.loads(line) for line in text.splitlines()]
        demo = len(storage.demo_cases())
        assert len(records) == demo + 1  # demo cases and Smith; "freetext-1" left out
        smith = records[-1]
        expected = storage.pseudonym("Smith-John-1950", secret=state.secret)
        assert smith["pseudonym"] == smith["case"]["id"] == expected
        assert smith["case"]["cancer"]["diagnosis_year"] == 2023
        assert smith["case"]["patient"]["age_years"] == 90
        assert smith["version"] == 2 and set(smith) == {"pseudonym", "version", "demo",
                                                        "updated_year", "case"}
        assert smith["case"]["labs"]["albumin"] == {"value": 3.2, "unit": "g/dL"}
        assert c.get("/api/v1/export/cases.jsonl").text == text  # stable pseudonyms
        [event, _] = _audit(c, action="case_export")
        assert (event.actor, event.case_ref) == ("researcher", None)
        assert event.detail == f"pseudonymised jsonl, {demo + 1} cases, 1 left out"
    finally:
        c.__exit__(None, None, None)
