"""Fuzz matrix over EVERY CLI command and option (generated from the command tree): hostile
values one parameter at a time. No run may end in an uncaught exception (a traceback), change
an input file's bytes, or leave a partial output behind.

The matrix is generated from the live command tree, so a new command or option without values
in :data:`POOLS` fails :func:`test_every_parameter_has_hostile_values`. ``serve`` is left out
(it would start a server); its option parsing is typer's.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from tests.rules.conftest import vignette_case
from typer.testing import CliRunner

from spinemets import storage
from spinemets.cli import app
from spinemets.cli._guard import INTERNAL_ERROR

runner = CliRunner()

SKIPPED_COMMANDS = {"serve"}
#: Whole-matrix time budget (seconds); the matrix is ordered so every command is reached
#: early (each command's first variations come first).
BUDGET_S = 240.0

_FILES = ["{case}", "{bundle}", "{cohort}", "{empty}", "{garbage}", "{badjson}", "{deep}",
          "{dir}", "{missing}", "{nan}", "-"]
_OUTPUTS = ["{new}.json", "{new}.html", "{new}.csv", "{input}", "{input_link}", "{dir}",
            "{missing_dir}/x.json"]
_NUMBERS = ["1", "0", "-1", "99999999999999999999", "abc"]
_TEXT = ["ok", "", "x" * 5000, "\u202eevil\u0007"]

#: A baseline that leaves the option out.
UNSET = "{unset}"
#: Hostile values per parameter name (the first value is the baseline used for the others).
POOLS: dict[str, list[str]] = {
    "case": _FILES, "bundle": ["{bundle}", *_FILES], "source": ["{cohort}", *_FILES],
    "scored": ["{cohort}", *_FILES],
    "output": _OUTPUTS, "out": ["{new}.csv", *_OUTPUTS], "report": _OUTPUTS,
    "problems": ["{new}.csv", *_OUTPUTS], "out_dir": ["{new}", "{case}", "{dir}"],
    "file": ["{new}.bak", "{case}", "{dir}", "{garbage}", "{missing}"],
    "manifest": ["{garbage}", "{badjson}", "{missing}"],
    "key_file": ["{keyfile}", "{missing}", "{empty}", "{dir}"],
    "fmt": ["json", "text", "html", "bogus", ""],
    "slug": ["sins", "nope", "", "../x"],
    "lesion": ["L1", "0", "x" * 300],
    "answer": ["back_pain=yes", "=", "x=y", "back_pain", "saddle_numbness=maybe"],
    "author": _TEXT, "display_name": _TEXT, "spark_remote": ["sc://127.0.0.1:1", ""],
    "version": _NUMBERS, "n": _NUMBERS, "seed": _NUMBERS, "workers": _NUMBERS,
    "batch_size": _NUMBERS, "labs_days": _NUMBERS, "performance_days": _NUMBERS,
    "database_url": ["{db}", "sqlite:///{missing_dir}/x.db",
                     "postgresql+psycopg://nobody@127.0.0.1:1/none", "not a url", "mysql://x/y",
                     "sqlite:///{garbage}"],
    "username": ["alice", "", "x" * 500, "a\tb", "demo"],
    "role": ["clinician", "king", ""],
    "scores": ["sins", "nope", ""], "keep": ["id", "nope"],
    "engine": ["local", "bogus"], "time": ["time", "nope"], "event": ["event", "nope"],
    "accept_stale": ["all", "Observation/x"], "as_of": ["2025-01-01", "nope", "99999-1-1"],
    "interactive": [], "password_stdin": [], "encrypt": [],
    # cohort: Spark master (ignored unless --engine spark), validation grid and cell cap
    "master": ["local[1]", "", "x" * 500], "time_resolution": ["1", "0", "-1", "abc", "1e999"],
    "max_cells": _NUMBERS,
    # cohort model fit/report/predict
    "model_file": ["{badjson}", *_FILES], "data": ["{cohort}", *_FILES],
    "predictors": ["age", "", "nope", "age,age", "x" * 500], "resamples": _NUMBERS,
    "penalizer": ["0.1", "-1", "nan", "inf", "abc"], "name": _TEXT, "force": [],
    "id_column": ["id", "nope", ""],
    # plan / report --local-model (baseline: not given, so the case variations still run)
    "local_model": [UNSET, *_FILES],
    # user link-oidc
    "subject": ["sub-1", *_TEXT], "issuer": ["https://idp.example", *_TEXT],
    "keep_password": [],
    # imaging measure
    "ct": _FILES, "mask": _FILES, "label_map": ["{badjson}", *_FILES],
    "body_mask": _FILES, "lesion_mask": _FILES, "overlay": ["{new}.png", *_OUTPUTS],
}


def _commands() -> Iterator[tuple[list[str], Any]]:
    root = typer.main.get_command(app)

    def walk(command: Any, prefix: list[str], ctx: typer.Context) -> Iterator[Any]:
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                yield from walk(sub, [*prefix, name], typer.Context(sub, parent=ctx))
        else:
            yield prefix, command

    yield from walk(root, [], typer.Context(root))


def _is_flag(param: Any) -> bool:
    return bool(getattr(param, "is_flag", False))


def _is_argument(param: Any) -> bool:
    return not getattr(param, "opts", ["-"])[0].startswith("-")


def test_every_parameter_has_hostile_values() -> None:
    missing = [(" ".join(path), p.name) for path, command in _commands()
               if path[0] not in SKIPPED_COMMANDS for p in command.params
               if p.name not in POOLS]
    assert missing == []


class _World:
    """The files a run can name; inputs are hashed before and after every run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.inputs = root / "inputs"
        self.inputs.mkdir()
        self.outs = root / "outs"
        self.outs.mkdir()
        write = self._write
        self.files = {
            "case": write("case.json", json.dumps(vignette_case("v03"))),
            "bundle": write("bundle.json", runner.invoke(app, ["fhir", "synth", "--n", "1"])
                            .stdout.splitlines()[0]),
            "cohort": write("cohort.csv", "id,age\n1,60\n"),
            "empty": write("empty.json", ""),
            "garbage": write("garbage.bin", bytes(range(256)) * 4),
            "badjson": write("bad.json", '{"format": "spinemets-case/1", '),
            "deep": write("deep.json", "[" * 20000 + "]" * 20000),
            "nan": write("nan.json", '{"format": "spinemets-case/1", "id": NaN, "x": 1e999}'),
            "keyfile": write("key.txt", "k" * 40),
        }
        self.dir = self.inputs / "a-directory"
        self.dir.mkdir()
        self.db = root / "db.sqlite3"
        engine = storage.make_engine(f"sqlite:///{self.db}")
        storage.migrate(engine)
        engine.dispose()
        self.counter = 0

    def _write(self, name: str, content: str | bytes) -> Path:
        path = self.inputs / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def digest(self) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(self.inputs.iterdir()) if p.is_file()}

    def expand(self, value: str, input_value: str) -> tuple[str, Path | None]:
        """The concrete value, and the new output path it names (if any)."""
        self.counter += 1
        new = self.outs / f"out-{self.counter}"
        out: Path | None = None
        if value.startswith("{new}"):
            out = Path(str(new) + value.removeprefix("{new}"))
            return str(out), out
        if value == "{input_link}":
            link = Path(str(new) + "-link.json")
            link.symlink_to(Path(input_value).absolute())
            return str(link), None
        table = {"{input}": input_value,
                 "{dir}": str(self.dir), "{missing}": str(self.inputs / "missing.json"),
                 "{missing_dir}": str(self.root / "no-such-dir"), "{db}": f"sqlite:///{self.db}",
                 **{"{" + k + "}": str(v) for k, v in self.files.items()}}
        for key, concrete in table.items():
            value = value.replace(key, concrete)
        return value, out


