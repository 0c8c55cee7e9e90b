"""The clinician "CT measurements" page in real Chromium: axe-core finds nothing on the empty
page, the upload error, the stored measurement with its suggestions, after an accept, and on the
results page and print view that show the overlay; screenshots (and the PDF report) go to
artifacts/screenshots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page
from tests.a11y._axe import run_axe as _axe
from tests.a11y.conftest import SCREENSHOTS, sign_in_demo
from tests.imaging._phantoms import build

from spinemets.imaging import measure_volumes
from spinemets.imaging._overlay import render_overlay

pytestmark = pytest.mark.browser


def test_imaging_page_is_axe_clean(page: Page, live_server: str, tmp_path: Path) -> None:
    phantom = build(["T4", "T5", "T6", "T7", "T8"], crush={"T6": 0.35})
    run = measure_volumes(phantom.ct, phantom.labels, phantom.label_map, body=phantom.labels,
                          body_label_map=phantom.label_map,
                          source={"ct": {"kind": "nifti", "file": "phantom-ct.nii.gz"}})
    (tmp_path / "m.json").write_text(json.dumps(run.document))
    (tmp_path / "m.png").write_bytes(render_overlay(run))
    (tmp_path / "bad.json").write_text("{}")
    sign_in_demo(page, live_server)
    violations = {}
    page.goto(live_server + "/clinician/cases/demo-005/imaging")
    violations["empty"] = _axe(page)
    page.set_input_files("#f-document", str(tmp_path / "bad.json"))
    page.get_by_role("button", name="Store the measurement").click()
    page.wait_for_load_state()
    assert page.get_by_text("There is a problem").count() == 1
    violations["error"] = _axe(page)
    page.set_input_files("#f-document", str(tmp_path / "m.json"))
    page.set_input_files("#f-overlay", str(tmp_path / "m.png"))
    page.get_by_role("button", name="Store the measurement").click()
    page.wait_for_load_state()
    assert page.get_by_text("T6: Vertebral body collapse").count() == 1
    violations["stored"] = _axe(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "imaging-suggestions.png"), full_page=True)
    page.get_by_role("button", name="Accept Vertebral body collapse at T6").click()
    page.wait_for_load_state()
    assert page.get_by_text("From CT measurement, confirmed by demo", exact=True).count() == 1
    violations["accepted"] = _axe(page)
    page.screenshot(path=str(SCREENSHOTS / "imaging-accepted.png"), full_page=True)
    page.goto(live_server + "/clinician/cases/demo-005")
    figure = page.locator("section.sm-imaging-figure")
    assert figure.get_by_text("from CT measurement, confirmed by demo").count() == 1
    assert figure.locator("img").evaluate("i => i.complete && i.naturalWidth > 0")
    violations["results"] = _axe(page)
    figure.screenshot(path=str(SCREENSHOTS / "results-ct-overlay.png"))
    page.screenshot(path=str(SCREENSHOTS / "results-ct-overlay-page.png"), full_page=True)
    page.goto(live_server + "/clinician/cases/demo-005/print")
    assert page.locator("section.sm-imaging-figure img").evaluate("i => i.naturalWidth > 0")
    violations["print"] = _axe(page)
    pdf = page.request.get(live_server + "/clinician/cases/demo-005/report.pdf")
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    (SCREENSHOTS / "report-ct-overlay.pdf").write_bytes(pdf.body())
    assert violations == {"empty": [], "error": [], "stored": [], "accepted": [], "results": [],
                          "print": []}
