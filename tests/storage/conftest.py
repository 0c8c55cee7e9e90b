"""Database fixtures: every storage test runs on a SQLite file and on a fresh PostgreSQL
database (created per test, dropped afterwards) when ``SPINEMETS_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.web._accounts_helpers import postgres_database

from spinemets import storage


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for an empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db.sqlite3'}"
    else:
        yield from postgres_database()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated engine on :func:`db_url`."""
    engine = storage.make_engine(db_url)
    storage.migrate(engine)
    yield engine
    engine.dispose()
