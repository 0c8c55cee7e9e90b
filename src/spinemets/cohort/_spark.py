"""The Spark engine: the same Arrow kernel on Apache Spark through ``DataFrame.mapInArrow``.

Each Spark task compiles the kernel once (from the score tables installed on the executor) and
scores its partition's record batches exactly as the local engine does, so the score columns
are identical. The input is read once and only the score rows are written. Each task also
reports its partition's row count, status counts and problems (bad cells, numbered within the
partition): on a classic session through an accumulator keyed by partition id (a task run again
replaces its entry), on Spark Connect, which has no accumulators, as side rows of the same
mapInArrow kept on the executors' disks and read back after the write. The driver turns problem
rows into file row numbers from the partition counts (for one input file, Spark's partitions
follow the file order; for several files, rows are numbered in Spark's partition order).
The Arrow batches handed to the kernel hold 65,536 rows, as in the local engine, unless the
session sets ``spark.sql.execution.arrow.maxRecordsPerBatch``.

Works with a local session, a standalone or YARN/Kubernetes cluster (``master="spark://host:7077"``)
or Spark Connect (``remote="sc://host:15002"``); executors need ``spinemets[cohort]`` installed
for the same Python. pyspark is imported only when used.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from spinemets.cohort._columns import cohort_columns, present_scores
from spinemets.cohort._files import check_source, check_targets, replacing, same_file
from spinemets.cohort._io import file_format
from spinemets.cohort._kernel import PROBLEM_SCHEMA, STATUSES, Kernel
from spinemets.cohort._local import Keep, ScoreSummary, add_statuses, sidecar_path
from spinemets.errors import InputError

__all__ = ["read_spark", "score_file_spark", "score_spark_dataframe", "spark_session"]

_PANDAS3_WARNING = "PySpark does not yet fully support pandas"


@cache
def _kernel(slugs: tuple[str, ...]) -> Kernel:
    return Kernel(slugs)


def _partition_id() -> int:
    from pyspark import TaskContext  # noqa: PLC0415

    context = TaskContext.get()
    return context.partitionId() if context is not None else 0


def spark_session(remote: str | None = None, *, master: str | None = None) -> Any:
    """A Spark session: Spark Connect when ``remote`` is given, else a classic session.

    Parameters
    ----------
    remote : str, optional
        Spark Connect URL such as ``sc://spark-master:15002``.
    master : str, optional
        Cluster master URL such as ``spark://host:7077`` (default ``local[*]``); executors
        need ``spinemets[cohort]`` installed for the same Python.

    Returns
    -------
    pyspark.sql.SparkSession
        The session.
    """
    from pyspark.sql import SparkSession  # noqa: PLC0415

    if remote:
        return SparkSession.builder.remote(remote).getOrCreate()
    # executors run this interpreter (pyspark reads the variable, not the setting, when the
    # driver is a plain Python process rather than spark-submit)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (SparkSession.builder.master(master or "local[*]").appName("spinemets-cohort")
            .config("spark.ui.enabled", "false")
            .config("spark.pyspark.python", sys.executable)  # workers see this interpreter
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate())


def read_spark(spark: Any, path: Path) -> Any:
    """A Spark DataFrame of a cohort file or directory (CSV columns as text; a directory is
    read as Parquet part files)."""
    fmt = "parquet" if "://" not in str(path) and path.is_dir() else file_format(path)
    if fmt == "parquet":
        return spark.read.parquet(str(path))
    if fmt == "csv":  # every column as text: the kernel parses and reports bad cells
        return spark.read.option("header", "true").csv(str(path))
    return spark.read.json(str(path))


_KIND = "__spinemets_kind"
_PID = "__spinemets_partition"
_TALLY = "__spinemets_tally"  # JSON status counts per score, on each partition's count row
_PROBLEM_PREFIX = "__spinemets_problem_"
#: by partition id: its rows, status counts by score, problems (rows numbered within it)
_Parts = dict[int, tuple[int, dict[str, dict[str, int]], pa.Table | None]]


def _spark_schema(arrow: pa.Schema) -> Any:
    """Spark schema of the kernel's output fields (16-bit totals, 32/64-bit integers, text)."""
    from pyspark.sql.types import (  # noqa: PLC0415
        IntegerType,
        LongType,
        ShortType,
        StringType,
        StructField,
        StructType,
    )

    spark_types = {pa.int16(): ShortType(), pa.int32(): IntegerType(), pa.int64(): LongType(),
                   pa.string(): StringType()}
    return StructType([StructField(f.name, spark_types[f.type], f.nullable) for f in arrow])


