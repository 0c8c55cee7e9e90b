"""A cohort-fitted survival model: encoding, penalised Cox fit, validation (pure: arrays in).

* :class:`Predictor` / :func:`design`: how a column becomes model terms (a number, scaled per
  ``per`` units; a yes/no; one indicator per category against a reference category). Rows with a
  missing value in any predictor are excluded (complete-case analysis) and counted by the caller.
* :func:`fit_penalised_cox`: a ridge-penalised Cox model fitted with lifelines (covariates
  standardised inside lifelines, penalty ``penalizer * n * ||beta||^2 / 2``); the baseline
  survival is Breslow's, at the mean of the terms.
* :class:`Prediction`: a linear predictor and a baseline cumulative hazard. The fitted model and
  each recalibrated classic score (a one-term Cox model of the score total) are both predictions,
  so one function measures both (:func:`performance`).
* :func:`bootstrap_optimism`: Harrell's bootstrap optimism correction: refit on each resample,
  measure on the resample and on the original rows; the mean difference is the optimism.
* :func:`bootstrap_ci`: percentile 95% intervals of every measure over resamples of the rows.

References
----------
Harrell FE, Lee KL, Mark DB. Multivariable prognostic models. Stat Med 1996;15:361-387.
Steyerberg EW. Clinical Prediction Models. 2nd ed. Springer; 2019 (chapter 17, validation).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from spinemets.analytics._concordance import censoring_survival, cumulative_dynamic_auc
from spinemets.analytics._performance import (
    CalibrationAt,
    DecisionCurve,
    calibration_at,
    net_benefit,
)
from spinemets.errors import InputError

__all__ = [
    "CoxFit",
    "Performance",
    "Prediction",
    "Predictor",
    "bootstrap_ci",
    "bootstrap_optimism",
    "concordances",
    "design",
    "fit_penalised_cox",
    "flatten",
    "performance",
    "unseen",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: lifelines 0.30 calls DataFrame.sum positionally; pandas warns about pandas 4 (third party).
_PANDAS_SUM_WARNING = "Starting with pandas version 4.0 all arguments of sum"


@dataclass(frozen=True)
class Predictor:
    """One candidate predictor: its column, kind and encoding.

    ``kind`` is ``numeric`` (one term, per ``per`` units), ``boolean`` (one term, yes = 1) or
    ``categorical`` (one indicator per level in ``levels`` other than ``reference``; values in
    ``pooled`` count as the level ``other``).
    """

    column: str
    kind: str
    per: float = 1.0
    levels: tuple[str, ...] = ()
    reference: str | None = None
    pooled: tuple[str, ...] = ()

    def term_names(self) -> list[str]:
        if self.kind == "categorical":
            return [f"{self.column}={lv}" for lv in self.levels if lv != self.reference]
        if self.kind == "numeric" and self.per != 1.0:
            return [f"{self.column} (per {self.per:g})"]
        return [self.column]


def unseen(values: npt.NDArray[Any], p: Predictor) -> BoolArray:
    """Rows whose category the model did not see at fitting (never for non-categorical)."""
    if p.kind != "categorical":
        return np.zeros(len(values), dtype=np.bool_)
    allowed = set(p.levels) | set(p.pooled)
    return np.array([v is not None and v not in allowed for v in values], dtype=np.bool_)


def _category_codes(values: npt.NDArray[Any], p: Predictor, *, strict: bool
                    ) -> tuple[FloatArray, BoolArray]:
    new = unseen(values, p)
    if strict and new.any():
        bad = sorted({str(v) for v in values[new]})
        raise InputError.single(p.column, f"value {bad[0]!r} was not seen when the model was "
                                "fitted", value=bad[0], allowed=tuple(p.levels))
    known = np.array([v is not None for v in values], dtype=np.bool_) & ~new
    mapped = np.array(["other" if v in p.pooled else v for v in values], dtype=object)
    cols = [(mapped == lv).astype(np.float64) for lv in p.levels if lv != p.reference]
    return np.column_stack(cols) if cols else np.zeros((len(values), 0)), known


def design(columns: Mapping[str, npt.NDArray[Any]], predictors: Sequence[Predictor], *,
           strict: bool = True) -> tuple[FloatArray, BoolArray]:
    """The design matrix of ``predictors`` and which rows are complete.

    Parameters
    ----------
    columns : mapping of str to array
        Numeric and boolean columns as float arrays (NaN = missing); categorical columns as
        object arrays of str (None = missing).
    predictors : sequence of Predictor
        The encoding.
    strict : bool
        Raise on a category the model did not see; when False such a row is incomplete
        (see :func:`unseen`).

    Returns
    -------
    tuple
        (X of shape (n, terms), complete-row mask). Rows that are not complete hold zeros.

    Raises
    ------
    InputError
        With ``strict``, a categorical value that the model did not see (names the column
        and the levels).
    """
    n = len(next(iter(columns.values()))) if columns else 0
    blocks: list[FloatArray] = []
    complete = np.ones(n, dtype=np.bool_)
    for p in predictors:
        values = columns[p.column]
        if p.kind == "categorical":
            block, known = _category_codes(values, p, strict=strict)
        else:
            v = np.asarray(values, dtype=np.float64)
            known = np.isfinite(v)
            block = (np.where(known, v, 0.0) / p.per).reshape(-1, 1)
        complete &= known
        blocks.append(block)
    x = np.hstack(blocks) if blocks else np.zeros((n, 0))
    x[~complete] = 0.0
    return x, complete


@dataclass(frozen=True)
class Prediction:
    """Linear predictor of each row plus a baseline cumulative hazard (at lp = 0)."""

    lp: FloatArray
    times: FloatArray
    cumhaz: FloatArray

    def baseline_at(self, t: npt.ArrayLike) -> FloatArray:
        idx = np.searchsorted(self.times, np.asarray(t, dtype=np.float64), side="right") - 1
        return np.where(idx >= 0, self.cumhaz[np.clip(idx, 0, None)], 0.0)

    def risk_at(self, horizon: float) -> FloatArray:
        """Predicted probability of death by ``horizon``."""
        h0 = float(self.baseline_at([horizon])[0])
        return np.asarray(1.0 - np.exp(-h0 * np.exp(self.lp)), dtype=np.float64)

    def cumhaz_rows(self, time: FloatArray, horizon: float) -> FloatArray:
        """Each row's predicted cumulative hazard at ``min(time, horizon)``."""
        return np.asarray(self.baseline_at(np.minimum(time, horizon)) * np.exp(self.lp),
                          dtype=np.float64)

    def subset(self, idx: npt.NDArray[np.intp]) -> Prediction:
        return Prediction(self.lp[idx], self.times, self.cumhaz)


