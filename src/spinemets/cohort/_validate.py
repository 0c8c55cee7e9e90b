"""``cohort validate``: survival validation of each prognostic score on a scored cohort.

Only rows whose score is ``complete`` enter a score's statistics; incomplete and error rows are
counted and reported, never imputed. The C-index convention is stated in every report: the risk
is the score total oriented so that a higher risk means a shorter published prognosis
(``directions`` in ``data/published_survival.yaml``), so C > 0.5 means the score ranks patients
in its published direction; Harrell's C then equals lifelines'
``concordance_index(time, -risk, event)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
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
    count_table,
    statement_horizons,
)
from spinemets.cohort._aggregate import (
    DEFAULT_MAX_CELLS,
    ENGINES,
    CohortCounts,
    Progress,
    ScoreCounts,
    count_batches,
    count_duckdb,
    count_sql,
)
from spinemets.cohort._files import check_source, located, read_failure
from spinemets.cohort._io import file_format
from spinemets.cohort._synth import published_survival
from spinemets.errors import InputError
from spinemets.scores import registry

__all__ = ["AUC_HORIZONS", "C_INDEX_CONVENTION", "ScoreValidation", "ValidationReport",
           "validate_file", "validate_table"]

AUC_HORIZONS = (3.0, 6.0, 12.0)
_GRID_STEP = 0.5
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
    excluded: dict[str, int] = field(default_factory=dict)  # reason -> rows not used

    def to_dict(self, *, curves: bool = False) -> dict[str, Any]:
        return {
            "score": self.slug, "name": self.name, "direction": self.direction,
            "rows": self.rows, "complete": self.complete, "incomplete": self.incomplete,
            "error": self.error, "events": self.events,
            "rows_used": self.complete, "rows_excluded": self.excluded,
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
    engine: str = "arrow"
    time_resolution: float | None = None
    survival_excluded: dict[str, int] = field(default_factory=dict)  # reason -> rows

    def to_dict(self, *, curves: bool = False) -> dict[str, Any]:
        """JSON-ready report (KM curves only when ``curves``)."""
        return {
            "source": self.source, "time_column": self.time_column,
            "event_column": self.event_column, "time_unit": "months", "rows": self.rows,
            "rows_without_survival": self.rows_without_survival,
            "rows_read": self.rows, "survival_excluded": self.survival_excluded,
            "engine": self.engine,
            "time_resolution_months": self.time_resolution,
            "times": "exact" if self.time_resolution is None else
            f"rounded down to multiples of {self.time_resolution:g} months",
            "synthetic": self.synthetic,
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


def _one_score(slug: str, counts: ScoreCounts, rows: int) -> ScoreValidation:
    defn = registry()[slug]
    direction = published_survival()["directions"][slug]
    cells = counts.cells
    total = cells.column("total").to_numpy()
    bands = pc.dictionary_encode(cells.column("band")).combine_chunks()
    band_labels = [str(b) for b in bands.dictionary.to_pylist()]
    # codes in label order, as lifelines orders the log-rank groups
    rank = np.argsort(np.argsort(np.asarray(band_labels, dtype=object)))
    band_codes = rank[bands.indices.to_numpy(zero_copy_only=False)] if band_labels else \
        np.zeros(0, dtype=np.int64)
    band_labels = sorted(band_labels)
    t = cells.column("time").to_numpy()
    e = np.asarray(cells.column("event").to_numpy(zero_copy_only=False), dtype=np.bool_)
    n = cells.column("n").to_numpy()
    out = ScoreValidation(slug, defn.name, direction, rows, int(n.sum()),
                          counts.status.get("incomplete", 0), counts.status.get("error", 0),
                          int(n[e].sum()))
    out.excluded = {"score incomplete": out.incomplete, "score error": out.error,
                    "survival unusable": counts.complete_without_survival}
    if out.complete == 0:
        out.notes.append("no complete rows with survival data")
        return out
    if np.isnan(total).any():
        raise InputError.single(f"{slug}_total", "a complete score has no total",
                                value=f"{slug}_total")
    risk = total if direction == "higher_is_shorter" else -total
    statements = published_survival().get(slug, [])
    horizons = sorted({*AUC_HORIZONS, *statement_horizons(statements)})
    by_band = count_table(band_codes, t, e, n)
    grid = np.arange(0.0, float(t.max()) + _GRID_STEP, _GRID_STEP)
    levels = [band_labels[int(code)] for code in by_band.levels]
    out.groups = [by_band.kaplan_meier(levels.index(b.id), b.id, horizons=horizons, grid=grid)
                  for b in defn.bands if b.id in levels]
    out.logrank = by_band.logrank()
    by_risk = count_table(risk, t, e, n)
    try:
        out.harrell = by_risk.harrell()
        out.uno = by_risk.uno()
    except ValueError as exc:
        out.notes.append(str(exc))
    out.auc = dict(zip(AUC_HORIZONS, by_risk.cumulative_dynamic_auc(AUC_HORIZONS), strict=True))
    out.calibration = calibrate(out.groups, statements)
    if not statements:
        out.notes.append("no published band survival for this score: no calibration")
    return out


def _chosen(names: Sequence[str], slugs: Sequence[str] | None) -> list[str]:
    directions = published_survival()["directions"]
    chosen = list(slugs) if slugs is not None else [
        s for s in directions if f"{s}_status" in names]
    for slug in chosen:
        if slug not in directions:
            raise InputError.single("scores", f"{slug} is not a prognostic score",
                                    value=slug, allowed=tuple(directions))
        missing = [f"{slug}_{p}" for p in ("total", "band", "status") if f"{slug}_{p}" not in names]
        if missing:
            raise InputError.single("scores", f"{slug} columns not found ({', '.join(missing)})",
                                    value=slug)
    return chosen


def _check_survival(names: Sequence[str], time_column: str, event_column: str) -> None:
    for name in (time_column, event_column):
        if name not in names:
            raise InputError.single(name, "column not found in the scored cohort",
                                    allowed=tuple(names))


def report_from_counts(counts: CohortCounts, *, time_column: str, event_column: str,
                       source: str, synthetic: str | None) -> ValidationReport:
    """Every statistic of the report from the count tables of one pass.

    Parameters
    ----------
    counts : CohortCounts
        Output of one counting pass (any engine).
    time_column, event_column, source, synthetic : str
        As for :func:`validate_table`.

    Returns
    -------
    ValidationReport
        The report.
    """
    scores = [_one_score(slug, c, counts.rows_read) for slug, c in counts.scores.items()]
    report = ValidationReport(source, time_column, event_column, counts.rows_read,
                              sum(counts.survival_excluded.values()), synthetic, scores)
    report.engine = counts.engine
    report.time_resolution = counts.time_resolution
    report.survival_excluded = dict(counts.survival_excluded)
    return report


def validate_table(table: pa.Table, *, time_column: str = "time_months",
                   event_column: str = "event", slugs: Sequence[str] | None = None,
                   source: str = "<table>", synthetic: str | None = None,
                   time_resolution: float | None = None) -> ValidationReport:
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
    time_resolution : float, optional
        Round survival times down to a multiple of this (default: exact times).

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
    _check_survival(table.column_names, time_column, event_column)
    chosen = _chosen(table.column_names, slugs)
    counts = count_batches(iter(table.to_batches()), chosen, time_column=time_column,
                           event_column=event_column, time_resolution=time_resolution)
    return report_from_counts(counts, time_column=time_column, event_column=event_column,
                              source=source, synthetic=synthetic)


def _open_batches(path: Path, fmt: str, columns: list[str]) -> tuple[Any, int | None]:
    if fmt == "parquet":
        handle = pq.ParquetFile(path, buffer_size=1 << 22, pre_buffer=False)
        names = set(handle.schema_arrow.names)
        return (handle.iter_batches(batch_size=1 << 20, columns=[c for c in columns
                                                                 if c in names]),
                handle.metadata.num_rows)
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 24),
                            convert_options=pacsv.ConvertOptions(include_columns=columns))
    return reader, None


def _names(path: Path, fmt: str) -> list[str]:
    if fmt == "parquet":
        return list(pq.read_schema(path).names)
    header = pacsv.open_csv(path)
    names = list(header.schema.names)
    header.close()
    return names


def validate_file(path: Path, *, time_column: str = "time_months", event_column: str = "event",
                  slugs: Sequence[str] | None = None, engine: str = "duckdb",
                  time_resolution: float | None = None, max_cells: int = DEFAULT_MAX_CELLS,
                  workers: int | None = None, progress: Progress | None = None,
                  spark: Any = None) -> ValidationReport:
    """Validate a scored cohort file in one streaming pass.

    Parameters
    ----------
    path : Path
        Scored cohort (.parquet or .csv; a Parquet directory with ``engine="spark"``).
    time_column, event_column : str
        Survival columns.
    slugs : sequence of str, optional
        Scores to validate.
    engine : {"duckdb", "arrow", "spark"}
        Who runs the counting pass (the statistics are the same).
    time_resolution : float, optional
        Round survival times down to a multiple of this many months (default: exact).
    max_cells : int
        Largest count table allowed; past it a clear error suggests ``time_resolution``.
    workers : int, optional
        Threads for DuckDB.
    progress : callable, optional
        Called with (done, total) during the pass.
    spark : pyspark.sql.SparkSession, optional
        Session for ``engine="spark"`` (default a local one).

    Returns
    -------
    ValidationReport
        See :func:`validate_table`.
    """
    if engine not in ENGINES:
        raise InputError.single("engine", "unknown engine", value=engine, allowed=ENGINES)
    if time_resolution is not None and not (math.isfinite(time_resolution)
                                            and time_resolution > 0):
        raise InputError.single("time_resolution", "must be a positive number of months",
                                value=str(time_resolution))
    check_source(path, directory_ok=engine == "spark")
    if engine == "spark":
        return _validate_spark(path, time_column=time_column, event_column=event_column,
                               slugs=slugs, time_resolution=time_resolution,
                               max_cells=max_cells, spark=spark)
    try:
        fmt = file_format(path)
    except InputError as exc:
        raise located(exc, path) from exc
    if fmt not in {"parquet", "csv"}:
        raise InputError.single("scored", "a scored cohort must be Parquet or CSV",
                                value=str(path))
    synthetic = None
    try:
        names = _names(path, fmt)
        _check_survival(names, time_column, event_column)
        chosen = _chosen(names, slugs)
        if fmt == "parquet":
            note = (pq.read_schema(path).metadata or {}).get(b"spinemets.synthetic")
            synthetic = note.decode() if note else None
        if engine == "duckdb":
            counts = count_duckdb(path, fmt, chosen, time_column=time_column,
                                  event_column=event_column, time_resolution=time_resolution,
                                  max_cells=max_cells, threads=workers, progress=progress)
        else:
            columns = [time_column, event_column] + [f"{s}_{p}" for s in chosen
                                                     for p in ("total", "band", "status")]
            batches, rows_total = _open_batches(path, fmt, columns)
            counts = count_batches(iter(batches), chosen, time_column=time_column,
                                   event_column=event_column, time_resolution=time_resolution,
                                   max_cells=max_cells, rows_total=rows_total,
                                   progress=progress)
    except InputError:
        raise
    except (pa.ArrowException, OSError, UnicodeDecodeError, ValueError, RuntimeError) as exc:
        raise read_failure(path, fmt, exc) from exc
    return report_from_counts(counts, time_column=time_column, event_column=event_column,
                              source=str(path), synthetic=synthetic)


def _validate_spark(path: Path, *, time_column: str, event_column: str,
                    slugs: Sequence[str] | None, time_resolution: float | None,
                    max_cells: int, spark: Any) -> ValidationReport:
    from spinemets.cohort._spark import read_spark, spark_session  # noqa: PLC0415

    session = spark if spark is not None else spark_session()
    df = read_spark(session, path)
    _check_survival(df.columns, time_column, event_column)
    chosen = _chosen(df.columns, slugs)
    counts = count_sql(df, chosen, time_column=time_column, event_column=event_column,
                       time_resolution=time_resolution, max_cells=max_cells)
    return report_from_counts(counts, time_column=time_column, event_column=event_column,
                              source=str(path), synthetic=None)
