"""The API under hostile input: streamed oversize bodies, non-JSON numbers, lone surrogates,
wrong media types, 405s that name every method, and CPU work off the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spinemets.web import Settings, create_app
from spinemets.web import _core as core
from spinemets.web._app import MAX_BODY_BYTES

JSON_ROUTES = ["/api/v1/plan", "/api/v1/assess", "/api/v1/triage", "/api/v1/scores/sins"]
CHUNK = 64 * 1024


def test_chunked_5_mb_body_is_refused_without_being_read_whole(settings: Settings) -> None:
    """A chunked body (no Content-Length) is counted as it arrives and refused at the limit."""
    app = create_app(settings)
    total = 5 * 1024 * 1024
    handed_out = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal handed_out
        if handed_out >= total:
            return {"type": "http.disconnect"}
        handed_out += CHUNK
        return {"type": "http.request", "body": b"[" * CHUNK, "more_body": handed_out < total}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/api/v1/plan", "raw_path": b"",
             "root_path": "", "query_string": b"", "server": ("127.0.0.1", 80),
             "client": ("127.0.0.1", 1234),
             "headers": [(b"content-type", b"application/json"),
                         (b"transfer-encoding", b"chunked")]}
    # a thread of its own: Playwright's browser tests may leave an event loop running here
    runner = threading.Thread(target=lambda: asyncio.run(app(scope, receive, send)))
    runner.start()
    runner.join(60)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 413
    assert handed_out <= MAX_BODY_BYTES + CHUNK  # the rest was never read


def test_chunked_oversize_body_over_http_gets_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(80):
            yield b" " * CHUNK

    response = client.post("/api/v1/plan", content=chunks(),
                           headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    # the form pages too
    response = client.post("/check/q/cancer_status", content=chunks(),
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


@pytest.mark.parametrize("route", JSON_ROUTES)
@pytest.mark.parametrize("body", [
    b'{"id": "x", "patient": {"age_years": NaN}}',
    b'{"answers": {"back_pain": Infinity}}',
    b'{"inputs": {"kps": -Infinity}}',
    b'{"id": "\\ud800", "answers": {}, "inputs": {"level": "\\udfff"}}',
    b'{"\\ud800": 1}',
    b'\xff\xfe{"a": 1}',
    b"[" * 100_000,
])
def test_non_json_numbers_and_lone_surrogates_are_400(client: TestClient, route: str,
                                                      body: bytes) -> None:
    response = client.post(route, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 400
    # the connection and the app stay usable
    assert client.get("/healthz").status_code == 200


def test_valid_surrogate_pair_is_accepted(client: TestClient) -> None:
    body = b'{"inputs": {"escc": "1c"}, "lesion": "\\ud83d\\ude00"}'
    response = client.post("/api/v1/scores/bilsky_escc", content=body,
                           headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("route", JSON_ROUTES)
def test_text_plain_body_is_415(client: TestClient, route: str) -> None:
    response = client.post(route, content=b'{"answers": {}}',
                           headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["title"] == "Unsupported media type"


@pytest.mark.parametrize(("path", "allowed"), [
    ("/check/q/cancer_status", "GET, HEAD, POST"),
    ("/api/v1/scores/sins", "GET, POST"),
    ("/", "GET, HEAD"),
])
def test_405_lists_every_allowed_method(client: TestClient, path: str, allowed: str) -> None:
    response = client.request("DELETE", path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed


def test_error_responses_are_documented_as_problem_json(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    plan = spec["paths"]["/api/v1/plan"]["post"]["responses"]
    for status in ("400", "413", "415", "422"):
        assert "application/problem+json" in plan[status]["content"]


def test_healthz_answers_while_a_plan_is_still_running(client: TestClient,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Ordering, not timing: the plan waits until /healthz has answered. Were the plan on the
    event loop, /healthz could not answer and the plan would give up waiting first."""
    started, released = threading.Event(), threading.Event()
    order: list[str] = []
    real_plan = core.plan_case

    def slow_plan(case: dict[str, Any], **options: Any) -> dict[str, Any]:
        started.set()
        order.append("plan released" if released.wait(20) else "plan gave up")
        return real_plan(case, **options)

    monkeypatch.setattr(core, "plan_case", slow_plan)
    case = {"id": "x", "cancer": {"status": "known"}}
    worker = threading.Thread(target=lambda: client.post("/api/v1/plan", json=case))
    worker.start()
    assert started.wait(20)
    assert client.get("/healthz").status_code == 200
    order.append("healthz answered")
    released.set()
    worker.join(30)
    assert order == ["healthz answered", "plan released"]


def test_more_lesions_than_levels_is_422(client: TestClient) -> None:
    """3,200 lesions held the server for 11 s: a case has at most one lesion per level."""
    case = {"id": "x", "lesions": [{"levels": ["T5"]} for _ in range(3200)]}
    response = client.post("/api/v1/plan", json=case)
    assert response.status_code == 422
    problem = response.json()["problems"][0]
    assert problem["field"] == "lesions"
    assert "30" in problem["message"]
