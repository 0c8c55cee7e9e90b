"""One cohort scored by the local engine and by Spark, compared (the Spark tests share it)."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from spinemets.cohort import ScoreSummary, score_file
from spinemets.cohort._spark import score_file_spark


def with_bad_cells(table: pa.Table, column: str, cells: Mapping[int, str]) -> pa.Table:
    """``table`` with ``column`` (as text) holding ``cells`` (row index -> value)."""
    values = table.column(column).cast(pa.string()).to_pylist()
    for at, value in cells.items():
        values[at] = value
    return table.set_column(table.schema.get_field_index(column), column, pa.array(values))


def score_columns(table: pa.Table) -> pa.Table:
    """The score columns, dictionary columns as text (the engines may encode them apart)."""
    names = [n for n in table.column_names if n.endswith(("_total", "_band", "_status"))]
    cols = [table.column(n).cast(pa.string()) if pa.types.is_dictionary(table.column(n).type)
            else table.column(n) for n in names]
    return pa.table(dict(zip(names, cols, strict=True))).combine_chunks()


def problem_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def score_both(table: pa.Table, folder: Path, session: Any, *, row_group_size: int,
               batch_size: int | None = None) -> tuple[ScoreSummary, ScoreSummary]:
    """Score ``table`` (written to ``folder``) with both engines: the same patients, score
    columns, rows and status counts (asserted). Sidecars: ``local.problems.csv`` and
    ``spark.problems.csv`` in ``folder``. Returns (local, Spark) summaries."""
    source = folder / "cohort.parquet"
    pq.write_table(table, source, row_group_size=row_group_size)
    options = {} if batch_size is None else {"batch_size": batch_size}
    local = score_file(source, folder / "local.parquet", progress=False, **options)
    remote = score_file_spark(source, folder / "spark_out", session=session,
                              problems_path=folder / "spark.problems.csv")
    ours = pq.read_table(folder / "local.parquet").sort_by("patient_id")
    theirs = pq.read_table(folder / "spark_out").sort_by("patient_id")
    assert ours.column("patient_id").equals(theirs.column("patient_id"))
    assert score_columns(ours).equals(score_columns(theirs))
    assert (remote.rows, remote.status_counts) == (local.rows, local.status_counts)
    return local, remote
