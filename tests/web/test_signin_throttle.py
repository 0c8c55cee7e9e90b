"""Sign-in throttling that an attacker cannot turn against the real user (ASVS 2.2.1).

Counters are keyed by account and source together, by account for browsers without a device
cookie, by source for every account (high: a hospital NAT), and per device cookie. Forwarded
headers count only from configured proxies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from starlette.requests import Request
from tests.web import _accounts_helpers as h
from typer.testing import CliRunner

from spinemets import storage
from spinemets.web._devices import DEVICE_COOKIE
from spinemets.web._state import client_address


def open_client(settings: h.Settings) -> TestClient:
    """Like ``h.open_client`` with a cheap Argon2 (the machine is small; the rules are tested)."""
    client = TestClient(h.create_app(settings), raise_server_exceptions=False,
                        base_url="https://testserver")
    client.__enter__()
    state = client.app.state.spinemets  # type: ignore[attr-defined]
    state.hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024),))
    state.dummy_hash = state.hasher.hash("timing")
    h.add_users(client.app)  # type: ignore[arg-type]
    return client


@pytest.fixture
def app(tmp_path: Path) -> Iterator[object]:
    client = open_client(h.make_settings(h.sqlite_url(tmp_path)))
    yield client.app
    client.__exit__(None, None, None)


def browser(app: object, address: str, **headers: str) -> TestClient:
    """A browser at ``address`` (the TCP peer the server sees)."""
    return TestClient(app, base_url="https://testserver", client=(address, 40000),  # type: ignore[arg-type]
                      raise_server_exceptions=False, headers=headers or None)


def attempt(c: TestClient, username: str, password: str = h.PASSWORD) -> int:
    return h.sign_in(c, username, password)


def audit(app: object, outcome: str | None = None) -> list[storage.AuditEvent]:
    with app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        rows = list(storage.list_audit(session, action="sign_in", outcome=outcome,
                                       limit=None))
        session.expunge_all()
        return rows


def test_attacker_hammering_a_name_cannot_keep_the_user_out(app: object) -> None:
    user = browser(app, "198.51.100.10")
    assert attempt(user, "clinician") == 303  # the clinician's own browser, earlier
    assert user.cookies.get(DEVICE_COOKIE)
    # The attack: 12 sources x 8 wrong passwords on the clinician's name (96 requests).
    statuses = []
    for i in range(12):
        attacker = browser(app, f"203.0.113.{i + 1}")
        statuses += [attempt(attacker, "clinician", "wrong password") for _ in range(8)]
    assert statuses.count(401) == 10 and statuses.count(429) == 86  # 10 guesses reached a check
    # A browser that never signed in as the clinician is delayed now ...
    stranger = browser(app, "192.0.2.77")
    assert attempt(stranger, "clinician") == 429
    # ... but the clinician, from the browser used before, signs in: from the usual address
    # and from the attacker's own (a shared NAT).
    assert attempt(user, "clinician") == 303
    user.cookies.set(DEVICE_COOKIE, user.cookies.get(DEVICE_COOKIE) or "",
                     domain="testserver.local", path="/clinician/sign-in")
    same_nat = browser(app, "203.0.113.1")
    same_nat.cookies.set(DEVICE_COOKIE, user.cookies.get(DEVICE_COOKIE) or "",
                         domain="testserver.local", path="/clinician/sign-in")
    assert attempt(same_nat, "clinician") == 303
    # The device cookie is the clinician's: it does not help another name, and a forged or
    # altered one is ignored.
    same_nat.cookies.set(DEVICE_COOKIE, "x" + (user.cookies.get(DEVICE_COOKIE) or ""),
                         domain="testserver.local", path="/clinician/sign-in")
    assert attempt(same_nat, "clinician") == 429


def test_one_source_hammering_does_not_delay_the_user_anywhere_else(app: object) -> None:
    attacker = browser(app, "203.0.113.9")
    statuses = [attempt(attacker, "clinician", "wrong password") for _ in range(30)]
    assert statuses.count(401) == 5 and statuses.count(429) == 25
    new_browser = browser(app, "198.51.100.20")  # no device cookie, another source
    assert attempt(new_browser, "clinician") == 303


def test_a_device_cookie_has_its_own_limit(app: object) -> None:
    user = browser(app, "198.51.100.10")
    assert attempt(user, "clinician") == 303
    statuses = [attempt(user, "clinician", "wrong password") for _ in range(7)]
    assert statuses == [401] * 5 + [429] * 2  # the cookie is not a free pass for guessing


def test_fifty_users_behind_one_nat_address_all_sign_in(app: object) -> None:
    state = app.state.spinemets  # type: ignore[attr-defined]
    password_hash = state.hasher.hash(h.PASSWORD)
    names = [f"nurse{i:02d}" for i in range(50)]
    with state.sessions.begin() as session:
        for name in names:
            storage.create_user(session, username=name, password_hash=password_hash,
                                display_name=name, roles=["clinician"])
    results = {}
    for name in names:
        ward = browser(app, "203.0.113.7")  # the hospital's one outside address
        first = attempt(ward, name, "mistyped password")  # everyone mistypes once
        results[name] = (first, attempt(ward, name))
    assert set(results.values()) == {(401, 303)}, results
    assert len(audit(app, "success")) == 50


def test_forwarded_headers_are_ignored_without_a_trusted_proxy(app: object) -> None:
    # 60 attempts from loopback, each claiming another client in X-Forwarded-For.
    statuses = []
    for i in range(60):
        sprayer = browser(app, "127.0.0.1", **{"X-Forwarded-For": f"192.0.2.{i + 1}"})
        statuses.append(attempt(sprayer, "clinician", "wrong password"))
    assert statuses.count(401) == 5  # only 5 reached the password check
    assert {e.client for e in audit(app)} == {"127.0.0.1"}


def test_forwarded_headers_from_a_trusted_proxy(tmp_path: Path) -> None:
    settings = h.make_settings(h.sqlite_url(tmp_path), forwarded_allow_ips="10.0.0.5,10.9.0.0/16")
    client = open_client(settings)
    try:
        app = client.app
        proxy = browser(app, "10.0.0.5", **{"X-Forwarded-For": "198.51.100.9"})
        assert attempt(proxy, "clinician") == 303
        chained = browser(app, "10.0.0.5",
                          **{"X-Forwarded-For": "6.6.6.6, 198.51.100.8, 10.9.1.1"})
        assert attempt(chained, "clinician") == 303  # rightmost address not a proxy
        direct = browser(app, "203.0.113.50", **{"X-Forwarded-For": "198.51.100.7"})
        assert attempt(direct, "clinician") == 303  # not a proxy: header ignored
        assert [e.client for e in audit(app)][::-1] == [
            "198.51.100.9", "198.51.100.8", "203.0.113.50"]
        # Behind the proxy each user is throttled on their own address, not the proxy's.
        for i in range(8):
            behind = browser(app, "10.0.0.5", **{"X-Forwarded-For": f"198.51.100.{100 + i}"})
            assert attempt(behind, "coordinator", "wrong password") == 401
    finally:
        client.__exit__(None, None, None)


def _request(app: object, peer: str, forwarded: list[str]) -> Request:
    headers = [(b"x-forwarded-for", v.encode()) for v in forwarded]
    return Request({"type": "http", "app": app, "client": (peer, 1), "headers": headers,
                    "method": "GET", "path": "/", "query_string": b""})


def test_client_address_walks_the_forwarded_chain(tmp_path: Path) -> None:
    settings = h.make_settings(h.sqlite_url(tmp_path), forwarded_allow_ips="10.0.0.0/8, ::1")
    app = h.create_app(settings)
    assert client_address(_request(app, "10.0.0.5", ["1.1.1.1, 10.2.3.4"])) == "1.1.1.1"
    assert client_address(_request(app, "10.0.0.5", ["1.1.1.1", "2.2.2.2"])) == "2.2.2.2"
    assert client_address(_request(app, "10.0.0.5", ["not-an-ip, 10.1.1.1"])) == "10.1.1.1"
    assert client_address(_request(app, "10.0.0.5", ["1.1.1.1, x" * 3])) == "10.0.0.5"
    assert client_address(_request(app, "10.0.0.5", [])) == "10.0.0.5"
    assert client_address(_request(app, "::1", ["2001:db8::1"])) == "2001:db8::1"
    assert client_address(_request(app, "192.0.2.1", ["1.1.1.1"])) == "192.0.2.1"


def test_bad_trusted_proxy_setting_is_refused() -> None:
    for bad in ("*", "10.0.0.5,proxy.example", "10.0.0.300"):
        with pytest.raises(ValueError, match="forwarded_allow_ips"):
            h.make_settings("sqlite://", forwarded_allow_ips=bad)


def test_serve_believes_forwarded_headers_only_from_named_proxies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn  # noqa: PLC0415

    from spinemets.cli import app as cli_app  # noqa: PLC0415

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append(k))
    monkeypatch.setenv("SPINEMETS_ENVIRONMENT", "development")
    for name in ("SPINEMETS_FORWARDED_ALLOW_IPS", "SPINEMETS_DATABASE_URL", "SPINEMETS_DEMO",
                 "SPINEMETS_AUTO_MIGRATE"):  # serve sets them for its workers: restore after
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    url = h.sqlite_url(tmp_path)
    runner = CliRunner()
    plain = runner.invoke(cli_app, ["serve", "--database-url", url, "--workers", "1"])
    assert plain.exit_code == 0, plain.output
    assert calls[-1]["proxy_headers"] is False  # uvicorn's loopback default is switched off
    behind = runner.invoke(cli_app, ["serve", "--database-url", url, "--workers", "1",
                                     "--forwarded-allow-ips", "10.0.0.5"])
    assert behind.exit_code == 0 and "believed from 10.0.0.5" in behind.output
    bad = runner.invoke(cli_app, ["serve", "--database-url", url, "--workers", "1",
                                  "--forwarded-allow-ips", "*"])
    assert bad.exit_code == 2 and "forwarded_allow_ips" in bad.output


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield h.sqlite_url(tmp_path)
    else:
        yield from h.postgres_database()


def test_hostile_names_and_passwords_get_a_clear_401(any_db_url: str) -> None:
    client = open_client(h.make_settings(any_db_url))
    try:
        for username, password in [("clin\x00ician", h.PASSWORD), ("clinician", "pass\x00word"),
                                   ("\x1b[2J" * 300, "x"), ("clinician", h.PASSWORD + "x" * 5000),
                                   ("clinician", h.PASSWORD * 100)]:
            # control characters are refused at the boundary (422 naming the field), before
            # any account is looked up; the rest is an ordinary failed sign-in
            control = any(not c.isprintable() for c in username + password)
            expected = 422 if control else 401
            assert attempt(client, username, password) == expected, (username[:20],
                                                                      password[:20])
        assert attempt(client, "clinician") == 303
        actors = {e.actor for e in audit(client.app)}
        assert all(a is None or a.isprintable() for a in actors)
    finally:
        client.__exit__(None, None, None)


def test_device_cookies_are_bound_to_the_account_and_expire(
        app: object, monkeypatch: pytest.MonkeyPatch) -> None:
    import itsdangerous.timed  # noqa: PLC0415

    from spinemets.web import _devices  # noqa: PLC0415

    state = app.state.spinemets  # type: ignore[attr-defined]
    cookie = _devices.remember_device(state, None, "clinician")
    cookie = _devices.remember_device(state, cookie, "coordinator")  # a shared ward computer
    first = _devices.device_id(state, cookie, "clinician")
    assert first and _devices.device_id(state, cookie, "coordinator") not in {None, first}
    assert _devices.device_id(state, cookie, "admin") is None
    assert _devices.device_id(state, cookie[:-2] + "xx", "clinician") is None
    real = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time",
                        lambda: real() - (_devices.DEVICE_DAYS + 1) * 86400)
    old = _devices.remember_device(state, None, "clinician")
    monkeypatch.undo()
    assert _devices.device_id(state, old, "clinician") is None
