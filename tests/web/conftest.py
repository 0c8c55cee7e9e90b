"""Fixtures: an application on a temporary SQLite file, with demo data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from spinemets.web import Settings, create_app


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'web.sqlite3'}", environment="test",
                    secret_key="x" * 40, demo=True)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    # https, as deployed: cookies are Secure outside development
    with TestClient(create_app(settings), raise_server_exceptions=False,
                    base_url="https://testserver") as test_client:
        yield test_client
