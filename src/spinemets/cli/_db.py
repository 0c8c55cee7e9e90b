"""``spinemets db migrate|backup|restore|check``: the database's life cycle.

SQLite backups use the online backup API (safe while the server runs); PostgreSQL uses
``pg_dump``/``pg_restore`` (the PostgreSQL client tools must be on PATH). Every backup has a
manifest signed with the backup key (``SPINEMETS_BACKUP_KEY`` or ``--key-file``, kept outside
the database); a restore checks it first and refuses a changed backup, goes only into an empty
database, is compared with the source (cases, every version, accounts and the audit trail
equal row for row), checks the audit hash chain and ends every sign-in session.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from spinemets.cli._output import console, err_console, fail

__all__ = ["register"]

db_app = typer.Typer(help="Database: migrate, backup, restore, verify the audit trail.",
                     no_args_is_help=True)
DatabaseOption = Annotated[str | None, typer.Option(
    "--database-url", help="SQLAlchemy URL (default: SPINEMETS_DATABASE_URL or the serve "
    "default).")]


def _url(database_url: str | None) -> str:
    from spinemets.cli._serve import default_database_url  # noqa: PLC0415

    return database_url or os.environ.get("SPINEMETS_DATABASE_URL") or default_database_url()


@db_app.command("migrate")
def migrate(database_url: DatabaseOption = None) -> None:
    """Bring the schema up to date."""
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 - light start-up

    from spinemets import storage  # noqa: PLC0415

    engine = storage.make_engine(_url(database_url))
    try:
        storage.migrate(engine)
    except SQLAlchemyError as exc:
        fail(f"cannot migrate the database: {_first_line(exc)}")
    finally:
        engine.dispose()
    console().print("schema up to date", markup=False)


KeyFileOption = Annotated[Path | None, typer.Option(
    "--key-file", help="File holding the backup key (default: the SPINEMETS_BACKUP_KEY "
    "environment variable); keep it outside the database and away from the backups.")]


@db_app.command("backup")
def backup(file: Annotated[Path, typer.Argument(help="New backup file.")],
           database_url: DatabaseOption = None, key_file: KeyFileOption = None,
           encrypt: Annotated[bool, typer.Option(
               "--encrypt", help="Encrypt the backup with a key derived from the backup "
               "key.")] = False) -> None:
    """Write a consistent backup of the database to FILE (0600) with a signed manifest."""
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 - light start-up

    from spinemets import storage  # noqa: PLC0415

    try:
        key = storage.load_key(key_file)
    except storage.BackupError as exc:
        fail(exc)
    engine = storage.make_engine(_url(database_url))
    try:
        storage.backup(engine, file, key=key, encrypt=encrypt)
        summary = storage.fingerprint(engine)
    except storage.BackupError as exc:
        fail(exc)
    except SQLAlchemyError as exc:
        fail(f"cannot read the database: {_first_line(exc)}")
    finally:
        engine.dispose()
    counts = ", ".join(f"{k} {v['rows']}" for k, v in summary.items())
    console().print(f"backup written to {file} ({counts}{', encrypted' if encrypt else ''}); "
                    f"signed manifest {storage.manifest_path(file)}", markup=False)


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0][:300] if text else exc.__class__.__name__


@db_app.command("restore")
def restore(file: Annotated[Path, typer.Argument(help="Backup file to restore.")],
            database_url: DatabaseOption = None, key_file: KeyFileOption = None,
            manifest: Annotated[Path | None, typer.Option(
                "--manifest", help="The backup's signed manifest (default: FILE.manifest.json"
                ").")] = None) -> None:
    """Restore FILE into an empty database: refused unless its signed manifest matches; then
    history and audit are checked against the source and every sign-in session is ended."""
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 - light start-up

    from spinemets import storage  # noqa: PLC0415

    try:
        key = storage.load_key(key_file)
    except storage.BackupError as exc:
        fail(exc)
    engine = storage.make_engine(_url(database_url))
    try:
        expected = storage.restore(engine, file, key=key, manifest_file=manifest)
        storage.migrate(engine)
        restored = storage.fingerprint(engine)
        with storage.make_sessionmaker(engine).begin() as session:
            chain = storage.verify_audit_chain(session)
    except storage.BackupError as exc:
        fail(exc)
    except SQLAlchemyError as exc:
        fail(f"the restore failed: {_first_line(exc)}")
    finally:
        engine.dispose()
    if expected is not None and expected != restored:
        fail("the restored database differs from the backup: "
             + json.dumps({"backup": expected, "restored": restored}))
    if not chain.intact:
        fail("the restored audit trail is not intact: " + "; ".join(chain.problems[:5]))
    counts = ", ".join(f"{k} {v['rows']}" for k, v in restored.items())
    console().print(f"restored {file} ({counts}); signature checked; history and audit checked "
                    "(hash chain intact); all sign-in sessions ended", markup=False,
                    soft_wrap=True)


@db_app.command("prune")
def prune(database_url: DatabaseOption = None) -> None:
    """Delete expired sign-in sessions, login nonces and CDS hand-offs (audit rows are kept)."""
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 - light start-up

    from spinemets import storage  # noqa: PLC0415

    engine = storage.make_engine(_url(database_url))
    try:
        with storage.make_sessionmaker(engine).begin() as session:
            removed = storage.prune_expired(session)
    except SQLAlchemyError as exc:
        fail(f"cannot prune: {_first_line(exc)}")
    finally:
        engine.dispose()
    console().print("removed " + ", ".join(f"{k} {v}" for k, v in removed.items()), markup=False)


@db_app.command("verify-audit")
def verify_audit(database_url: DatabaseOption = None) -> None:
    """Recompute the audit trail's hash chain: exit 1 if a row was inserted, changed or
    deleted (each problem on its own line)."""
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 - light start-up

    from spinemets import storage  # noqa: PLC0415

    engine = storage.make_engine(_url(database_url))
    try:
        with storage.make_sessionmaker(engine).begin() as session:
            result = storage.verify_audit_chain(session)
    except SQLAlchemyError as exc:
        fail(f"cannot read the audit trail: {_first_line(exc)}")
    finally:
        engine.dispose()
    if not result.intact:
        for problem in result.problems:
            err_console().print(f"audit chain broken: {problem}", markup=False, highlight=False)
        raise typer.Exit(1)
    console().print(f"audit chain intact: {result.rows} rows, head {result.head_seq} "
                    f"{result.head_hash}", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``db`` to the ``spinemets`` command line."""
    app.add_typer(db_app, name="db")
