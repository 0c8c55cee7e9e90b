"""The cohort commands never lose data and never print a traceback (issue 12, sections 1-2).

Outputs are refused when they are an input (by inode, through ``..`` and links) or each other,
written to a temporary file renamed into place only on success, and every unreadable input or
unwritable output exits 2 with one line naming the file and what to do.

Tests run as root here, and root may write into a ``chmod 555`` directory, so a read-only output
directory is simulated: the directory is made read-only *and* ``os.access`` (which the cohort
commands consult before reading) is patched to answer as it would for an ordinary user.
"""

from __future__ import annotations

import csv
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from spinemets.cli import app
from spinemets.cohort import _files, save_text, score_file, synth_file, synth_table
from spinemets.cohort._files import PARTIAL_SUFFIX
from spinemets.errors import InputError

runner = CliRunner()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _partials(directory: Path) -> list[Path]:
    return sorted(directory.rglob(f"*{PARTIAL_SUFFIX}"))


@pytest.fixture(scope="module")
def cohort() -> pa.Table:
    return synth_table(3_000, 21)


@pytest.fixture
def parquet(tmp_path: Path, cohort: pa.Table) -> Path:
    path = tmp_path / "same.parquet"
    pq.write_table(cohort, path, row_group_size=500)
    return path


@pytest.fixture
def csv_file(tmp_path: Path, cohort: pa.Table) -> Path:
    path = tmp_path / "same.csv"
    pacsv.write_csv(cohort, path)
    return path


def _score(*args: str | Path) -> tuple[int, list[str]]:
    """Exit code and the lines of standard error of ``spinemets cohort score ...``."""
    result = runner.invoke(app, ["cohort", "score", *map(str, args)])
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit), result.exception  # never a traceback
    return result.exit_code, result.stderr.strip().splitlines()


def _refused(lines: list[str], *words: str) -> None:
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: "), lines
    for word in words:
        assert word in lines[0], (word, lines)


# ---------------------------------------------------------------- 1. data loss


@pytest.mark.parametrize("spelling", ["plain", "dotdot", "dotdot-missing-dir", "symlink",
                                      "hardlink"])
def test_output_that_is_the_input_is_refused_and_input_unchanged(
        parquet: Path, tmp_path: Path, spelling: str, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _digest(parquet)
    (tmp_path / "o").mkdir()
    monkeypatch.chdir(tmp_path)
    if spelling == "symlink":
        out = tmp_path / "link.parquet"
        out.symlink_to(parquet)
    elif spelling == "hardlink":
        out = tmp_path / "hard.parquet"
        os.link(parquet, out)
    else:
        out = {"plain": Path("same.parquet"), "dotdot": Path("./o/../same.parquet"),
               "dotdot-missing-dir": Path("./nope/../same.parquet")}[spelling]
    code, lines = _score(parquet, "--out", out)
    assert code == 2
    _refused(lines, "is the input file", "choose another output")
    assert _digest(parquet) == before
    assert not (tmp_path / "same.problems.csv").exists()
    assert not _partials(tmp_path)


def test_csv_output_that_is_the_input_is_refused(csv_file: Path) -> None:
    before = _digest(csv_file)
    code, lines = _score(csv_file, "--out", csv_file)
    assert code == 2
    _refused(lines, str(csv_file))
    assert _digest(csv_file) == before


def test_sidecar_that_is_the_input_is_refused_and_nothing_is_created(
        parquet: Path, tmp_path: Path) -> None:
    before = _digest(parquet)
    out = tmp_path / "scored.parquet"
    code, lines = _score(parquet, "--out", out, "--problems", tmp_path / "o" / ".." /
                         parquet.name)
    assert code == 2
    _refused(lines, "error: --problems:", "is the input file")
    assert _digest(parquet) == before
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [parquet.name]


def test_sidecar_that_is_the_output_is_refused(parquet: Path, tmp_path: Path) -> None:
    out = tmp_path / "scored.parquet"
    code, lines = _score(parquet, "--out", out, "--problems", out)
    assert code == 2
    _refused(lines, "is also --out")
    assert not out.exists()


def _damage_the_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 2048] = b"\xff" * 2048
    path.write_bytes(bytes(data))


