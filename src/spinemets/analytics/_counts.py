"""Survival statistics from counts: Kaplan-Meier, log-rank, Harrell's C, Uno's C and td-AUC.

A score takes few values, so a cohort of any size reduces to the counts of
(risk value, group, time, event): a table whose size depends on the number of distinct times,
not on the rows. Every statistic here is computed from that table and equals the row-level
computation (lifelines' Kaplan-Meier with exponential Greenwood intervals and
``multivariate_logrank_test``; :func:`~spinemets.analytics.harrell_c`,
:func:`~spinemets.analytics.uno_c` and :func:`~spinemets.analytics.cumulative_dynamic_auc` for
the concordance family, whose conventions are stated in ``_concordance``). The formulas follow
lifelines 0.30 step by step so that results agree to rounding; the tests check them against
lifelines on rows.

Inputs are "weighted rows": arrays ``time``, ``event``, ``count`` and a grouping key, where
``count`` rows share the (key, time, event). Duplicated keys are allowed (they are summed).
Harrell's pair counts are exact integers (int64); the weighted ones are float64.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

from spinemets.analytics._concordance import Concordance
from spinemets.analytics._survival import GroupSurvival, LogRank, _finite

__all__ = ["CountTable", "count_table"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_Z95 = NormalDist().inv_cdf(0.975)  # lifelines: scipy.stats.norm.ppf(0.975)


@dataclass(frozen=True)
class CountTable:
    """Deaths and censorings per distinct time and level (one column per level).

    Attributes
    ----------
    times : ndarray of float, shape (T,)
        Distinct times, ascending.
    levels : ndarray, shape (K,)
        The distinct keys (risk values or group labels), ascending.
    deaths, censored : ndarray of int64, shape (T, K)
        Counts at each (time, level).
    """

    times: FloatArray
    levels: npt.NDArray[np.generic]
    deaths: IntArray
    censored: IntArray

    @property
    def at_time(self) -> IntArray:
        """Subjects whose time is exactly each time, per level."""
        return self.deaths + self.censored

    @property
    def at_risk(self) -> IntArray:
        """Subjects with time >= each time, per level."""
        n = self.at_time
        return n[::-1].cumsum(axis=0)[::-1]

    # --- Kaplan-Meier ---------------------------------------------------------------------

    def kaplan_meier(self, level: int, label: str, *, horizons: Sequence[float],
                     grid: FloatArray) -> GroupSurvival:
        """Kaplan-Meier summary of one level, as lifelines' ``KaplanMeierFitter`` reports it."""
        d_all = self.deaths[:, level]
        present = self.at_time[:, level] > 0
        times = self.times[present]
        deaths = d_all[present].astype(np.float64)
        population = self.at_risk[present, level].astype(np.float64)
        if len(times) == 0 or times[0] != 0.0:  # lifelines' timeline starts at 0 (births)
            times = np.concatenate(([0.0], times))
            deaths = np.concatenate(([0.0], deaths))
            population = np.concatenate(([population[0] if len(population) else 0.0],
                                         population))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_s = np.cumsum(np.log(population - deaths) - np.log(population))
            var_terms = deaths / (population * (population - deaths))
        var_terms[np.isinf(var_terms)] = 0.0
        variance = np.cumsum(var_terms)
        log_s = _ffill(log_s)
        variance = _ffill(variance)
        surv = np.exp(log_s)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.log(surv)
            lower = np.exp(-np.exp(np.log(-v) - _Z95 * np.sqrt(variance) / v))
            upper = np.exp(-np.exp(np.log(-v) + _Z95 * np.sqrt(variance) / v))
        lower = np.where(np.isnan(lower), 1.0, lower)
        upper = np.where(np.isnan(upper), 1.0, upper)
        n = int(self.at_time[:, level].sum())
        curve = _at(times, surv, lower, upper, grid)
        points = _at(times, surv, lower, upper, np.asarray(horizons, dtype=np.float64))
        at = {float(h): (points[1][i], points[2][i], points[3][i])
              for i, h in enumerate(horizons)}
        return GroupSurvival(label, n, int(d_all.sum()), _finite(_qth(times, surv)),
                             (_finite(_qth(times, lower)), _finite(_qth(times, upper))),
                             at, *curve)

    # --- log-rank -------------------------------------------------------------------------

    def logrank(self) -> LogRank | None:
        """Multivariate log-rank test across the levels (lifelines' formula; None if < 2)."""
        stats: Any = importlib.import_module("scipy.stats")  # heavy: only when needed

        keep = self.at_time.sum(axis=0) > 0
        n_groups = int(keep.sum())
        if n_groups < 2:
            return None
        deaths = self.deaths[:, keep].astype(np.float64)
        n_ij = self.at_risk[:, keep].astype(np.float64)
        d_i = deaths.sum(axis=1)
        n_i = n_ij.sum(axis=1)
        ev = (n_ij * (d_i / n_i)[:, None]).sum(axis=0)
        z = deaths.sum(axis=0) - ev
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (n_i - d_i) / (n_i - 1)
        ratio[~np.isfinite(ratio)] = 1.0
        factor = ratio * d_i / n_i**2
        v_ = np.column_stack([n_ij, n_i]) * np.sqrt(factor)[:, None]
        v = -(v_.T @ v_)
        ix = np.arange(n_groups)
        v[ix, ix] = v[ix, ix] - v[-1, ix]
        v = v[:-1, :-1]
        u = float(z[:-1] @ np.linalg.pinv(v[:-1, :-1]) @ z[:-1])
        return LogRank(u, n_groups - 1, float(stats.chi2.sf(u, n_groups - 1)))

    # --- censoring distribution and concordance ------------------------------------------

    def censoring_survival(self) -> FloatArray:
        """Kaplan-Meier estimate of the censoring survival G at each time (right-continuous;
        censoring at a tied event time is counted after the events)."""
        deaths = self.deaths.sum(axis=1).astype(np.float64)
        censored = self.censored.sum(axis=1).astype(np.float64)
        counts = deaths + censored
        at_risk = counts[::-1].cumsum()[::-1] - deaths
        ratio = np.divide(censored, at_risk, out=np.zeros_like(censored), where=censored > 0)
        return np.asarray(np.cumprod(1.0 - ratio), dtype=np.float64)

    def _comparable(self) -> IntArray:
        """Per (time, level): subjects comparable with a death at that time (later, or
        censored at the same time)."""
        n = self.at_time
        later = n[::-1].cumsum(axis=0)[::-1] - n
        return later + self.censored

    def harrell(self) -> Concordance:
        """Harrell's C with levels as risk values (higher = shorter survival); exact counts."""
        comparable = self._comparable()
        below = np.cumsum(comparable, axis=1) - comparable
        d = self.deaths
        concordant = int(np.sum(d * below))
        tied = int(np.sum(d * comparable))
        total = int(np.sum(d.sum(axis=1) * comparable.sum(axis=1)))
        if total == 0:
            msg = "no comparable pairs: the C-index is undefined"
            raise ValueError(msg)
        return Concordance((concordant + 0.5 * tied) / total, float(concordant), float(tied),
                           float(total))

    def uno(self) -> Concordance:
        """Uno's C: each comparable pair weighted by 1 / G(t_i)^2."""
        g = self.censoring_survival()
        has_death = self.deaths.sum(axis=1) > 0
        if np.any(g[has_death] <= 0):
            msg = "censoring survival is zero at an event time: Uno's C is undefined"
            raise ValueError(msg)
        w = np.where(has_death, 1.0 / np.where(g > 0, g, 1.0) ** 2, 0.0)
        comparable = self._comparable().astype(np.float64)
        below = np.cumsum(comparable, axis=1) - comparable
        wd = self.deaths * w[:, None]
        concordant = float(np.sum(wd * below))
        tied = float(np.sum(wd * comparable))
        total = float(np.sum(wd.sum(axis=1) * comparable.sum(axis=1)))
        if total == 0:
            msg = "no comparable pairs: the C-index is undefined"
            raise ValueError(msg)
        return Concordance((concordant + 0.5 * tied) / total, concordant, tied, total)

    def cumulative_dynamic_auc(self, horizons: Sequence[float]) -> list[float | None]:
        """Cumulative/dynamic AUC at each horizon (cases weighted by 1 / G(t_i))."""
        g = self.censoring_survival()
        w = 1.0 / np.where(g > 0, g, 1.0)
        out: list[float | None] = []
        n = self.at_time
        for horizon in horizons:
            case = self.times <= horizon
            w_case = (self.deaths[case] * w[case, None]).sum(axis=0)
            n_control = n[~case].sum(axis=0).astype(np.float64)
            if w_case.sum() == 0 or n_control.sum() == 0:
                out.append(None)
                continue
            below = np.cumsum(n_control) - n_control
            score = float(np.sum(w_case * (below + 0.5 * n_control)))
            out.append(score / (w_case.sum() * n_control.sum()))
        return out


