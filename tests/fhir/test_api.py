"""``POST /api/v1/fhir/import`` and ``GET /api/v1/cases/{ref}/fhir`` through the app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from spinemets import storage
from spinemets.fhir import AS_OF
from spinemets.storage import DEMO_USERNAME
from spinemets.web import Settings, create_app
from spinemets.web._state import SESSION_COOKIE

from .conftest import BUNDLES, MALFORMED, load, schema_errors


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'api.sqlite3'}",
                              environment="test", secret_key="a" * 40, demo=True))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _sign_in(client: TestClient) -> None:
    """A session for the demo clinician, opened through the storage API (not the form)."""
    state = client.app.state.spinemets  # type: ignore[attr-defined]
    with state.sessions.begin() as session:
        user = storage.get_user(session, username=DEMO_USERNAME)
        assert user is not None
        token = storage.create_session(session, user_id=user.id, lifetime=timedelta(hours=1))
    client.cookies.set(SESSION_COOKIE, token)


def test_routes_need_a_signed_in_clinician(client: TestClient) -> None:
    assert client.post("/api/v1/fhir/import", json=load(BUNDLES[0])).status_code == 401
    assert client.get("/api/v1/cases/demo-001/fhir").status_code == 401


def test_import_and_export(client: TestClient) -> None:
    _sign_in(client)
    response = client.post("/api/v1/fhir/import", json=load(BUNDLES[0]),
                           params={"as_of": AS_OF.isoformat()})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["case"]["format"] == "spinemets-case/1"
    assert report["provenance"] and "unused" in report
    exported = client.get("/api/v1/cases/demo-001/fhir")
    assert exported.status_code == 200, exported.text
    assert schema_errors(exported.json()) == []
    assert client.get("/api/v1/cases/no-such-case/fhir").status_code == 404


def test_malformed_bundle_is_a_problem_naming_the_entry(client: TestClient) -> None:
    _sign_in(client)
    (path,) = [p for p in BUNDLES if p.name.startswith(MALFORMED)]
    response = client.post("/api/v1/fhir/import", json=load(path))
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"].startswith("entry[")
