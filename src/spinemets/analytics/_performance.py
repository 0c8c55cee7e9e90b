"""Performance of a survival prediction at a horizon: calibration and decision curves (pure).

All functions take arrays and return numbers; no file, web or plotting code.

* :func:`cox_small`: an unpenalised Cox fit by Newton-Raphson (Breslow ties) for the few-column
  fits the validation needs (recalibrating a score, calibration slope, the smoothed calibration
  curve). It is checked against lifelines in the tests.
* :func:`km_at`: Kaplan-Meier survival at one horizon.
* :func:`calibration_at`: calibration slope, calibration-in-the-large (log observed/expected
  events), and the integrated calibration index (ICI) with E50 and E90 from a smoothed
  calibration curve (Cox regression of the outcome on a restricted cubic spline of the
  complementary log-log of the predicted risk, Austin, Harrell and van Klaveren 2020).
* :func:`net_benefit`: decision-curve net benefit of "treat when the predicted risk of death by
  the horizon is at least the threshold", with censoring handled by Kaplan-Meier (Vickers,
  Cronin, Elkin et al. 2008), against treat-all and treat-none (always 0).

References
----------
Austin PC, Harrell FE, van Klaveren D. Graphical calibration curves and the integrated
calibration index (ICI) for survival models. Stat Med 2020;39:2714-2742.
Crowson CS, Atkinson EJ, Therneau TM. Assessing calibration of prognostic risk scores. Stat
Methods Med Res 2016;25:1692-1706.
Vickers AJ, Cronin AM, Elkin EB, Gonen M. Extensions to decision curve analysis, a novel method
for evaluating diagnostic tests, prediction models and molecular markers. BMC Med Inform Decis
Mak 2008;8:53.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "CalibrationAt",
    "CoxSmall",
    "DecisionCurve",
    "RiskGroup",
    "calibration_at",
    "cox_small",
    "grouped_calibration",
    "km_at",
    "net_benefit",
    "rcs_basis",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class CoxSmall:
    """An unpenalised Cox fit: coefficients, their variance, Breslow baseline (x centred)."""

    coef: FloatArray
    variance: FloatArray
    center: FloatArray
    times: FloatArray  # distinct event times
    cumhaz: FloatArray  # baseline cumulative hazard at ``times`` (covariates at ``center``)
    converged: bool

    def cumhaz_at(self, t: npt.ArrayLike) -> FloatArray:
        """Baseline cumulative hazard at ``t`` (right-continuous step function)."""
        idx = np.searchsorted(self.times, np.asarray(t, dtype=np.float64), side="right") - 1
        return np.where(idx >= 0, self.cumhaz[np.clip(idx, 0, None)], 0.0)

    def lp(self, x: npt.ArrayLike) -> FloatArray:
        """Linear predictor of rows ``x`` (centred as at fit)."""
        xx = np.asarray(x, dtype=np.float64).reshape(-1, len(self.coef))
        return np.asarray((xx - self.center) @ self.coef, dtype=np.float64)


def _risk_sets(t: FloatArray) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Order (by time) and, per sorted row, the index of the first row of its tie group."""
    order = np.argsort(t, kind="stable")
    ts = t[order]
    first = np.searchsorted(ts, ts, side="left")
    return order, first


def _cox_parts(xs: FloatArray, es: BoolArray, first: npt.NDArray[np.intp], b: FloatArray
               ) -> tuple[float, FloatArray, FloatArray]:
    """Breslow log partial likelihood, gradient and information at ``b`` (rows time-sorted)."""
    eta = xs @ b
    eta = eta - eta.max()
    w = np.exp(eta)
    s0 = np.cumsum(w[::-1])[::-1][first]
    s1 = np.cumsum((w[:, None] * xs)[::-1], axis=0)[::-1][first]
    s2 = np.cumsum((w[:, None, None] * xs[:, :, None] * xs[:, None, :])[::-1],
                   axis=0)[::-1][first]
    ll = float(np.sum(eta[es] - np.log(s0[es])))
    mean = s1[es] / s0[es, None]
    grad = np.sum(xs[es] - mean, axis=0)
    info = np.sum(s2[es] / s0[es, None, None] - mean[:, :, None] * mean[:, None, :], axis=0)
    return ll, grad, info


