"""The same cells read alike from CSV, JSON Lines and Parquet; what a CSV file marks as missing."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spinemets.cohort import score_file
from spinemets.cohort._io import CSV_MISSING

ROWS = [
    {"patient_id": 1, "kps": "80", "frankel": " D ", "ecog": "1"},
    {"patient_id": 2, "kps": "", "frankel": "", "ecog": "unknown"},
    {"patient_id": 3, "kps": " 85", "frankel": "d", "ecog": "2"},
]
STATUS = {"kps_status": ["complete", "incomplete", "error"],
          "frankel_status": ["complete", "incomplete", "error"],
          "ecog_status": ["complete", "incomplete", "complete"]}


def _write(path: Path, rows: list[dict[str, str | int]]) -> None:
    if path.suffix == ".csv":
        names = list(rows[0])
        lines = [",".join(names)] + [",".join(str(r[n]) for n in names) for r in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_text_cells_read_alike_in_every_format(tmp_path: Path, suffix: str) -> None:
    source, out = tmp_path / f"in{suffix}", tmp_path / "out.parquet"
    _write(source, ROWS)
    summary = score_file(source, out, slugs=["kps", "frankel", "ecog"], progress=False)
    scored = pq.read_table(out)
    for column, expected in STATUS.items():
        assert scored.column(column).cast(pa.string()).to_pylist() == expected, column
    assert summary.rows_with_problems == 1
    sidecar = (tmp_path / "out.problems.csv").read_text(encoding="utf-8")
    assert '3,"kps"," 85","85 is not allowed","0-100 in steps of 10","kps"' in sidecar
    assert '3,"frankel","d","\'d\' is not a valid choice","A, B, C, D, E","frankel"' in sidecar


@pytest.mark.parametrize("marker", CSV_MISSING)
def test_csv_missing_markers_are_unknown(tmp_path: Path, marker: str) -> None:
    source, out = tmp_path / "in.csv", tmp_path / "out.parquet"
    _write(source, [{"patient_id": 1, "kps": marker, "frankel": marker}])
    summary = score_file(source, out, slugs=["kps", "frankel"], progress=False)
    scored = pq.read_table(out)
    assert scored.column("kps_status").cast(pa.string()).to_pylist() == ["incomplete"]
    assert scored.column("frankel_status").cast(pa.string()).to_pylist() == ["incomplete"]
    assert summary.problems == 0
