"""A SYNTHETIC cohort whose survival follows a known Cox hazard (to test ``cohort model``).

The inputs are those of :func:`spinemets.cohort.synth_table` (invented rows). The survival
columns are redrawn from an exponential proportional-hazards model with the coefficients in
:data:`TRUE_COEFFICIENTS` (per unit of each column; invented for testing, not clinical figures)
and a baseline median of :data:`BASELINE_MEDIAN_MONTHS` at the mean of the terms; follow-up is
uniform over 6-60 months as in ``synth_table``. A blanked (unknown) cell contributes the
column mean to the true hazard; such rows are excluded by complete-case analysis anyway.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from spinemets.cohort._files import check_targets, replacing, write_failure
from spinemets.cohort._synth import FOLLOW_UP_MONTHS, SYNTHETIC_NOTE, synth_table
from spinemets.errors import InputError

__all__ = ["BASELINE_MEDIAN_MONTHS", "TRUE_COEFFICIENTS", "synth_known_hazard",
           "write_known_hazard"]

#: log hazard ratio per unit of the column (invented for testing).
TRUE_COEFFICIENTS = {"kps": -0.035, "visceral_metastases": 0.6, "albumin_g_per_dl": -0.5,
                     "ldh_u_per_l": 0.002}
BASELINE_MEDIAN_MONTHS = 9.0


def synth_known_hazard(n: int, seed: int) -> pa.Table:
    """``n`` synthetic rows with survival drawn from the known hazard.

    Parameters
    ----------
    n : int
        Number of rows.
    seed : int
        Random seed (the same pair gives the same table).

    Returns
    -------
    pyarrow.Table
        The columns of :func:`synth_table`, ``time_months`` and ``event`` redrawn.
    """
    table = synth_table(n, seed)
    rng = np.random.default_rng([seed, 25])
    lp = np.zeros(n)
    for column, beta in TRUE_COEFFICIENTS.items():
        values = table.column(column).cast(pa.float64()).to_numpy(zero_copy_only=False)
        values = np.asarray(values, dtype=np.float64)
        mean = float(np.nanmean(values))
        lp += beta * (np.where(np.isfinite(values), values, mean) - mean)
    rate = np.log(2) / BASELINE_MEDIAN_MONTHS * np.exp(lp)
    true_time = rng.exponential(1 / rate)
    follow_up = rng.uniform(*FOLLOW_UP_MONTHS, size=n)
    time = np.round(np.minimum(true_time, follow_up), 3)
    table = table.set_column(table.schema.get_field_index("time_months"), "time_months",
                             pa.array(time))
    table = table.set_column(table.schema.get_field_index("event"), "event",
                             pa.array(true_time <= follow_up))
    return table.replace_schema_metadata({"spinemets.synthetic": SYNTHETIC_NOTE
                                          + " (survival from a known Cox hazard)"})


def write_known_hazard(path: Path, n: int, seed: int) -> None:
    """Write :func:`synth_known_hazard` to ``.parquet`` or ``.csv``, whole or not at all."""
    check_targets([], [("--out", path)])
    fmt = path.suffix.lower()
    if fmt not in {".parquet", ".csv"}:
        raise InputError.single("--out", f"{path}: name it .parquet or .csv")
    table = synth_known_hazard(n, seed)
    with replacing(path) as partial:
        try:
            if fmt == ".parquet":
                pq.write_table(table, partial)
            else:
                pacsv.write_csv(table, partial)
        except (pa.ArrowException, OSError) as exc:
            raise write_failure(path, exc) from exc
