"""Fixtures: an application on a temporary SQLite file, with demo data."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from spinemets.web import Settings, create_app


def _register_helpers() -> None:
    """Make ``_accounts_helpers.py`` importable as ``accounts_helpers`` (tests/web is not a
    package; pytest runs with --import-mode=importlib)."""
    name = "accounts_helpers"
    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).with_name("_accounts_helpers.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


_register_helpers()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'web.sqlite3'}", environment="test",
                    secret_key="x" * 40, demo=True)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client
