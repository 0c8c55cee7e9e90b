"""The fast path of ``spinemets scores`` (``cli._light``): the same output, exit status and
errors as the typer command, for every spelling it takes; everything else goes to typer."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import typer
import typer.main
from typer.core import TyperGroup
from typer.testing import CliRunner

from spinemets.cli import _app, _light, app
from spinemets.cli._scores import OutputFormat

runner = CliRunner()

LISTINGS = [["scores"], ["scores", "--format", "json"], ["scores", "-f", "jsonl"],
            ["scores", "--format=text"], ["scores", "-f", "json"]]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spinemets", *args], capture_output=True,
                          text=True, check=False, timeout=120,
                          env={**os.environ, "COLUMNS": "100", **env})


def test_formats_are_the_commands() -> None:
    assert tuple(f.value for f in OutputFormat) == _light.FORMATS


@pytest.mark.parametrize("args", LISTINGS)
def test_fast_path_prints_what_typer_prints(args: list[str]) -> None:
    assert _light.listing_format(args) is not None
    fast = _run(args)
    typed = runner.invoke(app, args, env={"COLUMNS": "100"})
    assert fast.returncode == typed.exit_code == 0
    assert fast.stdout == typed.stdout
    assert fast.stderr == ""


@pytest.mark.parametrize("args", [
    [], ["--help"], ["scores", "--help"], ["scores", "-f", "bogus"], ["scores", "--format"],
    ["scores", "--format=JSON"], ["scores", "-fjson"], ["scores", "x"], ["score", "sins"],
    ["--format", "json", "scores"], ["cohort", "--help"],
])
def test_everything_else_goes_to_typer(args: list[str]) -> None:
    assert _light.listing_format(args) is None


def test_shell_completion_goes_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_SPINEMETS_COMPLETE", "bash_source")
    assert _light.run(["scores"]) is False


def test_bad_format_is_typer_s_usage_error() -> None:
    result = _run(["scores", "-f", "bogus"])
    assert result.returncode == 2
    assert "bogus" in result.stderr
    assert result.stdout == ""


def test_closed_pipe_ends_quietly() -> None:
    reader, writer = os.pipe()
    os.close(reader)  # nobody reads: the first write fails with EPIPE
    try:
        result = subprocess.run([sys.executable, "-m", "spinemets", "scores", "-f", "jsonl"],
                                stdout=writer, stderr=subprocess.PIPE, text=True, check=False,
                                timeout=120)
    finally:
        os.close(writer)
    assert result.returncode == 1
    assert result.stderr == ""


def test_an_index_that_cannot_be_used_leaves_the_listing_to_typer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> list[dict[str, object]]:
        raise OSError("unreadable")

    monkeypatch.setattr("spinemets.scores._index.summaries", broken)
    assert _light.run(["scores"]) is False


def test_printing_error_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    def broken(*_args: object) -> None:
        raise ValueError("bad\nsecond line")

    monkeypatch.setattr(_light, "print_scores", broken)
    with pytest.raises(SystemExit) as info:
        _light.run(["scores"])
    assert info.value.code == 70
    assert capsys.readouterr().err == "error: internal error (ValueError): bad\n"


# --------------------------------------------------------------------------- one area per run


def _commands(application: typer.Typer) -> dict[str, object]:
    group = typer.main.get_command(application)
    assert isinstance(group, TyperGroup)
    return dict(group.commands)


def test_command_areas_name_the_area_of_each_command() -> None:
    full = _commands(_app.build())
    assert set(_app.COMMAND_AREAS) <= set(full)
    for command, area in _app.COMMAND_AREAS.items():
        assert command in _commands(_app.build((area,))), command
    # a command left out is alone in its area (typer would run it without its name)
    for command in set(full) - set(_app.COMMAND_AREAS):
        alone = [a for a in _app.AREAS if command in _commands(_app.build((a, "_scores")))]
        assert len(alone) == 1, command
        assert set(_commands(_app.build((alone[0], "_scores")))) == {command, "scores",
                                                                       "score"}


def test_building_twice_registers_nested_groups_once() -> None:
    _app.build()
    full = typer.main.get_command(_app.build())
    assert isinstance(full, TyperGroup)
    cohort = full.commands["cohort"]
    imaging = full.commands["imaging"]
    assert isinstance(cohort, TyperGroup)
    assert isinstance(imaging, TyperGroup)
    assert list(cohort.commands).count("model") == 1
    assert list(imaging.commands) == ["measure"]


@pytest.mark.parametrize("args", [
    ["cohort", "--help"], ["cohort", "model", "--help"], ["score", "--help"], ["user", "--help"],
    ["imaging", "measure", "--help"], ["triage", "-a", "limb_weakness=yes"],
    ["score", "nope"], ["cohort", "nope"], ["nope"], ["report", "--help"],
])
def test_one_area_app_prints_what_the_full_app_prints(args: list[str]) -> None:
    """``spinemets X ...`` (only X's area built) against the app with every area."""
    env = {**os.environ, "COLUMNS": "100"}
    partial = subprocess.run([sys.executable, "-c", PARTIAL, *args], capture_output=True,
                             text=True, check=False, timeout=120, env=env)
    full = subprocess.run([sys.executable, "-c", FULL, *args], capture_output=True, text=True,
                          check=False, timeout=120, env=env)
    assert (partial.returncode, partial.stdout, partial.stderr) == (
        full.returncode, full.stdout, full.stderr)


FULL = "from spinemets.cli import app\napp(prog_name='spinemets')\n"
PARTIAL = "import sys\nsys.argv[0] = 'spinemets'\nfrom spinemets.cli import main\nmain()\n"
