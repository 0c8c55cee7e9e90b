"""Model statistics against independent implementations (lifelines, scikit-survival) and hand
computations: Cox fits, Harrell/Uno C and td-AUC of a fitted model, decision curves."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.utils import concordance_index
from sksurv.metrics import concordance_index_ipcw
from sksurv.metrics import cumulative_dynamic_auc as sksurv_auc
from sksurv.util import Surv

from spinemets.analytics import harrell_c, uno_c
from spinemets.analytics._model import (
    concordances,
    fit_penalised_cox,
    performance,
)
from spinemets.analytics._performance import calibration_at, cox_small, km_at, net_benefit

HORIZONS = [3.0, 6.0, 12.0]


def _cohort(seed: int, n: int = 600) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.normal(size=n), rng.random(n) < 0.4, rng.normal(size=n)])
    rate = 0.08 * np.exp(x @ np.array([0.6, 0.5, -0.3]))
    true = rng.exponential(1 / rate)
    follow = rng.uniform(4, 40, n)
    return np.minimum(true, follow), true <= follow, x.astype(float)


def _lifelines(t: np.ndarray, e: np.ndarray, x: np.ndarray, penalizer: float) -> CoxPHFitter:
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    frame["t"], frame["e"] = t, e
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CoxPHFitter(penalizer=penalizer).fit(frame, "t", "e")


def test_cox_small_equals_lifelines() -> None:
    t, e, x = _cohort(1)  # continuous times: no ties, so Breslow = Efron
    ours = cox_small(t, e, x)
    theirs = _lifelines(t, e, x, 0.0)
    assert ours.converged
    # lifelines stops its Newton-Raphson at a looser tolerance than ours
    assert ours.coef == pytest.approx(theirs.params_.to_numpy(), abs=1e-5)
    assert np.sqrt(np.diag(ours.variance)) == pytest.approx(
        theirs.standard_errors_.to_numpy(), rel=1e-4)
    base = theirs.baseline_cumulative_hazard_
    at = base.index.to_numpy()[[5, 50, 200]]
    assert ours.cumhaz_at(at) == pytest.approx(base.iloc[[5, 50, 200], 0].to_numpy(), rel=1e-4)


def test_penalised_fit_predicts_like_lifelines() -> None:
    t, e, x = _cohort(2)
    fit = fit_penalised_cox(t, e, x, ["a", "b", "c"], penalizer=0.05)
    theirs = _lifelines(t, e, x, 0.05)
    assert fit.coef == pytest.approx(theirs.params_.to_numpy(), abs=1e-8)
    frame = pd.DataFrame(x[:20], columns=["x0", "x1", "x2"])
    at = float(np.sort(t[e])[100])  # an event time: lifelines interpolates between them
    expected = theirs.predict_survival_function(frame, times=[at]).to_numpy()[0]
    assert 1 - fit.predict(x[:20]).risk_at(at) == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize("seed", [3, 4])
def test_model_c_and_auc_agree_with_lifelines_and_sksurv(seed: int) -> None:
    t, e, x = _cohort(seed)
    t = np.round(t, 1)  # some tied times
    fit = fit_penalised_cox(t, e, x, ["a", "b", "c"], penalizer=0.01)
    pred = fit.predict(x)
    perf = performance(t, e, pred, HORIZONS, [0.2, 0.5])
    lp = np.round(pred.lp, 10)
    assert perf.harrell_c == pytest.approx(concordance_index(t, -lp, e), abs=1e-12)
    y = Surv.from_arrays(e, t)
    assert perf.uno_c == pytest.approx(concordance_index_ipcw(y, y, lp)[0], abs=1e-10)
    assert list(perf.auc.values()) == pytest.approx(list(sksurv_auc(y, y, lp, HORIZONS)[0]),
                                                    abs=1e-10)


@pytest.mark.parametrize("seed", range(3))
def test_blockwise_concordance_equals_the_level_counting_one(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.round(rng.exponential(10, 700))
    e = rng.random(700) < 0.6
    r = rng.integers(0, 12, 700).astype(float) if seed == 0 else rng.normal(size=700)
    hc, uc = concordances(t, e, r)
    assert hc == pytest.approx(harrell_c(t, e, r).c, abs=1e-12)
    assert uc == pytest.approx(uno_c(t, e, r).c, abs=1e-12)


def test_net_benefit_by_hand_without_censoring() -> None:
    # 10 patients, everyone followed past 12 months or dead before: no censoring before 12.
    time = np.array([2, 5, 8, 11, 20, 30, 30, 30, 30, 30], dtype=float)
    event = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], dtype=bool)
    risk = np.array([0.9, 0.7, 0.3, 0.6, 0.8, 0.2, 0.1, 0.4, 0.05, 0.35])
    dc = net_benefit(time, event, risk, 12.0, [0.25, 0.5])
    # pt = 0.25: treated = risk >= 0.25 -> ids 0,1,2,3,4,7,9: TP = 4, FP = 3
    assert dc.model[0] == pytest.approx(4 / 10 - 3 / 10 * (0.25 / 0.75))
    # pt = 0.5: treated = ids 0,1,3,4: TP = 3, FP = 1
    assert dc.model[1] == pytest.approx(3 / 10 - 1 / 10 * 1.0)
    # treat all: TP = 4, FP = 6
    assert dc.treat_all == pytest.approx([0.4 - 0.6 / 3, 0.4 - 0.6])


def test_net_benefit_by_hand_with_censoring() -> None:
    # one treated patient censored at 4 months: Kaplan-Meier decides the treated group's risk
    time = np.array([2, 4, 6, 20, 20, 20], dtype=float)
    event = np.array([1, 0, 1, 0, 0, 0], dtype=bool)
    risk = np.array([0.8, 0.7, 0.6, 0.6, 0.1, 0.1])
    dc = net_benefit(time, event, risk, 12.0, [0.5])
    # treated: times 2(d), 4(c), 6(d), 20(c): KM S(12) = (1 - 1/4) * (1 - 1/2) = 0.375
    s_pos = 0.75 * 0.5
    expected = 4 / 6 * ((1 - s_pos) - s_pos * 1.0)
    assert dc.model[0] == pytest.approx(expected)
    assert km_at(time, event, 12.0)[0] == pytest.approx((5 / 6) * (3 / 4))


def test_a_true_model_is_well_calibrated() -> None:
    t, e, x = _cohort(5, n=4000)
    lp = x @ np.array([0.6, 0.5, -0.3])
    h = 12.0
    cumhaz = 0.08 * np.minimum(t, h) * np.exp(lp)
    risk = 1 - np.exp(-0.08 * h * np.exp(lp))
    cal = calibration_at(t, e, risk, cumhaz=cumhaz, lp=lp, horizon=h)
    assert cal.slope == pytest.approx(1.0, abs=0.1)
    assert cal.intercept == pytest.approx(0.0, abs=0.08)
    assert cal.ici is not None and cal.ici < 0.03
    # a model predicting twice the hazard is flagged: log O/E about -log 2
    off = calibration_at(t, e, 1 - np.exp(-2 * 0.08 * h * np.exp(lp)), cumhaz=2 * cumhaz,
                         lp=lp, horizon=h)
    assert off.intercept == pytest.approx(-np.log(2), abs=0.08)
    assert off.ici is not None and off.ici > 0.05
