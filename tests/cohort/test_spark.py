"""The Spark engine (mapInArrow) gives byte-identical score columns to the local engine."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spinemets.cohort import score_file, synth_table
from spinemets.cohort._spark import score_file_spark

pytestmark = pytest.mark.spark
pyspark = pytest.importorskip("pyspark")


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession  # noqa: PLC0415  (after the environment is set)

    session = (SparkSession.builder.master("local[2]").appName("spinemets-test")
               .config("spark.ui.enabled", "false")
               .config("spark.pyspark.python", sys.executable)
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.files.maxPartitionBytes", "65536")  # several partitions
               .getOrCreate())
    yield session
    session.stop()


def _score_columns(table: pa.Table) -> pa.Table:
    names = [n for n in table.column_names if n.endswith(("_total", "_band", "_status"))]
    cols = [table.column(n).cast(pa.string()) if pa.types.is_dictionary(table.column(n).type)
            else table.column(n) for n in names]
    return pa.table(dict(zip(names, cols, strict=True))).combine_chunks()


def test_spark_and_local_scores_are_identical(spark: Any, tmp_path: Path) -> None:
    table = synth_table(20_000, 21)
    kps = table.column("kps").cast(pa.string()).to_pylist()
    kps[10], kps[1234] = "abc", "85"  # two bad cells: both engines must report them
    table = table.set_column(table.schema.get_field_index("kps"), "kps", pa.array(kps))
    source = tmp_path / "cohort.parquet"
    pq.write_table(table, source, row_group_size=4096)
    local = score_file(source, tmp_path / "local.parquet", progress=False, batch_size=3000)
    remote = score_file_spark(source, tmp_path / "spark_out", session=spark,
                              problems_path=tmp_path / "spark.problems.csv")
    ours = pq.read_table(tmp_path / "local.parquet").sort_by("patient_id")
    theirs = pq.read_table(tmp_path / "spark_out").sort_by("patient_id")
    assert ours.column("patient_id").equals(theirs.column("patient_id"))
    assert _score_columns(ours).equals(_score_columns(theirs))
    assert remote.status_counts == local.status_counts

    def rows(path: Path) -> list[dict[str, str]]:
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))

    assert rows(tmp_path / "spark.problems.csv") == rows(tmp_path / "local.problems.csv")
    assert {r["row"] for r in rows(tmp_path / "local.problems.csv")} == {"11", "1235"}
