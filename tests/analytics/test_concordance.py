"""Concordance and td-AUC against lifelines and scikit-survival (independent oracles)."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines.utils import concordance_index
from sksurv.metrics import concordance_index_ipcw
from sksurv.metrics import cumulative_dynamic_auc as sksurv_auc
from sksurv.util import Surv

from spinemets.analytics import cumulative_dynamic_auc, harrell_c, uno_c


def test_published_vectors() -> None:
    # ecosystem.md: lifelines concordance_index(t, -risk, e) = 0.75
    assert harrell_c([1, 2, 2, 2, 3], [1, 1, 1, 0, 0], [5, 4, 1, 3, 2]).c == 0.75
    # an event and a censoring tied in time, risks [0.1, 0.9] -> 0.0
    assert harrell_c([1, 1], [1, 0], [0.1, 0.9]).c == 0.0


def _data(seed: int, continuous: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 400
    time = np.round(rng.exponential(10, n))  # many tied times
    event = rng.random(n) < 0.7
    risk = rng.normal(size=n) if continuous else rng.integers(0, 9, n).astype(float)
    return time, event, risk


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("continuous", [False, True])
def test_harrell_equals_lifelines(seed: int, continuous: bool) -> None:
    time, event, risk = _data(seed, continuous)
    assert harrell_c(time, event, risk).c == pytest.approx(
        concordance_index(time, -risk, event), abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("continuous", [False, True])
def test_uno_and_auc_equal_sksurv(seed: int, continuous: bool) -> None:
    time, event, risk = _data(seed, continuous)
    y = Surv.from_arrays(event, time)
    assert uno_c(time, event, risk).c == pytest.approx(concordance_index_ipcw(y, y, risk)[0],
                                                       abs=1e-12)
    horizons = [3.0, 6.0, 12.0]
    ours = cumulative_dynamic_auc(time, event, risk, horizons)
    theirs = sksurv_auc(y, y, risk, horizons)[0]
    assert ours == pytest.approx(list(theirs), abs=1e-12)


def test_no_comparable_pairs_is_an_error_not_a_number() -> None:
    with pytest.raises(ValueError, match="no comparable pairs"):
        harrell_c([1, 2], [0, 0], [1, 2])
