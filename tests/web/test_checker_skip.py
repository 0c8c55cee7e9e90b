"""Skip logic on the checker's pages (issue 21, item 5), with the real redirects.

Hypothesis answers the pages the checker shows, in its order, from the start page to the
result. The pages asked are exactly the rules' open questions; the result page shows the
same state for every answer to the skipped questions; and it never reassures while a warning
sign is unanswered or "not sure".
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinemets.rules import open_questions, triage, warning_sign_questions
from spinemets.web._core import Question, triage_answers, triage_questions
from spinemets.web.pages._checker import outcome

QUESTIONS: tuple[Question, ...] = triage_questions()
BY_ID = {q.id: q for q in QUESTIONS}
IDS = [q.id for q in QUESTIONS]
WARNING = [q for q in warning_sign_questions() if q in BY_ID]
#: The warning signs in the checker's order.
WARNING_ORDER = [q for q in IDS if q in WARNING]
REASSURANCE = "No warning signs in your answers"




def _keys(answers: dict[str, Any]) -> dict[str, str]:
    """Rule values as the checker's answer keys (JSON)."""
    return {qid: next(o.key for o in BY_ID[qid].options if o.value == value)
            for qid, value in answers.items()}


def _state(answers: dict[str, Any]) -> dict[str, Any]:
    keys = _keys(answers)
    return outcome(triage_answers(answers), keys)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_pages_asked_are_the_open_questions_and_skipping_changes_nothing(
        app_client: TestClient, data: st.DataObject) -> None:
    client = app_client
    client.cookies.clear()
    start = re.search(r'href="/check/q/([a-z_0-9]+)"', client.get("/check").text)
    assert start is not None
    qid: str | None = start.group(1)
    answers: dict[str, Any] = {}
    while qid is not None:
        # the page asked is the first open question not answered yet
        still_open = open_questions(answers)
        assert qid == next(q for q in IDS if q in still_open and q not in answers)
        page = client.get(f"/check/q/{qid}").text
        counter = re.search(r"Question (\d+) of (\d+)", page)
        assert counter is not None and int(counter.group(1)) == len(answers) + 1
        option = data.draw(st.sampled_from(BY_ID[qid].options), label=qid)
        answers[qid] = option.value
        response = client.post(f"/check/q/{qid}", data={"answer": option.key},
                               follow_redirects=False)
        assert response.status_code == 303
        location = str(response.headers["location"])
        qid = location.removeprefix("/check/q/") if location.startswith("/check/q/") else None
    result = triage(answers)
    if result.level != "emergency" and not result.warning_answers:
        # the questions ended because none is open any more (not an emergency stop)
        assert not [q for q in IDS if q in result.open_questions and q not in answers]
    page = client.get("/check/result").text
    state = _state(answers)
    assert f'data-level="{state["state"]}"' in page
    if REASSURANCE in page:
        assert all(answers.get(sign) is False for sign in WARNING), answers
    # every answer to the skipped questions gives the same result page state
    skipped = [q for q in IDS if q not in answers and q not in result.open_questions]
    domains = [[o.value for o in BY_ID[q].options] for q in skipped]
    combos = list(itertools.islice(itertools.product(*domains), 200))
    combos += [tuple(data.draw(st.sampled_from(d), label="completion") for d in domains)
               for _ in range(10)]
    for combo in combos:
        completed = {**answers, **dict(zip(skipped, combo, strict=True))}
        full = triage(completed)
        assert (full.level, full.rules, full.patient_advice) == (
            result.level, result.rules, result.patient_advice), completed
        assert _state(completed)["state"] == state["state"], completed


def test_api_lists_the_open_questions(app_client: TestClient) -> None:
    body = app_client.post("/api/v1/triage", json={"answers": {
        "cancer_status": "none", "back_pain": False}}).json()
    # every warning sign (and the clinicians' neurological signs), nothing about pain; radicular
    # pain cannot raise the level without cancer, but a yes still changes the advice: open
    assert body["open_questions"] == [*WARNING_ORDER, "neurological_signs"]
    assert set(body["unanswered_could_raise"]) == set(WARNING) - {"radicular_pain"}