def _extra_fields() -> list[pa.Field]:
    problem = [pa.field(_PROBLEM_PREFIX + f.name, f.type, nullable=True) for f in PROBLEM_SCHEMA]
    return [*problem, pa.field(_KIND, pa.string()), pa.field(_PID, pa.int32()),
            pa.field(_TALLY, pa.string())]


def _layout(df: Any, chosen: tuple[str, ...], keep: Keep
            ) -> tuple[list[str], Any, list[pa.Field]]:
    """What a pass writes: the input columns copied to the output, their Spark schema (None:
    none), and the score fields (every one nullable)."""
    kernel = _kernel(chosen)
    out_names = set(kernel.output_schema().names)
    inputs = cohort_columns()
    kept = [] if keep == "none" else [c for c in df.columns if c not in out_names and (
        keep == "all" or c not in inputs)]
    return (kept, df.select(*kept).schema if kept else None,
            [f.with_nullable(True) for f in kernel.output_schema(strings=True)])


class _Scored(NamedTuple):
    """One record batch through the kernel (:meth:`_Partition.scored`)."""

    #: The kept input columns' fields (nullable), in order.
    kept_fields: list[pa.Field]
    #: The kept input columns, then the score columns.
    columns: list[pa.Array]
    rows: int
    #: Bad cells, rows numbered within the partition.
    problems: pa.RecordBatch


class _Partition:
    """The kernel over one partition's record batches, as both passes run it: the scores with
    the kept input columns, the problems, and the partition's rows and status counts so far."""

    def __init__(self, chosen: tuple[str, ...], kept: list[str]) -> None:
        self.chosen, self.kept = chosen, kept
        self.rows = 0
        self.tally: dict[str, dict[str, int]] = {s: dict.fromkeys(STATUSES, 0) for s in chosen}

    def scored(self, batches: Iterator[pa.RecordBatch]) -> Iterator[_Scored]:
        kernel = _kernel(self.chosen)
        for batch in batches:
            result = kernel.run(batch, first_row=self.rows + 1, strings=True)
            self.rows += batch.num_rows
            add_statuses(self.tally, result.status_counts)
            yield _Scored([batch.schema.field(n).with_nullable(True) for n in self.kept],
                          [batch.column(batch.schema.get_field_index(n)) for n in self.kept]
                          + result.scores.columns, batch.num_rows, result.problems)


def _mapped_schema(kept_schema: Any, fields: list[pa.Field]) -> Any:
    """Spark schema of a pass's output: the kept input columns (as Spark read them), then
    ``fields``; every field nullable."""
    from pyspark.sql.types import StructField, StructType  # noqa: PLC0415

    schema = StructType([StructField(f.name, f.dataType, True)
                         for f in (kept_schema.fields if kept_schema else [])])
    for f in _spark_schema(pa.schema(fields)).fields:
        schema = schema.add(f.name, f.dataType, True)
    return schema


