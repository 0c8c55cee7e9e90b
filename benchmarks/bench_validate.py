"""``cohort validate`` at scale: time and peak RSS beside a bare pyarrow scan of the same columns.

A scored cohort of N rows is written in a streaming way (chunks of 1M rows drawn from a pool of
really scored synthetic rows, with fresh survival times per chunk: exponential by Tokuhashi
band, follow-up 1-60 months, times in whole days as registries record dates, in months), so
writing 100M rows needs no more memory than 1M. ``--time-decimals 3`` writes times to 0.001 month
instead (about 60,000 distinct times: the count table then grows towards 10M cells).
Then, each in a fresh subprocess so that its peak RSS is its own:

- ``scan``: pyarrow reads the survival and score columns once (``pyarrow.dataset`` batches,
  all threads) and touches every batch: the I/O and decode floor;
- ``validate --engine duckdb`` and ``--engine arrow``: the whole validation (one pass + every
  statistic from the counts).

Run: ``.venv/bin/python benchmarks/bench_validate.py [--sizes 1000000 10000000] [--dir /tmp]
[--engines duckdb arrow]``. Targets: peak RSS under 1 GB at 100M rows and time within 1.5x of
the scan. Input files are kept in ``--dir`` and reused. On a shared machine wall time follows
the load; CPU time (user + system) is printed too. Prints figures only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
kind, path = sys.argv[1], Path(sys.argv[2])
start = time.perf_counter()
if kind == "scan":
    import pyarrow.dataset as ds
    cols = [c for c in ds.dataset(path).schema.names
            if c in ("time_months", "event") or c.endswith(("_total", "_band", "_status"))]
    rows = 0
    for batch in ds.dataset(path).to_batches(columns=cols, use_threads=True):
        rows += batch.num_rows
    extra = {"rows": rows}
else:
    from spinemets.cohort import validate_file
    report = validate_file(path, engine=kind)
    extra = {"rows": report.rows, "harrell_c": {s.slug: s.harrell.c if s.harrell else None
                                                for s in report.scores}}
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - start, "peak_mb": usage.ru_maxrss / 1024,
                  "cpu": usage.ru_utime + usage.ru_stime, **extra}))
"""


_DAYS_PER_MONTH = 365.25 / 12


def _write(path: Path, n: int, seed: int, time_decimals: int | None) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from spinemets.cohort import score_file, sidecar_path, synth_file
    from spinemets.cohort._synth import _tokuhashi_medians

    pool_rows = min(n, 200_000)
    raw, scored = path.with_suffix(".pool.parquet"), path.with_suffix(".pool-scored.parquet")
    synth_file(raw, pool_rows, seed)
    score_file(raw, scored, progress=False)
    pool = pq.read_table(scored).drop_columns(["time_months", "event"])
    keep = ["patient_id"] + [c for c in pool.column_names if c.endswith(
        ("_total", "_band", "_status"))]
    pool = pool.select(keep)
    band = pool.column("tokuhashi_2005_band").to_numpy(zero_copy_only=False)
    medians = _tokuhashi_medians()  # the published band medians, as cohort synth uses
    median = np.full(len(band), medians["ge_6_months"])
    for band_id, months in medians.items():
        median[band == band_id] = months
    rng = np.random.default_rng(seed)
    chunk = 1_000_000
    writer = None
    written = 0
    try:
        while written < n:
            m = min(chunk, n - written)
            idx = rng.integers(0, pool.num_rows, m)
            part = pool.take(pa.array(idx))
            true_time = rng.exponential(median[idx] / np.log(2))
            follow = rng.uniform(1.0, 60.0, m)
            months = np.minimum(true_time, follow)
            months = (np.round(months, time_decimals) if time_decimals is not None
                      else np.ceil(months * _DAYS_PER_MONTH) / _DAYS_PER_MONTH)
            part = part.append_column("time_months", pa.array(months))
            part = part.append_column("event", pa.array(true_time <= follow))
            if writer is None:
                writer = pq.ParquetWriter(path, part.schema)
            writer.write_table(part, row_group_size=1 << 20)
            written += m
    finally:
        if writer is not None:
            writer.close()
        for temporary in (raw, scored, sidecar_path(scored)):
            temporary.unlink(missing_ok=True)


def _run(kind: str, path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, kind, str(path)], capture_output=True,
                         text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/spinemets-bench"))
    parser.add_argument("--engines", nargs="*", default=["duckdb", "arrow"])
    parser.add_argument("--time-decimals", type=int, default=None,
                        help="survival times rounded to this many decimals of a month "
                        "(default: whole days)")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    for n in args.sizes:
        tag = "days" if args.time_decimals is None else f"dec{args.time_decimals}"
        path = args.dir / f"validate-{n}-{tag}.parquet"
        if not path.exists():
            start = time.perf_counter()
            _write(path, n, 7, args.time_decimals)
            print(f"{n} rows: wrote {path} ({path.stat().st_size / 1e6:.0f} MB) in "
                  f"{time.perf_counter() - start:.0f} s")
        scan = _run("scan", path)
        print(f"{n:>11} rows  scan          {scan['seconds']:7.1f} s  CPU {scan['cpu']:7.1f} s  "
              f"peak RSS {scan['peak_mb']:6.0f} MB")
        for engine in args.engines:
            res = _run(engine, path)
            print(f"{n:>11} rows  validate {engine:<6} {res['seconds']:7.1f} s  CPU "
                  f"{res['cpu']:7.1f} s  peak RSS {res['peak_mb']:6.0f} MB  "
                  f"{res['seconds'] / scan['seconds']:.2f}x the scan  (rows {res['rows']})")


if __name__ == "__main__":
    main()
