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


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One application without demo data for a whole module (the symptom checker's property
    tests send thousands of requests), over https: the answer cookies are Secure outside
    development."""
    database = tmp_path_factory.mktemp("checker") / "c.sqlite3"
    app = create_app(Settings(database_url=f"sqlite:///{database}", environment="test",
                              secret_key="y" * 40, demo=False))
    with TestClient(app, raise_server_exceptions=True,
                    base_url="https://testserver") as test_client:
        yield test_client
