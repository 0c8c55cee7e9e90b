"""Spark local[N] against the local engine: ``cohort score`` wall time on the same cohort.

Each run is a fresh subprocess. Spark is given two figures: the whole run, including starting
the session (as a user of ``cohort score --engine spark`` pays it), and the job alone, timed
inside that run on the started session (its first job, so it still includes the JVM warming
up). Per core: the local engine uses every core of the machine, Spark ``local[N]`` N of them;
the figures printed are wall x cores for each (CPU-seconds of capacity held), and their ratio
(issue 26 target: Spark local[2] within 1.5x of the local engine per core at 10M rows).

Run: ``.venv/bin/python benchmarks/bench_spark.py [--rows 1000000] [--cores 2] [--dir /tmp]``.
Prints figures only; on a shared machine wall time follows the load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

LOCAL = ("import sys\nfrom pathlib import Path\nfrom spinemets.cohort import score_file\n"
         "score_file(Path(sys.argv[1]), Path(sys.argv[2]), progress=False)\n")
SPARK = ("import os, sys\nfrom pathlib import Path\n"
         "os.environ.setdefault('SPARK_LOCAL_IP', '127.0.0.1')\n"
         "from spinemets.cohort._spark import score_file_spark, spark_session\n"
         "import time\n"
         "spark = spark_session(master=f'local[{sys.argv[3]}]')\n"
         "start = time.perf_counter()\n"
         "score_file_spark(Path(sys.argv[1]), Path(sys.argv[2]), session=spark)\n"
         "print(time.perf_counter() - start)\n"
         "spark.stop()\n")


def _wall(code: str, *argv: str) -> tuple[float, str]:
    """Wall time of ``code`` in a fresh interpreter, and what it printed."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *argv], check=True, capture_output=True,
                          text=True)
    return time.perf_counter() - start, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/spinemets-bench"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    source = args.dir / f"spark-cohort-{args.rows}.parquet"
    if not source.exists():
        from spinemets.cohort import synth_file

        synth_file(source, args.rows, 5)
    machine = os.cpu_count() or 1
    local, _ = _wall(LOCAL, str(source), str(args.dir / "spark-bench-local.parquet"))
    spark, printed = _wall(SPARK, str(source), str(args.dir / "spark-bench-out"),
                           str(args.cores))
    job = float(printed.split()[-1])
    base = local * machine
    print(f"{args.rows} rows, load average {os.getloadavg()[0]:.2f} at the end: local engine "
          f"{local:.1f} s on {machine} cores ({base:.1f} core-s)")
    for label, wall in (("with session start", spark), ("job on a started session", job)):
        print(f"  Spark local[{args.cores}] {label}: {wall:.1f} s ({wall * args.cores:.1f} "
              f"core-s); per core {wall * args.cores / base:.2f}x the local engine "
              "(target <= 1.5x)")

if __name__ == "__main__":
    main()
