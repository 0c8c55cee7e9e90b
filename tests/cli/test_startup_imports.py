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
