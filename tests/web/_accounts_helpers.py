"""Shared helpers for the account, history and audit tests: apps with one account per role."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from spinemets import storage
from spinemets.web import Settings, create_app
from spinemets.web._state import AppState

__all__ = ["Settings", "create_app"]

PASSWORD = "correct horse battery staple"
ROLES = ("clinician", "coordinator", "researcher", "admin")


def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database URL, dropped afterwards (skips without a server)."""
    base = os.environ.get("SPINEMETS_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("SPINEMETS_TEST_POSTGRES_URL not set")
    name = f"spinemets_w_{secrets.token_hex(6)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def add_users(app: FastAPI) -> None:
    """One account per role (``clinician``, ``coordinator``, ...), password :data:`PASSWORD`."""
    state: AppState = app.state.spinemets
    password_hash = state.hasher.hash(PASSWORD)
    with state.sessions.begin() as session:
        for role in ROLES:
            if storage.get_user(session, username=role) is None:
                storage.create_user(session, username=role, password_hash=password_hash,
                                    display_name=role.title(), roles=[role])


def make_settings(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {"database_url": url, "environment": "test",
                                 "secret_key": "x" * 40, "demo": True}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def open_client(settings: Settings) -> TestClient:
    """A started TestClient speaking HTTPS (cookies are Secure outside development)."""
    client = TestClient(create_app(settings), raise_server_exceptions=False,
                        base_url="https://testserver")
    client.__enter__()
    add_users(client.app)  # type: ignore[arg-type]
    return client


def login_csrf(html: str) -> str:
    found = re.search(r'name="login_csrf" value="([0-9a-f]+)"', html)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> int:
    page = client.get("/clinician/sign-in")
    response = client.post("/clinician/sign-in", data={
        "username": username, "password": password, "login_csrf": login_csrf(page.text)},
        follow_redirects=False)
    return response.status_code


def csrf(client: TestClient, path: str = "/clinician/account") -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'web.sqlite3'}"
