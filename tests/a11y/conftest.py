"""Browser-test fixtures: a live server on loopback and Debian Chromium via Playwright."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from spinemets.web import Settings, create_app

SCREENSHOTS = Path(__file__).parents[2] / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("SPINEMETS_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    return {
        "executable_path": CHROMIUM,
        "headless": True,
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"],
    }


@pytest.fixture(scope="session")
def browser_context_args() -> dict[str, Any]:
    # bypass_csp lets the tests inject axe-core; the pages themselves keep their CSP.
    return {"bypass_csp": True, "viewport": {"width": 1024, "height": 800}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_app(settings: Settings) -> Iterator[str]:
    """The application of ``settings`` served on a free loopback port (its base URL)."""
    app = create_app(settings)
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
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def sign_in_demo(page: Any, base: str) -> None:
    """Sign in as the demo clinician (development demo account)."""
    page.goto(base + "/clinician/sign-in")
    page.fill("#username", "demo")
    page.fill("#password", "demo-only-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/clinician")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("a11y") / "live.sqlite3"
    with serve_app(Settings(database_url=f"sqlite:///{db}", demo=True)) as base:
        yield base


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
