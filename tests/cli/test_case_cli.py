"""``spinemets assess | plan | triage``: JSON and text output, field-named errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.rules.conftest import vignette_case
from typer.testing import CliRunner

from spinemets.cli import app

runner = CliRunner()


def _write(tmp_path: Path, data: object, name: str = "case.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_plan_json_and_text(tmp_path: Path) -> None:
    path = _write(tmp_path, vignette_case("v03"))
    result = runner.invoke(app, ["plan", path, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["format"] == "spinemets-plan/1"
    text = runner.invoke(app, ["plan", path, "--format", "text"])
    assert text.exit_code == 0
    assert "EMERGENCY" in text.stdout and "separation" in text.stdout


def test_assess_json_and_text(tmp_path: Path) -> None:
    path = _write(tmp_path, vignette_case("v08"))
    result = runner.invoke(app, ["assess", path])
    assert result.exit_code == 0
    assert any(s["score"] == "sins" and s["total"] == 17
               for s in json.loads(result.stdout)["scores"])
    assert runner.invoke(app, ["assess", path, "-f", "text"]).exit_code == 0


def test_bad_case_names_fields_without_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, {"performance": {"kps": 55}, "cancer": {"primary": "kidnee"},
                             "lesions": [{"escc": 2.5}]})
    result = runner.invoke(app, ["plan", path])
    assert result.exit_code != 0
    assert "performance.kps" in result.stderr and "cancer.primary" in result.stderr
    assert "lesions[0].escc" in result.stderr
    assert "Traceback" not in result.output


def test_triage_flags_and_interactive() -> None:
    result = runner.invoke(app, ["triage", "-a", "cancer_status=known", "-a", "back_pain=yes",
                                 "-a", "limb_weakness=yes", "--format", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["level"] == "emergency"
    bad = runner.invoke(app, ["triage", "-a", "limb_weakness=perhaps"])
    assert bad.exit_code != 0 and "limb_weakness" in bad.stderr
    interactive = runner.invoke(app, ["triage", "-i"], input="1\n1\n")
    assert interactive.exit_code == 0
    assert "EMERGENCY" in interactive.stdout