def cox_small(time: npt.ArrayLike, event: npt.ArrayLike, x: npt.ArrayLike, *,
              max_iter: int = 50, tol: float = 1e-9) -> CoxSmall:
    """Unpenalised Cox regression (Breslow ties) by Newton-Raphson with step halving.

    Parameters
    ----------
    time, event : array_like
        Follow-up and event indicator.
    x : array_like
        Covariates, shape (n,) or (n, p); p small (the Hessian is p x p).
    max_iter, tol : int, float
        Iteration limit and convergence tolerance on the log-likelihood.

    Returns
    -------
    CoxSmall
        Coefficients, variance (inverse information), centring and Breslow baseline.
    """
    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(event, dtype=np.bool_)
    xx = np.asarray(x, dtype=np.float64)
    xx = xx.reshape(len(t), -1)
    center = xx.mean(axis=0)
    order, first = _risk_sets(t)
    xs, es = xx[order] - center, e[order]
    p = xs.shape[1]
    beta = np.zeros(p)

    ll, grad, info = _cox_parts(xs, es, first, beta)
    converged = False
    for _ in range(max_iter):
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            break
        factor = 1.0
        while factor > 1e-6:
            new = beta + factor * step
            new_ll, new_grad, new_info = _cox_parts(xs, es, first, new)
            if np.isfinite(new_ll) and new_ll >= ll - 1e-12:
                break
            factor /= 2
        else:
            break
        beta, grad, info = new, new_grad, new_info
        done = abs(new_ll - ll) < tol
        ll = new_ll
        if done:
            converged = True
            break
    try:
        variance = np.asarray(np.linalg.inv(info), dtype=np.float64)
    except np.linalg.LinAlgError:
        variance = np.full((p, p), np.nan)
    w = np.exp(xs @ beta)
    s0 = np.cumsum(w[::-1])[::-1][first]
    ts = t[order]
    event_times = np.unique(ts[es])
    # one increment per distinct event time: deaths / risk-set sum
    idx = np.searchsorted(ts, event_times, side="left")
    deaths = np.bincount(np.searchsorted(event_times, ts[es]),
                         minlength=len(event_times)).astype(np.float64)
    cumhaz = np.cumsum(deaths / s0[idx])
    return CoxSmall(beta, variance, center, event_times, cumhaz, converged)


def km_at(time: npt.ArrayLike, event: npt.ArrayLike, horizon: float) -> tuple[float, float]:
    """Kaplan-Meier survival at ``horizon`` and its Greenwood variance.

    Parameters
    ----------
    time, event : array_like
        Follow-up and event indicator.
    horizon : float
        Time at which to read the curve.

    Returns
    -------
    tuple of float
        (S(horizon), Var S(horizon)); (1, 0) for no rows.
    """
    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(event, dtype=np.bool_)
    if len(t) == 0:
        return 1.0, 0.0
    times = np.unique(t[e & (t <= horizon)])
    if len(times) == 0:
        return 1.0, 0.0
    ts = np.sort(t)
    at_risk = len(t) - np.searchsorted(ts, times, side="left")
    deaths = np.bincount(np.searchsorted(times, t[e & (t <= horizon)]),
                         minlength=len(times)).astype(np.float64)
    s = float(np.prod(1.0 - deaths / at_risk))
    denom = at_risk * (at_risk - deaths)
    green = float(np.sum(np.divide(deaths, denom, out=np.zeros_like(deaths),
                                   where=denom > 0)))
    return s, s * s * green


