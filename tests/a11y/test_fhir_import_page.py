"""The clinician "Import from FHIR" page in real Chromium: axe-core (WCAG 2.2 AA and
best-practice) finds nothing on the empty form, the error state, the import report and a
refused save."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page
from tests.a11y._axe import run_axe as _axe
from tests.a11y.conftest import sign_in_demo

pytestmark = pytest.mark.browser

BUNDLE = (Path(__file__).parents[1] / "fixtures" / "fhir" / "bundles"
          / "synth-1-005-prostate.json")




def test_import_page_is_axe_clean(page: Page, live_server: str) -> None:
    sign_in_demo(page, live_server)
    violations = {}
    page.goto(live_server + "/clinician/fhir/import")
    violations["form"] = _axe(page)
    page.get_by_role("button", name="Show the import report").click()
    page.wait_for_load_state()
    violations["empty"] = _axe(page)
    page.fill("#f-bundle", BUNDLE.read_text(encoding="utf-8"))
    page.get_by_role("button", name="Show the import report").click()
    page.wait_for_load_state()
    assert page.get_by_text("Values read").count() == 1
    violations["report"] = _axe(page)
    page.fill("#f-ref", "demo-001")
    page.get_by_role("button", name="Save the imported case").click()
    page.wait_for_load_state()
    violations["refused"] = _axe(page)
    assert violations == {"form": [], "empty": [], "report": [], "refused": []}
