"""A site's local model beside the scores (issue 25 item 5), on a SYNTHETIC cohort.

The model is fitted here with the existing fit function (few resamples, fast), never committed.
Only when a site configures one do the plan, the reports and the results page show it, labelled
"local model <name>, fitted <date> on N patients, internally validated only"; its numbers are
those of ``spinemets cohort model predict``; an unrecorded predictor is "not computed" (never
imputed); a bad model file is a one-line error; and it changes no decision of the plan.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from tests.local_model._fit import PREDICTORS, fit_site_model
from tests.web import _accounts_helpers as h
from typer.testing import CliRunner

import spinemets.local_model as local_model_pkg
from spinemets.cli import app
from spinemets.cohort import score_file
from spinemets.cohort._model import FitOptions, fit_model, predict_file, read_cohort
from spinemets.cohort._model_synth import synth_known_hazard
from spinemets.local_model import load_local_model
from spinemets.report import build_report, render_html, render_text
from spinemets.rules import plan
from spinemets.storage import demo_cases
from spinemets.web import Settings

runner = CliRunner()
LABEL = re.compile(r"local model demo-site, fitted \d{4}-\d\d-\d\d on (\d+) patients, "
                   r"internally validated only")
CASE: dict[str, Any] = {
    "format": "spinemets-case/1", "id": "lm-1",
    "patient": {"age_years": 64, "sex": "female"},
    "cancer": {"status": "known", "primary": "breast"}, "performance": {"kps": 70},
    "disease": {"visceral_metastases": "nodular"},
    "labs": {"albumin": {"value": 3.2, "unit": "g/dL"}},
    "lesions": [{"levels": ["T12"], "pain": "mechanical", "escc": "1b"}],
}
#: The same patient as a cohort row (the columns the model reads).
ROW = {"kps": [70], "visceral_metastases": [True], "albumin_g_per_dl": [3.2],
       "primary": ["breast"]}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fit_site_model(tmp_path_factory.mktemp("local-model"), "demo-site")


def _case_file(tmp_path: Path, case: dict[str, Any]) -> Path:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case), encoding="utf-8")
    return path


def test_public_api() -> None:
    assert sorted(local_model_pkg.__all__) == sorted(
        name for name in dir(local_model_pkg) if not name.startswith("_")
        and name not in {"annotations", "os", "Path"}
        and not isinstance(getattr(local_model_pkg, name), type(local_model_pkg)))


def test_no_model_configured_nothing_appears(tmp_path: Path) -> None:
    data = plan(CASE).to_dict()
    assert "local_model" not in data
    report = build_report(data, CASE)
    assert report.local_model is None
    for text in (render_text(report), render_html(report)):
        assert "local model" not in text.lower()
    result = runner.invoke(app, ["plan", str(_case_file(tmp_path, CASE))], env={})
    assert result.exit_code == 0 and "local_model" not in result.stdout


def test_plan_shows_the_labelled_prediction_with_its_basis(model_path: Path) -> None:
    model = load_local_model(model_path)
    entry = plan(CASE, local_model=model).to_dict()["local_model"]
    match = LABEL.fullmatch(entry["label"])
    assert match is not None and int(match.group(1)) == model.data.complete_cases
    assert entry["status"] == "computed" and entry["not_computed"] == []
    assert [s["months"] for s in entry["survival"]] == [3.0, 6.0, 12.0]
    probabilities = [s["probability"] for s in entry["survival"]]
    assert 1 > probabilities[0] > probabilities[1] > probabilities[2] > 0
    assert [i["predictor"] for i in entry["inputs"]] == list(PREDICTORS)
    by_name = {i["predictor"]: i for i in entry["inputs"]}
    assert by_name["kps"]["value"] == 70 and by_name["kps"]["fields"] == ["performance.kps"]
    assert by_name["albumin_g_per_dl"]["value"] == pytest.approx(3.2)
    assert by_name["albumin_g_per_dl"]["unit"] == "g/dL"
    for item in entry["inputs"]:  # contribution = coefficient x (value - cohort mean)
        assert item["contribution"] == pytest.approx(sum(
            t["coefficient"] * (t["x"] - t["centre"]) for t in item["terms"]), abs=1e-5)
    assert entry["linear_predictor"] == pytest.approx(
        sum(i["contribution"] for i in entry["inputs"]), abs=1e-5)
    apparent = model.validation.apparent["harrell_c"]
    assert apparent is not None
    assert entry["harrell_c_corrected"] == pytest.approx(
        apparent - model.validation.optimism["harrell_c"], abs=1e-4)
    assert "does not change the triage level" in entry["note"]


def test_same_numbers_as_cohort_model_predict(model_path: Path, tmp_path: Path) -> None:
    pacsv.write_csv(pa.table(ROW), tmp_path / "row.csv")
    predict_file(load_local_model(model_path), tmp_path / "row.csv", tmp_path / "pred.csv")
    expected = pacsv.read_csv(tmp_path / "pred.csv").to_pylist()[0]
    assert expected["model_status"] == "predicted"
    result = runner.invoke(app, ["plan", str(_case_file(tmp_path, CASE)), "--local-model",
                                 str(model_path)])
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)["local_model"]
    assert entry["linear_predictor"] == pytest.approx(expected["linear_predictor"], abs=1e-6)
    for s in entry["survival"]:
        assert s["probability"] == pytest.approx(expected[f"survival_{s['months']:g}m"],
                                                 abs=1e-6)


def test_the_local_model_changes_no_decision(model_path: Path) -> None:
    model = load_local_model(model_path)
    for case in [CASE, *demo_cases()]:
        without = plan(case).to_dict()
        with_model = plan(case, local_model=model).to_dict()
        assert "local_model" in with_model
        del with_model["local_model"]
        assert with_model == without, case.get("id")


def test_a_missing_predictor_is_not_computed_and_named(model_path: Path) -> None:
    case = copy.deepcopy(CASE)
    del case["labs"]
    entry = plan(case, local_model=load_local_model(model_path)).to_dict()["local_model"]
    assert entry["status"] == "not computed"
    assert entry["not_computed"] == ["not computed: labs.albumin not recorded"]
    assert entry["survival"] == [] and entry["linear_predictor"] is None
    assert "albumin_g_per_dl" not in {i["predictor"] for i in entry["inputs"]}
    report = build_report(plan(case, local_model=load_local_model(model_path)).to_dict(), case)
    text = render_text(report)
    assert "Not computed: Albumin (labs.albumin) not recorded" in text
    assert "Predicted probability" not in text
    unknown_kps = copy.deepcopy(CASE)
    del unknown_kps["performance"]
    entry = plan(unknown_kps, local_model=load_local_model(model_path)).to_dict()["local_model"]
    assert entry["not_computed"] == ["not computed: performance.kps not recorded"]


def test_an_unseen_category_is_not_computed(model_path: Path, tmp_path: Path) -> None:
    doc = json.loads(model_path.read_text(encoding="utf-8"))
    primary = next(p for p in doc["predictors"] if p["column"] == "primary")
    if not primary["pooled"]:
        pytest.skip("no rare category pooled in this synthetic cohort")
    unseen = primary["pooled"].pop()  # as if the development cohort never held it
    path = tmp_path / "model.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    case = copy.deepcopy(CASE)
    case["cancer"]["primary"] = unseen
    entry = plan(case, local_model=load_local_model(path)).to_dict()["local_model"]
    assert entry["status"] == "not computed"
    assert entry["not_computed"] == [
        f"not computed: primary value '{unseen}' was not seen when the model was fitted"]


def test_a_per_lesion_predictor_needs_a_single_lesion(tmp_path: Path) -> None:
    pq.write_table(synth_known_hazard(400, 7), tmp_path / "cohort.parquet")
    score_file(tmp_path / "cohort.parquet", tmp_path / "scored.parquet", keep="all")
    data = read_cohort(tmp_path / "scored.parquet", time_column="time_months",
                       event_column="event")
    model = fit_model(data, FitOptions(predictors=("kps", "escc"), resamples=1, seed=1,
                                       name="lesion-site", force=True))
    one = plan(CASE, local_model=model).to_dict()["local_model"]
    assert one["status"] == "computed", one["not_computed"]
    assert {i["predictor"]: i["fields"] for i in one["inputs"]}["escc"] == ["lesions[0].escc"]
    two = copy.deepcopy(CASE)
    two["lesions"].append({"levels": ["L3"], "pain": "none", "escc": "0"})
    entry = plan(two, local_model=model).to_dict()["local_model"]
    assert entry["status"] == "not computed"
    assert entry["not_computed"] == [
        "not computed: escc is recorded per lesion and the case has 2 lesions (the model was "
        "fitted on one lesion a patient)"]


def test_reports_show_the_label_and_basis(model_path: Path) -> None:
    data = plan(CASE, local_model=load_local_model(model_path)).to_dict()
    report = build_report(data, CASE)
    label = data["local_model"]["label"]
    text, html = render_text(report), render_html(report)
    for shown in (text, html):
        assert label in shown
        assert "Karnofsky performance status" in shown and "Albumin" in shown
        assert "optimism-corrected" in shown and "internally validated only" in shown
    assert "Predicted probability of being alive: at 3 months" in text
    assert "Inputs used and each one" in html and "At 12 months" in html


@pytest.mark.skipif(importlib.util.find_spec("weasyprint") is None,
                    reason="WeasyPrint (extra 'report') not installed")
def test_pdf_report_shows_the_label(model_path: Path, tmp_path: Path) -> None:
    from pypdf import PdfReader  # noqa: PLC0415

    from spinemets.report import render_pdf  # noqa: PLC0415

    data = plan(CASE, local_model=load_local_model(model_path)).to_dict()
    path = tmp_path / "report.pdf"
    path.write_bytes(render_pdf(build_report(data, CASE)))
    text = re.sub(r"\s+", "", " ".join(p.extract_text() for p in PdfReader(path).pages))
    assert re.sub(r"\s+", "", data["local_model"]["label"]) in text
    assert "Predictedprobabilityofbeingalive" in text and "optimism-corrected" in text


def _tampered(model_path: Path, tmp_path: Path, change: Any) -> Path:
    doc = json.loads(model_path.read_text(encoding="utf-8"))
    change(doc)
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(version=2), "has model file version 2"),
    (lambda d: d.update(schema="other"), "is not a spinemets model file"),
    (lambda d: d["coefficients"].pop(), "coefficients do not match"),
    (lambda d: d["baseline"].update(time=[2.0, 1.0]), "field baseline.time"),
    (lambda d: (d["predictors"][0].update(column="age", terms=["age"]),
                d["coefficients"][0].update(term="age")),
     "predictor 'age' of model 'demo-site' is not a score input"),
])
def test_a_bad_model_file_is_a_one_line_error(model_path: Path, tmp_path: Path, change: Any,
                                              message: str) -> None:
    bad = _tampered(model_path, tmp_path, change)
    case = _case_file(tmp_path, CASE)
    for command in (["plan", str(case)], ["report", str(case), "--format", "text"]):
        result = runner.invoke(app, [*command, "--local-model", str(bad)])
        assert result.exit_code == 2
        assert result.exception is None or isinstance(result.exception, SystemExit)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
        assert "Traceback" not in result.output
    with pytest.raises(ValidationError, match="SPINEMETS_LOCAL_MODEL: .*" + re.escape(message)):
        Settings(environment="test", secret_key="x" * 40, local_model=bad)


def test_a_missing_model_file_is_a_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(_case_file(tmp_path, CASE)), "--local-model",
                                 str(tmp_path / "nope.json")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: model: {tmp_path / 'nope.json'}: cannot be read (No such file or directory)"]


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_model_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    # a device reports size 0, so the size is checked on what is read, not on the file's stat
    result = runner.invoke(app, ["plan", str(_case_file(tmp_path, CASE)), "--local-model",
                                 "/dev/zero"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: model: /dev/zero: larger than 64 MB; not a spinemets model file"]


def test_the_environment_variable_configures_the_cli(model_path: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(_case_file(tmp_path, CASE))],
                           env={"SPINEMETS_LOCAL_MODEL": str(model_path)})
    assert result.exit_code == 0, result.output
    assert LABEL.fullmatch(json.loads(result.stdout)["local_model"]["label"])


@pytest.fixture
def site(model_path: Path, tmp_path: Path) -> Iterator[TestClient]:
    client = h.open_client(h.make_settings(h.sqlite_url(tmp_path), local_model=model_path))
    yield client
    client.__exit__(None, None, None)


def test_results_page_and_api_show_the_local_model(site: TestClient) -> None:
    assert h.sign_in(site, "clinician") == 303
    page = site.get("/clinician/cases/demo-001")
    assert page.status_code == 200
    found = LABEL.search(page.text)
    assert found is not None
    section = page.text.split('id="local-model"', 1)[1].split("</details>", 1)[0]
    assert "Predicted probability of being alive" in section
    assert "Karnofsky performance status" in section and "Primary tumour" in section
    assert "Not computed" not in section
    api = site.post("/api/v1/plan", json=demo_cases()[0])
    assert api.status_code == 200 and LABEL.fullmatch(api.json()["local_model"]["label"])
    printed = site.get("/clinician/cases/demo-001/print")
    assert printed.status_code == 200 and LABEL.search(printed.text)
    assert "Inputs used and each one" in printed.text


def test_results_page_without_a_site_model(tmp_path: Path) -> None:
    client = h.open_client(h.make_settings(h.sqlite_url(tmp_path)))
    try:
        assert h.sign_in(client, "clinician") == 303
        page = client.get("/clinician/cases/demo-001")
        assert page.status_code == 200 and "local model" not in page.text.lower()
        api = client.post("/api/v1/plan", json=demo_cases()[0])
        assert api.status_code == 200 and "local_model" not in api.json()
    finally:
        client.__exit__(None, None, None)


def test_serve_refuses_to_start_with_a_bad_model(tmp_path: Path, model_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn  # noqa: PLC0415

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    monkeypatch.setenv("SPINEMETS_ENVIRONMENT", "development")
    for name in ("SPINEMETS_DATABASE_URL", "SPINEMETS_DEMO", "SPINEMETS_AUTO_MIGRATE"):
        monkeypatch.setenv(name, "")  # serve sets them for its workers: restore after
        monkeypatch.delenv(name)
    bad = _tampered(model_path, tmp_path, lambda d: d.update(version=2))
    monkeypatch.setenv("SPINEMETS_LOCAL_MODEL", str(bad))
    result = runner.invoke(app, ["serve", "--database-url", h.sqlite_url(tmp_path),
                                 "--workers", "1"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.strip() == (
        f"spinemets: refusing to start: SPINEMETS_LOCAL_MODEL: {bad}: has model file version 2; "
        "this spinemets reads version 1: refit the model or use a matching spinemets")
    monkeypatch.setenv("SPINEMETS_LOCAL_MODEL", str(model_path))
    good = runner.invoke(app, ["serve", "--database-url", h.sqlite_url(tmp_path),
                               "--workers", "1"])
    assert good.exit_code == 0, good.output
