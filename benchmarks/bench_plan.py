"""Single-case plan latency against the number of lesions, and one-lesion assessment latency.

Run: ``.venv/bin/python benchmarks/bench_plan.py [--lesions 1 5 20 30] [--repeat 15]``.
Each case is a renal-cell primary (radioresistant) with one level per lesion, ESCC grades
cycling 0 to 3 and every SINS item recorded, so every NOMS table is exercised on every lesion.
The case is validated once; the timings are of :func:`spinemets.rules.plan` and
:func:`spinemets.case.assess` on the validated case, in process: the median of ``--repeat``
runs of CPU time (``time.process_time``, steadier than wall time on a shared machine).
A level belongs to one lesion, so a case has at most 30 lesions (O to S5): the benchmark
shows that 33 lesions are refused, then (``--beyond``) times the engine past that limit on
lesions whose levels are unknown (built directly, as the case format would refuse them) to show
that the cost per lesion stays flat. Prints figures only.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from spinemets.case import MAX_LESIONS, Case, Lesion, assess, load_case
from spinemets.domain import LEVELS
from spinemets.errors import CaseFormatError
from spinemets.rules import _plan as _plan_module
from spinemets.rules import plan
from spinemets.rules._plan import clear_caches

_ESCC = ("0", "1a", "1b", "1c", "2", "3")


def case_with(lesions: int) -> dict[str, Any]:
    """A synthetic case with ``lesions`` lesions, one level each (levels must not repeat)."""
    return {
        "format": "spinemets-case/1",
        "patient": {"age_years": 62, "sex": "male", "weight_kg": 80},
        "cancer": {"status": "known", "primary": "kidney"},
        "performance": {"kps": 80},
        "fitness": {"fit_for_open_surgery": "yes"},
        "labs": {"creatinine": {"value": 1.0, "unit": "mg/dL"}},
        "lesions": [{"levels": [LEVELS[i % len(LEVELS)]], "pain": "mechanical",
                     "bone_lesion": "lytic", "alignment": "normal", "collapse": "under_50",
                     "posterolateral": "unilateral", "escc": _ESCC[i % len(_ESCC)]}
                    for i in range(lesions)],
    }


def median_ms(call: Callable[[], object], repeat: int) -> float:
    call()  # warm the table caches
    times = []
    for _ in range(repeat):
        start = time.process_time()
        call()
        times.append(time.process_time() - start)
    return statistics.median(times) * 1000


def beyond_limit(lesions: int) -> Case:
    """A case with more lesions than levels (levels unknown), built past the format's check."""
    base = load_case({**case_with(1), "lesions": []})
    lesion = case_with(1)["lesions"][0] | {"levels": None}
    return base.model_copy(update={"lesions": tuple(
        Lesion.model_validate(lesion | {"escc": _ESCC[i % len(_ESCC)]})
        for i in range(lesions))})


def _cold_plan(case: Case) -> object:
    """plan() with nothing remembered (ranking of unknowns, triage and scores computed again)."""
    clear_caches()
    return plan(case)


def _without_ranking(case: Case) -> object:
    """plan() as before the ranking of unknowns existed (the engine alone, for comparison)."""
    saved = _plan_module.rank_unknowns
    _plan_module.rank_unknowns = lambda *args, **kwargs: ()
    try:
        clear_caches()
        return plan(case)
    finally:
        _plan_module.rank_unknowns = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lesions", type=int, nargs="+", default=[1, 5, 20, MAX_LESIONS])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--beyond", type=int, nargs="*", default=[120, 480])
    args = parser.parse_args()
    print("plan() time against the number of lesions (in process, median CPU ms; nothing")
    print("remembered between runs; 'engine' is the plan without ranking its unknowns)")
    print(f"{'lesions':>8} {'plan ms':>9} {'ms/lesion':>10} {'engine ms':>10} {'ranking':>8}")
    for n in args.lesions:
        case = load_case(case_with(n))
        ms = median_ms(lambda case=case: _cold_plan(case), args.repeat)  # type: ignore[misc]
        engine = median_ms(lambda case=case: _without_ranking(case),  # type: ignore[misc]
                           args.repeat)
        print(f"{n:>8} {ms:>9.2f} {ms / n:>10.3f} {engine:>10.2f} {ms / engine:>7.1f}x")
    try:
        load_case(case_with(MAX_LESIONS + 3))
    except CaseFormatError as exc:
        print(f"{MAX_LESIONS + 3:>8} refused: {exc.problems[0]}")
    for n in args.beyond:
        case = beyond_limit(n)
        ms = median_ms(lambda case=case: _cold_plan(case), 3)  # type: ignore[misc]
        print(f"{n:>8} {ms:>9.2f} {ms / n:>10.3f}   (engine only: levels unknown)")
    one = load_case(case_with(1))
    ms = median_ms(lambda: (clear_caches(), assess(one)), max(args.repeat, 200))
    print(f"assess(), one lesion, in process: {ms:.3f} ms (target < 1 ms)")


if __name__ == "__main__":
    main()
