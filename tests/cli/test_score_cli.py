"""``spinemets scores`` / ``spinemets score``: single objects, JSON Lines batches, errors."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from spinemets.cli import app

runner = CliRunner()

SINS_OPTIONS = {
    "location": ["junctional", "mobile", "semi_rigid", "rigid"],
    "pain": ["mechanical", "occasional", "none"],
    "bone_lesion": ["lytic", "mixed", "blastic"],
    "alignment": ["subluxation", "deformity", "normal"],
    "collapse": ["over_50", "under_50", "no_collapse_over_50_involved", "none"],
    "posterolateral": ["bilateral", "unilateral", "none"],
}


def test_sins_jsonl_1296_lines_in_one_process(tmp_path: Path) -> None:
    rows = [dict(zip(SINS_OPTIONS, combo, strict=True))
            for combo in itertools.product(*SINS_OPTIONS.values())]
    assert len(rows) == 1296
    rows[100] = {**rows[100], "pain": "agonising"}  # one bad line
    path = tmp_path / "x.jsonl"
    path.write_text("".join(json.dumps({"id": i, **r}) + "\n" for i, r in enumerate(rows)))
    result = runner.invoke(app, ["score", "sins", "--input", str(path), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(lines) == 1296
    assert [x["id"] for x in lines] == list(range(1296))
    assert [x["line"] for x in lines] == list(range(1, 1297))
    bad = lines[100]
    assert bad["status"] == "error"
    assert bad["errors"][0]["field"] == "pain"
    assert "mechanical" in bad["errors"][0]["allowed"]
    good = [x for i, x in enumerate(lines) if i != 100]
    assert all(x["status"] == "complete" for x in good)
    assert {x["total"] for x in good} == set(range(19))


def test_malformed_jsonl_line_is_an_error_record(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"escc": "2"}\n{not json\n[1]\n{"escc": "1c"}\n')
    result = runner.invoke(app, ["score", "bilsky_escc", "-i", str(path), "-f", "jsonl"])
    assert result.exit_code == 0
    statuses = [json.loads(x)["status"] for x in result.stdout.splitlines()]
    assert statuses == ["complete", "error", "error", "complete"]


def test_single_object_json() -> None:
    payload = json.dumps({"kps": 90, "primary": "breast", "visceral_metastases": False})
    result = runner.invoke(app, ["score", "van_der_linden_2005"], input=payload)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["total"] == 6 and data["band"]["id"] == "C"


def test_single_bad_input_exits_nonzero_naming_field_and_allowed() -> None:
    for slug, payload, needle in [
        ("tokuhashi_2005", {"kps": 55}, "kps: 55 is not allowed (allowed: 0-100 in steps of 10)"),
        ("sins", {"level": "T13"}, "level: 'T13' is not a vertebral level"),
        ("sins", {"pain": "agonising"}, "allowed: mechanical, occasional, none"),
    ]:
        result = runner.invoke(app, ["score", slug], input=json.dumps(payload))
        assert result.exit_code == 2
        assert needle in result.stderr
        assert "Traceback" not in result.output


def test_unknown_and_unavailable_scores() -> None:
    result = runner.invoke(app, ["score", "tokuhashi"], input="{}")
    assert result.exit_code == 2 and "tokuhashi_2005" in result.stderr
    result = runner.invoke(app, ["score", "rades_2008"], input="{}")
    assert result.exit_code == 2 and "UNVERIFIED" in result.stderr


def test_text_output_is_a_table() -> None:
    payload = json.dumps({"primary": "melanoma", "visceral_metastases": "none",
                          "bone_metastases": "solitary"})
    result = runner.invoke(app, ["score", "tomita_2001", "-f", "text"], input=payload)
    assert result.exit_code == 0
    assert "incomplete" in result.stdout
    assert "Clinician choice needed" in result.stdout
    assert "Tomita" in result.stdout


def test_scores_listing() -> None:
    result = runner.invoke(app, ["scores", "--format", "jsonl"])
    assert result.exit_code == 0
    entries = {json.loads(x)["slug"]: json.loads(x) for x in result.stdout.splitlines()}
    assert entries["katagiri_2014"]["status"] == "provisional"
    assert entries["sorg"]["status"] == "unavailable"
    assert entries["sins"]["version"] == "Fisher 2010"


def test_python_dash_m_and_console_script_work() -> None:
    out = subprocess.run([sys.executable, "-m", "spinemets", "score", "bilsky_escc"],
                         input='{"escc": "1c"}', capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["band"]["id"] == "intermediate"
