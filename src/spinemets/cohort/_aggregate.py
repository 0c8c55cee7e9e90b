"""One streaming pass over a scored cohort: counts per (score, total, band, time, event).

Validation needs only these counts (``analytics._counts``), so the pass keeps one small table
per score whose size is the number of distinct (total, band, time, event) cells, never the
number of rows. Three engines produce the same table:

- ``arrow``: record batches from the file, a hash group-by per batch (Arrow's Acero), partial
  tables merged as they grow;
- ``duckdb``: one SQL query over the file, a filtered group-by per score (each hashes only the
  rows it counts; all cores, spills to disk);
- ``spark``: the same SQL on Spark (a local session or a cluster).

Rows are sorted into: used (complete score and usable survival), score incomplete or error, and
survival unusable (time missing, not a number, infinite or negative; event not 0/1/true/false).
Times are exact unless ``time_resolution`` is given (then rounded down to a multiple of it).
"""

from __future__ import annotations

import threading
import time as _time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from spinemets.errors import InputError

__all__ = ["DEFAULT_MAX_CELLS", "ENGINES", "CohortCounts", "ScoreCounts", "count_batches",
           "count_sql"]

ENGINES = ("duckdb", "arrow", "spark")
DEFAULT_MAX_CELLS = 20_000_000  # about 1 GB of count cells over all scores
Progress = Callable[[int, int | None], None]  # (rows done, rows in total if known)

SURVIVAL_REASONS = {
    "time_missing": "survival time missing or not a number",
    "time_infinite": "survival time infinite",
    "time_negative": "survival time negative",
    "event_invalid": "event missing or not one of 0/1/true/false",
}
_CELL_SCHEMA = pa.schema([("total", pa.float64()), ("band", pa.string()),
                          ("time", pa.float64()), ("event", pa.bool_()), ("n", pa.int64())])


@dataclass
class ScoreCounts:
    """The count table of one score and its row tally."""

    slug: str
    status: dict[str, int] = field(default_factory=dict)  # complete / incomplete / error
    complete_without_survival: int = 0
    cells: pa.Table = field(default_factory=_CELL_SCHEMA.empty_table)

    @property
    def used(self) -> int:
        return int(pc.sum(self.cells.column("n")).as_py() or 0)


@dataclass
class CohortCounts:
    """Everything validation reads from a cohort, after one pass."""

    engine: str
    rows_read: int
    survival_excluded: dict[str, int]
    scores: dict[str, ScoreCounts]
    time_resolution: float | None
    seconds: float = 0.0


def _too_many(cells: int, max_cells: int) -> InputError:
    return InputError.single(
        "time_resolution",
        f"the count table would hold more than {max_cells:,} distinct (score value, time) "
        f"cells ({cells:,} so far): survival times are nearly all distinct. Round them with "
        "--time-resolution (for example 0.01 months, about 7 hours) or raise --max-cells "
        "(about 50 bytes each)")


# --- the arrow engine ---------------------------------------------------------------------


