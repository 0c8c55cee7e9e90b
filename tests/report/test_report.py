"""The presentation model and its renderers: every demo case to text, HTML and tagged PDF.

Golden text reports for two demo cases (``golden/*.txt``; regenerate with
``SPINEMETS_UPDATE_GOLDEN=1`` after a deliberate change of the tables or the layout).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import spinemets.report as report_pkg
from spinemets.cli import app
from spinemets.domain import LEVELS
from spinemets.report import Meta, Report, build_report, render_html, render_text, spine_svg
from spinemets.report._labels import labels
from spinemets.rules import all_rules, plan
from spinemets.storage import demo_cases

GOLDEN = Path(__file__).parent / "golden"
DOCS_IMAGES = Path(__file__).parents[2] / "docs" / "images"
CASES = {str(c["id"]): dict(c) for c in demo_cases()}
HAS_PDF = importlib.util.find_spec("weasyprint") is not None
runner = CliRunner()


def _report(ref: str, meta: Meta | None = None) -> tuple[Report, dict[str, Any]]:
    case = json.loads(json.dumps(CASES[ref], default=str))
    data = plan(case).to_dict()
    return build_report(data, case, meta=meta), data


def _fixed_meta(ref: str) -> Meta:
    return Meta(case_ref=ref, case_version=1, generated_at=datetime(2025, 1, 15, 9, 30,
                                                                    tzinfo=UTC),
                author="Dr Example", software_version="0.0.0-test", tables_hash="0" * 64,
                plan_format="spinemets-plan/1", demo=True)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_public_api() -> None:
    assert sorted(report_pkg.__all__) == sorted(
        name for name in dir(report_pkg) if not name.startswith("_")
        and name not in {"annotations"} and not isinstance(getattr(report_pkg, name),
                                                          type(report_pkg)))


def test_every_rule_outcome_and_flag_has_words() -> None:
    items = labels()["items"]
    flags = labels()["flags"]
    for rule in all_rules():
        if rule.kind == "flag":
            assert rule.outcome in flags, rule.id
        else:
            assert rule.outcome in items, rule.id


@pytest.mark.parametrize("ref", sorted(CASES))
def test_model_has_words_not_ids(ref: str) -> None:
    report, data = _report(ref)
    labels_of = {i.label for i in report.items}
    assert len(report.items) == len(data["recommendations"]) + len(data["workup"])
    for item in report.items:
        assert "_" not in item.label and item.label in labels_of
    for row in report.lesions:
        assert "_" not in row.sins_band + row.escc_band + row.radiosensitivity
    for score in report.prognosis:
        assert not re.fullmatch(r"[a-z_0-9]+", score.band), score
    cited = {c for section in ("recommendations", "workup") for i in data[section]
             for c in i["citations"]}
    assert cited <= {r.text for r in report.references}
    assert len(report.spine) == len(LEVELS) and report.spine[0].label == "O (occiput)"


@pytest.mark.parametrize("ref", sorted(CASES))
def test_text_fits_100_columns(ref: str) -> None:
    text = render_text(_report(ref)[0])
    assert max(len(line) for line in text.splitlines()) <= 100
    assert text.index("TRIAGE:") < text.index("DETAILS: PLAN ITEMS") < text.index("REFERENCES")


@pytest.mark.parametrize("ref", ["demo-001", "demo-005"])
def test_text_report_golden(ref: str) -> None:
    text = render_text(_report(ref, _fixed_meta(ref))[0])
    golden = GOLDEN / f"{ref}.txt"
    if os.environ.get("SPINEMETS_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_spine_svg_is_labelled_in_text() -> None:
    report, _ = _report("demo-003")
    svg = spine_svg(report)
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "L4 (lesion L4)" in svg and "T9 (lesion T9)" in svg
    assert svg.count("<rect") == len(LEVELS)


def test_html_report_is_one_document() -> None:
    report, _ = _report("demo-004", _fixed_meta("demo-004"))
    html = render_html(report)
    assert html.startswith("<!doctype html>") and '<html lang="en">' in html
    assert "<style>" in html and 'href="/static/' not in html
    for item in report.items:
        assert item.label in html
    summary = html.split('id="summary"', 1)[1].split("</section>", 1)[0]
    assert "Lung, non-small-cell" in summary and "lung_nsclc" not in summary


@pytest.mark.skipif(not HAS_PDF, reason="WeasyPrint (extra 'report') not installed")
@pytest.mark.parametrize("ref", sorted(CASES))
def test_pdf_is_tagged_and_complete(ref: str, tmp_path: Path) -> None:
    from pypdf import PdfReader  # noqa: PLC0415

    from spinemets.report import render_pdf  # noqa: PLC0415

    report, data = _report(ref, _fixed_meta(ref))
    path = tmp_path / f"{ref}.pdf"
    path.write_bytes(render_pdf(report))
    reader = PdfReader(path)
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root and root["/MarkInfo"]["/Marked"]
    assert root["/Lang"] == "en"
    text = _squash(" ".join(page.extract_text() for page in reader.pages))
    for item in report.items:
        assert _squash(item.label) in text, item.label
    for section in ("recommendations", "workup"):
        for raw in data[section]:
            for citation in raw["citations"]:
                assert _squash(str(citation)) in text, citation
    assert _squash("Case " + ref) in text and "0.0.0-test" in text
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.skip("pdftoppm (poppler-utils) not installed")
    subprocess.run([pdftoppm, "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                    str(path), str(tmp_path / "page1")], check=True)
    assert (tmp_path / "page1.png").stat().st_size > 10_000
    if ref == "demo-002" and os.environ.get("SPINEMETS_UPDATE_DOCS_IMAGES"):
        shutil.copy(tmp_path / "page1.png", DOCS_IMAGES / "report-demo-002-page1.png")


def test_cli_report_outputs(tmp_path: Path) -> None:
    case = tmp_path / "case.json"
    case.write_text(json.dumps(CASES["demo-001"], default=str))
    html = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(case), "-o", str(html), "--author", "Dr A"])
    assert result.exit_code == 0, result.output
    assert "Dr A" in html.read_text(encoding="utf-8")
    text = runner.invoke(app, ["report", str(case)])
    assert text.exit_code == 0 and "REFERENCES" in text.stdout
    bad = runner.invoke(app, ["report", str(case), "-o", str(tmp_path / "x.doc")])
    assert bad.exit_code == 2
    if HAS_PDF:
        pdf = tmp_path / "report.pdf"
        assert runner.invoke(app, ["report", str(case), "-o", str(pdf)]).exit_code == 0
        assert pdf.read_bytes().startswith(b"%PDF-")


def test_cli_plan_text_is_the_report(tmp_path: Path) -> None:
    case = tmp_path / "case.json"
    case.write_text(json.dumps(CASES["demo-002"], default=str))
    result = runner.invoke(app, ["plan", str(case), "--format", "text"])
    assert result.exit_code == 0
    assert result.stdout.startswith("spinemets tumour-board report: case demo-002")
    assert "Revised Tokuhashi 2005" in result.stdout  # score versions shown
    assert max(len(line) for line in result.stdout.splitlines()) <= 100


def test_pdf_report_carries_the_tumour_board_decision() -> None:
    """The recorded MDT decision is part of the tumour-board report (issue 15 §4)."""
    case = next(c for c in demo_cases() if c["id"] == "demo-002")
    report = build_report(plan(case).to_dict(), case)
    decision = {"meeting_id": 1, "free_text": "SRS after review", "responsible": "Dr Example",
                "follow_up": "2030-01-15", "version": 2, "author": "demo",
                "at": datetime(2026, 11, 30, 11, 0, tzinfo=UTC),
                "verdicts": [{"item": "separation_surgery@L2", "label": "Separation surgery (L2)",
                              "status": "recommended", "verdict": "accepted", "reason": ""}]}
    html = render_html(report, decision=decision)
    assert "Tumour board decision" in html and "Separation surgery (L2)" in html
    assert "Tumour board decision" not in render_html(report)
