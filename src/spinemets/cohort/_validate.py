"""``cohort validate``: survival validation of each prognostic score on a scored cohort.

Only rows whose score is ``complete`` enter a score's statistics; incomplete and error rows are
counted and reported, never imputed. The C-index convention is stated in every report: the risk
is the score total oriented so that a higher risk means a shorter published prognosis
(``directions`` in ``data/published_survival.yaml``), so C > 0.5 means the score ranks patients
in its published direction; Harrell's C then equals lifelines'
``concordance_index(time, -risk, event)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from spinemets.analytics import (
    CalibrationRow,
    Concordance,
    GroupSurvival,
    LogRank,
    calibrate,
    cumulative_dynamic_auc,
    harrell_c,
    km_by_group,
    logrank,
    statement_horizons,
    uno_c,
)
from spinemets.cohort._files import check_source, located, read_failure
from spinemets.cohort._io import file_format
from spinemets.cohort._synth import published_survival
from spinemets.errors import InputError
from spinemets.scores import registry

__all__ = ["AUC_HORIZONS", "C_INDEX_CONVENTION", "ScoreValidation", "ValidationReport",
           "validate_file", "validate_table"]

AUC_HORIZONS = (3.0, 6.0, 12.0)
C_INDEX_CONVENTION = (
    "risk = score total for scores where a higher total means a shorter prognosis, and minus "
    "the total where a higher total means a longer one; a pair is concordant when the patient "
    "who died first had the higher risk, ties in risk count one half, and a patient censored at "
    "the time of a death counts as surviving longer. C > 0.5: the score ranks patients in its "
    "published direction. Harrell's C equals lifelines concordance_index(time, -risk, event).")


@dataclass
class ScoreValidation:
    """Validation statistics of one score."""

    slug: str
    name: str
    direction: str
    rows: int
    complete: int
    incomplete: int
    error: int
    events: int
    groups: list[GroupSurvival] = field(default_factory=list)
    logrank: LogRank | None = None
    harrell: Concordance | None = None
    uno: Concordance | None = None
    auc: dict[float, float | None] = field(default_factory=dict)
    calibration: list[CalibrationRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self, *, curves: bool = False) -> dict[str, Any]:
        return {
            "score": self.slug, "name": self.name, "direction": self.direction,
            "rows": self.rows, "complete": self.complete, "incomplete": self.incomplete,
            "error": self.error, "events": self.events,
            "bands": [g.to_dict(curve=curves) for g in self.groups],
            "logrank": self.logrank.to_dict() if self.logrank else None,
            "harrell_c": self.harrell.to_dict() if self.harrell else None,
            "uno_c": self.uno.to_dict() if self.uno else None,
            "time_dependent_auc": {f"{h:g}": v for h, v in self.auc.items()},
            "calibration": [c.to_dict() for c in self.calibration],
            "notes": self.notes,
        }


@dataclass
class ValidationReport:
    """Validation of every requested score on one cohort."""

    source: str
    time_column: str
    event_column: str
    rows: int
    rows_without_survival: int
    synthetic: str | None
    scores: list[ScoreValidation]

    def to_dict(self, *, curves: bool = False) -> dict[str, Any]:
        """JSON-ready report (KM curves only when ``curves``)."""
        return {
            "source": self.source, "time_column": self.time_column,
            "event_column": self.event_column, "time_unit": "months", "rows": self.rows,
            "rows_without_survival": self.rows_without_survival, "synthetic": self.synthetic,
            "c_index_convention": C_INDEX_CONVENTION,
            "comparison": [comparison_row(s) for s in self.scores],
            "scores": [s.to_dict(curves=curves) for s in self.scores],
        }


def comparison_row(s: ScoreValidation) -> dict[str, Any]:
    """One line of the side-by-side comparison table."""
    return {"score": s.slug, "complete": s.complete, "events": s.events,
            "bands": len(s.groups),
            "harrell_c": s.harrell.c if s.harrell else None,
            "uno_c": s.uno.c if s.uno else None,
            **{f"auc_{h:g}m": v for h, v in s.auc.items()},
            "logrank_p": s.logrank.p_value if s.logrank else None,
            "calibration_consistent": sum(c.verdict == "consistent" for c in s.calibration),
            "calibration_statements": len(s.calibration)}


def _event_array(arr: pa.Array) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(event, known) from a boolean, 0/1 integer or true/false text column."""
    if pa.types.is_boolean(arr.type):
        known = pc.is_valid(arr)
        value = arr.fill_null(False)
    elif pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        known = pc.is_in(arr, pa.array([0, 1], arr.type))
        value = pc.equal(arr, pa.scalar(1, arr.type)).fill_null(False)
    else:
        text = pc.utf8_lower(pc.utf8_trim_whitespace(arr.cast(pa.string())))
        known = pc.is_in(text, pa.array(["true", "false", "1", "0"]))
        value = pc.is_in(text, pa.array(["true", "1"]))
    return (np.asarray(value.to_numpy(zero_copy_only=False), dtype=np.bool_),
            np.asarray(known.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.bool_))


def _read(path: Path, columns: list[str]) -> pa.Table:
    if file_format(path) == "parquet":
        present = set(pq.read_schema(path).names)
        return pq.read_table(path, columns=[c for c in columns if c in present])
    if file_format(path) == "csv":
        header = pacsv.open_csv(path)
        names = header.schema.names
        header.close()
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            include_columns=[c for c in columns if c in names]))
    raise InputError.single("scored", "a scored cohort must be Parquet or CSV", value=str(path))