@dataclass(frozen=True)
class CoxFit:
    """A penalised Cox model: coefficient per term (original scale), SE, centring, baseline."""

    terms: tuple[str, ...]
    coef: FloatArray
    se: FloatArray
    center: FloatArray
    times: FloatArray  # distinct event times
    cumhaz: FloatArray  # baseline cumulative hazard at ``times`` (terms at ``center``)
    penalizer: float

    def predict(self, x: FloatArray) -> Prediction:
        return Prediction(np.asarray((x - self.center) @ self.coef, dtype=np.float64),
                          self.times, self.cumhaz)


def fit_penalised_cox(time: FloatArray, event: BoolArray, x: FloatArray,
                      terms: Sequence[str], *, penalizer: float) -> CoxFit:
    """Ridge-penalised Cox model with lifelines (Efron ties; Breslow baseline).

    Terms with no variation in ``x`` (e.g. a category absent from a bootstrap resample) are left
    out of the fit and get a coefficient of 0.

    Parameters
    ----------
    time, event : array
        Follow-up and event indicator.
    x : array
        Design matrix (n, terms).
    terms : sequence of str
        Term names.
    penalizer : float
        lifelines' ``penalizer`` (L2 only).

    Returns
    -------
    CoxFit
        The fitted model.
    """
    import pandas as pd  # noqa: PLC0415  (heavy import)
    from lifelines import CoxPHFitter  # noqa: PLC0415

    varying = np.ptp(x, axis=0) > 0 if x.shape[1] else np.zeros(0, dtype=np.bool_)
    names = [f"x{i}" for i in range(int(varying.sum()))]
    frame = pd.DataFrame(x[:, varying], columns=names)
    frame["_t"] = time
    frame["_e"] = event.astype(np.int8)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PANDAS_SUM_WARNING)
        warnings.filterwarnings("ignore", module="lifelines")
        cph = CoxPHFitter(penalizer=penalizer).fit(frame, "_t", "_e")
    coef = np.zeros(x.shape[1])
    se = np.full(x.shape[1], np.nan)
    coef[varying] = cph.params_.to_numpy()
    se[varying] = cph.standard_errors_.to_numpy()
    center = x.mean(axis=0)
    base = cph.baseline_cumulative_hazard_
    base_t = base.index.to_numpy(dtype=np.float64)
    base_h = base.iloc[:, 0].to_numpy(dtype=np.float64)
    event_times = np.unique(time[event])
    keep = np.isin(base_t, event_times)
    # lifelines centres at the means of the varying terms; so do we (constant terms: lp 0)
    return CoxFit(tuple(terms), coef, se, center, base_t[keep], base_h[keep], penalizer)


