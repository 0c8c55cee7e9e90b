"""The HTML report of ``cohort model report`` in Chromium: axe-clean, screenshot for review."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from playwright.sync_api import Page
from tests.a11y._axe import run_axe_wcag as run_axe

pytestmark = pytest.mark.browser


def test_axe_cohort_model_report(page: Page, tmp_path: Path, screenshots: Path) -> None:
    from spinemets.cohort import score_file  # noqa: PLC0415
    from spinemets.cohort._model import FitOptions, fit_model, read_cohort  # noqa: PLC0415
    from spinemets.cohort._model_html import render_model_html  # noqa: PLC0415
    from spinemets.cohort._model_report import build_report  # noqa: PLC0415
    from spinemets.cohort._model_synth import synth_known_hazard  # noqa: PLC0415

    cohort, scored = tmp_path / "c.parquet", tmp_path / "s.parquet"
    pq.write_table(synth_known_hazard(1500, 7), cohort)
    score_file(cohort, scored, keep="all")
    model = fit_model(read_cohort(scored, time_column="time_months", event_column="event"),
                      FitOptions(resamples=5, name="demo"))
    html = tmp_path / "report.html"
    html.write_text(render_model_html(build_report(model, scored, resamples=10)),
                    encoding="utf-8")
    page.goto(html.as_uri())
    assert run_axe(page) == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(screenshots / "cohort-model-report.png"), full_page=True)
