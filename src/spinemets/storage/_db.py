"""Engines, sessions and migrations."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

__all__ = ["make_engine", "make_sessionmaker", "migrate", "private_file"]


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (database files, backups).

    SQLite gives its ``-wal`` and ``-shm`` files the main file's mode, so they are 0600 too.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # a writer waits for another (never a 500 under load): 20 s, well inside a request's patience
    cursor.execute("PRAGMA busy_timeout=20000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``: SQLite files get WAL and foreign keys; ``:memory:`` one connection.

    PostgreSQL URLs (``postgresql+psycopg://...``) are passed through unchanged.
    """
    if url.startswith("sqlite"):
        memory = url in {"sqlite://", "sqlite:///:memory:"}
        database = make_url(url).database
        if not memory and database and not database.startswith("file:"):
            path = Path(database)
            if path.parent.is_dir():
                private_file(path)
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, echo=echo, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine`` (objects stay usable after commit)."""
    return sessionmaker(engine, expire_on_commit=False)


def migrate(engine: Engine, *, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with the Alembic migrations packaged here."""
    script_location = str(resources.files("spinemets.storage").joinpath("migrations"))
    config = Config()
    config.set_main_option("script_location", script_location)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
