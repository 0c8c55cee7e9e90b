"""The symptom checker's safety invariants, asserted on the rendered result page of the web app.

- Reassurance ("no warning signs") only when no way of answering the open questions (not
  answered, or "Not sure") could raise the level: checked against the triage rules by drawing
  completions of the open answers.
- Known or suspected cancer, or "not sure", leads to the warning-sign questions, not to a result.
- An emergency answer, or a new warning sign answered yes, ends the questions at once with
  emergency advice and a tap-to-call link.
- "Not sure" and unanswered never lower the level.

Answer sequences are drawn by Hypothesis: any order, changing answers, going back (answering an
earlier question again), skipping by URL, change links, starting again.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinemets.rules import triage
from spinemets.web import Settings, create_app
from spinemets.web._core import Question, triage_questions

QUESTIONS: tuple[Question, ...] = triage_questions()
BY_ID = {q.id: q for q in QUESTIONS}
IDS = [q.id for q in QUESTIONS]
RANK = {"routine": 0, "soon": 1, "urgent": 2, "emergency": 3}
#: Every emergency-rule symptom (warning sign) of the checker.
WARNING_SIGNS = ["limb_weakness", "difficulty_walking", "numbness_or_tingling", "saddle_numbness",
                 "bladder_or_bowel_dysfunction", "radicular_pain", "rapidly_progressive"]
REASSURANCE = ("No warning signs in your answers", "None of your answers was a warning sign",
               'data-level="routine"')
#: Cancer status answers that mean cancer is, or may be, present. With a warning sign, "not
#: sure" is the worst case: a provisional emergency (pathway amendments 2026-12).
CANCER_MAYBE = {"known": "emergency", "suspected": "emergency", "unknown": "emergency"}


@pytest.fixture(scope="module")
def app_client() -> Iterator[TestClient]:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(database_url=f"sqlite:///{Path(tmp) / 'c.sqlite3'}",
                                  environment="test", secret_key="y" * 40, demo=False))
        with TestClient(app, raise_server_exceptions=True) as client:
            yield client


def _key(qid: str, value: Any) -> str:
    return next(o.key for o in BY_ID[qid].options if o.value == value)


def _definite(value: Any) -> bool:
    return value is not None and value != "unknown"


def _post(client: TestClient, qid: str, key: str, *, change: bool = False) -> str:
    data = {"answer": key, **({"change": "true"} if change else {})}
    response = client.post(f"/check/q/{qid}", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def _main(html: str) -> str:
    match = re.search(r"<main.*?</main>", html, re.S)
    assert match is not None
    return match.group(0)


def _advice(html: str) -> str:
    """The part of the result page above the reasons: what the person reads first."""
    return _main(html).split("Why we say this")[0]


def _check_result_page(client: TestClient, answers: dict[str, Any], data: st.DataObject) -> None:
    """Assert the invariants on the rendered result page for ``answers`` (question -> value)."""
    response = client.get("/check/result", follow_redirects=False)
    if not answers:
        assert response.status_code == 303
        return
    assert response.status_code == 200
    page = response.text
    advice = _advice(page)
    result = triage(answers)
    reassured = any(text in page for text in REASSURANCE)
    if reassured:
        # 1. every emergency warning sign was answered, and answered no
        for qid in ("bladder_or_bowel_dysfunction", "saddle_numbness", "rapidly_progressive"):
            assert answers.get(qid) is False, (qid, answers)
        # 2. no way of answering the open questions raises the level or shows a warning sign
        open_ids = [q for q in IDS if not _definite(answers.get(q))]
        completion = dict(answers)
        for qid in open_ids:
            completion[qid] = data.draw(st.sampled_from(
                [o.value for o in BY_ID[qid].options if _definite(o.value)]), label=qid)
        completed = triage(completion)
        assert completed.level == "routine", (answers, completion)
        assert not completed.warning_answers, (answers, completion)
        assert result.level == "routine" and not result.warning_answers
    if result.level == "emergency":
        first = re.search(r'data-level="([a-z-]+)"', advice)
        assert first is not None and first.group(1) == "emergency"
        assert 'href="tel:' in advice
    if result.warning_answers:
        assert "emergency department" in advice and 'href="tel:' in advice
    if result.level in {"urgent", "soon"}:
        assert f'data-level="{result.level}"' in advice
    if result.unanswered_could_raise and result.level != "emergency":
        # the page says the answers are open, names them and leads back to a question
        assert "data-open-questions" in advice
        assert re.search(r'href="/check/q/[a-z_0-9]+', advice)
    if not reassured and result.level == "routine" and not result.warning_answers:
        assert 'data-level="incomplete"' in advice


actions = st.one_of(
    st.tuples(st.just("follow"), st.none(), st.booleans()),
    st.tuples(st.just("jump"), st.sampled_from(IDS), st.booleans()),
    st.tuples(st.just("restart"), st.none(), st.just(False)),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(actions, min_size=1, max_size=30), data=st.data())
def test_result_page_invariants_over_answer_sequences(app_client: TestClient,
                                                      steps: list[Any],
                                                      data: st.DataObject) -> None:
    client = app_client
    client.cookies.clear()
    answers: dict[str, Any] = {}
    target = IDS[0]
    for kind, jump_to, change in steps:
        if kind == "restart":
            client.post("/check/restart", follow_redirects=False)
            client.cookies.clear()
            answers, target = {}, IDS[0]
            continue
        qid = jump_to if kind == "jump" else target
        if qid is None:  # the last redirect went to the result page
            qid = data.draw(st.sampled_from(IDS), label="after result")
        assert client.get(f"/check/q/{qid}").status_code == 200
        option = data.draw(st.sampled_from(BY_ID[qid].options), label=qid)
        before = triage(answers)
        answers[qid] = option.value
        after = triage(answers)
        location = _post(client, qid, option.key, change=change and kind == "jump")
        newly_emergency = after.level == "emergency" and before.level != "emergency"
        new_warning = set(after.warning_answers) - set(before.warning_answers)
        if newly_emergency or new_warning:
            assert location == "/check/result", (qid, option.value, answers)
        if location.startswith("/check/q/"):
            target = location.removeprefix("/check/q/")
            assert target not in answers  # never asked again what is answered
        else:
            assert location == "/check/result"
            target = None
        _check_result_page(client, answers, data)


@pytest.mark.parametrize("status", ["known", "suspected", "unknown"])
def test_cancer_status_leads_to_the_warning_signs_not_a_result(app_client: TestClient,
                                                               status: str) -> None:
    """The defect path: cancer "yes" on question 1 showed "No warning signs" at once."""
    client = app_client
    client.cookies.clear()
    location = _post(client, "cancer_status", _key("cancer_status", status))
    assert location == f"/check/q/{WARNING_SIGNS[0]}"
    page = client.get("/check/result").text
    assert not any(text in page for text in REASSURANCE)
    assert 'data-level="incomplete"' in page
    assert f'href="/check/q/{WARNING_SIGNS[0]}"' in _advice(page)


@pytest.mark.parametrize("status", sorted(CANCER_MAYBE))
@pytest.mark.parametrize("sign", WARNING_SIGNS)
def test_every_warning_sign_with_cancer_ends_in_emergency_advice(app_client: TestClient,
                                                                 status: str, sign: str) -> None:
    client = app_client
    client.cookies.clear()
    _post(client, "cancer_status", _key("cancer_status", status))
    assert _post(client, sign, _key(sign, True)) == "/check/result"
    advice = _advice(client.get("/check/result").text)
    first = re.search(r'data-level="([a-z-]+)"', advice)
    assert first is not None
    # rapidly progressive weakness, saddle numbness and bladder/bowel are emergencies in anyone
    expected = "emergency" if sign in {"rapidly_progressive", "saddle_numbness",
                                       "bladder_or_bowel_dysfunction"} else CANCER_MAYBE[status]
    assert first.group(1) == expected
    assert "emergency department" in advice and 'href="tel:911"' in advice
    assert not any(text in advice for text in REASSURANCE)


@pytest.mark.parametrize("sign", WARNING_SIGNS)
def test_not_sure_is_never_a_no(app_client: TestClient, sign: str) -> None:
    """Every question answered no except one warning sign answered "Not sure": no reassurance."""
    client = app_client
    client.cookies.clear()
    for question in QUESTIONS:
        value = {"cancer_status": "none", "pain_location": "lumbar"}.get(question.id, False)
        _post(client, question.id, _key(question.id, None if question.id == sign else value))
    page = client.get("/check/result").text
    assert not any(text in page for text in REASSURANCE)
    advice = _advice(page)
    assert 'data-level="incomplete"' in advice
    assert f'href="/check/q/{sign}?change=true"' in advice


def test_all_no_is_the_only_way_to_reassurance(app_client: TestClient) -> None:
    client = app_client
    client.cookies.clear()
    for question in QUESTIONS:
        value = {"cancer_status": "none", "pain_location": "lumbar"}.get(question.id, False)
        _post(client, question.id, _key(question.id, value))
    advice = _advice(client.get("/check/result").text)
    assert 'data-level="routine"' in advice
    assert "data-open-questions" not in advice


def test_answers_after_an_emergency_move_on_instead_of_bouncing_back(
        app_client: TestClient) -> None:
    """After an emergency result, the link to the next question keeps working."""
    client = app_client
    client.cookies.clear()
    assert _post(client, "rapidly_progressive", _key("rapidly_progressive", True)) == \
        "/check/result"
    location = _post(client, "cancer_status", _key("cancer_status", "none"))
    assert location == f"/check/q/{WARNING_SIGNS[0]}"


@pytest.mark.parametrize("path", ["/", "/guide", "/clinics", "/accessibility", "/check",
                                  "/check/q/cancer_status"])
def test_head_answers_like_get(app_client: TestClient, path: str) -> None:
    head = app_client.head(path)
    assert head.status_code == 200
    assert head.headers["content-type"].startswith("text/html")


def test_emergency_box_has_a_tap_to_call_link_from_the_site_configuration(
        app_client: TestClient) -> None:
    page = app_client.get("/").text
    box = page.split("nhsuk-card--care--emergency")[1].split("</div>\n</div>")[0]
    assert 'href="tel:911"' in box
    assert 'nhsuk-card__heading-container' in box

