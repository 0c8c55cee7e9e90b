"""The Spark engine (mapInArrow) gives byte-identical score columns to the local engine."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cohort._spark_pair import problem_rows, score_both, with_bad_cells

from spinemets.cohort import synth_table

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


def test_spark_and_local_scores_are_identical(spark: Any, tmp_path: Path) -> None:
    # two bad cells: both engines must report them
    table = with_bad_cells(synth_table(20_000, 21), "kps", {10: "abc", 1234: "85"})
    score_both(table, tmp_path, spark, row_group_size=4096, batch_size=3000)
    assert problem_rows(tmp_path / "spark.problems.csv") == problem_rows(
        tmp_path / "local.problems.csv")
    assert {r["row"] for r in problem_rows(tmp_path / "local.problems.csv")} == {"11", "1235"}


@pytest.mark.parametrize("accumulate", [True, False], ids=["accumulator", "persisted"])
def test_both_side_paths_match_local_with_bad_cells_in_many_partitions(
        spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, accumulate: bool) -> None:
    # the accumulator path (classic sessions) and the persisted path (Spark Connect) give the
    # same sidecar and scores as the local engine, bad cells spread over several partitions
    from spinemets.cohort import _spark  # noqa: PLC0415

    monkeypatch.setattr(_spark, "_has_accumulators", lambda session: accumulate)
    table = with_bad_cells(synth_table(20_000, 22), "kps",
                           {at: f"bad{at}" for at in (0, 4095, 4096, 9000, 13_333, 19_999)})
    table = with_bad_cells(table, "pain", dict.fromkeys((1, 8191, 16_500), "sometimes"))
    local, remote = score_both(table, tmp_path, spark, row_group_size=2048)
    assert spark.read.parquet(str(tmp_path / "cohort.parquet")).rdd.getNumPartitions() > 4
    assert (remote.problems, remote.rows_with_problems) == (local.problems,
                                                            local.rows_with_problems)
    assert (tmp_path / "spark.problems.csv").read_bytes() == (
        tmp_path / "local.problems.csv").read_bytes()
    rows = {int(r["row"]) for r in problem_rows(tmp_path / "local.problems.csv")}
    assert rows == {1, 2, 4096, 4097, 8192, 9001, 13_334, 16_501, 20_000}


def test_a_partition_reported_again_replaces_its_entry() -> None:
    # a retried or recomputed task adds its partition again: the accumulator keeps one entry
    from spinemets.cohort._spark import _ByPartition  # noqa: PLC0415

    param = _ByPartition()
    merged = param.addInPlace(param.zero({}), {0: (5, {}, None), 1: (3, {}, None)})
    merged = param.addInPlace(merged, {1: (3, {}, None)})
    assert merged == {0: (5, {}, None), 1: (3, {}, None)}
