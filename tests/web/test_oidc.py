"""Single sign-on end to end against a real OpenID provider on loopback.

The provider is ``oidc-provider`` (npm, MIT) under Node, installed by ``.ci/run`` with
``npm ci`` in ``tests/oidc`` and started once per test session. Marked ``oidc``: in CI
(SPINEMETS_REQUIRE_OIDC=1) a skip for want of Node or the package is a failure.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.web import _accounts_helpers as h
from tests.web.test_signin_throttle import open_client

from spinemets import storage

pytestmark = pytest.mark.oidc

PROVIDER_DIR = Path(__file__).parents[1] / "oidc"
REDIRECT_URI = "https://testserver/clinician/sign-in/oidc/callback"
SECRET = "test-client-secret-of-some-length"


@pytest.fixture(scope="session")
def issuer() -> Iterator[str]:
    """A real OpenID provider on 127.0.0.1 (one per test session)."""
    node = shutil.which("node")
    if node is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.skip("Node and tests/oidc/node_modules (npm ci in tests/oidc) are needed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [node, "provider.mjs", str(port), REDIRECT_URI, SECRET], cwd=PROVIDER_DIR,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "ready <issuer>"
        assert line.startswith("ready "), f"provider did not start: {line!r}"
        yield line.split()[1]
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def settings_for(tmp_path: Path, issuer: str, **overrides: object) -> h.Settings:
    values: dict[str, object] = {
        "oidc_issuer": issuer, "oidc_client_id": "spinemets", "oidc_client_secret": SECRET,
        "oidc_scope": "openid profile roles", "oidc_role_claim": "roles",
        "oidc_role_map": {"spine-surgeons": "clinician", "mdt-office": "coordinator"}}
    values.update(overrides)
    return h.make_settings(h.sqlite_url(tmp_path), **values)


@pytest.fixture
def client(tmp_path: Path, issuer: str) -> Iterator[TestClient]:
    c = open_client(settings_for(tmp_path, issuer))
    yield c
    c.__exit__(None, None, None)


def at_provider(auth_url: str, login: str) -> str:
    """Sign ``login`` in at the provider (its login and consent forms); the callback URL."""
    with httpx.Client(follow_redirects=False, timeout=10) as idp:
        response = idp.get(auth_url)
        for _ in range(12):
            if response.is_redirect:
                location = response.headers["location"]
                if location.startswith("https://testserver/"):
                    return location
                response = idp.get(urljoin(str(response.url), location))
                continue
            assert response.status_code == 200, response.text[:300]
            action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            assert action is not None, response.text[:300]
            form = ({"prompt": "login", "login": login, "password": "any"}
                    if 'name="login"' in response.text else {"prompt": "consent"})
            response = idp.post(urljoin(str(response.url), action.group(1)), data=form)
    raise AssertionError("the provider never redirected back")


def start(client: TestClient, next_path: str = "/clinician") -> str:
    response = client.get("/clinician/sign-in/oidc", params={"next": next_path},
                          follow_redirects=False)
    assert response.status_code == 303, response.text[:500]
    return response.headers["location"]


def back(client: TestClient, callback_url: str) -> httpx.Response:
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}", follow_redirects=False)


def sso(client: TestClient, login: str) -> httpx.Response:
    return back(client, at_provider(start(client), login))


def user(client: TestClient, name: str) -> storage.User | None:
    with client.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        found = storage.get_user(session, username=name)
        session.expunge_all()
        return found


def test_sign_in_creates_the_account_with_its_mapped_role(client: TestClient, issuer: str
                                                          ) -> None:
    auth_url = start(client)
    query = dict(pair.split("=", 1) for pair in urlsplit(auth_url).query.split("&"))
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["response_type"] == "code" and query["client_id"] == "spinemets"
    response = back(client, at_provider(auth_url, "surgeon"))
    assert response.status_code == 303 and response.headers["location"] == "/clinician"
    assert client.get("/clinician", follow_redirects=False).status_code == 200
    surgeon = user(client, "surgeon")
    assert surgeon is not None and surgeon.role_set == {"clinician"}
    assert surgeon.oidc_subject == f"{issuer} surgeon"
    # Roles follow the provider's claim at every sign-in; the account has no password.
    office = TestClient(client.app, base_url="https://testserver")
    assert sso(office, "coordinator2").status_code == 303
    coordinator = user(client, "coordinator2")
    assert coordinator is not None and coordinator.role_set == {"coordinator"}
    assert h.sign_in(TestClient(client.app, base_url="https://testserver"), "surgeon",
                     "!single-sign-on") == 401
    with client.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        details = [e.detail for e in storage.list_audit(session, action="sign_in",
                                                        outcome="success")]
    assert details == ["oidc", "oidc"]


def test_a_replayed_callback_or_code_is_refused(client: TestClient) -> None:
    callback = at_provider(start(client), "surgeon")
    flow_cookie = client.cookies.get("sm_oidc") or ""
    assert back(client, callback).status_code == 303
    # The same callback again, with the flow cookie put back: the state was used.
    client.cookies.set("sm_oidc", flow_cookie, domain="testserver.local",
                       path="/clinician/sign-in/oidc")
    replay = back(client, callback)
    assert replay.status_code == 400 and "was used already" in replay.text
    # The code under a fresh flow of another browser: the provider refuses it (used, and the
    # PKCE verifier does not match).
    thief = TestClient(client.app, base_url="https://testserver")
    fresh = start(thief)
    state = dict(p.split("=", 1) for p in urlsplit(fresh).query.split("&"))["state"]
    code = dict(p.split("=", 1) for p in urlsplit(callback).query.split("&"))["code"]
    stolen = thief.get("/clinician/sign-in/oidc/callback", params={"code": code,
                                                                   "state": state},
                       follow_redirects=False)
    assert stolen.status_code == 400 and "refused this sign-in" in stolen.text
    assert thief.get("/clinician", follow_redirects=False).status_code == 303  # not signed in
    # A callback without the browser's flow cookie (login CSRF) is refused too.
    forged = TestClient(client.app, base_url="https://testserver").get(
        "/clinician/sign-in/oidc/callback", params={"code": code, "state": state},
        follow_redirects=False)
    assert forged.status_code == 400 and "sign in again" in forged.text


def test_a_wrong_issuer_is_refused(tmp_path: Path, issuer: str) -> None:
    # The same provider reached under another name: its discovery names another issuer.
    other = issuer.replace("127.0.0.1", "localhost")
    c = open_client(settings_for(tmp_path, other))
    try:
        response = c.get("/clinician/sign-in/oidc", follow_redirects=False)
        assert response.status_code == 502 and "another issuer" in response.text
    finally:
        c.__exit__(None, None, None)


def test_an_answer_naming_another_issuer_is_refused(client: TestClient) -> None:
    callback = at_provider(start(client), "surgeon")
    mixed = re.sub(r"iss=[^&]+", "iss=https%3A%2F%2Fevil.example", callback)
    assert "iss=https%3A%2F%2Fevil.example" in mixed
    response = back(client, mixed)
    assert response.status_code == 400 and "another sign-in service" in response.text
    assert user(client, "surgeon") is None


def test_a_disabled_user_is_refused(client: TestClient) -> None:
    assert sso(client, "disabled-doc").status_code == 303
    with client.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        storage.update_user(session, username="disabled-doc", disabled=True)
    assert client.get("/clinician", follow_redirects=False).status_code == 303  # session ended
    response = sso(client, "disabled-doc")
    assert response.status_code == 403 and "disabled" in response.text


def test_no_role_or_a_local_name_is_refused(client: TestClient) -> None:
    visitor = sso(client, "visitor")
    assert visitor.status_code == 403 and "no spinemets role" in visitor.text
    assert user(client, "visitor") is None
    # The provider's "clinician" is not the local account "clinician".
    taken = sso(client, "clinician")
    assert taken.status_code == 403 and "ask your administrator" in taken.text
    local = user(client, "clinician")
    assert local is not None and local.oidc_subject is None
    assert client.get("/clinician", follow_redirects=False).status_code == 303


def test_local_accounts_stay(client: TestClient) -> None:
    page = client.get("/clinician/sign-in").text
    assert "Sign in with your hospital account" in page and 'name="password"' in page
    assert h.sign_in(client, "clinician") == 303


def test_not_configured_is_a_clear_404(tmp_path: Path) -> None:
    c = open_client(h.make_settings(h.sqlite_url(tmp_path)))
    try:
        assert "hospital account" not in c.get("/clinician/sign-in").text
        response = c.get("/clinician/sign-in/oidc")
        assert response.status_code == 404 and "not set up" in response.text
    finally:
        c.__exit__(None, None, None)


def test_an_administrator_links_a_local_account(client: TestClient, issuer: str) -> None:
    from typer.testing import CliRunner  # noqa: PLC0415

    from spinemets.cli import app as cli_app  # noqa: PLC0415

    url = client.app.state.spinemets.settings.database_url  # type: ignore[attr-defined]
    runner = CliRunner()
    bad = runner.invoke(cli_app, ["user", "link-oidc", "clinician", "--subject", "a\x00b",
                                  "--issuer", issuer, "--database-url", url])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    linked = runner.invoke(cli_app, ["user", "link-oidc", "Clinician", "--subject", "clinician",
                                     "--issuer", issuer, "--database-url", url])
    assert linked.exit_code == 0, linked.output
    response = sso(client, "clinician")
    assert response.status_code == 303
    assert client.get("/clinician", follow_redirects=False).status_code == 200
    assert h.sign_in(TestClient(client.app, base_url="https://testserver"), "clinician") == 401
    again = runner.invoke(cli_app, ["user", "link-oidc", "admin", "--subject", "clinician",
                                    "--issuer", issuer, "--database-url", url])
    assert again.exit_code == 2 and "already linked to clinician" in again.output
