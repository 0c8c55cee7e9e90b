"""Backup and restore.

SQLite: the online backup API (a consistent copy while the application runs). PostgreSQL:
``pg_dump --format=custom`` / ``pg_restore`` when those programs are on ``PATH``.
:func:`restore` refuses a target that already holds data, and :func:`fingerprint` summarises
history and audit (counts and a hash of every row) so a restore can be checked against its
source.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, inspect, make_url, select
from sqlalchemy.orm import Session

from spinemets.storage._models import AuditEvent, CaseRecord, CaseVersion, User

__all__ = ["BackupError", "backup", "fingerprint", "restore"]


class BackupError(RuntimeError):
    """A backup or restore that could not be done (message says why)."""


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _pg_args(engine: Engine) -> tuple[list[str], dict[str, str]]:
    url = make_url(engine.url)
    args = ["--host", url.host or "localhost", "--port", str(url.port or 5432),
            "--username", url.username or "postgres", "--dbname", url.database or "postgres"]
    env = {"PGPASSWORD": url.password} if url.password else {}
    return args, env


def _run(tool: str, args: list[str], env: dict[str, str]) -> None:
    import os  # noqa: PLC0415 - only needed here

    exe = shutil.which(tool)
    if exe is None:
        raise BackupError(f"{tool} not found on PATH (install the PostgreSQL client tools)")
    done = subprocess.run([exe, *args], env={**os.environ, **env}, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.strip()[:500]}")


def backup(engine: Engine, target: Path) -> None:
    """Write a consistent backup of the database to ``target`` (refuses to overwrite)."""
    if target.exists():
        raise BackupError(f"{target} exists: choose a new file")
    if engine.dialect.name == "sqlite":
        with sqlite3.connect(_sqlite_path(engine)) as source, sqlite3.connect(target) as dest:
            source.backup(dest)
        dest.close()
        return
    if engine.dialect.name == "postgresql":
        args, env = _pg_args(engine)
        _run("pg_dump", ["--format=custom", "--no-owner", "--file", str(target), *args], env)
        return
    raise BackupError(f"no backup method for {engine.dialect.name}")


def _is_empty(engine: Engine) -> bool:
    names = set(inspect(engine).get_table_names())
    if not names:
        return True
    if "cases" not in names:
        return False
    with Session(engine) as session:
        return not any(session.scalar(select(func.count()).select_from(model)) for model in
                       (User, CaseRecord, AuditEvent))


def restore(engine: Engine, source: Path) -> None:
    """Restore ``source`` into an empty database (refuses one that holds data)."""
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    if not _is_empty(engine):
        raise BackupError("the target database is not empty: restore only into an empty one")
    engine.dispose()
    if engine.dialect.name == "sqlite":
        with sqlite3.connect(source) as src, sqlite3.connect(_sqlite_path(engine)) as dest:
            src.backup(dest)
        dest.close()
        return
    if engine.dialect.name == "postgresql":
        args, env = _pg_args(engine)
        _run("pg_restore", ["--no-owner", "--exit-on-error", "--clean", "--if-exists",
                            *args, str(source)], env)
        return
    raise BackupError(f"no restore method for {engine.dialect.name}")


def _row(model: Any, row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in model.__table__.columns}


def fingerprint(engine: Engine) -> dict[str, Any]:
    """Counts and a SHA-256 over every case, version, account and audit row (stable order)."""
    out: dict[str, Any] = {}
    with Session(engine) as session:
        for name, model in (("users", User), ("cases", CaseRecord),
                            ("case_versions", CaseVersion), ("audit_events", AuditEvent)):
            rows = session.scalars(select(model).order_by(model.id)).all()
            digest = hashlib.sha256()
            for row in rows:
                digest.update(json.dumps(_row(model, row), sort_keys=True,
                                         default=str).encode("utf-8"))
            out[name] = {"rows": len(rows), "sha256": digest.hexdigest()}
    return out
