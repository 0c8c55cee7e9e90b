"""``cohort validate`` in one pass: the engines agree, rows are accounted for, limits are clear."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import concordance_index

from spinemets.cohort import score_file, synth_file, validate_file
from spinemets.errors import InputError


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("validate")
    cohort, out = folder / "c.parquet", folder / "s.parquet"
    synth_file(cohort, 6000, 8)
    score_file(cohort, out)
    # plant unusable survival: missing, negative and infinite times, an unknown event
    table = pq.read_table(out)
    time = table.column("time_months").to_numpy().copy()
    time[:3] = np.nan
    time[3:5] = -1.0
    time[5] = np.inf
    event = table.column("event").to_pylist()
    event[6] = None
    table = table.set_column(table.schema.get_field_index("time_months"), "time_months",
                             pa.array(time, mask=np.isnan(time)))
    table = table.set_column(table.schema.get_field_index("event"), "event",
                             pa.array(event, pa.bool_()))
    pq.write_table(table, out)
    return out


def _flat(x: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(x, dict):
        return {k: v for key, val in x.items() for k, v in _flat(val, f"{prefix}.{key}").items()}
    if isinstance(x, list):
        return {k: v for i, val in enumerate(x) for k, v in _flat(val, f"{prefix}[{i}]").items()}
    return {prefix: x}


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    fa, fb = _flat(a), _flat(b)
    assert fa.keys() == fb.keys()
    for key, va in fa.items():
        vb = fb[key]
        if isinstance(va, float) and isinstance(vb, float):
            assert (math.isnan(va) and math.isnan(vb)) or abs(va - vb) <= 1e-9 * max(
                1.0, abs(va)), key
        else:
            assert va == vb, key


def test_engines_agree_and_rows_are_accounted(scored: Path, tmp_path: Path) -> None:
    arrow = validate_file(scored, engine="arrow").to_dict(curves=True)
    duck = validate_file(scored, engine="duckdb").to_dict(curves=True)
    arrow.pop("engine")
    duck.pop("engine")
    _same(arrow, duck)
    assert arrow["rows_read"] == 6000
    assert arrow["survival_excluded"] == {"time_missing": 3, "time_negative": 2,
                                          "time_infinite": 1, "event_invalid": 1}
    assert arrow["rows_without_survival"] == 7
    assert arrow["times"] == "exact"
    for s in arrow["scores"]:
        excluded = s["rows_excluded"]
        assert s["rows_used"] + sum(excluded.values()) == 6000
    # the same cohort as CSV through both engines
    csv = tmp_path / "s.csv"
    pacsv.write_csv(pq.read_table(scored), csv)
    from_csv = validate_file(csv, engine="duckdb").to_dict(curves=True)
    from_csv.pop("engine")
    for report in (arrow, from_csv):
        report.pop("source")
        report.pop("synthetic")
    _same(arrow, from_csv)


def test_statistics_equal_lifelines_on_the_rows(scored: Path) -> None:
    report = validate_file(scored, engine="duckdb", slugs=["tokuhashi_2005"])
    toku = report.scores[0]
    table = pq.read_table(scored)
    time = table.column("time_months").to_numpy(zero_copy_only=False)
    event = np.asarray(table.column("event").fill_null(False).to_numpy(zero_copy_only=False))
    ok = (table.column("tokuhashi_2005_status").to_numpy(zero_copy_only=False) == "complete")
    ok &= np.isfinite(time) & (time >= 0) & table.column("event").is_valid().to_numpy(
        zero_copy_only=False)
    total = table.column("tokuhashi_2005_total").to_numpy(zero_copy_only=False).astype(float)
    band = table.column("tokuhashi_2005_band").to_numpy(zero_copy_only=False)
    assert toku.complete == int(ok.sum())
    assert toku.harrell is not None
    c = concordance_index(time[ok], total[ok], event[ok])  # higher total = longer survival
    assert abs(toku.harrell.c - c) <= 1e-9
    for group in toku.groups:
        mask = ok & (band == group.group)
        kmf = KaplanMeierFitter().fit(time[mask], event[mask])
        assert group.median == kmf.median_survival_time_ or (
            group.median is None and math.isinf(kmf.median_survival_time_))


def test_time_resolution_and_cell_limit(scored: Path) -> None:
    binned = validate_file(scored, engine="arrow", time_resolution=1.0)
    assert binned.to_dict()["times"] == "rounded down to multiples of 1 months"
    same = validate_file(scored, engine="duckdb", time_resolution=1.0).to_dict()
    assert same["comparison"] == binned.to_dict()["comparison"]
    for engine in ("arrow", "duckdb"):
        with pytest.raises(InputError, match="--time-resolution"):
            validate_file(scored, engine=engine, max_cells=100)
    with pytest.raises(InputError, match="positive"):
        validate_file(scored, time_resolution=0.0)
    with pytest.raises(InputError, match="engine"):
        validate_file(scored, engine="pandas")


def test_cli_engine_options_and_clear_limit_message(scored: Path) -> None:
    from typer.testing import CliRunner  # noqa: PLC0415

    from spinemets.cli import app  # noqa: PLC0415

    runner = CliRunner()
    result = runner.invoke(app, ["cohort", "validate", str(scored), "--engine", "arrow",
                                 "--time-resolution", "0.5"])
    assert result.exit_code == 0, result.output
    assert "6000 rows read, 7 without usable survival data" in result.stderr
    assert '"times": "rounded down to multiples of 0.5 months"' in result.stdout
    result = runner.invoke(app, ["cohort", "validate", str(scored), "--max-cells", "10"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--time-resolution" in lines[0] and "Traceback" not in lines[0]


def test_text_in_the_time_column_and_a_damaged_file(scored: Path, tmp_path: Path) -> None:
    table = pq.read_table(scored).slice(0, 400)
    times = table.column("time_months").cast(pa.string()).to_pylist()
    times[20], times[21] = "soon", "12 months"
    table = table.set_column(table.schema.get_field_index("time_months"), "time_months",
                             pa.array(times))
    csv = tmp_path / "junk.csv"
    pacsv.write_csv(table, csv)
    report = validate_file(csv, engine="duckdb").to_dict()
    assert report["survival_excluded"]["time_missing"] == 3 + 2  # 3 planted blanks + 2 texts
    with pytest.raises(InputError, match=r"time_months.*not numbers"):
        validate_file(csv, engine="arrow")
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(scored.read_bytes()[: 5000])
    for engine in ("duckdb", "arrow"):
        with pytest.raises(InputError) as caught:
            validate_file(damaged, engine=engine)
        assert "\n" not in str(caught.value) and "damaged.parquet" in str(caught.value)
