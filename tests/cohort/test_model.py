"""``spinemets cohort model fit | report | predict`` on SYNTHETIC cohorts from a known hazard."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from spinemets.cli import app
from spinemets.cohort import score_file
from spinemets.cohort._model import FitOptions, fit_model, read_cohort
from spinemets.cohort._model_report import build_report
from spinemets.cohort._model_synth import TRUE_COEFFICIENTS, synth_known_hazard
from spinemets.local_model._file import load_model

runner = CliRunner()
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    raw, out = folder / "cohort.parquet", folder / "scored.parquet"
    pq.write_table(synth_known_hazard(2500, 11), raw)
    score_file(raw, out, keep="all")
    return out


@pytest.fixture(scope="module")
def fitted(scored: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = read_cohort(scored, time_column="time_months", event_column="event")
    model = fit_model(data, FitOptions(predictors=tuple(TRUE_COEFFICIENTS), resamples=8,
                                       seed=3))
    path = tmp_path_factory.mktemp("m") / "model.json"
    path.write_text(model.to_json(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def report(fitted: Path, scored: Path) -> dict:
    return build_report(load_model(fitted), scored, resamples=8, seed=1)


def test_coefficients_of_the_known_hazard_are_recovered_within_their_cis(fitted: Path) -> None:
    model = load_model(fitted)
    by_column = {p.column: p for p in model.predictors}
    for coef in model.coefficients:
        column = coef.term.split(" ")[0]
        truth = TRUE_COEFFICIENTS[column] * by_column[column].per
        assert coef.lower is not None and coef.upper is not None
        assert coef.lower <= truth <= coef.upper, (coef.term, truth, coef)
    assert model.data.excluded_missing > 0  # the 3% unknown cells: complete-case, counted
    assert model.data.complete_cases + model.data.excluded_missing == model.data.rows
    assert "complete-case" in model.missing_data


def test_optimism_corrected_c_at_least_the_best_classic_score(report: dict) -> None:
    assert report["development_data"] is True
    model_c = report["model"]["harrell_c"]
    # 4 true predictors, 1,700 events: little optimism (its sign is noise with 8 resamples)
    assert abs(model_c["apparent"] - model_c["corrected"]) < 0.02
    best = max(s["harrell_c"]["estimate"] for s in report["classic_scores"])
    assert len(report["classic_scores"]) >= 4
    assert model_c["corrected"] >= best


def _has_interval(entry: dict) -> bool:
    return "ci" in entry or ("lower" in entry and "upper" in entry)


def test_report_json_keys(report: dict) -> None:
    for entity in [report["model"], *report["classic_scores"]]:
        for key in ("harrell_c", "uno_c", "calibration", "decision_curve"):
            assert key in entity
        assert _has_interval(entity["harrell_c"]) and _has_interval(entity["uno_c"])
        for h in ("3", "6", "12"):
            assert _has_interval(entity["time_dependent_auc"][h])
            cal = entity["calibration"][h]
            for measure in ("slope", "intercept", "ici", "e50"):
                assert _has_interval(cal[measure])
            assert _has_interval(entity["decision_curve"][h])
    assert isinstance(report["classic_scores"], list)
    for entry in report["classic_scores"]:
        assert "recalibration" in entry and "published" in entry
    katagiri = next(s for s in report["classic_scores"] if s["score"] == "katagiri_2014")
    # published figures only from the repository's table (never invented)
    assert {r["published"] for r in katagiri["published"]} <= {0.91, 0.78, 0.49, 0.27, 0.06}
    items = {i["item"]: i["status"] for i in report["model_card"]}
    assert items["Missing data"] == "filled"
    assert items["Ethics approval and consent"] == "for the authors"
    json.dumps(report, allow_nan=False)


def test_cli_fit_report_predict(scored: Path, tmp_path: Path) -> None:
    model = tmp_path / "m.json"
    result = runner.invoke(app, ["cohort", "model", "fit", str(scored), "--out", str(model),
                                 "--predictors", "kps,visceral_metastases,albumin_g_per_dl",
                                 "--resamples", "3", "--name", "demo"])
    assert result.exit_code == 0, result.output
    assert "internally validated only" in result.output
    html = tmp_path / "r.html"
    result = runner.invoke(app, ["cohort", "model", "report", str(model), str(scored),
                                 "--format", "html", "--out", str(html), "--resamples", "3"])
    assert result.exit_code == 0, result.output
    page = html.read_text(encoding="utf-8")
    assert page.count("<svg") == 6  # calibration and decision curves at 3, 6, 12 months
    assert "local model demo, fitted" in page and "Synthetic data" in page
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["cohort", "model", "predict", str(model), str(scored),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pacsv.read_csv(out)
    assert table.column_names == ["patient_id", "model_status", "linear_predictor",
                                  "survival_3m", "survival_6m", "survival_12m"]
    status = table.column("model_status").to_pylist()
    s12 = table.column("survival_12m").to_pylist()
    assert any(s.startswith("not predicted: missing ") for s in status)
    for st, s in zip(status, s12, strict=True):
        assert (s is None) == (st != "predicted")  # a missing predictor is never a guess
        assert s is None or 0.0 < s < 1.0


def test_too_few_events_is_refused_in_one_line(tmp_path: Path) -> None:
    raw, scored_small = tmp_path / "c.parquet", tmp_path / "s.parquet"
    pq.write_table(synth_known_hazard(120, 2), raw)
    score_file(raw, scored_small, keep="all")
    model = tmp_path / "m.json"
    result = runner.invoke(app, ["cohort", "model", "fit", str(scored_small), "--out",
                                 str(model), "--resamples", "2"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert re.search(r"\d+ events, \d+\.\d events per candidate predictor", lines[0])
    assert not model.exists()
    result = runner.invoke(app, ["cohort", "model", "fit", str(scored_small), "--out",
                                 str(model), "--resamples", "2", "--force"])
    assert result.exit_code == 0, result.output
    assert "--force" in result.output
    assert load_model(model).sample_size.forced is True


def test_missing_predictor_column_is_named(scored: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["cohort", "model", "fit", str(scored), "--out",
                                 str(tmp_path / "m.json"), "--predictors", "kps,nope"])
    assert result.exit_code == 2
    assert "nope" in result.output and "--keep all" in result.output
    for bad, message in (("kps,kps", "named twice"), ("kps,event", "the outcome")):
        result = runner.invoke(app, ["cohort", "model", "fit", str(scored), "--out",
                                     str(tmp_path / "m.json"), "--predictors", bad])
        assert result.exit_code == 2
        assert message in result.output


def test_model_file_is_checked_on_load(fitted: Path, tmp_path: Path) -> None:
    doc = json.loads(fitted.read_text(encoding="utf-8"))
    for key in ("coefficients", "baseline", "predictors", "software", "data"):
        assert key in doc
    assert re.fullmatch(r"[0-9a-f]{64}", doc["data"]["sha256"])
    cases = {
        "schema": ({**doc, "schema": "other"}, "not a spinemets model file"),
        "version": ({**doc, "version": 2}, "version 2"),
        "extra": ({**doc, "code": "import os"}, "code"),
        "terms": ({**doc, "coefficients": doc["coefficients"][:1]}, "do not match"),
        "nan": ({**doc, "coefficients": [{**doc["coefficients"][0], "coef": math.nan},
                                         *doc["coefficients"][1:]]}, "coefficients.0.coef"),
    }
    for name, (bad, message) in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(bad), encoding="utf-8")
        result = runner.invoke(app, ["cohort", "model", "predict", str(path), str(fitted),
                                     "--out", str(tmp_path / "p.csv")])
        assert result.exit_code == 2, name
        assert message in result.output, (name, result.output)
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix")
    result = runner.invoke(app, ["cohort", "model", "report", str(pickled), str(fitted)])
    assert result.exit_code == 2
    assert "never a pickle" in result.output
    assert "Traceback" not in result.output


def test_report_never_overwrites_its_inputs(fitted: Path, scored: Path) -> None:
    result = runner.invoke(app, ["cohort", "model", "report", str(fitted), str(scored),
                                 "--out", str(scored)])
    assert result.exit_code == 2
    assert "input" in result.output


def test_no_pickle_anywhere_in_the_source() -> None:
    pattern = re.compile(r"\b(import|from)\s+(c?pickle|joblib|dill|cloudpickle|shelve)\b"
                         r"|\b(read_pickle|to_pickle|pickle\.(load|dump)|joblib\.)")
    offenders = [str(p) for p in SRC.rglob("*.py") if pattern.search(p.read_text("utf-8"))]
    assert offenders == []


def test_hazard_ratios_are_finite(fitted: Path) -> None:
    model = load_model(fitted)
    assert all(math.isfinite(c.hazard_ratio) for c in model.coefficients)
    assert model.label.startswith("local model ") and "internally validated only" in \
        model.label


def test_no_deaths_is_one_clear_line_even_forced(tmp_path: Path) -> None:
    raw = synth_known_hazard(200, 5)
    raw = raw.set_column(raw.schema.get_field_index("event"), "event",
                         pa.array([False] * raw.num_rows))
    cohort, scored_none = tmp_path / "c.parquet", tmp_path / "s.parquet"
    pq.write_table(raw, cohort)
    score_file(cohort, scored_none, keep="all")
    result = runner.invoke(app, ["cohort", "model", "fit", str(scored_none), "--out",
                                 str(tmp_path / "m.json"), "--force", "--resamples", "2"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "no deaths" in result.output


def test_report_on_too_few_rows_is_refused(fitted: Path, scored: Path, tmp_path: Path) -> None:
    few = tmp_path / "few.parquet"
    pq.write_table(pq.read_table(scored).slice(0, 12), few)
    result = runner.invoke(app, ["cohort", "model", "report", str(fitted), str(few),
                                 "--resamples", "2"])
    assert result.exit_code == 2
    assert "at least 20 rows" in result.output


def test_a_category_unseen_at_fitting_leaves_its_row_out_never_guessed(
        scored: Path, tmp_path: Path) -> None:
    data = read_cohort(scored, time_column="time_months", event_column="event")
    model = fit_model(data, FitOptions(predictors=("kps", "primary"), resamples=2))
    path = tmp_path / "m.json"
    path.write_text(model.to_json(), encoding="utf-8")
    table = pq.read_table(scored)
    primary = table.column("primary").to_pylist()
    primary[:3] = ["not_a_histology"] * 3
    changed = tmp_path / "changed.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index("primary"), "primary",
                                    pa.array(primary)), changed)
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["cohort", "model", "predict", str(path), str(changed),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = pacsv.read_csv(out).to_pylist()
    for row in rows[:3]:
        assert row["model_status"].startswith("not predicted: ")
        assert "primary value not seen at fitting" in row["model_status"]
        assert row["survival_12m"] is None
    report = build_report(load_model(path), changed, resamples=2)
    assert any("not_a_histology" in note for note in report["notes"])
    assert report["development_data"] is False  # other rows than the model was fitted on
