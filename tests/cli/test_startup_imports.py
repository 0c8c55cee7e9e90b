"""Light commands import no heavy library (the start-up time is measured by
``benchmarks/bench_startup.py``, not here)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "lifelines", "pyspark", "pyarrow", "numpy", "scipy", "duckdb", "fastapi",
         "starlette", "uvicorn", "sqlalchemy", "jinja2", "matplotlib")
PROBE = """
import json, runpy, sys
sys.argv = ["spinemets", *sys.argv[1:]]
try:
    runpy.run_module("spinemets", run_name="__main__")
except SystemExit:
    pass
sys.stderr.write("\\nMODULES:" + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


@pytest.mark.parametrize("command", [["scores"], ["scores", "--format", "json"], ["--help"]])
def test_light_commands_import_no_heavy_module(command: list[str]) -> None:
    result = subprocess.run([sys.executable, "-c", PROBE, *command], capture_output=True,
                            text=True, check=False, timeout=120)
    modules = set(json.loads(result.stderr.rsplit("MODULES:", 1)[1]))
    assert "spinemets" in modules
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


@pytest.mark.parametrize("command", [["scores"], ["scores", "--format", "json"],
                                     ["scores", "-f", "jsonl"]])
def test_score_listing_loads_no_typer_pydantic_or_table_models(command: list[str]) -> None:
    """The listing comes from the JSON index (``scores._index``), printed without typer."""
    result = subprocess.run([sys.executable, "-c", PROBE.replace(
        'm.split(".")[0] for m in sys.modules', "m for m in sys.modules"), *command],
        capture_output=True, text=True, check=False, timeout=120)
    modules = set(json.loads(result.stderr.rsplit("MODULES:", 1)[1]))
    assert "spinemets.scores._index" in modules
    for name in ("typer", "pydantic", "yaml", "spinemets.scores._schema",
                 "spinemets.scores._registry", "spinemets.cli._app"):
        assert name not in modules, name


def test_import_spinemets_is_light() -> None:
    probe = ("import json, sys, spinemets\n"
             "sys.stdout.write(json.dumps(sorted(sys.modules)))")
    modules = set(json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True,
                                            text=True, check=True, timeout=120).stdout))
    assert not {"pydantic", "yaml", "typer", "spinemets.scores._registry"} & modules


@pytest.mark.parametrize("command", [["--help"], ["cohort", "--help"], ["score", "--help"]])
def test_help_loads_no_pydantic_or_rich(command: list[str]) -> None:
    """An absent root ``--help`` is False, not None: typer does not coerce it via pydantic.
    Help is click's plain text, and the consoles are made on first print: no rich."""
    result = subprocess.run([sys.executable, "-c", PROBE, *command], capture_output=True,
                            text=True, check=False, timeout=120)
    modules = set(json.loads(result.stderr.rsplit("MODULES:", 1)[1]))
    assert "typer" in modules
    assert "pydantic" not in modules
    assert "rich" not in modules
    assert result.stdout.startswith("Usage: spinemets")