def _column(table: pa.Table, name: str) -> pa.Array:
    return table.column(name).combine_chunks()


def _one_score(slug: str, table: pa.Table, t: npt.NDArray[np.float64],
               e: npt.NDArray[np.bool_], ok: npt.NDArray[np.bool_]) -> ScoreValidation:
    defn = registry()[slug]
    direction = published_survival()["directions"][slug]
    status = np.asarray(_column(table, f"{slug}_status").cast(pa.string()).to_numpy(
        zero_copy_only=False), dtype=object)
    total = _column(table, f"{slug}_total").cast(pa.float64()).fill_null(np.nan).to_numpy()
    band = np.asarray(_column(table, f"{slug}_band").cast(pa.string()).to_numpy(
        zero_copy_only=False), dtype=object)
    use = ok & (status == "complete")
    out = ScoreValidation(slug, defn.name, direction, len(status), int(use.sum()),
                          int(np.sum(status == "incomplete")), int(np.sum(status == "error")),
                          int(e[use].sum()))
    if out.complete == 0:
        out.notes.append("no complete rows with survival data")
        return out
    tt, ee, bb = t[use], e[use], band[use]
    risk = total[use] if direction == "higher_is_shorter" else -total[use]
    statements = published_survival().get(slug, [])
    horizons = sorted({*AUC_HORIZONS, *statement_horizons(statements)})
    out.groups = km_by_group(tt, ee, bb, order=[b.id for b in defn.bands], horizons=horizons)
    out.logrank = logrank(tt, ee, bb)
    try:
        out.harrell = harrell_c(tt, ee, risk)
        out.uno = uno_c(tt, ee, risk)
    except ValueError as exc:
        out.notes.append(str(exc))
    out.auc = dict(zip(AUC_HORIZONS, cumulative_dynamic_auc(tt, ee, risk, AUC_HORIZONS),
                       strict=True))
    out.calibration = calibrate(out.groups, statements)
    if not statements:
        out.notes.append("no published band survival for this score: no calibration")
    return out


def validate_table(table: pa.Table, *, time_column: str = "time_months",
                   event_column: str = "event", slugs: Sequence[str] | None = None,
                   source: str = "<table>", synthetic: str | None = None) -> ValidationReport:
    """Validate the scores of a scored cohort table.

    Parameters
    ----------
    table : pyarrow.Table
        Output of ``cohort score`` (``<slug>_total``, ``<slug>_band``, ``<slug>_status``) with
        survival columns.
    time_column, event_column : str
        Survival time in months and event indicator (boolean, 0/1 or true/false).
    slugs : sequence of str, optional
        Scores to validate; default every prognostic score whose columns are present.
    source : str
        Name of the input, for the report.
    synthetic : str, optional
        The synthetic-data note of the input, if any.

    Returns
    -------
    ValidationReport
        Per-score statistics and the comparison table.

    Raises
    ------
    InputError
        A survival column or a requested score's columns are missing, or a score has no
        prognostic direction.
    """
    directions = published_survival()["directions"]
    for name in (time_column, event_column):
        if name not in table.column_names:
            raise InputError.single(name, "column not found in the scored cohort",
                                    allowed=tuple(table.column_names))
    chosen = list(slugs) if slugs is not None else [
        s for s in directions if f"{s}_status" in table.column_names]
    for slug in chosen:
        if slug not in directions:
            raise InputError.single("scores", f"{slug} is not a prognostic score",
                                    value=slug, allowed=tuple(directions))
        if f"{slug}_status" not in table.column_names:
            raise InputError.single("scores", f"{slug} columns not found", value=slug)
    t = _column(table, time_column).cast(pa.float64()).fill_null(np.nan).to_numpy()
    e, e_known = _event_array(_column(table, event_column))
    ok = np.isfinite(t) & (t >= 0) & e_known
    scores = [_one_score(slug, table, t, e, ok) for slug in chosen]
    return ValidationReport(source, time_column, event_column, table.num_rows,
                            int((~ok).sum()), synthetic, scores)


def validate_file(path: Path, *, time_column: str = "time_months", event_column: str = "event",
                  slugs: Sequence[str] | None = None) -> ValidationReport:
    """Read the needed columns of a scored cohort file and validate it.

    Parameters
    ----------
    path : Path
        Scored cohort (.parquet or .csv).
    time_column, event_column : str
        Survival columns.
    slugs : sequence of str, optional
        Scores to validate.

    Returns
    -------
    ValidationReport
        See :func:`validate_table`.
    """
    directions = published_survival()["directions"]
    wanted = list(slugs) if slugs is not None else list(directions)
    columns = [time_column, event_column] + [f"{s}_{part}" for s in wanted
                                             for part in ("total", "band", "status")]
    check_source(path)
    try:
        fmt = file_format(path)
    except InputError as exc:
        raise located(exc, path) from exc
    synthetic = None
    try:
        table = _read(path, columns)
        if fmt == "parquet":
            meta = pq.read_schema(path).metadata or {}
            note = meta.get(b"spinemets.synthetic")
            synthetic = note.decode() if note else None
    except InputError:
        raise
    except (pa.ArrowException, OSError, UnicodeDecodeError, ValueError) as exc:
        raise read_failure(path, fmt, exc) from exc
    return validate_table(table, time_column=time_column, event_column=event_column,
                          slugs=slugs, source=str(path), synthetic=synthetic)
