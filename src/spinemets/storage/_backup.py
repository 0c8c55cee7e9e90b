"""Backup and restore.

SQLite: the online backup API (a consistent copy while the application runs). PostgreSQL:
``pg_dump --format=custom`` / ``pg_restore`` when those programs are on ``PATH``.

Every backup file is created 0600 and comes with a signed manifest (HMAC-SHA256 with a key
kept outside the database: :func:`load_key`); :func:`restore` refuses a backup whose manifest
or content does not match, refuses a target that already holds data, and ends every sign-in
session of the restored data. :func:`fingerprint` summarises history and audit (counts and a
hash of every row) so a restore can be checked against its source. Optional encryption
(Fernet: AES-128-CBC with HMAC) uses a key derived from the same secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, inspect, make_url, select
from sqlalchemy.orm import Session

from spinemets._atomic import OutputError, atomic_path, write_output
from spinemets.storage._db import make_engine, private_file
from spinemets.storage._models import AuditEvent, CaseRecord, CaseVersion, User, WebSession

__all__ = ["KEY_ENV", "BackupError", "backup", "fingerprint", "load_key", "manifest_path",
           "restore"]

#: Environment variable holding the backup signing (and encryption) key.
KEY_ENV = "SPINEMETS_BACKUP_KEY"
MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_FORMAT = "spinemets-backup/1"
_MIN_KEY = 32


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
    exe = shutil.which(tool)
    if exe is None:
        raise BackupError(f"{tool} not found on PATH (install the PostgreSQL client tools)")
    done = subprocess.run([exe, *args], env={**os.environ, **env}, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.strip()[:500]}")


def load_key(key_file: Path | None = None) -> bytes:
    """The backup key: ``key_file``'s content, else ``SPINEMETS_BACKUP_KEY`` (32+ characters).

    The key lives outside the database (and outside the backup), so whoever can change a
    backup file cannot re-sign it.
    """
    if key_file is not None:
        try:
            raw = key_file.read_bytes().strip()
        except OSError as exc:
            raise BackupError(f"cannot read the backup key file {key_file}: "
                              f"{exc.strerror or exc}") from exc
    else:
        raw = os.environ.get(KEY_ENV, "").strip().encode("utf-8")
    if not raw:
        raise BackupError(f"no backup key: set {KEY_ENV} or give --key-file (a secret of at "
                          "least 32 characters kept outside the database)")
    if len(raw) < _MIN_KEY:
        raise BackupError(f"the backup key must be at least {_MIN_KEY} characters")
    return raw


def manifest_path(backup_file: Path) -> Path:
    """Where the signed manifest of ``backup_file`` is written (next to it)."""
    return backup_file.with_name(backup_file.name + MANIFEST_SUFFIX)


def _subkey(key: bytes, purpose: str) -> bytes:
    return hmac.new(key, f"spinemets-backup/{purpose}".encode(), hashlib.sha256).digest()


def _signature(body: dict[str, Any], key: bytes) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(_subkey(key, "manifest"), text.encode("ascii"), hashlib.sha256).hexdigest()


def _fernet(key: bytes) -> Any:
    try:
        from cryptography.fernet import Fernet  # noqa: PLC0415 - optional (encryption only)
    except ImportError as exc:  # pragma: no cover - cryptography ships with the web extra
        raise BackupError("encryption needs the 'cryptography' package") from exc
    return Fernet(base64.urlsafe_b64encode(_subkey(key, "encryption")))


def _file_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _dump(engine: Engine, temp: Path) -> None:
    if engine.dialect.name == "sqlite":
        database = _sqlite_path(engine)
        if not database.is_file():
            raise BackupError(f"no SQLite database at {database}")
        try:
            with sqlite3.connect(database) as source, sqlite3.connect(temp) as dest:
                source.backup(dest)
            dest.close()
        except sqlite3.Error as exc:
            raise BackupError(f"the SQLite backup failed: {exc}") from exc
        return
    if engine.dialect.name == "postgresql":
        args, env = _pg_args(engine)
        _run("pg_dump", ["--format=custom", "--no-owner", "--file", str(temp), *args], env)
        return
    raise BackupError(f"no backup method for {engine.dialect.name}")


def backup(engine: Engine, target: Path, *, key: bytes, encrypt: bool = False) -> dict[str, Any]:
    """Write a consistent backup to ``target`` (0600, never overwriting) and its signed manifest.

    The manifest (``<target>.manifest.json``) holds the file's size and SHA-256, whether it
    is encrypted (Fernet, with a key derived from ``key``), and an HMAC-SHA256 over all of
    it. A failure leaves neither file behind. Returns the manifest.
    """
    manifest_file = manifest_path(target)
    if target.exists() or target.is_symlink():
        raise BackupError(f"{target} exists: choose a new file")
    if manifest_file.exists() or manifest_file.is_symlink():
        raise BackupError(f"{manifest_file} exists: choose a new file")
    try:
        with atomic_path(target, overwrite=False) as temp:
            _dump(engine, temp)
            if encrypt:
                temp.write_bytes(_fernet(key).encrypt(temp.read_bytes()))
            size, sha256 = _file_digest(temp)
            body = {"format": MANIFEST_FORMAT, "file": target.name, "bytes": size,
                    "sha256": sha256, "dialect": engine.dialect.name, "encrypted": encrypt,
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
            manifest = {**body, "hmac_sha256": _signature(body, key)}
            write_output(manifest_file, json.dumps(manifest, indent=2) + "\n",
                         overwrite=False)
    except OutputError as exc:
        raise BackupError(str(exc)) from exc
    return manifest


def _checked_manifest(source: Path, key: bytes, manifest_file: Path | None) -> dict[str, Any]:
    """The manifest of ``source`` if its signature and the file's digest match, else refuse."""
    manifest_file = manifest_file or manifest_path(source)
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BackupError(f"cannot read the backup manifest {manifest_file}: "
                          f"{exc.strerror or exc} (a backup is restored only with its signed "
                          "manifest)") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"the backup manifest {manifest_file} is not valid JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise BackupError(f"{manifest_file} is not a {MANIFEST_FORMAT} manifest")
    body = {k: v for k, v in manifest.items() if k != "hmac_sha256"}
    given = manifest.get("hmac_sha256")
    if not isinstance(given, str) or not hmac.compare_digest(given, _signature(body, key)):
        raise BackupError("the backup manifest's signature does not match (wrong key, or the "
                          "manifest was changed): refusing to restore")
    size, sha256 = _file_digest(source)
    if size != body.get("bytes") or not hmac.compare_digest(sha256, str(body.get("sha256"))):
        raise BackupError(f"{source} does not match its signed manifest (changed, truncated "
                          "or swapped): refusing to restore")
    return manifest


