"""``POST /api/v1/fhir/import`` and ``GET /api/v1/cases/{ref}/fhir`` through the app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

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
    for response in (client.post("/api/v1/fhir/import", json=load(BUNDLES[0])),
                     client.get("/api/v1/cases/demo-001/fhir")):
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/fhir+json")
        assert response.json()["resourceType"] == "OperationOutcome"


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
    assert exported.headers["content-type"].startswith("application/fhir+json")
    assert schema_errors(exported.json()) == []
    missing = client.get("/api/v1/cases/no-such-case/fhir")
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"


def test_malformed_bundle_is_a_problem_naming_the_entry(client: TestClient) -> None:
    _sign_in(client)
    (path,) = [p for p in BUNDLES if p.name.startswith(MALFORMED)]
    response = client.post("/api/v1/fhir/import", json=load(path))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/fhir+json")
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"][0].startswith("entry[")


def _nested(depth: int) -> dict[str, Any]:
    extension: dict[str, Any] = {"url": "https://example.org/x", "valueString": "a"}
    for _ in range(depth):
        extension = {"url": "https://example.org/x", "extension": [extension]}
    return extension


def _hostile() -> list[Any]:
    observation = {"resourceType": "Observation", "id": "x", "status": "final",
                   "code": {"text": "a"}}
    return [
        {"resourceType": "Bundle", "type": "collection",
         "entry": [{"resource": {"resourceType": "Spaceship", "id": "x"}}]},
        {"resourceType": "Bundle", "type": "collection",
         "entry": [{"resource": {**observation, "extension": [_nested(200)]}}]},
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
            **observation, "code": {"coding": [{"code": "x"}] * 10_000}}}]},
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
            "resourceType": {"nested": True}}}]},
        {"resourceType": "Patient", "id": "not-a-bundle"},
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
            "resourceType": "Patient", "id": "p", "deceasedBoolean": True}}]},
    ]


@pytest.mark.parametrize("index", range(6))
def test_hostile_fhir_is_a_4xx_operation_outcome(client: TestClient, index: int) -> None:
    _sign_in(client)
    response = client.post("/api/v1/fhir/import", json=_hostile()[index])
    assert response.status_code in {400, 422}, response.text[:300]
    assert response.json()["resourceType"] == "OperationOutcome"


def test_hostile_fhir_on_the_import_page_is_a_422_page(client: TestClient) -> None:
    _sign_in(client)
    page = client.get("/clinician/fhir/import")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    texts = [json.dumps(b) for b in _hostile()] + ["[" * 100_000 + "]" * 100_000, "NaN"]
    for text in texts:
        response = client.post("/clinician/fhir/import", data={
            "csrf": csrf, "bundle": text, "action": "preview"})
        assert response.status_code == 422, (text[:80], response.status_code)


@pytest.mark.shared
def test_real_ehr_bundles_over_one_megabyte_are_read(client: TestClient,
                                                     shared_dir: Path) -> None:
    _sign_in(client)
    paths = sorted((shared_dir / "fhir-examples" / "synthea").glob("*.json"),
                   key=lambda p: p.stat().st_size)
    biggest = paths[-1]
    assert biggest.stat().st_size > 1_000_000
    bundle = json.loads(biggest.read_text(encoding="utf-8"))
    for entry in bundle["entry"]:
        entry["resource"].pop("deceasedDateTime", None)
    response = client.post("/api/v1/fhir/import", json=bundle)
    assert response.status_code == 200, response.text[:300]
    dead = json.loads(biggest.read_text(encoding="utf-8"))
    refused = client.post("/api/v1/fhir/import", json=dead)
    assert refused.status_code == 422
    assert "deceased" in refused.json()["issue"][0]["diagnostics"]
    page = client.get("/clinician/fhir/import")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    shown = client.post("/clinician/fhir/import", data={
        "csrf": csrf, "bundle": biggest.read_text(encoding="utf-8"), "action": "preview"})
    assert shown.status_code == 422 and "recorded as deceased" in shown.text
