"""A small site model fitted for the tests (synthetic cohort, 2 bootstrap resamples)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from spinemets.cohort import score_file
from spinemets.cohort._model import FitOptions, fit_model, read_cohort
from spinemets.cohort._model_synth import synth_known_hazard

#: The predictors of the test model (score inputs a case records).
PREDICTORS = ("kps", "visceral_metastases", "albumin_g_per_dl", "primary")


def fit_site_model(folder: Path, name: str) -> Path:
    """Fit a model named ``name`` on a synthetic cohort in ``folder``; its JSON file's path."""
    pq.write_table(synth_known_hazard(600, 5), folder / "cohort.parquet")
    score_file(folder / "cohort.parquet", folder / "scored.parquet", keep="all")
    data = read_cohort(folder / "scored.parquet", time_column="time_months",
                       event_column="event")
    model = fit_model(data, FitOptions(predictors=PREDICTORS, resamples=2, seed=1, name=name,
                                       force=True))
    path = folder / f"{name}.json"
    path.write_text(model.to_json(), encoding="utf-8")
    return path
