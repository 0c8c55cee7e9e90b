"""The clinician results page in real Chromium: summary first, details one click away.

Every demo case at 390 and 1280 px: axe (WCAG 2.2 AA and best-practice) finds nothing, the
summary (triage, alerts and the per-lesion table) ends within the first 900 px at 1280 px, no
horizontal overflow at 390 px, and every details element opens from the keyboard.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.a11y._axe import run_axe as _axe
from tests.a11y.conftest import sign_in_demo

from spinemets.storage import demo_cases

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(importlib.util.find_spec("spinemets.rules") is None,
                                 reason="spinemets.rules not installed")]

DOCS_IMAGES = Path(__file__).parents[2] / "docs" / "images"
DEMO_REFS = [str(c["id"]) for c in demo_cases()]
WIDTHS = {390: 844, 1280: 900}




@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("ref", DEMO_REFS)
def test_results_page(page: Page, live_server: str, screenshots: Path, ref: str,
                      width: int) -> None:
    page.set_viewport_size({"width": width, "height": WIDTHS[width]})
    sign_in_demo(page, live_server)
    page.goto(f"{live_server}/clinician/cases/{ref}")
    expect(page.locator("#summary")).to_be_visible()
    page.screenshot(path=str(screenshots / f"first-screen-{ref}-{width}.png"))
    assert _axe(page) == []
    if width == 1280:
        box = page.locator("#summary").bounding_box()
        assert box is not None and box["y"] + box["height"] <= WIDTHS[width], box
    else:
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
    # no raw ids outside the details: histology ids, item ids, field paths
    summary = page.locator("#summary").inner_text()
    for raw in ("lung_nsclc", "lt_6_months", "mdt_review", "lesions[", "10*3/uL"):
        assert raw not in summary
    height = page.evaluate("document.documentElement.scrollHeight")
    page.screenshot(path=str(screenshots / f"results-{ref}-{width}.png"), full_page=True)
    if ref == "demo-002" and os.environ.get("SPINEMETS_UPDATE_DOCS_IMAGES"):
        page.screenshot(path=str(DOCS_IMAGES / f"results-demo-002-{width}.png"))
    print(f"{ref} {width}px: page height {height}px")  # figure for the report (-s)


@pytest.mark.parametrize("ref", DEMO_REFS)
def test_every_details_opens_by_keyboard(page: Page, live_server: str, ref: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in_demo(page, live_server)
    page.goto(f"{live_server}/clinician/cases/{ref}")
    summaries = page.locator("main details.sm-details > summary")
    count = summaries.count()
    assert count >= 3
    for index in range(count):
        summary = summaries.nth(index)
        summary.focus()
        page.keyboard.press("Enter")
        assert summary.evaluate("s => s.parentElement.open"), index
    assert _axe(page) == []  # every panel open: still no violation


def test_print_view_and_pdf_download(page: Page, live_server: str) -> None:
    sign_in_demo(page, live_server)
    page.goto(f"{live_server}/clinician/cases/demo-005/print")
    assert _axe(page) == []
    for column in ("Mechanical: SINS", "Treatment (NOMS decision)", "MDT flags"):
        expect(page.locator("table.sm-lesions thead")).to_contain_text(column)
    expect(page.locator("#references-h")).to_be_visible()
    response = page.request.get(f"{live_server}/clinician/cases/demo-005/report.pdf")
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF-")


def test_case_form_enter_saves_and_levels_are_named(page: Page, live_server: str) -> None:
    """Lesions first, labels without paths, Enter saves (never adds a lesion), a decimal comma
    is accepted, and a wrong level lists the real ones (O is the occiput)."""
    sign_in_demo(page, live_server)
    page.goto(f"{live_server}/clinician/cases/new")
    headings = page.locator("form[action='/clinician/cases'] h2").all_inner_texts()
    assert headings[:3] == ["Case", "Lesion 1", "Neurology"]
    assert "(patient.age_years)" not in page.locator("form[action='/clinician/cases']").inner_text()
    expect(page.locator("label[for=f-lesions-0-escc]")).to_contain_text("needed for the plan")
    page.fill("#f-id", "form-enter-test")
    page.fill("#f-lesions-0-levels", "T13")
    page.fill("#f-patient-weight-kg", "70,5")
    page.press("#f-patient-weight-kg", "Enter")
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("lesions[0].levels")
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("O (occiput)")
    assert page.locator("fieldset[id^=lesion-]").count() == 1  # Enter did not add a lesion
    assert _axe(page) == []
    page.fill("#f-lesions-0-levels", "T12")
    page.press("#f-lesions-0-levels", "Enter")
    page.wait_for_url("**/clinician/cases/form-enter-test")
    page.goto(f"{live_server}/clinician/cases/form-enter-test/edit")
    expect(page.locator("#f-patient-weight-kg")).to_have_value("70.5")
