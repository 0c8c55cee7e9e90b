"""Real Chromium: the symptom checker's defect path and every result state, EN and ES.

- Cancer "yes" on question 1 leads to a warning-sign question, never to a result page.
- Each result state (emergency, possible emergency, warning sign, urgent, soon, routine, not
  finished) has 0 axe-core violations, best-practice rules included, with each accessibility
  tool on, and shows its care card.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from tests.a11y._axe import run_axe

from spinemets.web._core import triage_questions

pytestmark = pytest.mark.browser

QUESTIONS = triage_questions()
YES, NO, NOT_SURE = "true", "false", "null"
NEGATIVE = {"cancer_status": '"none"', "pain_location": '"lumbar"'}
WARNING_SIGNS = ("limb_weakness", "difficulty_walking", "numbness_or_tingling", "saddle_numbness",
                 "bladder_or_bowel_dysfunction", "rapidly_progressive", "radicular_pain")
#: Result state -> answers (question id, option key) posted in order.
STATES: dict[str, list[tuple[str, str]]] = {
    "emergency": [("cancer_status", '"known"'), ("limb_weakness", YES)],
    # a warning sign with cancer status "not sure" is a provisional emergency
    "emergency-provisional": [("cancer_status", '"unknown"'), ("difficulty_walking", YES)],
    # a new deficit without cancer is same day; radicular pain without cancer is a warning sign
    "urgent-same-day": [("cancer_status", '"none"'), ("numbness_or_tingling", YES)],
    "warning-sign": [("cancer_status", '"none"'), ("radicular_pain", YES)],
    "urgent": [("cancer_status", '"suspected"'), ("back_pain", YES), ("pain_night", YES)],
    "soon": [("cancer_status", '"known"'), ("back_pain", YES)],
    "incomplete": [("cancer_status", '"known"')],
    "routine": [(q.id, NEGATIVE.get(q.id, NO)) for q in QUESTIONS],
}
TOOLS = ["", "size.large", "size.larger", "contrast.high", "font.dyslexic", "motion.reduce"]




def _answer(page: Page, base: str, answers: list[tuple[str, str]]) -> None:
    for qid, key in answers:
        page.goto(f"{base}/check/q/{qid}")
        page.locator(f"input[name=answer][value='{key}']").check()
        with page.expect_navigation():
            page.locator("form[action^='/check/q/'] button[type=submit]").click()


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("status", ['"known"', '"suspected"', '"unknown"'])
def test_cancer_yes_on_question_one_leads_to_a_warning_sign_question(
        page: Page, live_server: str, lang: str, status: str) -> None:
    page.context.add_cookies([{"name": "sm_lang", "value": lang, "url": live_server}])
    page.goto(live_server + "/check")
    page.locator("a.nhsuk-button[href^='/check/q/']").click()
    page.wait_for_url("**/check/q/cancer_status")
    page.locator(f"input[name=answer][value='{status}']").check()
    with page.expect_navigation():
        page.locator("form[action^='/check/q/'] button[type=submit]").click()
    assert page.url.endswith(f"/check/q/{WARNING_SIGNS[0]}")
    expect(page.locator("h1")).not_to_contain_text("No warning signs")
    assert page.locator("[data-level]").count() == 0


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_result_state_with_every_tool(page: Page, live_server: str, screenshots: Path,
                                            lang: str) -> None:
    page.context.add_cookies([{"name": "sm_lang", "value": lang, "url": live_server}])
    failures: dict[str, Any] = {}
    for state, answers in STATES.items():
        page.context.clear_cookies(name="sm_check")
        page.context.clear_cookies(name="sm_prefs")
        _answer(page, live_server, answers)
        page.goto(live_server + "/check/result")
        level = state.split("-provisional")[0].split("-same-day")[0]
        expect(page.locator(f"[data-level='{level}']").first).to_be_visible()
        page.screenshot(path=str(screenshots / f"check-{state}-{lang}.png"), full_page=True)
        for tool in TOOLS:
            if tool:
                page.context.add_cookies([{"name": "sm_prefs", "value": tool,
                                           "url": live_server}])
            page.goto(live_server + "/check/result")
            violations = run_axe(page)
            if violations:
                failures[f"{state} {tool or 'no tool'}"] = violations
    assert failures == {}