def _one_pass(df: Any, chosen: tuple[str, ...], keep: Keep) -> tuple[Any, list[str]]:
    """One mapInArrow giving score rows, problem rows and one count row per partition.

    Problems carry their row number within the partition; the driver adds each partition's
    offset from the count rows afterwards, so no counting pass over the input is needed.
    """
    # every field nullable: score rows leave the problem fields empty and the other way round
    kept, kept_schema, score_fields = _layout(df, chosen, keep)
    extra = _extra_fields()

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        part = _Partition(chosen, kept)
        pid = _partition_id()
        kept_fields: list[pa.Field] = []
        for scored in part.scored(batches):
            kept_fields, n = scored.kept_fields, scored.rows
            cols = (scored.columns
                    + [pa.nulls(n, f.type) for f in extra[:-3]]
                    + [pa.array(["score"] * n), pa.array([pid] * n, pa.int32()),
                       pa.nulls(n, pa.string())])
            yield pa.RecordBatch.from_arrays(cols, schema=pa.schema(
                kept_fields + score_fields + extra))
            found = scored.problems
            if found.num_rows:
                m = found.num_rows
                cols = ([pa.nulls(m, f.type) for f in kept_fields]
                        + [pa.nulls(m, f.type) for f in score_fields]
                        + [found.column(f.name).cast(f.type) for f in PROBLEM_SCHEMA]
                        + [pa.array(["problem"] * m), pa.array([pid] * m, pa.int32()),
                           pa.nulls(m, pa.string())])
                yield pa.RecordBatch.from_arrays(cols, schema=pa.schema(
                    kept_fields + score_fields + extra))
        if not kept_fields:
            kept_fields = [pa.field(f.name, _arrow_type(f.dataType)) for f in
                           (kept_schema.fields if kept_schema else [])]
        cols = ([pa.nulls(1, f.type) for f in kept_fields]
                + [pa.nulls(1, f.type) for f in score_fields]
                + [pa.nulls(1, f.type) for f in extra[:-3]]
                + [pa.array(["count"]), pa.array([pid], pa.int32()),
                   pa.array([json.dumps({"rows": part.rows, "status": part.tally})])])
        yield pa.RecordBatch.from_arrays(cols, schema=pa.schema(
            kept_fields + score_fields + extra))

    return (df.mapInArrow(run, _mapped_schema(kept_schema, score_fields + extra)),
            kept + [f.name for f in score_fields])


class _ByPartition:
    """Accumulator parameter: each partition's (rows, status counts, problems) by partition id.

    Merging replaces a partition's entry instead of adding to it, so a task that runs again
    (a retry, a speculative copy, a recomputed partition) cannot count its rows twice.
    """

    def zero(self, value: dict[int, Any]) -> dict[int, Any]:
        return {}

    def addInPlace(self, into: dict[int, Any], other: dict[int, Any]) -> dict[int, Any]:  # noqa: N802
        into.update(other)
        return into


def _scores_only(df: Any, chosen: tuple[str, ...], keep: Keep, accumulator: Any) -> Any:
    """One mapInArrow giving the score rows only; each task adds its row count, status counts
    and problems (rows numbered within the partition) to ``accumulator`` (a classic session's
    :class:`_ByPartition` accumulator), so nothing but the scores is written or kept."""
    kept, kept_schema, score_fields = _layout(df, chosen, keep)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        part = _Partition(chosen, kept)
        found: list[pa.RecordBatch] = []
        for scored in part.scored(batches):
            yield pa.RecordBatch.from_arrays(scored.columns, schema=pa.schema(
                scored.kept_fields + score_fields))
            if scored.problems.num_rows:
                found.append(scored.problems)
        problems = pa.Table.from_batches(found) if found else None
        accumulator.add({_partition_id(): (part.rows, part.tally, problems)})

    return df.mapInArrow(run, _mapped_schema(kept_schema, score_fields))


def _arrow_type(spark_type: Any) -> pa.DataType:
    from pyspark.sql.pandas.types import to_arrow_type  # noqa: PLC0415

    return to_arrow_type(spark_type)


