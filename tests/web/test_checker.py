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


def _walk(client: TestClient, answers: dict[str, str]) -> list[str]:
    """Follow the checker from its start page, answering ``answers`` (else "No"/"Lower back")."""
    first = re.search(r'href="/check/q/([a-z_0-9]+)"', client.get("/check").text)
    assert first is not None
    asked: list[str] = []
    qid: str | None = first.group(1)
    while qid is not None:
        page = client.get(f"/check/q/{qid}")
        assert page.status_code == 200
        assert page.text.count('name="answer"') >= 2
        asked.append(qid)
        counter = re.search(r"Question (\d+) of (\d+)", page.text)
        assert counter is not None and int(counter.group(1)) == len(asked)
        assert int(counter.group(1)) <= int(counter.group(2)) <= len(QUESTION_IDS)
        key = answers.get(qid, '"none"' if qid == "cancer_status" else '"lumbar"'
                          if qid == "pain_location" else "false")
        location = _answer(client, qid, key)
        qid = location.removeprefix("/check/q/") if "/check/q/" in location else None
    return asked


def test_checker_asks_every_question_one_per_page(client: TestClient) -> None:
    """Cancer, back pain that started suddenly but eases with rest, and "No" to the rest: no
    answer rules a question out, so every page is shown, in order."""
    asked = _walk(client, {"cancer_status": '"known"', "back_pain": "true",
                           "pain_onset_sudden": "true", "pain_better_with_rest": "true"})
    assert asked == QUESTION_IDS
    assert 'data-level="soon"' in client.get("/check/result").text


@pytest.mark.parametrize("status", ['"none"', '"known"', '"suspected"', '"unknown"'])
def test_no_back_pain_and_no_warning_signs_asks_nine_questions(client: TestClient,
                                                               status: str) -> None:
    """Issue 21 (target: at most 9): after "No" to back pain no pain or red-flag question can
    change the advice, so they are skipped: cancer status, the 7 warning signs, back pain."""
    asked = _walk(client, {"cancer_status": status})
    assert asked == ["cancer_status", "limb_weakness", "difficulty_walking",
                     "numbness_or_tingling", "saddle_numbness", "bladder_or_bowel_dysfunction",
                     "rapidly_progressive", "radicular_pain", "back_pain"]
    result = client.get("/check/result").text
    if status == '"unknown"':  # "not sure" about cancer is never a no: not reassured
        assert "No warning signs in your answers" not in result
        assert 'data-level="incomplete"' in result
        return
    assert 'data-level="routine"' in result
    assert "No warning signs in your answers" in result
    assert "data-open-questions" not in result and "/check/q/" not in result.split(
        "Why we say this")[0]


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
