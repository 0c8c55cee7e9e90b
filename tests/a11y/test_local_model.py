"""The site's local model on the results page and in the report, in real Chromium.

A site configured with a local model (fitted here on a SYNTHETIC cohort): the results page shows
the labelled prediction beside the prognostic scores, its basis one click away; axe finds
nothing with the basis open; screenshots of the section and of the report's section (the print
markup the PDF uses) go to artifacts/screenshots (docs/images with SPINEMETS_UPDATE_DOCS_IMAGES).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import uvicorn
from playwright.sync_api import Page, expect
from tests.a11y._axe import run_axe as _axe
from tests.a11y.conftest import _free_port

from spinemets.cohort import score_file
from spinemets.cohort._model import FitOptions, fit_model, read_cohort
from spinemets.cohort._model_synth import synth_known_hazard
from spinemets.local_model import load_local_model
from spinemets.report import build_report, render_html
from spinemets.rules import plan
from spinemets.storage import demo_cases
from spinemets.web import Settings, create_app

pytestmark = [pytest.mark.browser]

DOCS_IMAGES = Path(__file__).parents[2] / "docs" / "images"
LABEL = "internally validated only"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site-model")
    pq.write_table(synth_known_hazard(600, 5), folder / "cohort.parquet")
    score_file(folder / "cohort.parquet", folder / "scored.parquet", keep="all")
    data = read_cohort(folder / "scored.parquet", time_column="time_months",
                       event_column="event")
    model = fit_model(data, FitOptions(
        predictors=("kps", "visceral_metastases", "albumin_g_per_dl", "primary"),
        resamples=2, seed=1, name="demo-site-2026", force=True))
    path = folder / "demo-site-2026.json"
    path.write_text(model.to_json(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def site_server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("site") / "live.sqlite3"
    app = create_app(Settings(database_url=f"sqlite:///{db}", demo=True,
                              local_model=model_path))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("live server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _sign_in(page: Page, live_server: str) -> None:
    page.goto(live_server + "/clinician/sign-in")
    page.fill("#username", "demo")
    page.fill("#password", "demo-only-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/clinician")


def test_results_page_shows_the_local_model(page: Page, site_server: str,
                                            screenshots: Path) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    _sign_in(page, site_server)
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
