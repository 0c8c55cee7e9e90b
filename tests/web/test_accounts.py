"""Accounts, roles and sign-in: the authorisation matrix generated from the route table,
sign-in hardening (throttling, timing, one-time login CSRF, rotation), cookies and headers."""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from tests.web import _accounts_helpers as accounts_helpers

from spinemets import storage
from spinemets.web._state import declared_permission, permissions_of
from spinemets.web.pages import _signin

h = accounts_helpers


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    c = h.open_client(h.make_settings(h.sqlite_url(tmp_path)))
    yield c
    c.__exit__(None, None, None)


# --------------------------------------------------------------------------- matrix


def route_table(app: FastAPI) -> list[tuple[str, str, Any]]:
    """(path, method, declared permission) for every route of the application."""
    rows = []
    for context in iter_route_contexts(app.routes):
        path = context.path_format or ""
        dependencies = getattr(context, "dependencies", None) or []
        permission = declared_permission(dependencies, path)
        for method in sorted(context.methods or {"GET"}):
            if method != "HEAD":
                rows.append((path, method, permission))
    return rows


def _sample(path: str, meeting_id: int) -> str:
    values = {"ref": "demo-001", "qid": "saddle_numbness", "slug": "sins", "code": "en",
              "meeting_id": str(meeting_id), "path": "css/app.css"}
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "x"), path)


PRINCIPALS = (None, *h.ROLES)


def _meeting(client: TestClient) -> int:
    with client.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        from datetime import date  # noqa: PLC0415

        meeting = storage.create_meeting(session, title="Board", held_on=date(2025, 1, 1),
                                         attendees="", user=None)
        storage.add_meeting_case(session, meeting_id=meeting.id, case_ref="demo-001")
        return meeting.id


def test_every_route_declares_a_permission(client: TestClient) -> None:
    undeclared = [(p, m) for p, m, permission in route_table(client.app)  # type: ignore[arg-type]
                  if permission is None]
    assert undeclared == []


def test_a_route_without_a_permission_fails_the_check_and_is_refused(tmp_path: Path) -> None:
    c = h.open_client(h.make_settings(h.sqlite_url(tmp_path)))
    try:
        c.app.router.add_api_route("/clinician/undeclared", lambda: {"secret": 1})  # type: ignore[attr-defined]
        table = route_table(c.app)  # type: ignore[arg-type]
        assert ("/clinician/undeclared", "GET", None) in table
        assert c.get("/clinician/undeclared", follow_redirects=False).status_code == 303
        h.sign_in(c, "admin")
        assert c.get("/clinician/undeclared").status_code == 403  # fail closed, every role
    finally:
        c.__exit__(None, None, None)


def _outcome(client: TestClient, method: str, url: str) -> str:
    response = client.request(method, url, follow_redirects=False,
                              data={} if method != "GET" else None)
    location = response.headers.get("location", "")
    if response.status_code == 401 or (response.status_code == 303
                                       and location.startswith("/clinician/sign-in")
                                       and not url.startswith("/clinician/sign-")):
        return "sign-in"
    if response.status_code == 403 and "Not permitted" in response.text:
        return "forbidden"
    return "allowed"


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p or "anonymous")
def test_authorisation_matrix(tmp_path: Path, principal: str | None) -> None:
    """Every route x this principal gets exactly what the policy table says."""
    c = h.open_client(h.make_settings(h.sqlite_url(tmp_path)))
    try:
        meeting_id = _meeting(c)
        if principal:
            assert h.sign_in(c, principal) == 303
        granted = permissions_of([principal] if principal else None)
        wrong = []
        for path, method, permission in route_table(c.app):  # type: ignore[arg-type]
            if path == "/clinician/sign-out":
                continue  # checked below (it would end the session)
            expected = ("allowed" if permission in granted else
                        "forbidden" if principal else "sign-in")
            got = _outcome(c, method, _sample(path, meeting_id))
            if got != expected:
                wrong.append((method, path, permission, expected, got))
        assert wrong == []
        expected = "allowed" if principal else "sign-in"
        assert _outcome(c, "POST", "/clinician/sign-out") == expected
    finally:
        c.__exit__(None, None, None)


def test_public_api_and_patient_pages_stay_anonymous(client: TestClient) -> None:
    assert client.get("/api/v1/scores").status_code == 200
    assert client.get("/").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.post("/api/v1/triage", json={}).status_code not in {401, 403}


# --------------------------------------------------------------------------- sign-in


def test_sixth_wrong_password_is_refused_and_backs_off(client: TestClient) -> None:
    statuses = [h.sign_in(client, "clinician", "wrong password") for _ in range(5)]
    assert statuses == [401] * 5
    page = client.get("/clinician/sign-in")
    sixth = client.post("/clinician/sign-in", data={
        "username": "clinician", "password": "wrong", "login_csrf": h.login_csrf(page.text)})
    assert sixth.status_code == 429
    assert 25 <= int(sixth.headers["retry-after"]) <= 31
    assert "Too many failed sign-ins" in sixth.text
    # even the right password waits out the back-off (no oracle while blocked)
    assert h.sign_in(client, "clinician") == 429
    with client.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        outcomes = [e.outcome for e in storage.list_audit(session, action="sign_in")]
    assert outcomes.count("failure") == 5 and outcomes.count("throttled") == 2


def test_sign_in_from_another_account_is_not_blocked(client: TestClient) -> None:
    for _ in range(6):
        h.sign_in(client, "clinician", "wrong password")
    assert h.sign_in(client, "coordinator") == 303


