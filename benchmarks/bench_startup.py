"""Cold start of light commands: wall time of ``spinemets scores`` (and others) over 10 runs.

Each run is a fresh process (``python -m spinemets ...``), output discarded; the minimum is the
figure closest to the machine's own speed, the median shows the load. A bare ``python -c pass``
is printed beside them (the interpreter's own start). Target: light commands under 200 ms.
Also lists the heavy modules each command imports (there should be none: no pandas, lifelines,
pyspark, pyarrow, numpy or web stack for the light commands), and which of typer, pydantic and
PyYAML it loads (``spinemets scores`` loads none of them: the listing comes from the score
tables' JSON index, printed without typer). The 200 ms target is checked on the best run's
wall time and on its CPU time (user + system; the figure to trust on a loaded machine).

Commands run as an installed package does: with bytecode. An editable install under
``PYTHONDONTWRITEBYTECODE=1`` (as on some CI machines) compiles every spinemets module from
source on every start, about 40 ms more; so the children get their own bytecode cache
(``PYTHONPYCACHEPREFIX`` in a temporary directory), filled by one untimed run of each command.
``--from-source`` times them without it (the environment as given).

Run: ``.venv/bin/python benchmarks/bench_startup.py [--runs 10] [--from-source]``. Prints
figures only.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("pandas", "lifelines", "pyspark", "pyarrow", "numpy", "scipy", "duckdb", "fastapi",
         "starlette", "uvicorn", "sqlalchemy", "jinja2", "matplotlib", "fhir")
FRAMEWORK = ("typer", "pydantic", "yaml")
COMMANDS = [["scores"], ["scores", "--format", "json"], ["--help"], ["cohort", "--help"],
            ["score", "sins", "--input", "{sins}"]]
#: One SINS lesion, complete, for ``spinemets score sins`` (written to a temporary file).
SINS = ('{"level": "T12", "pain": "mechanical", "bone_lesion": "lytic", "alignment": "normal", '
        '"collapse": "under_50", "posterolateral": "unilateral"}')
PROBE = ("import runpy, sys\nsys.argv = ['spinemets', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('spinemets', run_name='__main__')\n"
         "except SystemExit:\n    pass\n"
         "top = {m.split('.')[0] for m in sys.modules}\n"
         "sys.stderr.write('HEAVY:' + ','.join(sorted(top & set(%r))) + '|'\n"
         "                 + ','.join(sorted(top & set(%r))))\n")


#: The children's environment (:func:`main` sets a bytecode cache unless ``--from-source``).
ENV = dict(os.environ)


def _time(cmd: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) milliseconds of each run (after one untimed run)."""
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   env=ENV)
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                       env=ENV)
        wall.append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)
    return wall, cpu


def _met(ms: float) -> str:
    return "met" if ms < 200 else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--from-source", action="store_true",
                        help="no bytecode cache of the children's own (the environment as given)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        if not args.from_source:
            ENV.pop("PYTHONDONTWRITEBYTECODE", None)
            ENV["PYTHONPYCACHEPREFIX"] = cache
        _run_all(args.runs, args.from_source)


def _run_all(runs: int, from_source: bool) -> None:
    bare, bare_cpu = _time([sys.executable, "-c", "pass"], runs)
    how = ("from source as the environment gives it" if from_source
           else "with bytecode, as an installed package")
    print(f"{runs} runs each, {how}; wall ms min / median / max, then CPU ms min / median (CPU "
          "is the figure to trust on a loaded machine)")
    print(f"  python -c pass{'':<26} {min(bare):6.0f} {statistics.median(bare):6.0f} "
          f"{max(bare):6.0f}   CPU {min(bare_cpu):5.0f} {statistics.median(bare_cpu):5.0f}")
    with tempfile.TemporaryDirectory() as tmp:
        sins = Path(tmp) / "sins.json"
        sins.write_text(SINS, encoding="utf-8")
        for command in COMMANDS:
            _report([part.format(sins=sins) for part in command],
                    "spinemets " + " ".join(command).format(sins="sins.json"), runs)


def _report(command: list[str], label: str, runs: int) -> None:
    times, cpu = _time([sys.executable, "-m", "spinemets", *command], runs)
    probe = subprocess.run([sys.executable, "-c", PROBE % (HEAVY, FRAMEWORK), *command],
                           capture_output=True, text=True, check=False, env=ENV)
    heavy, _, framework = probe.stderr.rsplit("HEAVY:", 1)[-1].strip().partition("|")
    target = f"  (target < 200 ms, best run: wall {_met(min(times))}, CPU {_met(min(cpu))})"
    print(f"  {label:<40} {min(times):6.0f} {statistics.median(times):6.0f} "
          f"{max(times):6.0f}   CPU {min(cpu):5.0f} {statistics.median(cpu):5.0f}  "
          f"heavy modules: {heavy or 'none'}; loads: {framework or 'none'}{target}")


if __name__ == "__main__":
    main()
