"""The local engine's pipeline: file order, row numbers and counts survive the threads, the first
batch's slices and the grouping of batches into row groups; a failure stops the run cleanly."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from spinemets.cohort import _local as local
from spinemets.cohort import compile_kernel, score_file, synth_table


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table]:
    table = synth_table(5_000, 7)
    table = table.set_column(table.schema.get_field_index("kps"), "kps",
                             pa.array([None if v is None else ("85" if i % 97 == 0 else str(v))
                                       for i, v in enumerate(table.column("kps").to_pylist())],
                                      pa.string()))
    path = tmp_path_factory.mktemp("pipeline") / "cohort.parquet"
    pq.write_table(table, path, row_group_size=1_500)
    return path, table


@pytest.mark.parametrize("batch_size", [7, 97, 1_000, 1 << 16])
def test_output_equals_one_kernel_pass_in_file_order(cohort: tuple[Path, pa.Table],
                                                     tmp_path: Path, batch_size: int) -> None:
    path, table = cohort
    out = tmp_path / "scored.parquet"
    summary = score_file(path, out, progress=False, batch_size=batch_size, keep="none")
    whole = compile_kernel(summary.status_counts).run(table.combine_chunks().to_batches()[0])
    scored = pq.read_table(out)
    assert scored.num_rows == table.num_rows == summary.rows
    assert scored.equals(pa.Table.from_batches([whole.scores]))
    sidecar = pacsv.read_csv(tmp_path / "scored.problems.csv")
    assert sidecar.column("row").to_pylist() == whole.problems.column("row").to_pylist()
    assert summary.problems == whole.problems.num_rows > 40
    assert summary.status_counts == {slug: dict(c) for slug, c in whole.status_counts.items()}


def test_a_failing_batch_stops_the_run_and_its_threads(cohort: tuple[Path, pa.Table],
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = cohort
    run = local.Kernel.run
    calls = 0

    def flaky(self: local.Kernel, batch: pa.RecordBatch, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise RuntimeError("boom")
        return run(self, batch, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(local.Kernel, "run", flaky)
    before = threading.active_count()
    with pytest.raises(RuntimeError, match="boom"):
        score_file(path, tmp_path / "scored.parquet", progress=False, batch_size=200)
    assert threading.active_count() == before
