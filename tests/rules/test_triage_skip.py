"""Skip logic (issue 21): a question is asked only while its answer can change the result.

Answer sequences follow the checker's own order with skipping (:func:`open_questions` decides
what is asked next). At every step, and at the end, no answer to the skipped questions changes
the result: each completion of them (every answer, "not sure" included; exhaustive when there
are few, otherwise a drawn sample plus the all-yes, all-no and all-"not sure" completions) gives
the same level, rules, advice and open warning signs as leaving them unanswered. And the result
never reassures ("no warning signs") while a warning sign is unanswered or "not sure".
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinemets.rules import TRIAGE_QUESTIONS, open_questions, triage, warning_sign_questions
from spinemets.rules._triage import ANSWER_KEYS, TriageResult

IDS = [q.id for q in TRIAGE_QUESTIONS]
VALUES: dict[str, list[Any]] = {q.id: [o.value for o in q.options] for q in TRIAGE_QUESTIONS}
VALUES["neurological_signs"] = [True, False, None]
#: The checker's warning-sign questions (``neurological_signs`` is for clinicians only).
WARNING = [q for q in warning_sign_questions() if q in IDS]
#: The warning signs in the checker's order.
WARNING_ORDER = [q for q in IDS if q in WARNING]
REASSURANCE = "Your answers do not show warning signs"
#: Completions tried exhaustively up to this many; a sample of them above it.
EXHAUSTIVE = 2_000
SAMPLE = 60
#: The same rules, advice and level; only the basis (which answers are quoted) may grow.
COMPARED = ("level", "rules", "headline", "reason", "provisional", "to_find_out",
            "patient_advice", "clinician_advice", "warning_answers", "possible_emergency",
            "unanswered_could_raise", "highest_possible", "open_warning_signs", "citations")


def _decision(result: TriageResult) -> dict[str, Any]:
    full = result.to_dict()
    return {key: full[key] for key in COMPARED}


def _to_ask(answers: dict[str, Any]) -> list[str]:
    """The checker's next questions: open and not answered, in question order."""
    still_open = open_questions(answers)
    return [q for q in IDS if q in still_open and q not in answers]


def _completions(skipped: list[str], rng: random.Random) -> list[dict[str, Any]]:
    """Answers to the skipped questions: every combination when few, else a sample."""
    domains = [VALUES[q] for q in skipped]
    size = 1
    for domain in domains:
        size *= len(domain)
    if size <= EXHAUSTIVE:
        return [dict(zip(skipped, combo, strict=True)) for combo in itertools.product(*domains)]
    corners = [{q: True if VALUES[q][0] is True else VALUES[q][0] for q in skipped},
               {q: False if False in VALUES[q] else VALUES[q][-2] for q in skipped},
               dict.fromkeys(skipped)]
    return corners + [{q: rng.choice(VALUES[q]) for q in skipped} for _ in range(SAMPLE)]


def _check_skipping(answers: dict[str, Any], rng: random.Random) -> int:
    """Assert that no answer to the skipped questions changes the result; return the count."""
    result = triage(answers)
    still_open = set(result.open_questions)
    skipped = [q for q in ANSWER_KEYS if q not in answers and q not in still_open]
    expected = _decision(result)
    completions = _completions(skipped, rng)
    for completion in completions:
        completed = triage({**answers, **completion})
        assert _decision(completed) == expected, (answers, completion)
    # never reassurance with a warning sign unanswered, "not sure", or yes
    if result.patient_advice.startswith(REASSURANCE):
        assert result.level == "routine"
        for sign in WARNING:
            assert answers.get(sign) is False, (sign, answers)
    # a skipped question can never raise the level or show a warning sign
    assert not set(skipped) & set(result.unanswered_could_raise)
    assert not set(skipped) & set(result.open_warning_signs)
    return len(completions)


@st.composite
def checker_answers(draw: st.DrawFn) -> tuple[list[dict[str, Any]], bool]:
    """The answers after each step of the checker's order with skipping, to the end."""
    stop_at_emergency = draw(st.booleans(), label="stop at emergency")
    answers: dict[str, Any] = {}
    steps = [dict(answers)]
    while (to_ask := _to_ask(answers)):
        if stop_at_emergency and triage(answers).level == "emergency":
            break
        qid = to_ask[0]
        answers[qid] = draw(st.sampled_from(VALUES[qid]), label=qid)
        steps.append(dict(answers))
    return steps, stop_at_emergency


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run=checker_answers(), seed=st.integers(0, 2**32 - 1))
def test_skipped_questions_never_change_the_result(run: tuple[list[dict[str, Any]], bool],
                                                   seed: int) -> None:
    steps, stopped = run
    rng = random.Random(seed)
    for answers in steps:
        _check_skipping(answers, rng)
    final = steps[-1]
    if not stopped or triage(final).level != "emergency":
        assert not _to_ask(final)  # the end: every open question answered
        # the questions left unanswered are exactly the skipped ones
        result = triage(final)
        assert all(q in final for q in result.open_questions if q in IDS)