def score_spark_dataframe(df: Any, *, slugs: Sequence[str] | None = None, keep: Keep = "extra",
                          ) -> tuple[Any, Any]:
    """Score a Spark DataFrame of cohort rows (one pass: problems are emitted beside scores).

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        Cohort rows (column names as in the cohort schema).
    slugs : sequence of str, optional
        Scores; default every score with an input column present.
    keep : {"extra", "all", "none"}
        Input columns copied to the output, as for the local engine.

    Returns
    -------
    (pyspark.sql.DataFrame, pyspark.sql.DataFrame)
        The one-pass frame (persist it when both are used) split into the scored rows and the
        side rows: problems (``row`` numbered within the partition) and one count row per
        partition; :func:`score_file_spark` turns them into file row numbers.
    """
    chosen = tuple(slugs) if slugs is not None else present_scores(df.columns)
    combined, names = _one_pass(df, chosen, keep)
    from pyspark.sql import functions as F  # noqa: PLC0415, N812

    scored = combined.filter(F.col(_KIND) == "score").select(*names)
    side = combined.filter(F.col(_KIND) != "score").select(
        *[f.name for f in _extra_fields()])
    return scored, side


def _partitions(side: pa.Table) -> _Parts:
    """The side rows of :func:`_one_pass` by partition: (rows, status counts, problems)."""
    parts: _Parts = {}
    for kind, pid, tally in zip(side.column(_KIND).to_pylist(), side.column(_PID).to_pylist(),
                                side.column(_TALLY).to_pylist(), strict=True):
        if kind == "count":
            data = json.loads(tally)
            parts[pid] = (int(data["rows"]), data["status"], None)
    problems = side.filter(pc.equal(side.column(_KIND), "problem"))
    table = pa.table({f.name: problems.column(_PROBLEM_PREFIX + f.name)
                      for f in PROBLEM_SCHEMA}).cast(PROBLEM_SCHEMA)
    pids = problems.column(_PID)
    for pid in pc.unique(pids).to_pylist():
        rows, tally, _ = parts.get(pid, (0, {}, None))
        parts[pid] = (rows, tally, table.filter(pc.equal(pids, pid)))
    return parts


def _problems_and_tally(parts: _Parts, chosen: Sequence[str]
                        ) -> tuple[pa.Table, int, dict[str, dict[str, int]]]:
    """File row numbers for the problems, the row count and the status counts, from each
    partition's rows, status counts and problems (rows numbered within the partition)."""
    status = {s: dict.fromkeys(STATUSES, 0) for s in chosen}
    tables = []
    running = 0
    for pid in sorted(parts):  # a partition's rows follow those of the partitions before it
        rows, tally, found = parts[pid]
        add_statuses(status, tally)
        if found is not None and found.num_rows:
            shifted = pc.add(found.column("row").cast(pa.int64()), running)
            tables.append(found.cast(PROBLEM_SCHEMA).set_column(
                PROBLEM_SCHEMA.get_field_index("row"), PROBLEM_SCHEMA.field("row"), shifted))
        running += rows
    table = pa.concat_tables(tables) if tables else PROBLEM_SCHEMA.empty_table()
    return table, running, status


#: Runtime settings for the scoring job, used unless the session sets them: the kernel's batch
#: (Spark's default of 10,000 rows costs the kernel's per-batch work 6.5 times as often as the
#: local engine's 65,536).
_SETTINGS = {"spark.sql.execution.arrow.maxRecordsPerBatch": str(1 << 16)}


@contextmanager
def _tuned(spark: Any) -> Iterator[None]:
    """:data:`_SETTINGS` on ``spark`` for the block, where the session has not set them."""
    unset = [key for key in _SETTINGS if spark.conf.get(key, None) is None]
    for key in unset:
        spark.conf.set(key, _SETTINGS[key])
    try:
        yield
    finally:
        for key in unset:
            spark.conf.unset(key)


def _has_accumulators(spark: Any) -> bool:
    """Whether ``spark`` is a classic session (Spark Connect has no accumulators)."""
    return not type(spark).__module__.startswith("pyspark.sql.connect")


def _write_accumulated(spark: Any, df: Any, chosen: tuple[str, ...], keep: Keep, out: Path
                       ) -> _Parts:
    """Write the score rows; the counts and problems come back in an accumulator."""
    accumulator = spark.sparkContext.accumulator({}, _ByPartition())
    _scores_only(df, chosen, keep, accumulator).write.mode("overwrite").parquet(str(out))
    parts: _Parts = accumulator.value
    return parts