def rcs_basis(x: npt.ArrayLike, knots: npt.ArrayLike) -> FloatArray:
    """Restricted cubic spline basis (Harrell's parametrisation): x and k-2 non-linear terms."""
    xx = np.asarray(x, dtype=np.float64)
    k = np.asarray(knots, dtype=np.float64)
    scale = (k[-1] - k[0]) ** 2 if k[-1] > k[0] else 1.0
    cols = [xx]
    for j in range(len(k) - 2):
        term = (np.clip(xx - k[j], 0, None) ** 3
                - np.clip(xx - k[-2], 0, None) ** 3 * (k[-1] - k[j]) / (k[-1] - k[-2])
                + np.clip(xx - k[-1], 0, None) ** 3 * (k[-2] - k[j]) / (k[-1] - k[-2]))
        cols.append(term / scale)
    return np.column_stack(cols)


@dataclass(frozen=True)
class CalibrationAt:
    """Calibration of predicted risk of death by ``horizon``."""

    horizon: float
    slope: float | None
    intercept: float | None  # log(observed / expected events) up to the horizon; 0 is ideal
    ici: float | None
    e50: float | None
    e90: float | None
    observed_risk: float  # 1 - KM at the horizon
    mean_predicted_risk: float
    curve_predicted: FloatArray  # smoothed calibration curve: predicted risk grid
    curve_observed: FloatArray  # smoothed observed risk on that grid


def _censor_at(t: FloatArray, e: BoolArray, horizon: float) -> tuple[FloatArray, BoolArray]:
    return np.minimum(t, horizon), e & (t <= horizon)


def calibration_at(time: npt.ArrayLike, event: npt.ArrayLike, risk: npt.ArrayLike, *,
                   cumhaz: npt.ArrayLike, lp: npt.ArrayLike, horizon: float,
                   grid_points: int = 50) -> CalibrationAt:
    """Calibration of predicted risks of death by ``horizon``.

    Parameters
    ----------
    time, event : array_like
        Follow-up and event indicator.
    risk : array_like
        Predicted probability of death by ``horizon`` for each row.
    cumhaz : array_like
        Predicted cumulative hazard of each row at ``min(time, horizon)`` (for observed /
        expected).
    lp : array_like
        Linear predictor of each row (for the slope).
    horizon : float
        The horizon.
    grid_points : int
        Points of the smoothed curve.

    Returns
    -------
    CalibrationAt
        Slope (Cox regression of the outcome, censored at the horizon, on the linear
        predictor; 1 is ideal), intercept (log O/E, 0 is ideal), ICI, E50, E90.
    """
    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(event, dtype=np.bool_)
    p = np.clip(np.asarray(risk, dtype=np.float64), 1e-9, 1 - 1e-9)
    th, eh = _censor_at(t, e, horizon)
    s, _ = km_at(t, e, horizon)
    observed_events = float(eh.sum())
    expected = float(np.sum(np.asarray(cumhaz, dtype=np.float64)))
    intercept = float(np.log(observed_events / expected)) if observed_events > 0 and \
        expected > 0 else None
    slope: float | None = None
    ici = e50 = e90 = None
    grid = np.linspace(float(np.quantile(p, 0.01)), float(np.quantile(p, 0.99)), grid_points)
    curve = np.full(grid_points, np.nan)
    if observed_events >= 2 and np.ptp(np.asarray(lp, dtype=np.float64)) > 0:
        slope_fit = cox_small(th, eh, np.asarray(lp, dtype=np.float64))
        slope = float(slope_fit.coef[0]) if slope_fit.converged else None
        c = np.log(-np.log(1 - p))
        knots = np.quantile(c, [0.1, 0.5, 0.9])
        if np.all(np.diff(knots) > 0):
            fit = cox_small(th, eh, rcs_basis(c, knots))
            if fit.converged:
                h0 = float(fit.cumhaz_at([horizon])[0])
                obs = 1 - np.exp(-h0 * np.exp(fit.lp(rcs_basis(c, knots))))
                diff = np.abs(obs - p)
                ici, e50, e90 = (float(diff.mean()), float(np.median(diff)),
                                 float(np.quantile(diff, 0.9)))
                gc = np.log(-np.log(1 - np.clip(grid, 1e-9, 1 - 1e-9)))
                curve = 1 - np.exp(-h0 * np.exp(fit.lp(rcs_basis(gc, knots))))
    return CalibrationAt(horizon, slope, intercept, ici, e50, e90, 1 - s, float(p.mean()),
                         grid, curve)