def _is_empty(engine: Engine) -> bool:
    names = set(inspect(engine).get_table_names())
    if not names:
        return True
    if "cases" not in names:
        return False
    with Session(engine) as session:
        return not any(session.scalar(select(func.count()).select_from(model)) for model in
                       (User, CaseRecord, AuditEvent))


def _load_plain(engine: Engine, plain: Path) -> None:
    engine.dispose()
    if engine.dialect.name == "sqlite":
        database = _sqlite_path(engine)
        private_file(database)
        try:
            with sqlite3.connect(plain) as src, sqlite3.connect(database) as dest:
                src.backup(dest)
            dest.close()
        except sqlite3.Error as exc:
            raise BackupError(f"the SQLite restore failed: {exc}") from exc
        return
    if engine.dialect.name == "postgresql":
        args, env = _pg_args(engine)
        _run("pg_restore", ["--no-owner", "--exit-on-error", "--clean", "--if-exists",
                            *args, str(plain)], env)
        return
    raise BackupError(f"no restore method for {engine.dialect.name}")


def restore(engine: Engine, source: Path, *, key: bytes,
            manifest_file: Path | None = None) -> dict[str, Any] | None:
    """Restore ``source`` into an empty database after checking its signed manifest.

    A backup whose manifest signature or digest does not match is refused before anything is
    written. Every sign-in session in the restored data is ended. Returns the fingerprint of
    the backup's content when it can be read directly (SQLite), for comparison.
    """
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    manifest = _checked_manifest(source, key, manifest_file)
    if manifest.get("dialect") != engine.dialect.name:
        raise BackupError(f"the backup is of a {manifest.get('dialect')} database; the target "
                          f"is {engine.dialect.name}")
    if not _is_empty(engine):
        raise BackupError("the target database is not empty: restore only into an empty one")
    expected: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="spinemets-restore-") as tmp:
        plain = source
        if manifest.get("encrypted"):
            from cryptography.fernet import InvalidToken  # noqa: PLC0415

            plain = Path(tmp) / "plain"
            try:
                data = _fernet(key).decrypt(source.read_bytes())
            except InvalidToken as exc:
                raise BackupError("the backup cannot be decrypted with this key") from exc
            write_output(plain, data)
        if engine.dialect.name == "sqlite":
            copy = Path(tmp) / "copy.sqlite3"
            write_output(copy, plain.read_bytes())
            probe = make_engine(f"sqlite:///{copy}")
            try:
                expected = fingerprint(probe)
            finally:
                probe.dispose()
        _load_plain(engine, plain)
    with engine.begin() as connection:
        connection.execute(delete(WebSession))
    return expected


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