def _write_persisted(df: Any, chosen: tuple[str, ...], keep: Keep, out: Path) -> _Parts:
    """Write the score rows; the counts and problems are read back from a persisted frame
    (for Spark Connect, which has no accumulators)."""
    from pyspark import StorageLevel  # noqa: PLC0415

    combined, names = _one_pass(df, chosen, keep)
    # one read of the input: the write computes every partition once and keeps it on the
    # executors' disks; the side rows (problems, counts) are then read from there
    combined = combined.persist(StorageLevel.DISK_ONLY)
    try:
        combined.filter(combined[_KIND] == "score").select(*names).write.mode(
            "overwrite").parquet(str(out))
        side = combined.filter(combined[_KIND] != "score").select(
            *[f.name for f in _extra_fields()]).toArrow()
    finally:
        combined.unpersist()
    return _partitions(side)


def score_file_spark(source_path: Path, out: Path, *, problems_path: Path | None = None,
                     slugs: Sequence[str] | None = None, keep: Keep = "extra",
                     remote: str | None = None, session: Any = None,
                     master: str | None = None) -> ScoreSummary:
    """Score a cohort file on Spark; write a Parquet directory and the sidecar CSV.

    Parameters
    ----------
    source_path : Path
        CSV, Parquet or JSON Lines (a file or a directory Spark can read).
    out : Path
        Output directory of Parquet part files (replaced; it must not be or hold the input).
    problems_path : Path, optional
        Sidecar CSV; default :func:`~spinemets.cohort.sidecar_path`. Problems are collected to
        the driver, so they must fit in its memory (they are the rare bad cells).
    slugs : sequence of str, optional
        Scores to compute.
    keep : {"extra", "all", "none"}
        Input columns copied to the output.
    remote : str, optional
        Spark Connect URL; default a local session.
    master : str, optional
        Cluster master URL (``spark://host:7077``) for a classic session.
    session : pyspark.sql.SparkSession, optional
        An existing session (overrides ``remote``).

    Returns
    -------
    ScoreSummary
        Counts and timing.
    """
    started = time.perf_counter()
    problems_path = problems_path or sidecar_path(out)
    if "://" not in str(source_path):  # a local input: the same checks as the local engine
        check_source(source_path, directory_ok=True)
        check_targets([source_path], [("--problems", problems_path)])
        inside = Path(os.path.realpath(source_path)).is_relative_to(os.path.realpath(out))
        if inside or same_file(problems_path, out):
            raise InputError.single("--out", f"{out} (replaced by Spark) is or holds the "
                                    "input, or is the sidecar; choose another output "
                                    "directory (the input is never overwritten)")
    spark = session if session is not None else spark_session(remote, master=master)
    df = read_spark(spark, source_path)
    chosen = tuple(slugs) if slugs is not None else present_scores(df.columns)
    with warnings.catch_warnings(), _tuned(spark):
        # pyspark 4.3 warns on every mapInArrow that pandas >= 3 is not fully supported;
        # mapInArrow does not use pandas
        warnings.filterwarnings("ignore", message=_PANDAS3_WARNING, category=FutureWarning)
        if _has_accumulators(spark):
            parts = _write_accumulated(spark, df, chosen, keep, out)
        else:
            parts = _write_persisted(df, chosen, keep, out)
    found, rows, status = _problems_and_tally(parts, chosen)
    found = found.sort_by([("row", "ascending"), ("field", "ascending")])
    with replacing(problems_path) as partial:
        pacsv.write_csv(found, partial)
    summary = ScoreSummary("spark", str(source_path), str(out), str(problems_path))
    summary.rows, summary.status_counts = rows, status
    summary.problems = found.num_rows
    summary.rows_with_problems = len(set(found.column("row").to_pylist()))
    summary.seconds = time.perf_counter() - started
    return summary