def test_known_and_unknown_users_take_the_same_time(client: TestClient,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for policy in ("ACCOUNT_THROTTLE", "ADDRESS_THROTTLE", "PAIR_THROTTLE"):
        monkeypatch.setattr(_signin, policy, storage.ThrottlePolicy(free=10_000))

    def attempt(username: str) -> float:
        token = h.login_csrf(client.get("/clinician/sign-in").text)
        start = time.perf_counter()
        response = client.post("/clinician/sign-in", data={
            "username": username, "password": "wrong", "login_csrf": token})
        elapsed = time.perf_counter() - start
        assert response.status_code == 401
        return elapsed

    attempt("clinician")  # warm-up
    known, unknown = [], []
    for i in range(20):
        known.append(attempt("clinician"))
        unknown.append(attempt(f"nobody-{i}"))
    ratio = statistics.median(known) / statistics.median(unknown)
    assert 0.7 < ratio < 1.43, (statistics.median(known), statistics.median(unknown))


def test_login_csrf_pair_is_single_use(client: TestClient) -> None:
    page = client.get("/clinician/sign-in")
    data = {"username": "clinician", "password": "wrong", "login_csrf": h.login_csrf(page.text)}
    nonce = client.cookies.get("spinemets_login")
    assert client.post("/clinician/sign-in", data=data).status_code == 401
    client.cookies.set("spinemets_login", nonce or "", domain="testserver.local",
                       path="/clinician/sign-in")
    assert client.post("/clinician/sign-in", data=data).status_code == 400


def test_session_rotates_and_sign_out_needs_csrf(client: TestClient) -> None:
    assert h.sign_in(client, "clinician") == 303
    first = client.cookies.get("sm_session")
    assert h.sign_in(client, "clinician") == 303
    second = client.cookies.get("sm_session")
    assert first and second and first != second
    with client.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        assert storage.get_session_user(session, token=first) is None
    assert client.post("/clinician/sign-out", data={}).status_code == 400
    assert client.get("/clinician", follow_redirects=False).status_code == 200
    token = h.csrf(client)
    assert client.post("/clinician/sign-out", data={"csrf": token},
                       follow_redirects=False).status_code == 303
    assert client.get("/clinician", follow_redirects=False).status_code == 303


def test_disabled_account_cannot_sign_in(client: TestClient) -> None:
    with client.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        storage.update_user(session, username="clinician", disabled=True)
    assert h.sign_in(client, "clinician") == 401


def test_secure_cookies_and_hsts_outside_development(client: TestClient, tmp_path: Path) -> None:
    page = client.get("/clinician/sign-in")
    assert "secure" in page.headers["set-cookie"].lower()
    assert page.headers["strict-transport-security"].startswith("max-age=")
    dev = TestClient(h.create_app(h.make_settings(h.sqlite_url(tmp_path / "d"),
                                                  environment="development")))
    (tmp_path / "d").mkdir()
    with dev:
        response = dev.get("/clinician/sign-in")
        assert "secure" not in response.headers["set-cookie"].lower()
        assert "strict-transport-security" not in response.headers


def test_real_data_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPINEMETS_ENVIRONMENT", raising=False)
    monkeypatch.delenv("SPINEMETS_SECRET_KEY", raising=False)
    with pytest.raises(ValueError, match="development secret"):
        h.Settings(demo=False)
    monkeypatch.setenv("SPINEMETS_ENVIRONMENT", "development")
    assert h.Settings(demo=False).environment == "development"


def test_docs_use_vendored_swagger_under_the_csp(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in response.text
    assert "cdn" not in response.text.lower() and "<script>" not in response.text
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "spinemets-docs.js", "LICENSE"):
        assert client.get(f"/static/vendor/swagger-ui/{asset}").status_code == 200


# --------------------------------------------------------------------------- event loop


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    import uvicorn  # noqa: PLC0415

    app = h.create_app(h.make_settings(h.sqlite_url(tmp_path), environment="development",
                                       demo=True))
    with socket_port() as port:
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    h.add_users(app)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


class socket_port:  # noqa: N801 - a tiny context manager used like a function
    def __enter__(self) -> int:
        import socket  # noqa: PLC0415

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def __exit__(self, *args: object) -> None:
        return None


def test_healthz_answers_while_32_sign_ins_run(live_server: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_signin, "ADDRESS_THROTTLE", storage.ThrottlePolicy(free=10_000))
    forms = []
    for i in range(32):
        with httpx.Client(base_url=live_server) as c:
            page = c.get("/clinician/sign-in")
            forms.append((dict(c.cookies), {"username": f"user-{i}", "password": "wrong",
                                            "login_csrf": h.login_csrf(page.text)}))
    statuses: list[int] = []

    def attempt(cookies: dict[str, str], data: dict[str, str]) -> None:
        with httpx.Client(base_url=live_server, cookies=cookies, timeout=60) as c:
            statuses.append(c.post("/clinician/sign-in", data=data).status_code)

    threads = [threading.Thread(target=attempt, args=f) for f in forms]
    for t in threads:
        t.start()
    time.sleep(0.05)
    latencies = []
    with httpx.Client(base_url=live_server, timeout=10) as c:
        while any(t.is_alive() for t in threads):
            start = time.perf_counter()
            assert c.get("/healthz").status_code == 200
            latencies.append(time.perf_counter() - start)
            time.sleep(0.02)
    for t in threads:
        t.join()
    assert statuses == [401] * 32
    assert latencies and max(latencies) < 1.0, latencies
