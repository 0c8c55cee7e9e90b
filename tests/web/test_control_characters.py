"""NUL and other control characters are refused at the boundary with a 422 naming the field,
on SQLite and PostgreSQL (which cannot store NUL at all), signed in or not: every route of
the application is tried (generated from the route table), none answers 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.web import _accounts_helpers as h
from tests.web.test_accounts import _meeting, _sample, route_table


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    if request.param == "sqlite":
        urls: Iterator[str] = iter([h.sqlite_url(tmp_path)])
    else:
        urls = h.postgres_database()
    url = next(urls)
    c = h.open_client(h.make_settings(url))
    try:
        yield c
    finally:
        c.__exit__(None, None, None)
        for _ in urls:
            pass


def _problems(response: object) -> list[str]:
    body = response.json()  # type: ignore[attr-defined]
    return [p["field"] for p in body["problems"]]


def test_anonymous_sign_in_with_nul_is_a_422_naming_the_field(client: TestClient) -> None:
    page = client.get("/clinician/sign-in")
    response = client.post("/clinician/sign-in", data={
        "username": "clin\x00ician", "password": "x", "login_csrf": h.login_csrf(page.text)})
    assert response.status_code == 422
    assert "username" in response.text and "control character" in response.text


def test_api_json_with_nul_names_the_field(client: TestClient) -> None:
    assert h.sign_in(client, "clinician") == 303
    response = client.post("/api/v1/cases", json={
        "format": "spinemets-case/1", "id": "nul-1",
        "patient": {"name\u0000": "x", "notes": ["ok", "bad\u0001"]}})
    assert response.status_code == 422
    assert _problems(response) == ["patient.name?", "patient.notes[1]"]
    assert client.get("/api/v1/cases/nul-1").status_code == 404  # nothing half-stored


def test_query_and_path_with_nul(client: TestClient) -> None:
    response = client.get("/api/v1/scores", params={"q": "a\x00"})
    assert response.status_code == 422 and _problems(response) == ["query.q"]
    assert client.get("/api/v1/scores/si%00ns").status_code == 422


def test_tab_newline_and_unicode_stay_allowed(client: TestClient) -> None:
    response = client.post("/api/v1/triage", json={"answers": {}, "note": "a\tb\r\nc é"})
    assert response.status_code != 422 or "control character" not in response.text


@pytest.mark.parametrize("principal", [None, "clinician", "admin"],
                         ids=lambda p: p or "anonymous")
def test_no_route_answers_5xx_to_control_characters(client: TestClient,
                                                    principal: str | None) -> None:
    meeting_id = _meeting(client)
    if principal:
        assert h.sign_in(client, principal) == 303
    failures = []
    for path, method, _permission in route_table(client.app):  # type: ignore[arg-type]
        if path == "/clinician/sign-out":
            continue
        url = _sample(path, meeting_id)
        attempts = [client.request(method, url, params={"q": "\x00"}, follow_redirects=False)]
        if method != "GET":
            attempts.append(client.request(method, url, data={"username": "a\x00",
                                                              "text": "\x00"},
                                           follow_redirects=False))
            attempts.append(client.request(method, url, json={"id": "a\u0000b",
                                                              "resourceType": "Bundle\u0000"},
                                           follow_redirects=False))
        failures.extend((method, path, r.status_code) for r in attempts
                        if r.status_code >= 500)
    assert failures == []
