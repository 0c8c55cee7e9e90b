"""100k synthetic rows, 1% corrupted cells: each reported with its reason, the rest scored."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spinemets.cohort import score_file, synth_table

# (column, corrupted cell, the reason the single-case contract gives)
CORRUPTIONS = [
    ("kps", "abc", "must be a whole number"),
    ("kps", "85", "85 is not allowed"),
    ("level", "T13", "'T13' is not a vertebral level"),
    ("pain", "sometimes", "'sometimes' is not a valid choice"),
    ("previous_chemotherapy", "maybe", "must be true or false"),
    ("albumin_g_per_dl", "35",
     "35.0 g/dL is implausible for albumin (plausible 0.5-7 g/dL); check the unit"),
]
# the allowed values the sidecar names beside the reason (none for a lab column: its unit is fixed)
ALLOWED = {"kps": "0-100 in steps of 10", "level": "O, C1-C7, T1-T12, L1-L5, S1-S5",
           "pain": "mechanical, occasional, none", "previous_chemotherapy": "true, false",
           "albumin_g_per_dl": ""}


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, tuple[str, ...]]]:
    table = synth_table(100_000, 11)
    rng = np.random.default_rng(12)
    rows = rng.choice(table.num_rows, size=1000, replace=False)
    kinds = rng.integers(0, len(CORRUPTIONS), size=1000)
    truth: dict[int, tuple[str, ...]] = {}
    columns = {}
    for name in {c[0] for c in CORRUPTIONS}:
        cells = table.column(name).to_pylist()
        columns[name] = [None if v is None else
                         ("true" if v is True else "false" if v is False else str(v))
                         for v in cells]
    for row, kind in zip(rows.tolist(), kinds.tolist(), strict=True):
        name, cell, reason = CORRUPTIONS[kind]
        columns[name][row] = cell
        truth[row + 1] = (name, cell, reason)
    for name, cells in columns.items():
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, pa.array(cells, pa.string()))
    path = tmp_path_factory.mktemp("corrupt") / "cohort.parquet"
    pq.write_table(table, path)
    return path, truth


def test_every_corrupted_row_is_reported_and_every_other_row_scored(
        corrupted: tuple[Path, dict[int, tuple[str, ...]]], tmp_path: Path) -> None:
    path, truth = corrupted
    out = tmp_path / "scored.parquet"
    summary = score_file(path, out, progress=False, batch_size=8192)
    with (tmp_path / "scored.problems.csv").open(newline="") as handle:
        sidecar = list(csv.DictReader(handle))
    reported = {(int(r["row"]), r["field"], r["value"], r["reason"]) for r in sidecar}
    expected = {(row, name, "35" if name == "albumin_g_per_dl" else cell, reason)
                for row, (name, cell, reason) in truth.items()}
    assert reported == expected
    assert all(r["allowed"] == ALLOWED[r["field"]] for r in sidecar)
    assert summary.rows == 100_000
    assert summary.rows_with_problems == len(truth) == 1000
    scored = pq.read_table(out)
    statuses = np.stack([np.asarray(scored.column(c).cast(pa.string()).to_pylist(), dtype=object)
                         for c in scored.column_names if c.endswith("_status")])
    has_error = (statuses == "error").any(axis=0)
    assert set((np.flatnonzero(has_error) + 1).tolist()) == set(truth)
    assert scored.num_rows == 100_000  # nothing dropped