def _invocations(world: _World) -> Iterator[tuple[list[str], list[Path]]]:
    """Per command: the baseline, then each parameter's values in turn (round robin)."""
    per_command: list[list[tuple[list[str], list[Path]]]] = []
    for path, command in _commands():
        if path[0] in SKIPPED_COMMANDS:
            continue
        params = list(command.params)
        variants: list[dict[str, str | None]] = [{}]
        for param in params:
            pool = POOLS[param.name or ""]
            if _is_flag(param):
                variants.append({param.name or "": "<flag>"})
            else:
                variants.extend({param.name or "": v} for v in pool[1:])
        runs = []
        for variant in variants:
            args, outputs = list(path), []
            input_value = ""
            for param in params:
                name = param.name or ""
                chosen = variant.get(name, None if _is_flag(param) else POOLS[name][0])
                if chosen is None or chosen == UNSET:
                    continue
                if _is_flag(param):
                    args.append(param.opts[-1])
                    continue
                concrete, out = world.expand(chosen, input_value or str(world.files["case"]))
                if _is_argument(param):
                    input_value = input_value or concrete
                    args.append(concrete)
                else:
                    args.extend([param.opts[-1], concrete])
                if out is not None:
                    outputs.append(out)
            runs.append((args, outputs))
        per_command.append(runs)
    longest = max(len(r) for r in per_command)
    for index in range(longest):
        for runs in per_command:
            if index < len(runs):
                yield runs[index]


def test_no_traceback_no_changed_input_no_partial_output(tmp_path: Path) -> None:
    world = _World(tmp_path)
    before = world.digest()
    env = {"SPINEMETS_DATABASE_URL": f"sqlite:///{world.db}",
           "SPINEMETS_BACKUP_KEY": "k" * 40}
    started = time.monotonic()
    failures: list[str] = []
    runs = 0
    for args, outputs in _invocations(world):
        if time.monotonic() - started > BUDGET_S:
            break
        runs += 1
        with warnings.catch_warnings():
            # getpass warns that it cannot hide the echo without a terminal (a real run
            # prints the warning; pytest would turn it into an error)
            warnings.simplefilter("ignore", getpass.GetPassWarning)
            result = runner.invoke(app, args, input="secret password 123\n", env=env)
        shown = " ".join(a[:40] for a in args)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            failures.append(f"{shown}: uncaught {type(result.exception).__name__}: "
                            f"{result.exception}"[:300])
        if result.exit_code == INTERNAL_ERROR:
            failures.append(f"{shown}: internal error: {result.output.strip()[-200:]}")
        if "Traceback" in result.output:
            failures.append(f"{shown}: traceback printed")
        now = world.digest()
        changed = [name for name, digest in before.items() if now.get(name) != digest]
        if changed:
            failures.append(f"{shown}: changed input file(s) {changed}")
            before = now
        if result.exit_code != 0:
            failures.extend(f"{shown}: left {out.name} after failing" for out in outputs
                            if out.exists() and out.is_file())
        partial = [p.name for p in tmp_path.rglob("*.part")]
        if partial:
            failures.append(f"{shown}: partial files {partial}")
    assert runs >= 100, f"only {runs} runs fitted in the time budget"
    assert failures == [], "\n".join(failures)