_PAIR_CHUNK = 1 << 22  # pair comparisons per block of events


def concordances(time: FloatArray, event: BoolArray, risk: FloatArray) -> tuple[float, float]:
    """Harrell's and Uno's C by direct pair comparison, in blocks of events.

    Same definitions as :func:`~spinemets.analytics.harrell_c` and
    :func:`~spinemets.analytics.uno_c` (checked equal in the tests), without their limit on
    distinct risk values; O(events x n) time, memory bounded by the block size.

    Raises
    ------
    ValueError
        No comparable pairs, or censoring survival zero at an event time.
    """
    g = censoring_survival(time, event, time)
    events = np.flatnonzero(event)
    if np.any(g[events] <= 0):
        msg = "censoring survival is zero at an event time: Uno's C is undefined"
        raise ValueError(msg)
    block = max(1, _PAIR_CHUNK // max(len(time), 1))
    sums = np.zeros(4)  # harrell num, den, uno num, den
    for start in range(0, len(events), block):
        idx = events[start:start + block]
        ti, ri = time[idx, None], risk[idx, None]
        comparable = (time[None, :] > ti) | ((time[None, :] == ti) & ~event[None, :])
        score = np.where(ri > risk[None, :], 1.0, np.where(ri == risk[None, :], 0.5, 0.0))
        num = np.sum(score * comparable, axis=1)
        den = np.sum(comparable, axis=1).astype(np.float64)
        w = 1.0 / g[idx] ** 2
        sums += [num.sum(), den.sum(), float(w @ num), float(w @ den)]
    if sums[1] == 0:
        msg = "no comparable pairs: the C-index is undefined"
        raise ValueError(msg)
    return float(sums[0] / sums[1]), float(sums[2] / sums[3])


@dataclass
class Performance:
    """Discrimination, calibration and net benefit of one prediction on one set of rows."""

    harrell_c: float | None
    uno_c: float | None
    auc: dict[float, float | None]
    calibration: dict[float, CalibrationAt]
    decision: dict[float, DecisionCurve]
    notes: list[str] = field(default_factory=list)


def performance(time: FloatArray, event: BoolArray, pred: Prediction,
                horizons: Sequence[float], thresholds: Sequence[float]) -> Performance:
    """Measure a prediction: Harrell's and Uno's C, td-AUC, calibration, decision curves.

    Parameters
    ----------
    time, event : array
        Follow-up and event indicator of the rows.
    pred : Prediction
        Linear predictor (higher = shorter survival) and baseline of the same rows.
    horizons : sequence of float
        Horizons for td-AUC, calibration and decision curves.
    thresholds : sequence of float
        Threshold probabilities of the decision curves.

    Returns
    -------
    Performance
        Every measure; a measure that is undefined on these rows is None (with a note).
    """
    notes: list[str] = []
    lp = np.round(pred.lp, 10)  # ties in risk are ties, whatever the float noise
    hc: float | None
    uc: float | None
    try:
        hc, uc = concordances(time, event, lp)
    except ValueError as exc:
        hc = uc = None
        notes.append(str(exc))
    auc = dict(zip(horizons, cumulative_dynamic_auc(time, event, lp, horizons), strict=True))
    cal = {h: calibration_at(time, event, pred.risk_at(h), cumhaz=pred.cumhaz_rows(time, h),
                             lp=lp, horizon=h)
           for h in horizons}
    dca = {h: net_benefit(time, event, pred.risk_at(h), h, thresholds) for h in horizons}
    return Performance(hc, uc, auc, cal, dca, notes)


def flatten(perf: Performance) -> dict[str, float | None]:
    """Every scalar measure of ``perf`` under a flat key (``harrell_c``, ``slope@12``...)."""
    out: dict[str, float | None] = {"harrell_c": perf.harrell_c, "uno_c": perf.uno_c}
    for h, v in perf.auc.items():
        out[f"auc@{h:g}"] = v
    for h, c in perf.calibration.items():
        for name in ("slope", "intercept", "ici", "e50", "e90"):
            out[f"{name}@{h:g}"] = getattr(c, name)
    for h, d in perf.decision.items():
        for k, pt in enumerate(d.thresholds):
            out[f"nb@{h:g}@{pt:g}"] = float(d.model[k])
            out[f"all@{h:g}@{pt:g}"] = float(d.treat_all[k])
    return out


def _resample_indices(n: int, resamples: int, seed: int) -> list[npt.NDArray[np.intp]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n, n) for _ in range(resamples)]


