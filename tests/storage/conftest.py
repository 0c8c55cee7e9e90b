"""Database fixtures: every storage test runs on a SQLite file and on a fresh PostgreSQL
database (created per test, dropped afterwards) when ``SPINEMETS_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from spinemets import storage

POSTGRES_ENV = "SPINEMETS_TEST_POSTGRES_URL"


def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database URL (skips when no server is configured)."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} not set")
    name = f"spinemets_t_{secrets.token_hex(6)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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
