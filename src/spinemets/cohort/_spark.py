"""The Spark engine: the same Arrow kernel on Apache Spark through ``DataFrame.mapInArrow``.

Each Spark task compiles the kernel once (from the score tables installed on the executor) and
scores its partition's record batches exactly as the local engine does, so the score columns
are identical. Sidecar row numbers are file row numbers: a first pass counts the rows of each
partition, and each task adds its partition's offset (for one input file, Spark's partitions
follow the file order; for several files, rows are numbered in Spark's partition order).

Works with a local session or a cluster through Spark Connect (``remote="sc://host:15002"``);
executors need ``spinemets[cohort]`` installed. pyspark is imported only when used.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from spinemets.cohort._columns import cohort_columns, present_scores
from spinemets.cohort._files import check_source, check_targets, replacing, same_file
from spinemets.cohort._io import file_format
from spinemets.cohort._kernel import PROBLEM_SCHEMA, Kernel
from spinemets.cohort._local import Keep, ScoreSummary, sidecar_path
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
    return (SparkSession.builder.master(master or "local[*]").appName("spinemets-cohort")
            .config("spark.ui.enabled", "false")
            .config("spark.pyspark.python", sys.executable)  # workers see this interpreter
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate())


def read_spark(spark: Any, path: Path) -> Any:
    """A Spark DataFrame of a cohort file or directory (CSV columns as text)."""
    fmt = file_format(path)
    if fmt == "parquet":
        return spark.read.parquet(str(path))
    if fmt == "csv":  # every column as text: the kernel parses and reports bad cells
        return spark.read.option("header", "true").csv(str(path))
    return spark.read.json(str(path))


def _offsets(df: Any) -> dict[int, int]:
    def count(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        n = sum(b.num_rows for b in batches)
        yield pa.RecordBatch.from_pydict({"pid": [_partition_id()], "n": [n]},
                                         schema=pa.schema([("pid", pa.int32()),
                                                           ("n", pa.int64())]))

    sizes = {r["pid"]: r["n"] for r in df.mapInArrow(count, "pid int, n long").collect()}
    offsets: dict[int, int] = {}
    running = 0
    for pid in sorted(sizes):
        offsets[pid] = running
        running += sizes[pid]
    return offsets


def _spark_schema(arrow: pa.Schema) -> Any:
    """Spark schema of the kernel's output fields (16-bit totals and text)."""
    from pyspark.sql.types import LongType, ShortType, StringType, StructField, StructType  # noqa: PLC0415

    spark_types = {pa.int16(): ShortType(), pa.int64(): LongType(), pa.string(): StringType()}
    return StructType([StructField(f.name, spark_types[f.type], f.nullable) for f in arrow])


def score_spark_dataframe(df: Any, *, slugs: Sequence[str] | None = None, keep: Keep = "extra",
                          offsets: dict[int, int] | None = None) -> tuple[Any, Any]:
    """Score a Spark DataFrame of cohort rows.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        Cohort rows (column names as in the cohort schema).
    slugs : sequence of str, optional
        Scores; default every score with an input column present.
    keep : {"extra", "all", "none"}
        Input columns copied to the output, as for the local engine.
    offsets : dict, optional
        First row number - 1 of each partition (default: counted with one extra pass).

    Returns
    -------
    (pyspark.sql.DataFrame, pyspark.sql.DataFrame)
        The scored rows and the problems (row, field, value, reason, allowed, scores).
    """
    chosen = tuple(slugs) if slugs is not None else present_scores(df.columns)
    kernel = _kernel(chosen)
    out_names = set(kernel.output_schema().names)
    inputs = cohort_columns()
    kept = [] if keep == "none" else [c for c in df.columns if c not in out_names and (
        keep == "all" or c not in inputs)]
    offsets = offsets if offsets is not None else _offsets(df)
    kept_schema = df.select(*kept).schema if kept else None
    score_fields = list(kernel.output_schema(strings=True))

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        k = _kernel(chosen)
        row = offsets.get(_partition_id(), 0) + 1
        for batch in batches:
            result = k.run(batch, first_row=row, strings=True)
            row += batch.num_rows
            cols = [batch.column(batch.schema.get_field_index(n)) for n in kept]
            fields = [batch.schema.field(n) for n in kept] + score_fields
            yield pa.RecordBatch.from_arrays(cols + result.scores.columns,
                                             schema=pa.schema(fields))

    def problems(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        k = _kernel(chosen)
        row = offsets.get(_partition_id(), 0) + 1
        for batch in batches:
            yield k.run(batch, first_row=row).problems
            row += batch.num_rows

    from pyspark.sql.types import StructType  # noqa: PLC0415

    schema = StructType(list(kept_schema.fields) if kept_schema else [])
    for f in _spark_schema(pa.schema(score_fields)).fields:
        schema = schema.add(f)
    return (df.mapInArrow(score, schema),
            df.mapInArrow(problems, _spark_schema(PROBLEM_SCHEMA)))


def _status_counts(out: Path, slugs: Sequence[str]) -> tuple[int, dict[str, dict[str, int]]]:
    table = pq.read_table(out, columns=[f"{s}_status" for s in slugs])
    counts: dict[str, dict[str, int]] = {}
    for slug in slugs:
        tally = table.column(f"{slug}_status").value_counts().to_pylist()
        counts[slug] = {"complete": 0, "incomplete": 0, "error": 0}
        for item in tally:
            counts[slug][item["values"]] = item["counts"]
    return table.num_rows, counts


def score_file_spark(source_path: Path, out: Path, *, problems_path: Path | None = None,
                     slugs: Sequence[str] | None = None, keep: Keep = "extra",
                     remote: str | None = None, session: Any = None) -> ScoreSummary:
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
    spark = session if session is not None else spark_session(remote)
    df = read_spark(spark, source_path)
    chosen = tuple(slugs) if slugs is not None else present_scores(df.columns)
    with warnings.catch_warnings():
        # pyspark 4.3 warns on every mapInArrow that pandas >= 3 is not fully supported;
        # mapInArrow does not use pandas
        warnings.filterwarnings("ignore", message=_PANDAS3_WARNING, category=FutureWarning)
        scored, problems = score_spark_dataframe(df, slugs=chosen, keep=keep)
        scored.write.mode("overwrite").parquet(str(out))
        found = problems.toArrow()
    found = found.cast(PROBLEM_SCHEMA).sort_by([("row", "ascending"), ("field", "ascending")])
    with replacing(problems_path) as partial:
        pacsv.write_csv(found, partial)
    summary = ScoreSummary("spark", str(source_path), str(out), str(problems_path))
    summary.rows, summary.status_counts = _status_counts(out, chosen)
    summary.problems = found.num_rows
    summary.rows_with_problems = len(set(found.column("row").to_pylist()))
    summary.seconds = time.perf_counter() - started
    return summary