def _ffill(x: FloatArray) -> FloatArray:
    bad = np.isnan(x)
    if not bad.any():
        return x
    idx = np.where(~bad, np.arange(len(x)), 0)
    np.maximum.accumulate(idx, out=idx)
    return np.asarray(x[idx], dtype=np.float64)


def _qth(times: FloatArray, values: FloatArray, q: float = 0.5) -> float:
    """lifelines' ``qth_survival_time``: the first time the curve is <= q (inf if never)."""
    if values[-1] > q:
        return math.inf
    return float(times[int(np.searchsorted(-values, -q))])


def _at(times: FloatArray, surv: FloatArray, lower: FloatArray, upper: FloatArray,
        grid: FloatArray) -> tuple[list[float], list[float], list[float], list[float]]:
    idx = np.searchsorted(times, grid, side="right") - 1
    safe = np.clip(idx, 0, None)
    before = idx < 0
    return (grid.tolist(), np.where(before, np.nan, surv[safe]).tolist(),
            np.where(before, 1.0, lower[safe]).tolist(),
            np.where(before, 1.0, upper[safe]).tolist())


def count_table(key: npt.ArrayLike, time: npt.ArrayLike, event: npt.ArrayLike,
                count: npt.ArrayLike) -> CountTable:
    """Build the (time x level) death and censoring matrices from weighted rows.

    Parameters
    ----------
    key : array_like
        Level of each row (a risk value or a group label).
    time : array_like of float
        Follow-up time.
    event : array_like of bool
        True when the event (death) was observed.
    count : array_like of int
        Number of subjects the row stands for.

    Returns
    -------
    CountTable
        The matrices, levels ascending.
    """
    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(event, dtype=np.bool_)
    c = np.asarray(count, dtype=np.int64)
    levels, level_idx = np.unique(np.asarray(key), return_inverse=True)
    times, time_idx = np.unique(t, return_inverse=True)
    shape = (len(times), len(levels))
    flat = time_idx.astype(np.int64) * len(levels) + level_idx
    size = shape[0] * shape[1]
    deaths = np.bincount(flat[e], weights=c[e], minlength=size)
    censored = np.bincount(flat[~e], weights=c[~e], minlength=size)
    return CountTable(times, levels, deaths.astype(np.int64).reshape(shape),
                      censored.astype(np.int64).reshape(shape))