@dataclass(frozen=True)
class DecisionCurve:
    """Net benefit at each threshold for a prediction, treat-all and treat-none (zero)."""

    horizon: float
    thresholds: FloatArray
    model: FloatArray
    treat_all: FloatArray


def net_benefit(time: npt.ArrayLike, event: npt.ArrayLike, risk: npt.ArrayLike,
                horizon: float, thresholds: Sequence[float]) -> DecisionCurve:
    """Decision-curve net benefit for predicted risks of death by ``horizon``.

    ``NB(pt) = P(risk >= pt) * [(1 - S_+(h)) - S_+(h) * pt / (1 - pt)]`` where ``S_+`` is the
    Kaplan-Meier survival at the horizon of the rows with ``risk >= pt``; treat-all uses every
    row; treat-none is 0. Without censoring before the horizon this is the classic
    ``TP/n - FP/n * pt / (1 - pt)``.

    Parameters
    ----------
    time, event : array_like
        Follow-up and event indicator.
    risk : array_like
        Predicted probability of death by ``horizon``.
    horizon : float
        The horizon.
    thresholds : sequence of float
        Threshold probabilities, each in (0, 1).

    Returns
    -------
    DecisionCurve
        Net benefit of the prediction and of treat-all at each threshold.
    """
    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(event, dtype=np.bool_)
    r = np.asarray(risk, dtype=np.float64)
    th = np.asarray(thresholds, dtype=np.float64)
    if np.any((th <= 0) | (th >= 1)):
        msg = "thresholds must lie strictly between 0 and 1"
        raise ValueError(msg)
    odds = th / (1 - th)
    s_all, _ = km_at(t, e, horizon)
    treat_all = (1 - s_all) - s_all * odds
    model = np.zeros(len(th))
    n = len(t)
    for k, pt in enumerate(th):
        chosen = r >= pt
        share = float(chosen.sum()) / n if n else 0.0
        if share == 0:
            continue
        s_pos, _ = km_at(t[chosen], e[chosen], horizon)
        model[k] = share * ((1 - s_pos) - s_pos * odds[k])
    return DecisionCurve(horizon, th, model, treat_all)


@dataclass(frozen=True)
class RiskGroup:
    """Observed against predicted risk of death by a horizon in one group of rows."""

    n: int
    predicted: float
    observed: float
    lower: float
    upper: float


def grouped_calibration(time: npt.ArrayLike, event: npt.ArrayLike, risk: npt.ArrayLike,
                        horizon: float, *, groups: int = 5) -> list[RiskGroup]:
    """Mean predicted risk against Kaplan-Meier observed risk by group of predicted risk.

    Rows are grouped by each distinct predicted risk when there are at most ``2 * groups``
    (a points score), else by quantile of predicted risk into ``groups`` groups. The observed
    risk's 95% interval is Greenwood's, clipped to [0, 1].
    """
    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(event, dtype=np.bool_)
    r = np.asarray(risk, dtype=np.float64)
    distinct = np.unique(r)
    if len(distinct) <= 2 * groups:
        labels = np.searchsorted(distinct, r)
    else:
        edges = np.quantile(r, np.linspace(0, 1, groups + 1)[1:-1])
        labels = np.searchsorted(edges, r, side="right")
    out: list[RiskGroup] = []
    for k in np.unique(labels):
        m = labels == k
        s, var = km_at(t[m], e[m], horizon)
        half = 1.959964 * float(np.sqrt(var))
        out.append(RiskGroup(int(m.sum()), float(r[m].mean()), 1 - s,
                             max(0.0, 1 - s - half), min(1.0, 1 - s + half)))
    return out