@settings(max_examples=300, deadline=None)
@given(answers=st.fixed_dictionaries({}, optional={
    q: st.sampled_from(VALUES[q]) for q in ANSWER_KEYS}), seed=st.integers(0, 2**32 - 1))
def test_skipping_holds_for_any_answers_not_only_the_checker_order(answers: dict[str, Any],
                                                                   seed: int) -> None:
    """Answers in any order (skipping ahead by URL, changed answers, the API's partial
    answers): the skipped questions still cannot change the result."""
    _check_skipping(dict(answers), random.Random(seed))


def _path(choose: dict[str, Any]) -> tuple[list[str], TriageResult]:
    answers: dict[str, Any] = {}
    while (to_ask := _to_ask(answers)):
        qid = to_ask[0]
        answers[qid] = choose.get(qid, False if qid != "pain_location" else "lumbar")
    return list(answers), triage(answers)


@pytest.mark.parametrize("status", ["none", "known", "suspected", "unknown"])
def test_no_back_pain_and_no_warning_signs_is_nine_questions(status: str) -> None:
    asked, result = _path({"cancer_status": status, "back_pain": False})
    assert asked == ["cancer_status", *WARNING_ORDER, "back_pain"]
    assert len(asked) == 9  # issue 21: at most 9
    assert result.level == "routine"
    if status == "none":
        assert result.patient_advice.startswith(REASSURANCE)


@pytest.mark.parametrize(("choose", "count", "level"), [
    # no cancer, back pain, no red flag: the cancer pain questions are skipped
    ({"cancer_status": "none", "back_pain": True}, 12, "routine"),
    # no cancer, back pain and over 50: the red-flag rule has fired, fever is skipped
    ({"cancer_status": "none", "back_pain": True, "age_over_50": True}, 11, "soon"),
    # cancer and upper back pain: urgent at once; the rest of that rule's features are skipped
    ({"cancer_status": "known", "back_pain": True, "pain_location": "thoracic"}, 11, "urgent"),
    # cancer and back pain without urgent features: only "eases with rest" is skipped
    ({"cancer_status": "known", "back_pain": True}, 19, "soon"),
    # a warning sign with cancer: emergency; the other cord compression signs are skipped (that
    # rule has fired), the cauda equina signs are asked (they add a rule to the emergency)
    ({"cancer_status": "known", "limb_weakness": True}, 5, "emergency"),
])
def test_question_counts_of_other_paths(choose: dict[str, Any], count: int, level: str) -> None:
    asked, result = _path(choose)
    assert (len(asked), result.level) == (count, level), asked


NO_CORD_SIGNS = dict.fromkeys(("limb_weakness", "difficulty_walking", "numbness_or_tingling",
                               "saddle_numbness", "bladder_or_bowel_dysfunction",
                               "radicular_pain", "neurological_signs"), False)


@pytest.mark.parametrize("answers", [
    # cauda equina emergency with every cord sign no: no rule can use cancer status, but the
    # emergency advice says "tell them you have cancer" only when it is known or suspected
    {**NO_CORD_SIGNS, "rapidly_progressive": True},
    # provisional emergency (cancer status not sure): cancer and cauda equina signs stay open
    {"cancer_status": "unknown", "limb_weakness": True},
    # same-day urgent without cancer: the emergency-only signs stay open, radicular pain too
    {"cancer_status": "none", "limb_weakness": True},
    # "not sure" to back pain keeps every pain question open
    {"cancer_status": "known", **dict.fromkeys(WARNING, False), "back_pain": None},
])
def test_skipping_at_chosen_edges(answers: dict[str, Any]) -> None:
    assert _check_skipping(answers, random.Random(0)) > 0
    if "cancer_status" not in answers:
        assert "cancer_status" in open_questions(answers)
    if answers.get("back_pain", False) is None:
        assert {"pain_location", "pain_night", "weight_loss"} <= set(open_questions(answers))
    if answers.get("cancer_status") == "none" and answers.get("limb_weakness"):
        assert {"saddle_numbness", "radicular_pain"} <= set(open_questions(answers))
