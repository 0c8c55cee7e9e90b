"""``spinemets cohort synth | score | validate`` end to end on a small synthetic cohort."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spinemets.cli import app

runner = CliRunner()


# lifelines 0.30 calls DataFrame.sum positionally; pandas warns about pandas 4 (third party)
@pytest.mark.filterwarnings("ignore:Starting with pandas version 4.0 all arguments of sum")
def test_synth_score_validate(tmp_path: Path) -> None:
    cohort, scored = tmp_path / "c.parquet", tmp_path / "s.parquet"
    assert runner.invoke(app, ["cohort", "synth", "--n", "30000", "--seed", "4",
                               "--out", str(cohort)]).exit_code == 0
    result = runner.invoke(app, ["cohort", "score", str(cohort), "--out", str(scored)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows"] == 30000
    assert summary["problems"] == 0
    result = runner.invoke(app, ["cohort", "validate", str(scored), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["synthetic"]
    toku = next(s for s in report["scores"] if s["score"] == "tokuhashi_2005")
    medians = [b["median_months"] for b in toku["bands"]]
    assert medians == sorted(medians)  # the planted ordering is recovered
    assert toku["harrell_c"]["c"] > 0.6
    html = tmp_path / "r.html"
    result = runner.invoke(app, ["cohort", "validate", str(scored), "--format", "html",
                                 "--out", str(html)])
    assert result.exit_code == 0, result.output
    page = html.read_text(encoding="utf-8")
    assert "<svg" in page and "Synthetic data" in page and "C-index convention" in page


def test_bad_survival_column_is_named(tmp_path: Path) -> None:
    cohort, scored = tmp_path / "c.csv", tmp_path / "s.csv"
    runner.invoke(app, ["cohort", "synth", "--n", "200", "--seed", "1", "--out", str(cohort)])
    assert runner.invoke(app, ["cohort", "score", str(cohort), "--out", str(scored)]).exit_code == 0
    result = runner.invoke(app, ["cohort", "validate", str(scored), "--time", "nope"])
    assert result.exit_code == 2
    assert "nope" in result.output
