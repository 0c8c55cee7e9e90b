"""JSON API: every endpoint, good and bad input; errors name the field; no tracebacks."""

from __future__ import annotations

import importlib.util

import pytest
from fastapi.testclient import TestClient

from spinemets.storage import demo_cases
from spinemets.web import _core

HAS_RULES = importlib.util.find_spec("spinemets.rules") is not None
needs_rules = pytest.mark.skipif(not HAS_RULES, reason="spinemets.rules not installed yet")

SINS_INPUTS = {"level": "T12", "pain": "mechanical", "bone_lesion": "lytic",
               "alignment": "normal", "collapse": "under_50", "posterolateral": "unilateral"}


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_openapi_lists_every_endpoint(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/scores", "/api/v1/scores/{slug}", "/api/v1/assess", "/api/v1/plan",
                 "/api/v1/triage", "/healthz"):
        assert path in paths


def test_registry(client: TestClient) -> None:
    body = client.get("/api/v1/scores").json()
    slugs = {s["slug"] for s in body["scores"]}
    assert {"sins", "tokuhashi_2005", "tomita_2001"} <= slugs
    assert all({"slug", "name", "version", "status", "citation"} <= s.keys()
               for s in body["scores"])


def test_score_definition(client: TestClient) -> None:
    body = client.get("/api/v1/scores/sins").json()
    assert body["slug"] == "sins"
    assert body["components"]


def test_compute_complete_score(client: TestClient) -> None:
    response = client.post("/api/v1/scores/sins", json={"inputs": SINS_INPUTS})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "complete"
    assert body["total"] == sum(c["points"] for c in body["components"])


def test_compute_incomplete_score_reports_missing(client: TestClient) -> None:
    body = client.post("/api/v1/scores/sins", json={"inputs": {"level": "T5"}}).json()
    assert body["status"] == "incomplete"
    assert body["total"] is None
    assert body["missing"]


def test_bad_score_input_names_the_field(client: TestClient) -> None:
    response = client.post("/api/v1/scores/sins", json={"inputs": {"level": "XX"}})
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "inputs.level"


def test_unknown_score_is_404(client: TestClient) -> None:
    response = client.post("/api/v1/scores/no_such_score", json={"inputs": {}})
    assert response.status_code == 404
    assert "sins" in response.json()["problems"][0]["allowed"]


def test_unavailable_score_is_409(client: TestClient) -> None:
    scores = client.get("/api/v1/scores").json()["scores"]
    unavailable = [s["slug"] for s in scores if s["status"] == "unavailable"]
    if not unavailable:
        pytest.skip("no unavailable score registered")
    assert client.post(f"/api/v1/scores/{unavailable[0]}", json={}).status_code == 409


@pytest.mark.parametrize("path", ["/api/v1/scores/sins", "/api/v1/plan", "/api/v1/assess",
                                  "/api/v1/triage"])
def test_malformed_json_is_400(client: TestClient, path: str) -> None:
    response = client.post(path, content=b'{"inputs": ', headers={
        "content-type": "application/json"})
    assert response.status_code == 400
    assert "Traceback" not in response.text


def test_extra_field_is_422_with_path(client: TestClient) -> None:
    response = client.post("/api/v1/scores/sins", json={"inputs": {}, "surprise": 1})
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "surprise"


def test_triage_rejects_non_boolean_with_field_path(client: TestClient) -> None:
    response = client.post("/api/v1/triage", json={"answers": {"limb_weakness": "yes"}})
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "answers.limb_weakness"


def test_case_body_must_be_object(client: TestClient) -> None:
    assert client.post("/api/v1/plan", json=[1, 2]).status_code == 422


def test_oversized_body_is_413(client: TestClient) -> None:
    response = client.post("/api/v1/plan", content=b"x" * 1_100_000,
                           headers={"content-type": "application/json"})
    assert response.status_code == 413


@needs_rules
def test_triage_emergency(client: TestClient) -> None:
    response = client.post("/api/v1/triage", json={"answers": {
        "cancer_status": "known", "back_pain": True, "limb_weakness": True}})
    assert response.status_code == 200
    assert response.json()["level"] == "emergency"


@needs_rules
@pytest.mark.parametrize("case", demo_cases(), ids=lambda c: c["id"])
def test_plan_and_assess_demo_cases(client: TestClient, case: dict[str, object]) -> None:
    plan = client.post("/api/v1/plan", json=case)
    assert plan.status_code == 200, plan.text
    assert plan.json()["format"] == "spinemets-plan/1"
    assert client.post("/api/v1/assess", json=case).status_code == 200


@needs_rules
def test_plan_bad_case_names_the_field(client: TestClient) -> None:
    response = client.post("/api/v1/plan", json={"format": "spinemets-case/1",
                                                 "performance": {"kps": 75}})
    assert response.status_code == 422
    assert any(p["field"] == "performance.kps" for p in response.json()["problems"])


def test_unexpected_error_hides_traceback(client: TestClient,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(_core, "score_summaries", boom)
    response = client.get("/api/v1/scores")
    assert response.status_code == 500
    assert "secret" not in response.text
    assert "Traceback" not in response.text
