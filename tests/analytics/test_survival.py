"""Kaplan-Meier medians and log-rank against lifelines fitted directly."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

from spinemets.analytics import calibrate, km_by_group, logrank


# lifelines 0.30 calls DataFrame.sum positionally; pandas 2.3 warns about pandas 4 (third party)
@pytest.mark.filterwarnings("ignore:Starting with pandas version 4.0 all arguments of sum")
def test_km_medians_and_logrank_match_lifelines() -> None:
    rng = np.random.default_rng(5)
    groups = rng.choice(["a", "b", "c"], size=900)
    median = np.select([groups == "a", groups == "b"], [4.0, 10.0], 29.0)
    time = rng.exponential(median / np.log(2))
    follow = rng.uniform(6, 60, size=900)
    event = time <= follow
    time = np.minimum(time, follow)
    fitted = km_by_group(time, event, groups, order=["a", "b", "c"])
    for g in fitted:
        mask = groups == g.group
        kmf = KaplanMeierFitter().fit(time[mask], event[mask])
        assert g.median == kmf.median_survival_time_
        assert g.survival_at[12.0][0] == pytest.approx(
            float(kmf.survival_function_at_times(12.0).iloc[0]))
    ours = logrank(time, event, groups)
    theirs = multivariate_logrank_test(time, groups, event)
    assert ours is not None
    assert ours.p_value == pytest.approx(theirs.p_value)
    planted = {"statistic": "median_months", "verification": "test", "source": "planted"}
    rows = calibrate(fitted, [{**planted, "band": "a", "op": "<", "value": 6},
                              {**planted, "band": "a", "op": "=", "value": 29},
                              {**planted, "band": "z", "op": "=", "value": 1}])
    assert [r.verdict for r in rows] == ["consistent", "differs", "band absent"]
