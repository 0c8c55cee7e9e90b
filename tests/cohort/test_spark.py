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


@pytest.mark.parametrize("accumulate", [True, False], ids=["accumulator", "persisted"])
def test_both_side_paths_match_local_with_bad_cells_in_many_partitions(
        spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, accumulate: bool) -> None:
    # the accumulator path (classic sessions) and the persisted path (Spark Connect) give the
    # same sidecar and scores as the local engine, bad cells spread over several partitions
    from spinemets.cohort import _spark  # noqa: PLC0415

    monkeypatch.setattr(_spark, "_has_accumulators", lambda session: accumulate)
    table = synth_table(20_000, 22)
    kps = table.column("kps").cast(pa.string()).to_pylist()
    pain = table.column("pain").to_pylist()
    for at in (0, 4095, 4096, 9000, 13_333, 19_999):
        kps[at] = f"bad{at}"
    for at in (1, 8191, 16_500):
        pain[at] = "sometimes"
    table = table.set_column(table.schema.get_field_index("kps"), "kps", pa.array(kps))
    table = table.set_column(table.schema.get_field_index("pain"), "pain", pa.array(pain))
    source = tmp_path / "cohort.parquet"
    pq.write_table(table, source, row_group_size=2048)
    local = score_file(source, tmp_path / "local.parquet", progress=False)
    remote = score_file_spark(source, tmp_path / "spark_out", session=spark,
                              problems_path=tmp_path / "spark.problems.csv")
    assert spark.read.parquet(str(source)).rdd.getNumPartitions() > 4
    ours = pq.read_table(tmp_path / "local.parquet").sort_by("patient_id")
    theirs = pq.read_table(tmp_path / "spark_out").sort_by("patient_id")
    assert ours.column("patient_id").equals(theirs.column("patient_id"))
    assert _score_columns(ours).equals(_score_columns(theirs))
    assert (remote.rows, remote.status_counts) == (local.rows, local.status_counts)
    assert (remote.problems, remote.rows_with_problems) == (local.problems,
                                                            local.rows_with_problems)
    assert (tmp_path / "spark.problems.csv").read_bytes() == (
        tmp_path / "local.problems.csv").read_bytes()
    with (tmp_path / "local.problems.csv").open(newline="") as handle:
        rows = {int(r["row"]) for r in csv.DictReader(handle)}
    assert rows == {1, 2, 4096, 4097, 8192, 9001, 13_334, 16_501, 20_000}


def test_a_partition_reported_again_replaces_its_entry() -> None:
    # a retried or recomputed task adds its partition again: the accumulator keeps one entry
    from spinemets.cohort._spark import _ByPartition  # noqa: PLC0415

    param = _ByPartition()
    merged = param.addInPlace(param.zero({}), {0: (5, {}, None), 1: (3, {}, None)})
    merged = param.addInPlace(merged, {1: (3, {}, None)})
    assert merged == {0: (5, {}, None), 1: (3, {}, None)}
