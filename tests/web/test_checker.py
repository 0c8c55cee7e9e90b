"""The symptom checker and triage API against the real rules (``spinemets.rules``)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from spinemets.rules import TRIAGE_QUESTIONS
from spinemets.web._core import triage_questions
from spinemets.web.api.v1._models import TriageAnswers

QUESTION_IDS = [q.id for q in TRIAGE_QUESTIONS]


def _answer(client: TestClient, qid: str, key: str, **extra: str) -> str:
    response = client.post(f"/check/q/{qid}", data={"answer": key, **extra},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def test_api_model_accepts_exactly_the_rules_answer_keys() -> None:
    assert set(TriageAnswers.model_fields) == {*QUESTION_IDS, "neurological_signs"}


def test_option_values_are_accepted_by_the_rules(client: TestClient) -> None:
    for question in triage_questions():
        for option in question.options:
            body = {"answers": {question.id: option.value}}
            response = client.post("/api/v1/triage", json=body)
            assert response.status_code == 200, (question.id, option.value, response.text)


@pytest.mark.parametrize("answers", [
    {"rapidly_progressive": True},
    {"cancer_status": "known", "neurological_signs": True},
])
def test_api_triage_new_answers_reach_emergency(client: TestClient,
                                                answers: dict[str, object]) -> None:
    response = client.post("/api/v1/triage", json={"answers": answers})
    assert response.status_code == 200, response.text
    assert response.json()["level"] == "emergency"


def test_checker_asks_every_question_one_per_page(client: TestClient) -> None:
    first = re.search(r'href="/check/q/([a-z_0-9]+)"', client.get("/check").text)
    assert first is not None
    asked = []
    qid: str | None = first.group(1)
    while qid is not None:
        page = client.get(f"/check/q/{qid}")
        assert page.status_code == 200
        assert page.text.count('name="answer"') >= 2
        asked.append(qid)
        # "No" (or the last option) never reaches emergency, so every page is shown
        location = _answer(client, qid, '"none"' if qid == "cancer_status" else "false"
                           if qid != "pain_location" else '"lumbar"')
        qid = location.removeprefix("/check/q/") if "/check/q/" in location else None
    assert asked == QUESTION_IDS
    result = client.get("/check/result")
    assert result.status_code == 200
    assert 'data-level="routine"' in result.text


def test_emergency_answer_goes_straight_to_the_advice(client: TestClient) -> None:
    assert _answer(client, "rapidly_progressive", "true") == "/check/result"
    page = client.get("/check/result").text
    assert 'data-level="emergency"' in page
    why = page.split("Why we say this")[1].split("Your answers")[0]
    assert "getting worse quickly" in why


def test_why_list_shows_only_the_answers_that_set_the_level(client: TestClient) -> None:
    _answer(client, "cancer_status", '"known"')
    _answer(client, "back_pain", "true")
    _answer(client, "pain_night", "true")
    _answer(client, "fever", "false")
    page = client.get("/check/result").text
    assert 'data-level="urgent"' in page
    why = page.split("Why we say this")[1].split("Your answers")[0]
    for text in ("Do you have cancer", "pain in your back or neck", "stop you sleeping"):
        assert text in why
    assert "fever" not in why
    # unanswered neurological questions could raise the level, and say so above the reasons
    still_open = page.split("data-open-questions")[1].split("Why we say this")[0]
    assert "weakness in your arms or legs" in still_open


def test_hint_is_shown_and_linked(client: TestClient) -> None:
    page = client.get("/check/q/saddle_numbness").text
    assert 'aria-describedby="answer-hint"' in page
    assert "saddle" in page


def test_checker_in_spanish_uses_the_catalogue(client: TestClient) -> None:
    client.cookies.set("sm_lang", "es")
    for question in triage_questions():
        page = client.get(f"/check/q/{question.id}").text
        assert question.text not in page, question.id
        for option in question.options:
            if option.label not in {"No"}:
                assert f">{option.label}<" not in page, (question.id, option.label)


@pytest.mark.parametrize(("status", "sign", "card"), [
    ('"unknown"', "limb_weakness", "emergency"),  # provisional emergency (amendments 2026-12)
    ('"none"', "radicular_pain", "warning-sign"),
    ('"none"', "limb_weakness", "urgent"),  # new deficit without cancer: same day
])
def test_warning_sign_without_known_cancer_is_routed_to_emergency_care(
        client: TestClient, status: str, sign: str, card: str) -> None:
    _answer(client, "cancer_status", status)
    location = _answer(client, sign, "true")
    if card == "emergency":  # shown at once, like an emergency answer
        assert location == "/check/result"
    page = client.get("/check/result").text
    assert f'data-level="{card}"' in page
    assert "emergency department" in page or card == "urgent"
    assert "No warning signs in your answers" not in page
    assert "None of your answers was a warning sign" not in page


def test_new_deficit_without_cancer_says_see_a_doctor_today(client: TestClient) -> None:
    from spinemets.rules._triage import SAME_DAY_RULE  # noqa: PLC0415
    from spinemets.web.pages import _checker  # noqa: PLC0415

    assert _checker.SAME_DAY_RULE == SAME_DAY_RULE
    _answer(client, "cancer_status", '"none"')
    _answer(client, "numbness_or_tingling", "true")
    page = client.get("/check/result").text
    assert "See a doctor today" in page
    assert "cancer may have spread" not in page and "cancer team" not in page
    assert 'href="tel:911"' in page
