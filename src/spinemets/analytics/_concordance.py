"""Concordance (Harrell's C, Uno's C) and cumulative/dynamic time-dependent AUC.

Convention: ``risk`` is a *risk* score, higher = shorter expected survival. A pair (i, j) is
comparable when i has an event and ``t_j > t_i``, or ``t_j == t_i`` and j is censored (a subject
censored at the time of an event is counted as surviving longer). It is concordant when
``risk_i > risk_j``; a tie in risk counts one half. This is lifelines'
``concordance_index(time, -risk, event)`` and scikit-survival's ``concordance_index_censored``.

Uno's C weights each comparable pair by ``1 / G(t_i)^2`` and the td-AUC weights each case by
``1 / G(t_i)``, where G is the Kaplan-Meier estimate of the censoring distribution on the same
data (censoring at a tied event time is counted after the events), as in scikit-survival's
``concordance_index_ipcw`` and ``cumulative_dynamic_auc``.

The computation groups subjects by distinct risk value, so it is O(n x K) for K distinct values:
fast for score totals (K <= 20), and fine for continuous risks on small samples.

References
----------
Harrell FE, Lee KL, Mark DB. Multivariable prognostic models. Stat Med 1996;15:361-387.
Uno H, Cai T, Pencina MJ, D'Agostino RB, Wei LJ. On the C-statistics for evaluating overall
adequacy of risk prediction procedures with censored survival data. Stat Med 2011;30:1105-1117.
Uno H, Cai T, Tian L, Wei LJ. Evaluating prediction rules for t-year survivors with censored
regression models. J Am Stat Assoc 2007;102:527-537.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "Concordance",
    "censoring_survival",
    "cumulative_dynamic_auc",
    "harrell_c",
    "uno_c",
]

FloatArray = npt.NDArray[np.float64]
_CHUNK = 1 << 17
_MAX_LEVELS = 1 << 14


@dataclass(frozen=True, slots=True)
class Concordance:
    """A concordance index and its pair counts (weighted counts for Uno's C)."""

    c: float
    concordant: float
    tied_risk: float
    comparable: float

    def to_dict(self) -> dict[str, float]:
        return {"c": self.c, "concordant": self.concordant, "tied_risk": self.tied_risk,
                "comparable": self.comparable}


def _arrays(time: npt.ArrayLike, event: npt.ArrayLike, risk: npt.ArrayLike
            ) -> tuple[FloatArray, npt.NDArray[np.bool_], FloatArray]:
    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(event, dtype=np.bool_)
    r = np.asarray(risk, dtype=np.float64)
    if not (t.shape == e.shape == r.shape) or t.ndim != 1:
        msg = "time, event and risk must be 1-D arrays of the same length"
        raise ValueError(msg)
    if not (np.isfinite(t).all() and np.isfinite(r).all()):
        msg = "time and risk must be finite"
        raise ValueError(msg)
    return t, e, r


def censoring_survival(time: npt.ArrayLike, event: npt.ArrayLike, at: npt.ArrayLike
                       ) -> FloatArray:
    """Kaplan-Meier estimate of the censoring survival G at times ``at`` (right-continuous).

    Parameters
    ----------
    time, event : array_like
        Follow-up times and event indicators (True = event).
    at : array_like
        Times at which to evaluate G.

    Returns
    -------
    numpy.ndarray
        G(at); 1 before the first censoring.
    """
    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(event, dtype=np.bool_)
    uniq, inverse = np.unique(t, return_inverse=True)
    events = np.bincount(inverse, weights=e, minlength=len(uniq))
    counts = np.bincount(inverse, minlength=len(uniq)).astype(np.float64)
    censored = counts - events
    at_risk = counts[::-1].cumsum()[::-1] - events  # censoring counted after the events
    ratio = np.divide(censored, at_risk, out=np.zeros_like(censored), where=censored > 0)
    g = np.cumprod(1.0 - ratio)
    idx = np.searchsorted(uniq, np.asarray(at, dtype=np.float64), side="right") - 1
    return np.where(idx >= 0, g[np.clip(idx, 0, None)], 1.0)


def _pair_counts(t: FloatArray, e: npt.NDArray[np.bool_], r: FloatArray, weights: FloatArray
                 ) -> Concordance:
    levels, rank = np.unique(r, return_inverse=True)
    if len(levels) > _MAX_LEVELS:
        msg = f"risk has {len(levels)} distinct values; at most {_MAX_LEVELS} are supported"
        raise ValueError(msg)
    by_level = [np.sort(t[rank == k]) for k in range(len(levels))]
    censored_by_level = [np.sort(t[(rank == k) & ~e]) for k in range(len(levels))]
    events = np.flatnonzero(e)
    num = tie_total = den = conc_total = 0.0
    for start in range(0, len(events), _CHUNK):
        idx = events[start:start + _CHUNK]
        ti, li, wi = t[idx], rank[idx], weights[idx]
        m = np.empty((len(idx), len(levels)), dtype=np.float64)
        for k, (times_k, cens_k) in enumerate(zip(by_level, censored_by_level, strict=True)):
            later = len(times_k) - np.searchsorted(times_k, ti, side="right")
            same = (np.searchsorted(cens_k, ti, side="right")
                    - np.searchsorted(cens_k, ti, side="left"))
            m[:, k] = later + same
        below = np.cumsum(m, axis=1) - m  # comparable subjects with a lower risk level
        rows = np.arange(len(idx))
        conc = below[rows, li]
        ties = m[rows, li]
        total = m.sum(axis=1)
        num += float(np.sum(wi * (conc + 0.5 * ties)))
        den += float(np.sum(wi * total))
        conc_total += float(np.sum(wi * conc))
        tie_total += float(np.sum(wi * ties))
    if den == 0:
        msg = "no comparable pairs: the C-index is undefined"
        raise ValueError(msg)
    return Concordance(num / den, conc_total, tie_total, den)


def harrell_c(time: npt.ArrayLike, event: npt.ArrayLike, risk: npt.ArrayLike) -> Concordance:
    """Harrell's C of a risk score (higher risk = shorter survival).

    Parameters
    ----------
    time : array_like
        Follow-up time.
    event : array_like
        True when the event (death) was observed.
    risk : array_like
        Risk score; equals lifelines' ``concordance_index(time, -risk, event)``.

    Returns
    -------
    Concordance
        C and the pair counts.
    """
    t, e, r = _arrays(time, event, risk)
    return _pair_counts(t, e, r, np.ones_like(t))


def uno_c(time: npt.ArrayLike, event: npt.ArrayLike, risk: npt.ArrayLike) -> Concordance:
    """Uno's IPCW C of a risk score, censoring estimated on the same data (no truncation).

    Parameters
    ----------
    time, event, risk : array_like
        As for :func:`harrell_c`.

    Returns
    -------
    Concordance
        C and the weighted pair counts; equals scikit-survival's ``concordance_index_ipcw``
        with the same data as train and test set.
    """
    t, e, r = _arrays(time, event, risk)
    g = censoring_survival(t, e, t)
    if np.any(g[e] <= 0):
        msg = "censoring survival is zero at an event time: Uno's C is undefined"
        raise ValueError(msg)
    weights = np.where(e, 1.0 / np.where(g > 0, g, 1.0) ** 2, 0.0)
    return _pair_counts(t, e, r, weights)


def cumulative_dynamic_auc(time: npt.ArrayLike, event: npt.ArrayLike, risk: npt.ArrayLike,
                           times: Sequence[float]) -> list[float | None]:
    """Cumulative/dynamic AUC at each horizon: cases die by t, controls are alive after t.

    Parameters
    ----------
    time, event, risk : array_like
        As for :func:`harrell_c`.
    times : sequence of float
        Horizons (same unit as ``time``).

    Returns
    -------
    list of float or None
        AUC per horizon; None where there is no case or no control.
    """
    t, e, r = _arrays(time, event, risk)
    levels, rank = np.unique(r, return_inverse=True)
    g = censoring_survival(t, e, t)
    weight = np.where(e, 1.0 / np.where(g > 0, g, 1.0), 0.0)
    out: list[float | None] = []
    for horizon in times:
        case = e & (t <= horizon)
        control = t > horizon
        w_case = np.bincount(rank[case], weights=weight[case], minlength=len(levels))
        n_control = np.bincount(rank[control], minlength=len(levels)).astype(np.float64)
        if w_case.sum() == 0 or n_control.sum() == 0:
            out.append(None)
            continue
        below = np.cumsum(n_control) - n_control
        score = float(np.sum(w_case * (below + 0.5 * n_control)))
        out.append(score / (w_case.sum() * n_control.sum()))
    return out
