"""Survival statistics for validating prognostic scores (pure: arrays in, results out).

Statistics from rows (lifelines for Kaplan-Meier and log-rank) or from counts per (risk value,
group, time, event) (``count_table``: the same results for any cohort size). Harrell's C, Uno's C
and the time-dependent AUC are tested against lifelines and scikit-survival.
"""

from spinemets.analytics._calibration import CalibrationRow, calibrate, statement_horizons
from spinemets.analytics._concordance import (
    Concordance,
    censoring_survival,
    cumulative_dynamic_auc,
    harrell_c,
    uno_c,
)
from spinemets.analytics._counts import CountTable, count_table
from spinemets.analytics._survival import GroupSurvival, LogRank, km_by_group, logrank

__all__ = [
    "CalibrationRow",
    "Concordance",
    "CountTable",
    "GroupSurvival",
    "LogRank",
    "calibrate",
    "censoring_survival",
    "count_table",
    "cumulative_dynamic_auc",
    "harrell_c",
    "km_by_group",
    "logrank",
    "statement_horizons",
    "uno_c",
]
