"""Spark local[N] against the local engine: ``cohort score`` wall time on the same cohort.

Each run is a fresh subprocess (the Spark one includes starting the session, as a user pays
it). Per core: the local engine uses every core of the machine, Spark ``local[N]`` N of them;
the figure printed is wall x cores for each (CPU-seconds of capacity held), and their ratio
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
         "spark = spark_session(master=f'local[{sys.argv[3]}]')\n"
         "score_file_spark(Path(sys.argv[1]), Path(sys.argv[2]), session=spark)\n"
         "spark.stop()\n")


def _wall(code: str, *argv: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *argv], check=True, capture_output=True)
    return time.perf_counter() - start


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
    local = _wall(LOCAL, str(source), str(args.dir / "spark-bench-local.parquet"))
    spark = _wall(SPARK, str(source), str(args.dir / "spark-bench-out"), str(args.cores))
    print(f"{args.rows} rows: local engine {local:.1f} s on {machine} cores "
          f"({local * machine:.1f} core-s); Spark local[{args.cores}] {spark:.1f} s "
          f"({spark * args.cores:.1f} core-s, session start included); per core "
          f"{spark * args.cores / (local * machine):.2f}x the local engine (target <= 1.5x)")


if __name__ == "__main__":
    main()
