"""Sign-in with single sign-on, a sign-in error, the password change form (with errors) and
the account page after a change: axe-clean, screenshotted to artifacts/screenshots."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page

from spinemets import storage
from spinemets.web import Settings, create_app

from ._axe import run_axe
from .conftest import _free_port

pytestmark = pytest.mark.browser

PASSWORD = "an old but long passphrase"


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A live server whose sign-in page offers single sign-on (the provider is not called)."""
    db = tmp_path_factory.mktemp("signin") / "live.sqlite3"
    app = create_app(Settings(
        database_url=f"sqlite:///{db}", demo=True, environment="development",
        oidc_issuer="https://login.hospital.example", oidc_client_id="spinemets",
        oidc_client_secret="x" * 32))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("live server did not start")
        time.sleep(0.05)
    state = app.state.spinemets
    with state.sessions.begin() as session:
        storage.create_user(session, username="Dr.Rivera", password_hash=state.hasher.hash(
            PASSWORD), display_name="Dr Ana Rivera", roles=["clinician"])
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_sign_in_and_password_change_pages(page: Page, sso_server: str,
                                           screenshots: Path) -> None:
    page.goto(sso_server + "/clinician/sign-in")
    assert page.get_by_role("link", name="Sign in with your hospital account").is_visible()
    assert run_axe(page) == []
    page.screenshot(path=str(screenshots / "clinician-sign-in-sso.png"), full_page=True)
    # A single sign-on refusal (here a callback this browser never started) on the same page.
    page.goto(sso_server + "/clinician/sign-in/oidc/callback?state=forged&code=stolen")
    assert "please sign in again" in page.inner_text(".nhsuk-error-summary")
    assert run_axe(page) == []
    page.screenshot(path=str(screenshots / "clinician-sign-in-sso-refused.png"), full_page=True)
    page.fill("#username", "dr.rivera")
    page.fill("#password", "wrong password")
    page.get_by_role("button", name="Sign in").click()
    assert "The username or password is not right" in page.inner_text("main")
    assert run_axe(page) == []
    page.fill("#username", "DR.RIVERA")  # any case: the name is normalised
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/clinician")
    page.goto(sso_server + "/clinician/account")
    page.get_by_role("link", name="Change your password").click()
    page.wait_for_url("**/clinician/account/password")
    assert run_axe(page) == []
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", "Password2024!")
    page.fill("#confirm_password", "Password2024?")
    page.get_by_role("button", name="Change password").click()
    summary = page.inner_text(".nhsuk-error-summary")
    assert "most common passwords" in summary and "differ" in summary
    assert run_axe(page) == []
    page.screenshot(path=str(screenshots / "clinician-password-change-errors.png"),
                    full_page=True)
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", "tide pool lantern oboe")
    page.fill("#confirm_password", "tide pool lantern oboe")
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url("**/clinician/account?changed=true")
    assert "Your password was changed" in page.inner_text("main")
    assert run_axe(page) == []
    page.screenshot(path=str(screenshots / "clinician-password-changed.png"), full_page=True)
