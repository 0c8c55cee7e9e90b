"""``spinemets db migrate|backup|restore|check``: the database's life cycle.

SQLite backups use the online backup API (safe while the server runs); PostgreSQL uses
``pg_dump``/``pg_restore`` (the PostgreSQL client tools must be on PATH). A restore goes only
into an empty database and is then compared with the source: cases, every version, accounts
and the audit trail must be equal row for row.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from spinemets.cli._output import console, fail

__all__ = ["register"]

db_app = typer.Typer(help="Database: migrate, backup, restore.", no_args_is_help=True)
DatabaseOption = Annotated[str | None, typer.Option(
    "--database-url", help="SQLAlchemy URL (default: SPINEMETS_DATABASE_URL or the serve "
    "default).")]


def _url(database_url: str | None) -> str:
    from spinemets.cli._serve import default_database_url  # noqa: PLC0415

    return database_url or os.environ.get("SPINEMETS_DATABASE_URL") or default_database_url()


@db_app.command("migrate")
def migrate(database_url: DatabaseOption = None) -> None:
    """Bring the schema up to date."""
    from spinemets import storage  # noqa: PLC0415

    engine = storage.make_engine(_url(database_url))
    storage.migrate(engine)
    engine.dispose()
    console.print("schema up to date", markup=False)


@db_app.command("backup")
def backup(file: Annotated[Path, typer.Argument(help="New backup file.")],
           database_url: DatabaseOption = None) -> None:
    """Write a consistent backup of the database to FILE."""
    from spinemets import storage  # noqa: PLC0415

    engine = storage.make_engine(_url(database_url))
    try:
        storage.backup(engine, file)
        summary = storage.fingerprint(engine)
    except storage.BackupError as exc:
        fail(exc)
    finally:
        engine.dispose()
    counts = ", ".join(f"{k} {v['rows']}" for k, v in summary.items())
    console.print(f"backup written to {file} ({counts})", markup=False)


def _source_fingerprint(file: Path, target_url: str) -> dict[str, object] | None:
    """The fingerprint of a backup file (SQLite files only: read directly)."""
    from spinemets import storage  # noqa: PLC0415

    if not target_url.startswith("sqlite"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "source.sqlite3"
        copy.write_bytes(file.read_bytes())
        engine = storage.make_engine(f"sqlite:///{copy}")
        try:
            return storage.fingerprint(engine)
        finally:
            engine.dispose()


@db_app.command("restore")
def restore(file: Annotated[Path, typer.Argument(help="Backup file to restore.")],
            database_url: DatabaseOption = None) -> None:
    """Restore FILE into an empty database and check history and audit equal the source."""
    from spinemets import storage  # noqa: PLC0415

    url = _url(database_url)
    expected = _source_fingerprint(file, url) if file.is_file() else None
    engine = storage.make_engine(url)
    try:
        storage.restore(engine, file)
        storage.migrate(engine)
        restored = storage.fingerprint(engine)
    except storage.BackupError as exc:
        fail(exc)
    finally:
        engine.dispose()
    if expected is not None and expected != restored:
        fail("the restored database differs from the backup: "
             + json.dumps({"backup": expected, "restored": restored}))
    counts = ", ".join(f"{k} {v['rows']}" for k, v in restored.items())
    console.print(f"restored {file} ({counts}); history and audit checked", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``db`` to the ``spinemets`` command line."""
    app.add_typer(db_app, name="db")
