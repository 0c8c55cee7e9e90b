"""Kaplan-Meier by group, median survival, log-rank test and calibration, on lifelines.

Confidence intervals are lifelines' defaults (95%, exponential Greenwood: log(-log) scale).
Medians are the first time the KM curve falls to 0.5 or below (``inf`` when it never does).

References
----------
Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. J Am Stat Assoc
1958;53:457-481. Mantel N. Evaluation of survival data and two new rank order statistics arising
in its consideration. Cancer Chemother Rep 1966;50:163-170.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["GroupSurvival", "LogRank", "km_by_group", "logrank"]

_PANDAS_SUM_WARNING = "Starting with pandas version 4.0 all arguments of sum"


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True)
class GroupSurvival:
    """Kaplan-Meier summary of one group (one band of a score)."""

    group: str
    n: int
    events: int
    median: float | None  # None: the curve never reaches 0.5 (not estimable)
    median_ci: tuple[float | None, float | None]
    survival_at: dict[float, tuple[float, float, float]]  # horizon -> (S, lower, upper)
    timeline: list[float] = field(default_factory=list)
    survival: list[float] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)

    def to_dict(self, *, curve: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "group": self.group, "n": self.n, "events": self.events,
            "median_months": self.median, "median_ci": list(self.median_ci),
            "survival_at": {f"{h:g}": {"survival": s, "lower": lo, "upper": hi}
                            for h, (s, lo, hi) in self.survival_at.items()},
        }
        if curve:
            out["curve"] = {"time": self.timeline, "survival": self.survival,
                            "lower": self.lower, "upper": self.upper}
        return out


@dataclass(frozen=True)
class LogRank:
    """Multivariate log-rank test across groups."""

    statistic: float
    degrees_of_freedom: int
    p_value: float

    def to_dict(self) -> dict[str, float | int]:
        return {"statistic": self.statistic, "degrees_of_freedom": self.degrees_of_freedom,
                "p_value": self.p_value}


def _curve(kmf: Any, grid: npt.NDArray[np.float64]) -> tuple[list[float], ...]:
    surv = kmf.survival_function_at_times(grid).to_numpy()
    ci = kmf.confidence_interval_survival_function_
    idx = np.searchsorted(ci.index.to_numpy(), grid, side="right") - 1
    lower = ci.iloc[:, 0].to_numpy()[np.clip(idx, 0, None)]
    upper = ci.iloc[:, 1].to_numpy()[np.clip(idx, 0, None)]
    lower = np.where(idx >= 0, lower, 1.0)
    upper = np.where(idx >= 0, upper, 1.0)
    return (grid.tolist(), surv.tolist(), lower.tolist(), upper.tolist())


def _fit_group(label: str, t: npt.NDArray[np.float64], e: npt.NDArray[np.bool_],
               horizons: Sequence[float], grid: npt.NDArray[np.float64]) -> GroupSurvival:
    from lifelines import KaplanMeierFitter  # noqa: PLC0415  (heavy import)
    from lifelines.utils import median_survival_times  # noqa: PLC0415

    kmf = KaplanMeierFitter().fit(t, e, label=label)
    median_ci = median_survival_times(kmf.confidence_interval_).to_numpy()[0]
    timeline, surv, lower, upper = _curve(kmf, grid)
    points = _curve(kmf, np.asarray(horizons, dtype=np.float64))
    at = {float(h): (points[1][i], points[2][i], points[3][i]) for i, h in enumerate(horizons)}
    return GroupSurvival(label, len(t), int(e.sum()), _finite(kmf.median_survival_time_),
                         (_finite(median_ci[0]), _finite(median_ci[1])), at,
                         timeline, surv, lower, upper)


def km_by_group(time: npt.ArrayLike, event: npt.ArrayLike, groups: Sequence[str] | npt.ArrayLike,
                *, order: Sequence[str], horizons: Sequence[float] = (3.0, 6.0, 12.0),
                grid_step: float = 0.5) -> list[GroupSurvival]:
    """Kaplan-Meier estimate for each group, in ``order`` (groups with no rows are skipped).

    Parameters
    ----------
    time : array_like
        Follow-up time.
    event : array_like
        True when the event was observed.
    groups : array_like of str
        Group label of each row.
    order : sequence of str
        Groups to report, in this order.
    horizons : sequence of float
        Times at which to report survival with its confidence interval.
    grid_step : float
        Spacing of the plotted curve.

    Returns
    -------
    list of GroupSurvival
        One summary per non-empty group.
    """
    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(event, dtype=np.bool_)
    g = np.asarray(groups, dtype=object)
    grid = np.arange(0.0, float(t.max()) + grid_step, grid_step) if len(t) else np.zeros(1)
    out: list[GroupSurvival] = []
    for label in order:
        mask = g == label
        if mask.any():
            out.append(_fit_group(label, t[mask], e[mask], horizons, grid))
    return out


def logrank(time: npt.ArrayLike, event: npt.ArrayLike, groups: npt.ArrayLike) -> LogRank | None:
    """Log-rank test of equal survival across groups (None with fewer than two groups).

    Parameters
    ----------
    time, event : array_like
        Follow-up time and event indicator.
    groups : array_like
        Group label of each row.

    Returns
    -------
    LogRank or None
        Test statistic, degrees of freedom and p-value.
    """
    from lifelines.statistics import multivariate_logrank_test  # noqa: PLC0415

    g = np.asarray(groups, dtype=object)
    if len(set(g.tolist())) < 2:
        return None
    with warnings.catch_warnings():
        # lifelines 0.30 calls DataFrame.sum positionally; pandas 2.3 warns about pandas 4
        warnings.filterwarnings("ignore", message=_PANDAS_SUM_WARNING)
        result = multivariate_logrank_test(np.asarray(time, dtype=np.float64), g,
                                           np.asarray(event, dtype=np.bool_))
    return LogRank(float(result.test_statistic), int(result.degrees_of_freedom),
                   float(result.p_value))
