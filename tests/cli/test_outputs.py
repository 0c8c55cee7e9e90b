"""Every CLI command that writes a file: the output is never an input (same path, symlink or
hard link), a full disk (a file-size limit) leaves no partial file, backups are 0600 with a
signed manifest, a tampered backup is refused and a restore ends every sign-in session."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from tests.rules.conftest import vignette_case
from typer.testing import CliRunner

from spinemets import storage
from spinemets.cli import app

runner = CliRunner()
KEY = {"SPINEMETS_BACKUP_KEY": "b" * 40}


def _case(tmp_path: Path) -> Path:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(vignette_case("v03")), encoding="utf-8")
    return path


def _bundle(tmp_path: Path) -> Path:
    result = runner.invoke(app, ["fhir", "synth", "--n", "1"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "bundle.json"
    path.write_text(result.stdout.splitlines()[0], encoding="utf-8")
    return path


def _alias(kind: str, source: Path) -> Path:
    if kind == "same":
        return source
    alias = source.with_name(f"alias-{kind}{source.suffix}")
    if kind == "symlink":
        alias.symlink_to(source)
    else:
        os.link(source, alias)
    return alias


COMMANDS: dict[str, Callable[[Path, Path], list[str]]] = {
    "report -o": lambda src, out: ["report", str(src), "-o", str(out), "--format", "text"],
    "fhir export -o": lambda src, out: ["fhir", "export", str(src), "-o", str(out)],
    "fhir import -o": lambda src, out: ["fhir", "import", str(src), "-o", str(out)],
    "fhir import --report": lambda src, out: ["fhir", "import", str(src), "--report",
                                              str(out)],
}


@pytest.mark.parametrize("kind", ["same", "symlink", "hardlink"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_output_that_is_the_input_is_refused(tmp_path: Path, command: str, kind: str) -> None:
    source = _bundle(tmp_path) if command.startswith("fhir import") else _case(tmp_path)
    before = source.read_bytes()
    result = runner.invoke(app, COMMANDS[command](source, _alias(kind, source)))
    assert result.exit_code == 2, result.output
    assert "same file as the input" in result.output
    assert "Traceback" not in result.output
    assert source.read_bytes() == before


def test_import_output_and_report_must_differ(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["fhir", "import", str(bundle), "-o", str(out), "--report",
                                 str(out)])
    assert result.exit_code == 2 and "same file" in result.output
    assert not out.exists()


def test_outputs_are_written_whole_and_private(tmp_path: Path) -> None:
    case = _case(tmp_path)
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(case), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").rstrip().endswith("</html>")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


# --------------------------------------------------------------------------- disk full

_LIMITED = """
import resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.argv = ["spinemets", *sys.argv[2:]]
from spinemets.cli import main
main()
"""


def _limited(args: list[str], limit: int, env: dict[str, str] | None = None,
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _LIMITED, str(limit), *args],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})})


def _populated_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    engine = storage.make_engine(url)
    storage.migrate(engine)
    with storage.make_sessionmaker(engine).begin() as session:
        storage.seed_demo(session, hash_password=lambda _p: "x")
        user = storage.get_user(session, username=storage.DEMO_USERNAME)
        assert user is not None
        storage.create_session(session, user_id=user.id, lifetime=timedelta(hours=1))
        storage.record_audit(session, action="sign_in", outcome="success", user=user)
    engine.dispose()
    return url


def test_disk_full_leaves_no_partial_file(tmp_path: Path) -> None:
    case = _case(tmp_path)
    url = _populated_db(tmp_path)
    runs = {
        "report.html": ["report", str(case), "-o", str(tmp_path / "report.html")],
        "bundle.json": ["fhir", "export", str(case), "-o", str(tmp_path / "bundle.json")],
        "backup.sqlite3": ["db", "backup", str(tmp_path / "backup.sqlite3"),
                           "--database-url", url],
    }
    for name, args in runs.items():
        done = _limited(args, 4096, env=KEY)
        assert done.returncode != 0, (name, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr + done.stdout, done.stderr
        assert done.stderr.strip().startswith("error:"), done.stderr
        leftovers = [p.name for p in tmp_path.iterdir()
                     if p.name.startswith((name, f".{name}"))]
        assert leftovers == [], (name, leftovers)


# --------------------------------------------------------------------------- backups


def _backup(tmp_path: Path, *extra: str) -> tuple[Path, str]:
    url = _populated_db(tmp_path)
    target = tmp_path / "backup.sqlite3"
    result = runner.invoke(app, ["db", "backup", str(target), "--database-url", url, *extra],
                           env=KEY)
    assert result.exit_code == 0, result.output
    return target, url


def _restore(tmp_path: Path, backup: Path, name: str = "restored",
             env: dict[str, str] | None = None) -> tuple[int, str, str]:
    url = f"sqlite:///{tmp_path / (name + '.sqlite3')}"
    result = runner.invoke(app, ["db", "restore", str(backup), "--database-url", url],
                           env=env or KEY)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output, url


def test_backup_files_are_private_and_signed(tmp_path: Path) -> None:
    backup, url = _backup(tmp_path)
    manifest = storage.manifest_path(backup)
    for path in (backup, manifest, Path(url.removeprefix("sqlite:///"))):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    body = json.loads(manifest.read_text(encoding="utf-8"))
    assert body["format"] == "spinemets-backup/1" and len(body["hmac_sha256"]) == 64
    again = runner.invoke(app, ["db", "backup", str(backup), "--database-url", url], env=KEY)
    assert again.exit_code == 2 and "exists" in again.output


def test_backup_without_key_is_refused(tmp_path: Path) -> None:
    url = _populated_db(tmp_path)
    result = runner.invoke(app, ["db", "backup", str(tmp_path / "b.sqlite3"), "--database-url",
                                 url], env={"SPINEMETS_BACKUP_KEY": ""})
    assert result.exit_code == 2 and "no backup key" in result.output
    assert not (tmp_path / "b.sqlite3").exists()


def test_restore_ends_every_session_and_checks_the_chain(tmp_path: Path) -> None:
    backup, _url = _backup(tmp_path)
    code, output, url = _restore(tmp_path, backup)
    assert code == 0, output
    assert "all sign-in sessions ended" in output
    engine = storage.make_engine(url)
    with storage.make_sessionmaker(engine).begin() as session:
        assert session.query(storage.WebSession).count() == 0
        assert storage.verify_audit_chain(session).intact
    engine.dispose()


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_tampered_backup_is_refused(tmp_path: Path) -> None:
    backup, _url = _backup(tmp_path)
    original = backup.read_bytes()
    _flip_byte(backup, len(original) // 2)
    code, output, url = _restore(tmp_path, backup)
    assert code == 2 and "does not match its signed manifest" in output
    assert not Path(url.removeprefix("sqlite:///")).exists() or \
        Path(url.removeprefix("sqlite:///")).stat().st_size == 0


def test_changed_manifest_or_wrong_key_is_refused(tmp_path: Path) -> None:
    backup, _url = _backup(tmp_path)
    manifest = storage.manifest_path(backup)
    code, output, _ = _restore(tmp_path, backup, "wrong-key",
                               env={"SPINEMETS_BACKUP_KEY": "c" * 40})
    assert code == 2 and "signature does not match" in output
    body = json.loads(manifest.read_text(encoding="utf-8"))
    body["bytes"] += 1
    manifest.write_text(json.dumps(body), encoding="utf-8")
    code, output, _ = _restore(tmp_path, backup, "changed")
    assert code == 2 and "signature does not match" in output
    manifest.unlink()
    code, output, _ = _restore(tmp_path, backup, "missing")
    assert code == 2 and "signed manifest" in output


def test_encrypted_backup_round_trip(tmp_path: Path) -> None:
    backup, source = _backup(tmp_path, "--encrypt")
    assert not backup.read_bytes().startswith(b"SQLite format 3")
    code, output, url = _restore(tmp_path, backup)
    assert code == 0, output
    a, b = storage.make_engine(source), storage.make_engine(url)
    assert storage.fingerprint(a)["cases"] == storage.fingerprint(b)["cases"]
    a.dispose()
    b.dispose()
