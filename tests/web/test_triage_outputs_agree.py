"""One triage level per result, the same in every output (pathway amendments 2026-12).

Property over symptom answers: whenever the advice sends someone to emergency care, the level
is emergency, and the level word is the same in the engine, the CLI, the API, the clinician
report (text and the HTML the results page and print view render) and the PDF.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from spinemets.cli import app as cli_app
from spinemets.report import build_report, default_meta, render_html, render_text
from spinemets.rules import TRIAGE_QUESTIONS, plan, triage
from spinemets.web import Settings, create_app

runner = CliRunner()
#: Words that send a person to emergency care.
EMERGENCY_WORDS = re.compile(r"emergency department|call the emergency number|call 911",
                             re.IGNORECASE)
LABEL = {"emergency": "EMERGENCY", "urgent": "URGENT", "soon": "SOON", "routine": "ROUTINE"}
#: The case format's symptoms (the rest of the triage questions are checker-only).
CASE_SYMPTOMS = ("limb_weakness", "difficulty_walking", "numbness_or_tingling",
                 "saddle_numbness", "bladder_or_bowel_dysfunction", "radicular_pain",
                 "back_pain")


def _sends_to_emergency(advice: str) -> bool:
    """An instruction to go now: a sentence naming emergency care that is not a safety net
    ("If you lose control of your bladder ..., get help at once at the emergency department")."""
    sentences = re.split(r"(?<=[.!?])\s+", advice)
    return any(EMERGENCY_WORDS.search(s) and not s.lstrip().startswith("If ")
               for s in sentences)


def _answers() -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for question in TRIAGE_QUESTIONS:
        values = [o.value for o in question.options]
        fields[question.id] = st.sampled_from([None, *values])
    return st.fixed_dictionaries({}, optional=fields).map(
        lambda d: {k: v for k, v in d.items() if v is not None})


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    db = tmp_path_factory.mktemp("agree") / "a.sqlite3"
    app = create_app(Settings(database_url=f"sqlite:///{db}", environment="test",
                              secret_key="z" * 40, demo=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _cli(answers: dict[str, Any]) -> str:
    args = ["triage"]
    for key, value in answers.items():
        text = {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value
        args += ["-a", f"{key}={text}"]
    result = runner.invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    return result.output


def _case(answers: dict[str, Any]) -> dict[str, Any]:
    return {"format": "spinemets-case/1", "id": "agree",
            "patient": {"age_years": 60},
            "cancer": {"status": answers.get("cancer_status", "unknown")},
            "symptoms": {k: answers[k] for k in CASE_SYMPTOMS if k in answers},
            "neurology": {"rapidly_progressive": answers.get("rapidly_progressive")},
            "lesions": []}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(_answers())
def test_emergency_advice_always_has_the_emergency_level(api: TestClient,
                                                         answers: dict[str, Any]) -> None:
    result = triage(answers)
    if _sends_to_emergency(result.patient_advice):
        assert result.level == "emergency", (answers, result.patient_advice)
    cli = _cli(answers)
    assert cli.startswith(LABEL[result.level] + ":"), cli[:80]
    if _sends_to_emergency(" ".join(cli.split("Clinician:")[0].split())):
        assert result.level == "emergency", cli[:200]
    response = api.post("/api/v1/triage", json={"answers": answers})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["level"] == result.level
    if _sends_to_emergency(str(body.get("patient_advice", ""))):
        assert body["level"] == "emergency"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_answers())
def test_report_level_matches_the_case_triage(answers: dict[str, Any]) -> None:
    case = _case(answers)
    data = plan(case).to_dict()
    level = data["triage"]["level"]
    report = build_report(data, case, meta=default_meta("agree"))
    text = render_text(report)
    heading = re.search(r"TRIAGE: (\w+)", text.upper())
    assert heading is not None and heading.group(1) == LABEL[level], text[:300]
    html = render_html(report)
    assert f"sm-triage--{level}" in html
    if _sends_to_emergency(" ".join(text.split("PATIENT")[0].split())):
        assert level == "emergency"


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
@pytest.mark.parametrize(("answers", "word"), [
    ({"cancer_status": "unknown", "limb_weakness": True}, "Emergency"),
    ({"cancer_status": "none", "numbness_or_tingling": True}, "Urgent"),
    ({"cancer_status": "known", "back_pain": True}, "Soon"),
])
def test_pdf_states_the_same_level(tmp_path: Path, answers: dict[str, Any], word: str) -> None:
    from spinemets.report import render_pdf  # noqa: PLC0415 - WeasyPrint is heavy

    case = _case(answers)
    data = plan(case).to_dict()
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render_pdf(build_report(data, case, meta=default_meta("agree"))))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert f"Triage: {word}" in text, text[:400]