def test_parquet_damaged_in_the_middle_leaves_no_output_and_keeps_an_old_one(
        tmp_path: Path) -> None:
    source = tmp_path / "damaged.parquet"
    pq.write_table(synth_table(40_000, 3), source, row_group_size=4_096)
    _damage_the_middle(source)
    out, sidecar = tmp_path / "scored.parquet", tmp_path / "scored.problems.csv"
    out.write_bytes(b"an earlier result")
    code, lines = _score(source, "--out", out, "--batch-size", "4096")
    assert code == 2
    _refused(lines, str(source), "not a readable Parquet file after row", "export it again")
    assert out.read_bytes() == b"an earlier result"  # never touched
    assert not sidecar.exists()
    assert not _partials(tmp_path)


def test_python_api_has_the_same_protection(parquet: Path, tmp_path: Path) -> None:
    before = _digest(parquet)
    with pytest.raises(InputError, match="is the input file"):
        score_file(parquet, tmp_path / "o" / ".." / parquet.name, progress=False)
    with pytest.raises(InputError, match="is the input file"):
        score_file(parquet, tmp_path / "x.parquet", problems_path=parquet, progress=False)
    with pytest.raises(InputError, match="is the input file"):
        save_text("<html>", parquet, inputs=[parquet])
    with pytest.raises(InputError, match="does not exist"):
        synth_file(tmp_path / "missing" / "c.parquet", 10, 1)
    assert _digest(parquet) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [parquet.name]


