"""``cohort model``: time to fit (per bootstrap resample) and to report, on a SYNTHETIC cohort.

Run: ``.venv/bin/python benchmarks/bench_model.py [--n 1500] [--resamples 20] [--dir /tmp]``.
Fits the default predictors on a known-hazard cohort (``cohort model synth``), with
``--resamples`` bootstrap refits, then builds the report with as many resamples for the CIs.
Prints CPU (user + system of this process) and wall seconds, and the per-resample CPU cost, from
which the default 200 resamples can be extrapolated. Then the cost a site's local model adds to a
plan: its prediction for each demo case (``spinemets.local_model.predict``, the default
predictors) and the plan with and without the model. CPU time is the figure to trust on a
shared machine; wall time follows the load. Prints figures only.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--resamples", type=int, default=20)
    parser.add_argument("--dir", type=Path, default=Path("/tmp"))
    args = parser.parse_args()

    import pyarrow.parquet as pq

    from spinemets.cohort import score_file
    from spinemets.cohort._model import FitOptions, fit_model, read_cohort
    from spinemets.cohort._model_report import build_report
    from spinemets.cohort._model_synth import synth_known_hazard

    raw = args.dir / f"bench-model-{args.n}.parquet"
    scored = args.dir / f"bench-model-{args.n}-scored.parquet"
    pq.write_table(synth_known_hazard(args.n, 1), raw)
    score_file(raw, scored, keep="all")
    data = read_cohort(scored, time_column="time_months", event_column="event")
    fit_model(data, FitOptions(resamples=1))  # warm the imports
    for label, resamples in (("fit, 1 resample", 1), (f"fit, {args.resamples} resamples",
                                                       args.resamples)):
        cpu, wall = _cpu(), time.perf_counter()
        model = fit_model(data, FitOptions(resamples=resamples))
        print(f"{label}: {_cpu() - cpu:.1f} s CPU, {time.perf_counter() - wall:.1f} s wall "
              f"({model.data.complete_cases} patients, {model.data.events} events, "
              f"{model.sample_size.candidate_parameters} parameters)")
        if resamples == 1:
            one = _cpu() - cpu
    per = (_cpu() - cpu - one) / max(args.resamples - 1, 1)
    print(f"per extra resample: {per:.2f} s CPU; 200 resamples about {one + 199 * per:.0f} s "
          "CPU")
    cpu, wall = _cpu(), time.perf_counter()
    report = build_report(model, scored, resamples=args.resamples)
    print(f"report, {args.resamples} resamples for the CIs: {_cpu() - cpu:.1f} s CPU, "
          f"{time.perf_counter() - wall:.1f} s wall ({report['rows_compared']} rows compared, "
          f"{len(report['classic_scores'])} classic scores)")
    _local_model(model)


def _local_model(model: object) -> None:
    """Milliseconds the local model adds to one plan (its prediction from the plan's scores)."""
    import statistics

    from spinemets.case import assess, load_case
    from spinemets.local_model import ModelFile, predict
    from spinemets.rules import plan
    from spinemets.storage import demo_cases

    assert isinstance(model, ModelFile)
    cases = [load_case(c) for c in demo_cases()]
    assessments = [assess(c) for c in cases]
    rounds = 2000
    cpu = _cpu()
    for i in range(rounds):
        predict(model, assessments[i % len(assessments)])
    print(f"local model prediction: {(_cpu() - cpu) / rounds * 1000:.3f} ms CPU a plan "
          f"({len(model.coefficients)} terms, {len(cases)} demo cases)")

    def median_ms(local: ModelFile | None) -> float:
        times = []
        for i in range(60):
            start = time.perf_counter()
            plan(cases[i % len(cases)], local_model=local)
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    print(f"plan without / with the local model: {median_ms(None):.1f} / "
          f"{median_ms(model):.1f} ms wall (median of 60)")


if __name__ == "__main__":
    main()
