"""Cold start of light commands: wall time of ``spinemets scores`` (and others) over 10 runs.

Each run is a fresh process (``python -m spinemets ...``), output discarded; the minimum is the
figure closest to the machine's own speed, the median shows the load. A bare ``python -c pass``
is printed beside them (the interpreter's own start). Target: ``spinemets scores`` under 200 ms.
Also lists the heavy modules each command imports (there should be none: no pandas, lifelines,
pyspark, pyarrow, numpy or web stack for the light commands).

Run: ``.venv/bin/python benchmarks/bench_startup.py [--runs 10]``. Prints figures only.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

HEAVY = ("pandas", "lifelines", "pyspark", "pyarrow", "numpy", "scipy", "duckdb", "fastapi",
         "starlette", "uvicorn", "sqlalchemy", "jinja2", "matplotlib", "fhir")
COMMANDS = [["scores"], ["scores", "--format", "json"], ["--help"], ["cohort", "--help"]]
PROBE = ("import runpy, sys\nsys.argv = ['spinemets', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('spinemets', run_name='__main__')\n"
         "except SystemExit:\n    pass\n"
         "heavy = sorted({m.split('.')[0] for m in sys.modules} & set(%r))\n"
         "sys.stderr.write('HEAVY:' + ','.join(heavy))\n")


def _time(cmd: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    bare = _time([sys.executable, "-c", "pass"], args.runs)
    print(f"{args.runs} runs each; min / median / max wall ms")
    print(f"  python -c pass{'':<26} {min(bare):6.0f} {statistics.median(bare):6.0f} "
          f"{max(bare):6.0f}")
    for command in COMMANDS:
        times = _time([sys.executable, "-m", "spinemets", *command], args.runs)
        probe = subprocess.run([sys.executable, "-c", PROBE % (HEAVY,), *command],
                               capture_output=True, text=True, check=False)
        heavy = probe.stderr.rsplit("HEAVY:", 1)[-1].strip() or "none"
        label = "spinemets " + " ".join(command)
        target = "  (target < 200 ms: " + ("met" if min(times) < 200 else "NOT met") + ")" \
            if command == ["scores"] else ""
        print(f"  {label:<40} {min(times):6.0f} {statistics.median(times):6.0f} "
              f"{max(times):6.0f}  heavy modules: {heavy}{target}")


if __name__ == "__main__":
    main()
