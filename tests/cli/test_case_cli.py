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


def test_interactive_triage_skips_questions_that_cannot_change_the_result() -> None:
    """Issue 21: no cancer, "No" to every warning sign and to back pain: 9 questions asked."""
    result = runner.invoke(app, ["triage", "-i"], input="3\n" + "2\n" * 8)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("[1=") == 9  # cancer, the 7 warning signs and back pain
    assert "Where is the pain worst" not in result.stdout
    assert "ROUTINE" in result.stdout
    # answers given with -a are not asked again, and they decide what is skipped
    given = runner.invoke(app, ["triage", "-a", "cancer_status=none", "-a", "back_pain=no", "-i"],
                          input="2\n" * 7)
    assert given.exit_code == 0, given.output
    assert given.stdout.count("[1=") == 7 and "ROUTINE" in given.stdout
    bad = runner.invoke(app, ["triage", "-a", "limb_weakness=perhaps", "-i"], input="")
    assert bad.exit_code != 0 and "limb_weakness" in bad.stderr
    assert "Traceback" not in bad.output


def test_non_utf8_case_exits_2_naming_file_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "case.yaml"
    path.write_bytes(b"format: spinemets-case/1\nid: caf\xe9\n")
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code == 2
    assert "case.yaml is not UTF-8" in result.stderr and "offset 32" in result.stderr
    assert "Traceback" not in result.output


def test_oversized_value_is_not_echoed_in_full(tmp_path: Path) -> None:
    path = _write(tmp_path, {"cancer": {"primary": "k" * 5_000_000}})
    result = runner.invoke(app, ["plan", path])
    assert result.exit_code == 2
    assert "cancer.primary" in result.stderr and "truncated" in result.stderr
    assert len(result.stderr) < 2_000


def test_duplicate_level_is_refused_naming_both_entries(tmp_path: Path) -> None:
    path = _write(tmp_path, {"cancer": {"status": "known", "primary": "kidney"},
                             "lesions": [{"levels": ["L2"], "escc": "0"},
                                         {"levels": ["L2"], "escc": "3"}]})
    result = runner.invoke(app, ["plan", path])
    assert result.exit_code == 2
    assert "lesions[1].levels[0]" in result.stderr and "lesions[0].levels[0]" in result.stderr


def test_consistency_flag_in_text_output(tmp_path: Path) -> None:
    path = _write(tmp_path, {"neurology": {"frankel": "A", "ambulatory": "independent"}})
    result = runner.invoke(app, ["plan", path, "--format", "text"])
    assert result.exit_code == 0
    assert "Inputs disagree (warning)" in result.stdout  # the flag in words, not its id
    assert "Verify:" in result.stdout
