"""The site's local model on the results page and in the report, in real Chromium.

A site configured with a local model (fitted here on a SYNTHETIC cohort): the results page shows
the labelled prediction beside the prognostic scores, its basis one click away; axe finds
nothing with the basis open; screenshots of the section and of the report's section (the print
markup the PDF uses) go to artifacts/screenshots (docs/images with SPINEMETS_UPDATE_DOCS_IMAGES).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.a11y._axe import run_axe as _axe
from tests.a11y.conftest import serve_app, sign_in_demo
from tests.local_model._fit import fit_site_model

from spinemets.local_model import load_local_model
from spinemets.report import build_report, render_html
from spinemets.rules import plan
from spinemets.storage import demo_cases
from spinemets.web import Settings

pytestmark = [pytest.mark.browser]

DOCS_IMAGES = Path(__file__).parents[2] / "docs" / "images"
LABEL = "internally validated only"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fit_site_model(tmp_path_factory.mktemp("site-model"), "demo-site-2026")


@pytest.fixture(scope="module")
def site_server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("site") / "live.sqlite3"
    with serve_app(Settings(database_url=f"sqlite:///{db}", demo=True,
                            local_model=model_path)) as base:
        yield base


def test_results_page_shows_the_local_model(page: Page, site_server: str,
                                            screenshots: Path) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in_demo(page, site_server)
    page.goto(f"{site_server}/clinician/cases/demo-001")
    section = page.locator("#local-model")
    expect(section).to_be_visible()
    expect(section.locator("h3")).to_contain_text(LABEL)
    section.locator("summary").click()
    expect(section.get_by_text("Karnofsky performance status")).to_be_visible()
    assert _axe(page) == []
    panel = page.locator("section[aria-labelledby='prognosis-h']")  # beside the scores
    panel.screenshot(path=str(screenshots / "results-local-model-demo-001.png"))
    if os.environ.get("SPINEMETS_UPDATE_DOCS_IMAGES"):
        panel.screenshot(path=str(DOCS_IMAGES / "results-local-model-demo-001.png"))


def test_report_section_shows_the_local_model(page: Page, model_path: Path,
                                              screenshots: Path) -> None:
    case = demo_cases()[0]
    report = build_report(plan(case, local_model=load_local_model(model_path)).to_dict(), case)
    page.set_viewport_size({"width": 900, "height": 900})
    page.set_content(render_html(report))
    section = page.locator("#local-model")
    expect(section).to_be_visible()
    expect(section.get_by_text("Karnofsky performance status")).to_be_visible()
    panel = page.locator("section[aria-labelledby='prognosis-h']")
    panel.screenshot(path=str(screenshots / "report-local-model-demo-001.png"))
    if os.environ.get("SPINEMETS_UPDATE_DOCS_IMAGES"):
        panel.screenshot(path=str(DOCS_IMAGES / "report-local-model-demo-001.png"))