def _event(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(event, known) from a boolean, 0/1 number or true/false/1/0 text column."""
    if pa.types.is_boolean(arr.type):
        return arr.fill_null(False), pc.is_valid(arr)
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        known = pc.is_in(arr, pa.array([0, 1], arr.type)).fill_null(False)
        return pc.equal(arr, pa.scalar(1, arr.type)).fill_null(False), known
    text = pc.utf8_lower(pc.utf8_trim_whitespace(arr.cast(pa.string())))
    known = pc.is_in(text, pa.array(["true", "false", "1", "0"])).fill_null(False)
    return pc.is_in(text, pa.array(["true", "1"])).fill_null(False), known


def _time_values(arr: pa.Array, name: str) -> npt.NDArray[np.float64]:
    if not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)
            or pa.types.is_null(arr.type) or pa.types.is_decimal(arr.type)):
        raise InputError.single(name, f"the survival time column is {arr.type}, not numbers",
                                value=name)
    return np.asarray(arr.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False),
                      dtype=np.float64)


def _merge(parts: list[pa.Table]) -> pa.Table:
    table = pa.concat_tables(parts)
    merged = table.group_by(["total", "band", "time", "event"], use_threads=False).aggregate(
        [("n", "sum")])
    return merged.rename_columns({"n_sum": "n"}).select(_CELL_SCHEMA.names).cast(_CELL_SCHEMA)


def _survival(batch: pa.RecordBatch, time_column: str, event_column: str,
              time_resolution: float | None, excluded: dict[str, int]
              ) -> tuple[pa.Array, pa.Array, npt.NDArray[np.bool_]]:
    """(time, event, usable) of one batch; tallies why rows are unusable into ``excluded``."""
    t = _time_values(batch.column(time_column), time_column)
    event, known = _event(batch.column(event_column))
    e_known = np.asarray(known.to_numpy(zero_copy_only=False), dtype=np.bool_)
    missing = np.isnan(t)
    infinite = np.isinf(t)
    with np.errstate(invalid="ignore"):
        negative = t < 0
    time_ok = ~(missing | infinite | negative)
    excluded["time_missing"] += int(missing.sum())
    excluded["time_infinite"] += int(infinite.sum())
    excluded["time_negative"] += int(negative.sum())
    excluded["event_invalid"] += int((time_ok & ~e_known).sum())
    if time_resolution:
        t = np.floor(t / time_resolution) * time_resolution
    return pa.array(t, pa.float64()), event, time_ok & e_known


class _Accumulator:
    """Partial count tables of one score, merged when they grow (bounded by distinct cells)."""

    def __init__(self, slug: str) -> None:
        self.counts = ScoreCounts(slug, {"complete": 0, "incomplete": 0, "error": 0})
        self.parts: list[pa.Table] = []
        self.merged = 0
        self.pending = 0

    def add(self, batch: pa.RecordBatch, time: pa.Array, event: pa.Array,
            ok: npt.NDArray[np.bool_]) -> bool:
        """Count one batch; True when the partial tables were merged."""
        slug = self.counts.slug
        status = batch.column(f"{slug}_status")
        for item in status.value_counts().to_pylist():
            if item["values"] is not None:
                key = str(item["values"])
                self.counts.status[key] = self.counts.status.get(key, 0) + item["counts"]
        complete = np.asarray(pc.equal(status, "complete").fill_null(False).to_numpy(
            zero_copy_only=False), dtype=np.bool_)
        self.counts.complete_without_survival += int((complete & ~ok).sum())
        part = pa.table({"total": batch.column(f"{slug}_total").cast(pa.float64()),
                         "band": batch.column(f"{slug}_band").cast(pa.string()),
                         "time": time, "event": event}).filter(pa.array(complete & ok))
        if part.num_rows == 0:
            return False
        part = part.group_by(["total", "band", "time", "event"],
                             use_threads=False).aggregate([("time", "count")])
        self.parts.append(part.rename_columns({"time_count": "n"}).select(
            _CELL_SCHEMA.names).cast(_CELL_SCHEMA))
        self.pending += part.num_rows
        if self.pending <= max(1 << 20, 2 * self.merged):
            return False
        self.parts = [_merge(self.parts)]
        self.merged = self.pending = self.parts[0].num_rows
        return True

    def finish(self) -> ScoreCounts:
        if self.parts:
            self.counts.cells = _merge(self.parts)
        return self.counts


def count_batches(batches: Iterator[pa.RecordBatch], slugs: Sequence[str], *,
                  time_column: str, event_column: str, time_resolution: float | None = None,
                  max_cells: int = DEFAULT_MAX_CELLS, rows_total: int | None = None,
                  progress: Progress | None = None) -> CohortCounts:
    """Count a stream of scored record batches (the arrow engine).

    Parameters
    ----------
    batches : iterator of pyarrow.RecordBatch
        Scored rows with the survival columns and ``<slug>_total|band|status``.
    slugs : sequence of str
        Scores to count.
    time_column, event_column : str
        Survival columns.
    time_resolution : float, optional
        Round times down to a multiple of this (default: exact).
    max_cells : int
        Largest count table allowed (over all scores).
    rows_total : int, optional
        Rows expected, for progress.
    progress : callable, optional
        Called with (rows done, rows_total) after each batch.

    Returns
    -------
    CohortCounts
        The count tables and row tallies.

    Raises
    ------
    InputError
        The survival time is not numeric, or the count table exceeds ``max_cells``.
    """
    started = _time.perf_counter()
    accumulators = [_Accumulator(s) for s in slugs]
    excluded = dict.fromkeys(SURVIVAL_REASONS, 0)
    rows = 0
    for batch in batches:
        rows += batch.num_rows
        time, event, ok = _survival(batch, time_column, event_column, time_resolution,
                                    excluded)
        merged = [acc.add(batch, time, event, ok) for acc in accumulators]
        cells = sum(acc.merged for acc in accumulators)
        if any(merged) and cells > max_cells:
            raise _too_many(cells, max_cells)
        if progress is not None:
            progress(rows, rows_total)
    scores = {acc.counts.slug: acc.finish() for acc in accumulators}
    cells = sum(s.cells.num_rows for s in scores.values())
    if cells > max_cells:
        raise _too_many(cells, max_cells)
    return CohortCounts("arrow", rows, excluded, scores, time_resolution,
                        _time.perf_counter() - started)


# --- the SQL engines (DuckDB, Spark SQL) --------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _event_sql(column: str, kind: str) -> str:
    """SQL for the event (NULL when not 0/1/true/false), by the column's type kind."""
    if kind == "boolean":
        return column
    if kind == "number":
        return f"CASE WHEN {column} = 1 THEN TRUE WHEN {column} = 0 THEN FALSE END"
    text = f"lower(trim(CAST({column} AS STRING)))"
    return (f"CASE WHEN {text} IN ('true', '1') THEN TRUE "
            f"WHEN {text} IN ('false', '0') THEN FALSE END")


def count_query(source: str, slugs: Sequence[str], *, time_column: str, event_column: str,
                event_kind: str, time_resolution: float | None, dialect: str) -> str:
    """The one-pass SQL: a GROUPING SETS query with one set per score and one for exclusions.

    ``source`` is a table expression (``read_parquet('...')`` or a view name); ``dialect`` is
    ``duckdb`` or ``spark`` (identifier quoting and the infinity test differ).
    """
    q = _quote if dialect == "duckdb" else (lambda n: "`" + n.replace("`", "``") + "`")
    infinite = "isinf(__t)" if dialect == "duckdb" else "abs(__t) = double('infinity')"
    nan = "isnan(__t)"
    t_raw = f"TRY_CAST({q(time_column)} AS DOUBLE)"
    binned = f"floor(__t / {time_resolution!r}) * {time_resolution!r}" if time_resolution \
        else "__t"
    cols = [f"{t_raw} AS __t", f"{_event_sql(q(event_column), event_kind)} AS __e"]
    for i, slug in enumerate(slugs):
        cols += [f"CAST({q(slug + '_status')} AS STRING) AS __s{i}",
                 f"TRY_CAST({q(slug + '_total')} AS DOUBLE) AS __v{i}",
                 f"CAST({q(slug + '_band')} AS STRING) AS __b{i}"]
    why = (f"CASE WHEN __t IS NULL OR {nan} THEN 'time_missing' "
           f"WHEN {infinite} THEN 'time_infinite' WHEN __t < 0 THEN 'time_negative' "
           "WHEN __e IS NULL THEN 'event_invalid' ELSE 'ok' END")
    keys = ["__why"]
    sets = ["(__why)"]
    outer = ["__why"]
    for i in range(len(slugs)):
        used = f"(__why = 'ok' AND __s{i} = 'complete')"
        outer += [f"CASE WHEN __s{i} = 'complete' AND __why <> 'ok' THEN 'complete_no_survival'"
                  f" ELSE __s{i} END AS __st{i}",
                  f"CASE WHEN {used} THEN __v{i} END AS __tot{i}",
                  f"CASE WHEN {used} THEN __b{i} END AS __band{i}",
                  f"CASE WHEN {used} THEN {binned} END AS __time{i}",
                  f"CASE WHEN {used} THEN __e END AS __ev{i}"]
        group = [f"__st{i}", f"__tot{i}", f"__band{i}", f"__time{i}", f"__ev{i}"]
        keys += group
        sets.append("(" + ", ".join(group) + ")")
    n = len(slugs)
    # one narrow result: which set (-1: the survival tally), then each key COALESCEd over the
    # sets (only the grouped set's column is non-null in a row; a NULL key stays NULL)
    which = "CASE " + " ".join(f"WHEN grouping(__st{i}) = 0 THEN {i}" for i in range(n)) \
        + " ELSE -1 END"

    def merged(prefix: str) -> str:
        return "COALESCE(" + ", ".join(f"{prefix}{i}" for i in range(n)) + ")"

    return (
        f"WITH __src AS (SELECT {', '.join(cols)} FROM {source}), "
        f"__rows AS (SELECT *, {why} AS __why FROM __src), "
        f"__keyed AS (SELECT {', '.join(outer)} FROM __rows) "
        f"SELECT {which} AS __set, __why, {merged('__st')} AS __st, "
        f"{merged('__tot')} AS __tot, {merged('__band')} AS __band, "
        f"{merged('__time')} AS __time, {merged('__ev')} AS __ev, count(*) AS __n "
        f"FROM __keyed GROUP BY GROUPING SETS ({', '.join(sets)})")


def count_query_branches(source: str, slugs: Sequence[str], *, time_column: str,
                         event_column: str, event_kind: str, time_resolution: float | None
                         ) -> str:
    """DuckDB's query: one filtered group-by per score (and one tally), as one UNION ALL.

    Same result columns as :func:`count_query`. DuckDB runs the branches as one query, each
    reading its own score columns with the survival columns; the status filter is pushed into
    the scan, so each branch hashes only the rows it counts. Measured on 10M rows: 4.3 s CPU
    against 9.2 s for the single-scan GROUPING SETS (which hashes every row once per score).
    """
    t_raw = f"TRY_CAST({_quote(time_column)} AS DOUBLE)"
    binned = f"floor(__t / {time_resolution!r}) * {time_resolution!r}" if time_resolution \
        else "__t"
    why = ("CASE WHEN __t IS NULL OR isnan(__t) THEN 'time_missing' "
           "WHEN isinf(__t) THEN 'time_infinite' WHEN __t < 0 THEN 'time_negative' "
           "WHEN __e IS NULL THEN 'event_invalid' ELSE 'ok' END")
    survival = f"{t_raw} AS __t, {_event_sql(_quote(event_column), event_kind)} AS __e"
    parts = [f"SELECT -1 AS __set, {why} AS __why, NULL AS __st, NULL AS __tot, NULL AS __band, "
             f"NULL AS __time, NULL AS __ev, count(*) AS __n FROM (SELECT {survival} FROM "
             f"{source}) GROUP BY 2"]
    for i, slug in enumerate(slugs):
        inner = (f"SELECT {survival}, CAST({_quote(slug + '_status')} AS VARCHAR) AS __s, "
                 f"TRY_CAST({_quote(slug + '_total')} AS DOUBLE) AS __v, "
                 f"CAST({_quote(slug + '_band')} AS VARCHAR) AS __b FROM {source}")
        used = f"(__s = 'complete' AND {why} = 'ok')"
        parts.append(f"SELECT {i}, NULL, 'complete', __v, __b, {binned}, __e, count(*) "
                     f"FROM ({inner}) WHERE {used} GROUP BY 4, 5, 6, 7")
        parts.append(f"SELECT {i}, NULL, CASE WHEN __s = 'complete' THEN "
                     f"'complete_no_survival' ELSE __s END, NULL, NULL, NULL, NULL, count(*) "
                     f"FROM ({inner}) WHERE NOT {used} OR __s IS NULL GROUP BY 3")
    return " UNION ALL ".join(parts)


def counts_from_groups(table: pa.Table, slugs: Sequence[str], *, engine: str,
                       time_resolution: float | None, max_cells: int, seconds: float
                       ) -> CohortCounts:
    """Split the GROUPING SETS result into per-score count tables and tallies."""
    which = table.column("__set")
    why_rows = table.filter(pc.equal(which, -1))
    excluded = dict.fromkeys(SURVIVAL_REASONS, 0)
    rows = 0
    for why, count in zip(why_rows.column("__why").to_pylist(),
                          why_rows.column("__n").to_pylist(), strict=True):
        rows += int(count)
        if why != "ok":
            excluded[str(why)] = excluded.get(str(why), 0) + int(count)
    scores: dict[str, ScoreCounts] = {}
    cells = 0
    for i, slug in enumerate(slugs):
        part = table.filter(pc.equal(which, i))
        sc = ScoreCounts(slug, {"complete": 0, "incomplete": 0, "error": 0})
        tally = part.group_by("__st").aggregate([("__n", "sum")])
        for st, count in zip(tally.column("__st").to_pylist(),
                             tally.column("__n_sum").to_pylist(), strict=True):
            if st == "complete_no_survival":
                sc.complete_without_survival += int(count)
                sc.status["complete"] += int(count)
            elif st is not None:
                sc.status[str(st)] = sc.status.get(str(st), 0) + int(count)
        used = part.filter(pc.equal(part.column("__st"), "complete"))
        sc.cells = pa.table([used.column("__tot").cast(pa.float64()),
                             used.column("__band").cast(pa.string()),
                             used.column("__time").cast(pa.float64()),
                             used.column("__ev").cast(pa.bool_()),
                             used.column("__n").cast(pa.int64())], schema=_CELL_SCHEMA)
        cells += sc.cells.num_rows
        scores[slug] = sc
    if cells > max_cells:
        raise _too_many(cells, max_cells)
    return CohortCounts(engine, rows, excluded, scores, time_resolution, seconds)


def _kind(arrow_type: pa.DataType) -> str:
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "number"
    return "text"


def count_duckdb(path: Path, fmt: str, slugs: Sequence[str], *, time_column: str,
                 event_column: str, time_resolution: float | None = None,
                 max_cells: int = DEFAULT_MAX_CELLS, threads: int | None = None,
                 progress: Progress | None = None) -> CohortCounts:
    """Count a Parquet or CSV file with DuckDB in one scan (all cores, bounded memory)."""
    import duckdb  # noqa: PLC0415  (imported only for this engine)

    started = _time.perf_counter()
    con = duckdb.connect(":memory:")
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        con.execute("SET preserve_insertion_order = false")
        literal = "'" + str(path).replace("'", "''") + "'"
        reader = (f"read_parquet({literal})" if fmt == "parquet"
                  else f"read_csv({literal}, header = true, all_varchar = true)")
        try:
            described = con.execute(f"DESCRIBE SELECT {_quote(event_column)} FROM {reader}"
                                    ).fetchall()
        except duckdb.Error as exc:
            raise RuntimeError(_first_line(exc)) from exc
        kind = _duck_kind(str(described[0][1]))
        sql = count_query_branches(reader, slugs, time_column=time_column,
                                   event_column=event_column, event_kind=kind,
                                   time_resolution=time_resolution)
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                result["table"] = con.sql(sql).to_arrow_table()
            except Exception as exc:
                result["error"] = exc

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.25)
            if progress is not None and worker.is_alive():
                done = con.query_progress()
                if done >= 0:
                    progress(int(done * 10), 1000)
        if "error" in result:
            failure = result["error"]
            if isinstance(failure, duckdb.Error):  # one line for the caller, not DuckDB's essay
                raise RuntimeError(_first_line(failure)) from failure
            raise failure
        table = result["table"]
    finally:
        con.close()
    return counts_from_groups(table, slugs, engine="duckdb", time_resolution=time_resolution,
                              max_cells=max_cells, seconds=_time.perf_counter() - started)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _duck_kind(type_name: str) -> str:
    name = type_name.upper()
    if name == "BOOLEAN":
        return "boolean"
    if any(k in name for k in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL")):
        return "number"
    return "text"


def count_sql(df: Any, slugs: Sequence[str], *, time_column: str, event_column: str,
              time_resolution: float | None = None, max_cells: int = DEFAULT_MAX_CELLS
              ) -> CohortCounts:
    """Count a Spark DataFrame with one Spark SQL group-by (GROUPING SETS, one scan)."""
    started = _time.perf_counter()
    from pyspark.sql.types import BooleanType, NumericType  # noqa: PLC0415

    dtype = df.schema[event_column].dataType
    kind = ("boolean" if isinstance(dtype, BooleanType)
            else "number" if isinstance(dtype, NumericType) else "text")
    view = f"spinemets_counts_{id(df)}"
    df.createOrReplaceTempView(view)
    sql = count_query(view, slugs, time_column=time_column, event_column=event_column,
                      event_kind=kind, time_resolution=time_resolution, dialect="spark")
    table = df.sparkSession.sql(sql).toArrow()
    df.sparkSession.catalog.dropTempView(view)
    return counts_from_groups(table, slugs, engine="spark", time_resolution=time_resolution,
                              max_cells=max_cells, seconds=_time.perf_counter() - started)