def bootstrap_ci(time: FloatArray, event: BoolArray,
                 predict: Callable[[npt.NDArray[np.intp]], Prediction],
                 horizons: Sequence[float], thresholds: Sequence[float], *, resamples: int,
                 seed: int) -> dict[str, tuple[float | None, float | None]]:
    """Percentile 95% interval of every measure over bootstrap resamples of the rows.

    Parameters
    ----------
    time, event : array
        The rows.
    predict : callable
        Row indices -> the prediction for those rows (refits any recalibration).
    horizons, thresholds : sequence of float
        As for :func:`performance`.
    resamples, seed : int
        Number of resamples and random seed.

    Returns
    -------
    dict
        Flat key (see :func:`flatten`) -> (lower, upper); (None, None) when fewer than half of
        the resamples gave a value.
    """
    draws: dict[str, list[float]] = {}
    for idx in _resample_indices(len(time), resamples, seed):
        flat = flatten(performance(time[idx], event[idx], predict(idx), horizons, thresholds))
        for key, value in flat.items():
            if value is not None and np.isfinite(value):
                draws.setdefault(key, []).append(value)
    out: dict[str, tuple[float | None, float | None]] = {}
    for key, values in draws.items():
        if len(values) * 2 < resamples:
            out[key] = (None, None)
        else:
            lo, hi = np.quantile(values, [0.025, 0.975])
            out[key] = (float(lo), float(hi))
    return out


@dataclass
class Optimism:
    """Bootstrap optimism of each flat measure, and how many refits failed."""

    resamples: int
    seed: int
    optimism: dict[str, float]
    failed: int


def bootstrap_optimism(time: FloatArray, event: BoolArray, x: FloatArray, *,
                       fit: Callable[[FloatArray, BoolArray, FloatArray], CoxFit],
                       horizons: Sequence[float], thresholds: Sequence[float],
                       resamples: int, seed: int) -> Optimism:
    """Harrell's bootstrap optimism: mean of (on the resample) minus (on the original rows).

    Parameters
    ----------
    time, event, x : array
        Development rows (complete cases) and their design matrix.
    fit : callable
        The whole fitting procedure, ``(time, event, x) -> CoxFit``.
    horizons, thresholds : sequence of float
        As for :func:`performance`.
    resamples, seed : int
        Number of resamples and random seed.

    Returns
    -------
    Optimism
        Flat key -> mean optimism; subtract it from the apparent value.
    """
    diffs: dict[str, list[float]] = {}
    failed = 0
    for idx in _resample_indices(len(time), resamples, seed):
        tb, eb, xb = time[idx], event[idx], x[idx]
        try:
            model = fit(tb, eb, xb)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            failed += 1
            continue
        boot = flatten(performance(tb, eb, model.predict(xb), horizons, thresholds))
        test = flatten(performance(time, event, model.predict(x), horizons, thresholds))
        for key, value in boot.items():
            other = test.get(key)
            if value is not None and other is not None and np.isfinite(value - other):
                diffs.setdefault(key, []).append(value - other)
    return Optimism(resamples, seed, {k: float(np.mean(v)) for k, v in diffs.items()}, failed)
