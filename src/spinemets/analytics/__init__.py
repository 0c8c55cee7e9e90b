"""Survival statistics for validating prognostic scores (pure: arrays in, results out).

lifelines is the runtime survival engine (Kaplan-Meier, log-rank); Harrell's C, Uno's C and the
time-dependent AUC are computed here and tested against lifelines and scikit-survival.
"""

from spinemets.analytics._calibration import CalibrationRow, calibrate, statement_horizons
from spinemets.analytics._concordance import (
    Concordance,
    censoring_survival,
    cumulative_dynamic_auc,
    harrell_c,
    uno_c,
)
from spinemets.analytics._survival import GroupSurvival, LogRank, km_by_group, logrank

__all__ = [
    "CalibrationRow",
    "Concordance",
    "GroupSurvival",
    "LogRank",
    "calibrate",
    "censoring_survival",
    "cumulative_dynamic_auc",
    "harrell_c",
    "km_by_group",
    "logrank",
    "statement_horizons",
    "uno_c",
]
