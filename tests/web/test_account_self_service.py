"""Usernames as typed at sign-in, the web password change, and no demo password outside
development."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.web import _accounts_helpers as h
from tests.web.test_signin_throttle import open_client
from typer.testing import CliRunner

from spinemets import storage
from spinemets.cli import app as cli_app

NEW = "a brand new passphrase"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    c = open_client(h.make_settings(h.sqlite_url(tmp_path)))
    yield c
    c.__exit__(None, None, None)


@pytest.mark.parametrize("typed", ["Clinician", "  CLINICIAN ", "ｃｌｉｎｉｃｉａｎ"])
def test_sign_in_with_any_case_or_width_of_the_name(client: TestClient, typed: str) -> None:
    assert h.sign_in(client, typed) == 303


@pytest.mark.parametrize("typed", ["сlinician", "c1inician", "clinician\x1b[0m", "x" * 5000, ""])
def test_look_alike_and_garbage_names_do_not_sign_in(client: TestClient, typed: str) -> None:
    # control characters are refused at the boundary (422 naming the field) before any
    # account is looked up; the other look-alikes are an ordinary failed sign-in
    expected = 422 if any(not c.isprintable() for c in typed) else 401
    assert h.sign_in(client, typed) == expected


def _change(client: TestClient, current: str, new: str, confirm: str | None = None) -> (
        tuple[int, str]):
    page = client.get("/clinician/account/password")
    assert page.status_code == 200
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert token is not None
    response = client.post("/clinician/account/password", follow_redirects=False, data={
        "csrf": token.group(1), "current_password": current, "new_password": new,
        "confirm_password": new if confirm is None else confirm})
    return response.status_code, response.text


def test_password_change_needs_the_current_password_and_a_good_new_one(
        client: TestClient) -> None:
    assert h.sign_in(client, "clinician") == 303
    other = TestClient(client.app, base_url="https://testserver")
    assert h.sign_in(other, "clinician") == 303  # a second session, elsewhere
    status, text = _change(client, "not my password", NEW)
    assert status == 400 and "Current password: it is not right" in text
    status, text = _change(client, h.PASSWORD, "Password2024!")
    assert status == 400 and "most common passwords" in text
    status, text = _change(client, h.PASSWORD, "clinician is my name")
    assert status == 400 and "username" in text
    status, text = _change(client, h.PASSWORD, NEW, "a brand new passphrasE")
    assert status == 400 and "the two new passwords differ" in text
    status, _ = _change(client, h.PASSWORD, NEW)
    assert status == 303
    account = client.get("/clinician/account?changed=true")
    assert account.status_code == 200 and "Your password was changed" in account.text
    assert other.get("/clinician", follow_redirects=False).status_code == 303  # ended
    assert h.sign_in(other, "clinician") == 401  # old password
    assert h.sign_in(other, "clinician", NEW) == 303
    with client.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        outcomes = [e.outcome for e in storage.list_audit(session, action="password_change")]
    assert outcomes == ["success", "failure"]


def test_password_change_form_needs_csrf_and_sign_in(client: TestClient) -> None:
    assert client.get("/clinician/account/password",
                      follow_redirects=False).status_code == 303
    assert h.sign_in(client, "clinician") == 303
    forged = client.post("/clinician/account/password", data={
        "current_password": h.PASSWORD, "new_password": NEW, "confirm_password": NEW})
    assert forged.status_code == 400
    assert h.sign_in(TestClient(client.app, base_url="https://testserver"), "clinician") == 303


def test_guessing_the_current_password_is_throttled(client: TestClient) -> None:
    assert h.sign_in(client, "clinician") == 303
    statuses = [_change(client, f"guess number {i}", NEW)[0] for i in range(7)]
    assert statuses == [400] * 5 + [429] * 2


def test_no_demo_password_outside_development(tmp_path: Path) -> None:
    test_env = open_client(h.make_settings(h.sqlite_url(tmp_path), environment="test"))
    try:
        page = test_env.get("/clinician/sign-in").text
        assert "Demo only" not in page and storage.DEMO_PASSWORD not in page
        assert h.sign_in(test_env, storage.DEMO_USERNAME, storage.DEMO_PASSWORD) == 401
    finally:
        test_env.__exit__(None, None, None)
    dev_path = tmp_path / "dev"
    dev_path.mkdir()
    dev = TestClient(h.create_app(h.make_settings(h.sqlite_url(dev_path),
                                                  environment="development")))
    with dev:
        assert storage.DEMO_PASSWORD in dev.get("/clinician/sign-in").text
        assert h.sign_in(dev, storage.DEMO_USERNAME, storage.DEMO_PASSWORD) == 303
    # The same database started outside development: the public password stops working.
    again = open_client(h.make_settings(h.sqlite_url(dev_path), environment="test"))
    try:
        assert h.sign_in(again, storage.DEMO_USERNAME, storage.DEMO_PASSWORD) == 401
    finally:
        again.__exit__(None, None, None)


def test_cli_refuses_bad_names_and_common_passwords(tmp_path: Path) -> None:
    runner = CliRunner()
    url = h.sqlite_url(tmp_path)

    def add(name: str, password: str) -> tuple[int, str]:
        result = runner.invoke(cli_app, ["user", "add", name, "--role", "clinician",
                                         "--password-stdin", "--database-url", url],
                               input=password + "\n")
        return result.exit_code, result.output

    assert add("Dr.Who", NEW) == (0, "added dr.who (clinician)\n")
    code, out = add("dr_who", NEW)
    assert code == 2 and "confused with the existing account dr.who" in out
    code, out = add("DR.WHO", NEW)
    assert code == 2 and "already exists" in out
    code, out = add("dr\x1b[2Jwho", NEW)
    assert code == 2 and "username: character U+001B is not allowed" in out
    code, out = add("nurse.ann", "Password2024!")
    assert code == 2 and "most common passwords" in out
    assert "Traceback" not in out
