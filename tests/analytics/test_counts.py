"""Statistics from counts equal lifelines (and scikit-survival) on the rows, to 1e-9.

Synthetic cohorts with heavy ties in time (rounded times) and in score (few values), an event
and a censoring at the same time, a band whose last subject dies (S = 0), and one cohort of
1M rows.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import concordance_index, median_survival_times
from sksurv.metrics import concordance_index_ipcw
from sksurv.util import Surv

from spinemets.analytics import (
    count_table,
    cumulative_dynamic_auc,
    harrell_c,
    uno_c,
)

TOL = 1e-9
Cohort = tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.float64]]


def _cohort(n: int, seed: int, *, decimals: int, levels: int) -> Cohort:
    rng = np.random.default_rng(seed)
    score = rng.integers(0, levels, n).astype(np.float64)
    true_time = rng.exponential(3.0 + 4.0 * score)
    follow = rng.uniform(1.0, 40.0, n)
    time = np.round(np.minimum(true_time, follow), decimals)
    return time, true_time <= follow, score


def _aggregate(time: npt.NDArray[np.float64], event: npt.NDArray[np.bool_],
               key: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], ...]:
    rows = np.column_stack([key, time, event.astype(np.float64)])
    cells, counts = np.unique(rows, axis=0, return_counts=True)
    return cells[:, 0], cells[:, 1], cells[:, 2].astype(bool), counts.astype(np.float64)


def _close(a: float | None, b: float) -> bool:
    if a is None:
        return not math.isfinite(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= TOL * max(1.0, abs(b))


CASES = [(3000, 1, 0, 4), (5000, 2, 1, 16), (4000, 3, 2, 9), (2000, 4, 0, 2)]


# lifelines 0.30 calls DataFrame.sum positionally; pandas warns about pandas 4 (third party)
@pytest.mark.filterwarnings("ignore:Starting with pandas version 4.0 all arguments of sum")
@pytest.mark.parametrize(("n", "seed", "decimals", "levels"), CASES)
def test_counts_equal_lifelines(n: int, seed: int, decimals: int, levels: int) -> None:
    time, event, score = _cohort(n, seed, decimals=decimals, levels=levels)
    key, t, e, c = _aggregate(time, event, score)
    assert len(t) < n  # ties in time and score: the table is smaller than the rows
    table = count_table(key, t, e, c)
    # Kaplan-Meier per level: curve, median and its CI, survival at horizons with CI
    grid = np.arange(0.0, float(time.max()) + 0.5, 0.5)
    for i, level in enumerate(table.levels):
        mask = score == level
        kmf = KaplanMeierFitter().fit(time[mask], event[mask])
        ours = table.kaplan_meier(i, str(level), horizons=[3.0, 6.0, 12.0], grid=grid)
        assert ours.n == mask.sum() and ours.events == event[mask].sum()
        assert _close(ours.median, kmf.median_survival_time_)
        ci = median_survival_times(kmf.confidence_interval_).to_numpy()[0]
        assert _close(ours.median_ci[0], ci[0]) and _close(ours.median_ci[1], ci[1])
        expected = kmf.survival_function_at_times(grid).to_numpy()
        assert np.allclose(ours.survival, expected, rtol=0, atol=TOL)
        bounds = kmf.confidence_interval_survival_function_
        idx = np.searchsorted(bounds.index.to_numpy(), [3.0, 6.0, 12.0], side="right") - 1
        for j, h in enumerate((3.0, 6.0, 12.0)):
            s, lo, hi = ours.survival_at[h]
            assert abs(s - float(kmf.survival_function_at_times(h).iloc[0])) <= TOL
            assert abs(lo - bounds.iloc[idx[j], 0]) <= TOL
            assert abs(hi - bounds.iloc[idx[j], 1]) <= TOL
    # log-rank across levels
    lr = table.logrank()
    theirs = multivariate_logrank_test(time, score, event)
    assert lr is not None
    assert _close(lr.statistic, float(theirs.test_statistic))
    assert _close(lr.p_value, float(theirs.p_value))
    assert lr.degrees_of_freedom == theirs.degrees_of_freedom
    # Harrell's C: lifelines; Uno's C and td-AUC: the row-level implementations
    assert _close(table.harrell().c, concordance_index(time, -score, event))
    row_harrell = harrell_c(time, event, score)
    assert table.harrell().comparable == row_harrell.comparable
    assert _close(table.uno().c, uno_c(time, event, score).c)
    for ours_auc, rows_auc in zip(table.cumulative_dynamic_auc([3.0, 6.0, 12.0]),
                                  cumulative_dynamic_auc(time, event, score, [3.0, 6.0, 12.0]),
                                  strict=True):
        assert ours_auc is not None and rows_auc is not None
        assert _close(ours_auc, rows_auc)


def test_uno_equals_scikit_survival() -> None:
    time, event, score = _cohort(3000, 7, decimals=1, levels=6)
    y = Surv.from_arrays(event, time)
    expected = concordance_index_ipcw(y, y, score)[0]
    assert _close(count_table(*_aggregate(time, event, score)).uno().c, expected)


def test_event_and_censoring_tied_and_band_dying_out() -> None:
    # an event and a censoring at the same time; level 1's last subject dies (S reaches 0)
    time = np.array([1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0])
    event = np.array([True, False, True, True, False, True, True])
    score = np.array([0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    table = count_table(*_aggregate(time, event, score))
    assert _close(table.harrell().c, concordance_index(time, -score, event))
    kmf = KaplanMeierFitter().fit(time[score == 1], event[score == 1])
    ours = table.kaplan_meier(1, "1", horizons=[4.0], grid=np.array([0.0, 4.0]))
    assert ours.survival_at[4.0][0] == 0.0 == float(kmf.survival_function_at_times(4.0).iloc[0])
    lifelines_ci = kmf.confidence_interval_survival_function_.iloc[-1].to_numpy()
    assert ours.survival_at[4.0][1:] == tuple(lifelines_ci)


# lifelines 0.30 calls DataFrame.sum positionally; pandas warns about pandas 4 (third party)
@pytest.mark.filterwarnings("ignore:Starting with pandas version 4.0 all arguments of sum")
def test_one_million_rows() -> None:
    time, event, score = _cohort(1_000_000, 11, decimals=2, levels=12)
    table = count_table(*_aggregate(time, event, score))
    assert _close(table.harrell().c, concordance_index(time, -score, event))
    theirs = multivariate_logrank_test(time, score, event)
    lr = table.logrank()
    assert lr is not None and _close(lr.statistic, float(theirs.test_statistic))
    mask = score == 5
    kmf = KaplanMeierFitter().fit(time[mask], event[mask])
    ours = table.kaplan_meier(5, "5", horizons=[12.0], grid=np.array([0.0, 6.0, 12.0]))
    assert _close(ours.median, kmf.median_survival_time_)
    assert abs(ours.survival_at[12.0][0]
               - float(kmf.survival_function_at_times(12.0).iloc[0])) <= TOL
