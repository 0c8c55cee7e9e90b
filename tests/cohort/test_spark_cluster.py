"""On a real Spark standalone cluster (a master and a worker on loopback, started here from the
installed pyspark): scoring and validation are identical to the local engines."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cohort._spark_pair import problem_rows, score_both, with_bad_cells

from spinemets.cohort import synth_table, validate_file

pytestmark = pytest.mark.spark
pyspark = pytest.importorskip("pyspark")


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as r:
            return int(json.load(r).get("aliveworkers", 0))
    except OSError:
        return 0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from pyspark.find_spark_home import _find_spark_home  # noqa: PLC0415

    home = _find_spark_home()
    logs = tmp_path_factory.mktemp("spark")
    env = dict(os.environ, SPARK_HOME=home, SPARK_LOCAL_IP="127.0.0.1",
               PYSPARK_PYTHON=sys.executable, SPARK_WORKER_DIR=str(logs / "work"))
    port, ui = _port(), _port()
    spark_class = str(Path(home) / "bin" / "spark-class")
    procs: list[subprocess.Popen[bytes]] = []
    with (logs / "master.log").open("wb") as m_log, (logs / "worker.log").open("wb") as w_log:
        procs.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(ui)], env=env, stdout=m_log,
            stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
             "--webui-port", str(_port()), "--cores", "2", "--memory", "1g",
             f"spark://127.0.0.1:{port}"], env=env, stdout=w_log, stderr=subprocess.STDOUT))
    try:
        deadline = time.monotonic() + 120
        while _alive_workers(ui) < 1:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                pytest.fail("the Spark standalone cluster did not start: see "
                            f"{logs}/master.log and worker.log")
            time.sleep(0.5)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        from spinemets.cohort._spark import spark_session  # noqa: PLC0415

        session = spark_session(master=f"spark://127.0.0.1:{port}")
        assert session.sparkContext.master == f"spark://127.0.0.1:{port}"
        yield session
        session.stop()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def test_cluster_scores_and_validates_like_local(cluster: Any, tmp_path: Path) -> None:
    # bad cells in two different partitions
    table = with_bad_cells(synth_table(20_000, 23), "kps", {7: "abc", 15001: "85"})
    score_both(table, tmp_path, cluster, row_group_size=4096)
    assert problem_rows(tmp_path / "spark.problems.csv") == problem_rows(
        tmp_path / "local.problems.csv")
    assert {r["row"] for r in problem_rows(tmp_path / "local.problems.csv")} == {"8", "15002"}
    # validation from a Spark group-by equals the local one (same counts, same statistics)
    on_spark = validate_file(tmp_path / "spark_out", engine="spark", spark=cluster).to_dict(
        curves=True)
    here = validate_file(tmp_path / "local.parquet", engine="duckdb").to_dict(curves=True)
    for report in (on_spark, here):
        for key in ("engine", "source", "synthetic"):
            report.pop(key)
    assert on_spark == here