def test_a_failed_run_removes_its_temporary_files(parquet: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from spinemets.cohort import _local as local  # noqa: PLC0415

    def boom(self: object, batch: object, **kwargs: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(local.Kernel, "run", boom)
    out = tmp_path / "scored.csv"
    with pytest.raises(RuntimeError, match="boom"):
        score_file(parquet, out, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [parquet.name]


def test_synth_and_report_are_written_whole(tmp_path: Path) -> None:
    cohort, scored, report = (tmp_path / "c.parquet", tmp_path / "s.parquet",
                              tmp_path / "r.json")
    assert runner.invoke(app, ["cohort", "synth", "--n", "500", "--seed", "1",
                               "--out", str(cohort)]).exit_code == 0
    assert runner.invoke(app, ["cohort", "score", str(cohort), "--out", str(scored)]
                         ).exit_code == 0
    before = _digest(scored)
    result = runner.invoke(app, ["cohort", "validate", str(scored), "--out", str(scored)])
    assert result.exit_code == 2
    _refused(result.stderr.strip().splitlines(), "is the input file")
    assert _digest(scored) == before
    result = runner.invoke(app, ["cohort", "validate", str(scored), "--out", str(report)])
    assert result.exit_code == 0, result.output
    assert report.read_text(encoding="utf-8").startswith("{")
    result = runner.invoke(app, ["cohort", "synth", "--n", "10", "--seed", "1",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert not _partials(tmp_path)


_KILLED_RUN = """
import sys
from spinemets.cli import main
sys.argv = ["spinemets", "cohort", "score", sys.argv[1], "--out", sys.argv[2]]
main()
"""


@pytest.mark.slow
def test_a_run_killed_mid_write_leaves_no_output(tmp_path: Path) -> None:
    """SIGKILL once the temporary output appears: no output, the old one untouched."""
    source = tmp_path / "big.csv"
    assert synth_file(source, 400_000, 5) == 400_000  # CSV in: a run of several seconds
    out = tmp_path / "scored.parquet"
    out.write_bytes(b"an earlier result")
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, str(source), str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not _partials(tmp_path) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        assert proc.poll() is None, "the run ended before it could be killed"
        assert _partials(tmp_path)
        time.sleep(0.2)  # let it write part of the file
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert out.read_bytes() == b"an earlier result"
    assert not (tmp_path / "scored.problems.csv").exists()
    # what a killed process leaves is only its temporary files, named as such
    left = {p.name for p in tmp_path.iterdir()} - {"big.csv", "scored.parquet"}
    assert left
    assert all(name.startswith(".scored.") and name.endswith(PARTIAL_SUFFIX) for name in left)


# ---------------------------------------------------------------- 2. clean errors


def _truncated(tmp: Path, parquet: Path) -> Path:
    data = parquet.read_bytes()
    path = tmp / "truncated.parquet"
    path.write_bytes(data[: len(data) // 2])
    return path


def _write(name: str, content: bytes) -> Callable[[Path, Path], Path]:
    def make(tmp: Path, _parquet: Path) -> Path:
        path = tmp / name
        path.write_bytes(content)
        return path
    return make


def _nested(name: str, column: pa.Array) -> Callable[[Path, Path], Path]:
    def make(tmp: Path, _parquet: Path) -> Path:
        path = tmp / name
        pq.write_table(pa.table({"patient_id": [1, 2], "frankel": column}), path)
        return path
    return make


def _directory(tmp: Path, _parquet: Path) -> Path:
    path = tmp / "cohort_dir"
    path.mkdir()
    return path


BAD_INPUTS: dict[str, tuple[Callable[[Path, Path], Path], tuple[str, ...]]] = {
    "truncated parquet": (_truncated, ("not a readable Parquet file", "export it again")),
    "junk parquet": (_write("junk.parquet", b"not parquet at all " * 20),
                     ("not a readable Parquet file",)),
    "empty parquet": (_write("empty.parquet", b""), ("is empty",)),
    "empty csv": (_write("empty.csv", b""), ("is empty", "header line")),
    "junk csv": (_write("junk.csv", bytes(range(256)) * 40), ("cannot be read as CSV",)),
    "csv not utf-8": (_write("latin.csv", "kps,primary\n80,m\u00e9lanome\n".encode("latin-1")),
                      ("UTF-8",)),
    "jsonl not utf-8": (_write("latin.jsonl", '{"primary": "m\u00e9lanome"}\n'.encode(
        "latin-1")), ("is not UTF-8 text", "save it as UTF-8")),
    "jsonl bad line": (_write("bad.jsonl", b'{"kps": 80}\n{"kps": \n'), ("line 2",)),
    "directory": (_directory, ("is a directory", "one cohort file")),
    "struct column": (_nested("struct.parquet", pa.array([{"a": "D"}, {"a": "E"}])),
                      ("column frankel", "struct", "plain value")),
    "list column": (_nested("list.parquet", pa.array([["D"], ["E"]])),
                    ("column frankel", "list", "plain value")),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_unreadable_input_exits_2_with_one_line(case: str, parquet: Path,
                                                tmp_path: Path) -> None:
    make, words = BAD_INPUTS[case]
    source = make(tmp_path, parquet)
    out = tmp_path / "scored.parquet"
    code, lines = _score(source, "--out", out)
    assert code == 2
    _refused(lines, str(source), *words)
    assert not out.exists()
    assert not (tmp_path / "scored.problems.csv").exists()
    assert not _partials(tmp_path)


def test_missing_output_directory_is_refused_before_reading(parquet: Path,
                                                            tmp_path: Path) -> None:
    code, lines = _score(parquet, "--out", tmp_path / "nope" / "scored.parquet")
    assert code == 2
    _refused(lines, "does not exist", "create it")


def test_output_path_that_is_a_directory_is_refused(parquet: Path, tmp_path: Path) -> None:
    (tmp_path / "out.parquet").mkdir()
    code, lines = _score(parquet, "--out", tmp_path / "out.parquet")
    assert code == 2
    _refused(lines, "is a directory", "file name inside it")


def test_read_only_output_directory_is_refused(parquet: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Root may write anywhere: chmod the directory and make ``os.access`` answer for a user."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    real = os.access

    def as_a_user(path: str | os.PathLike[str], mode: int, **kwargs: object) -> bool:
        if Path(path) == locked and mode & os.W_OK:
            return False
        return real(path, mode)

    monkeypatch.setattr(_files.os, "access", as_a_user)
    try:
        code, lines = _score(parquet, "--out", locked / "scored.parquet")
        assert code == 2
        _refused(lines, "is not writable", "choose another --out")
        assert not list(locked.iterdir())
    finally:
        locked.chmod(0o755)


def test_csv_output_of_a_struct_column_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "extra.parquet"
    pq.write_table(pa.table({"kps": [80, 90], "notes": pa.array([{"a": 1}, {"a": 2}])}), source)
    code, lines = _score(source, "--out", tmp_path / "scored.csv")
    assert code == 2
    _refused(lines, "column notes", "CSV cannot store", "--keep none")
    assert not (tmp_path / "scored.csv").exists()


def test_sidecar_still_reports_bad_cells_after_the_changes(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("patient_id,kps,frankel\n1,85,D\n2,80,d\n", encoding="utf-8")
    code, _ = _score(source, "--out", tmp_path / "scored.parquet", "--scores", "kps,frankel")
    assert code == 0
    with (tmp_path / "scored.problems.csv").open(newline="") as handle:
        rows = [(r["row"], r["field"], r["value"]) for r in csv.DictReader(handle)]
    assert rows == [("1", "kps", "85"), ("2", "frankel", "d")]
    assert not _partials(tmp_path)
