"""Triage (pathway.md §2): levels, unanswered questions, errors, and properties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinemets.errors import InputError
from spinemets.rules import TRIAGE_QUESTIONS, triage
from spinemets.rules._triage import LEVELS

RANK = {level: i for i, level in enumerate(LEVELS)}
EMERGENCY_ANY = ("bladder_or_bowel_dysfunction", "saddle_numbness", "rapidly_progressive")
EMERGENCY_CANCER = ("limb_weakness", "difficulty_walking", "numbness_or_tingling",
                    "radicular_pain")


def test_question_ids_are_stable_and_unique() -> None:
    ids = [q.id for q in TRIAGE_QUESTIONS]
    assert len(ids) == len(set(ids))
    assert ids[0] == "cancer_status"
    assert all(q.text and q.options for q in TRIAGE_QUESTIONS)


@pytest.mark.parametrize(("answers", "level"), [
    ({"cancer_status": "known", "back_pain": True, "limb_weakness": True}, "emergency"),
    ({"cancer_status": "none", "bladder_or_bowel_dysfunction": True}, "emergency"),
    ({"cancer_status": "known", "radicular_pain": True}, "emergency"),
    ({"cancer_status": "known", "back_pain": True, "pain_location": "thoracic"}, "urgent"),
    ({"cancer_status": "known", "back_pain": True, "pain_location": "lumbar",
      "pain_progressive": False, "pain_severe_unremitting": False, "pain_night": False,
      "pain_worse_on_straining": False, "spinal_tenderness": False,
      "pain_onset_sudden": False}, "soon"),
    ({"cancer_status": "none", "back_pain": True, "fever": True}, "soon"),
    ({"cancer_status": "none", "back_pain": False}, "routine"),
])
def test_levels(answers: dict[str, Any], level: str) -> None:
    result = triage(answers)
    assert result.level == level
    assert result.basis and result.patient_advice and result.clinician_advice


def test_emergency_advice_says_go_now() -> None:
    result = triage({"cancer_status": "known", "limb_weakness": True})
    assert "emergency department" in result.patient_advice
    assert "now" in result.patient_advice
    assert any("limb_weakness" in b for b in result.basis)


def test_unanswered_neurology_keeps_urgent_and_lists_signs() -> None:
    result = triage({"cancer_status": "known", "back_pain": True, "pain_night": True})
    assert result.level == "urgent"
    assert "limb_weakness" in result.unanswered_could_raise
    assert result.highest_possible == "emergency"


def test_not_sure_about_cancer_is_not_read_as_no_cancer() -> None:
    # Amendment 2026-12: a warning sign with cancer status "not sure" is a provisional emergency.
    result = triage({"cancer_status": "unknown", "back_pain": True, "limb_weakness": True})
    assert result.level == "emergency"
    assert result.provisional
    assert result.headline == "Emergency (now), provisional"
    assert "find out now whether this person has or may have cancer" in result.clinician_advice


def test_bad_answers_one_problem_each() -> None:
    with pytest.raises(InputError) as info:
        triage({"limb_weakness": "yes", "cancer_status": "maybe", "surprise": True})
    fields = [p.field for p in info.value.problems]
    assert fields == ["limb_weakness", "cancer_status", "surprise"]


ANSWER = st.fixed_dictionaries({}, optional={
    "cancer_status": st.sampled_from(["known", "suspected", "none", "unknown", None]),
    "pain_location": st.sampled_from(["cervical", "thoracic", "lumbar", "sacral", None]),
    **{q.id: st.sampled_from([True, False, None]) for q in TRIAGE_QUESTIONS
       if q.id not in ("cancer_status", "pain_location")},
})


@settings(max_examples=200, deadline=None)
@given(ANSWER, st.sampled_from(EMERGENCY_ANY + EMERGENCY_CANCER))
def test_adding_an_emergency_symptom_never_lowers_the_level(
        answers: dict[str, Any], symptom: str) -> None:
    before = triage(answers).level
    after = triage({**answers, symptom: True}).level
    assert RANK[after] >= RANK[before]
    if symptom in EMERGENCY_ANY or answers.get("cancer_status") in ("known", "suspected"):
        assert after == "emergency"


@settings(max_examples=200, deadline=None)
@given(ANSWER, st.sampled_from([q.id for q in TRIAGE_QUESTIONS]))
def test_unanswering_never_raises_and_answering_stays_within_highest(
        answers: dict[str, Any], key: str) -> None:
    full = triage(answers)
    fewer = triage({k: v for k, v in answers.items() if k != key})
    # Unanswering only raises by the amendment's worst case: a warning sign with cancer status
    # not known is a provisional emergency.
    assert RANK[fewer.level] <= RANK[full.level] or (
        fewer.provisional and key == "cancer_status")
    assert RANK[full.level] <= RANK[fewer.highest_possible]


@pytest.mark.parametrize("status", ["unknown", None])
@pytest.mark.parametrize("symptom", ["limb_weakness", "difficulty_walking", "numbness_or_tingling",
                                     "radicular_pain"])
def test_warning_sign_with_cancer_status_not_known_is_a_provisional_emergency(
        status: str | None, symptom: str) -> None:
    answers: dict[str, object] = {symptom: True}
    if status is not None:
        answers["cancer_status"] = status
    result = triage(answers)
    assert result.level == "emergency"
    assert result.provisional and result.possible_emergency
    assert result.rules == ("triage.emergency.warning_sign_cancer_status_unknown",)
    assert result.patient_advice.startswith("Go to the emergency department")
    assert result.to_find_out in result.clinician_advice


@pytest.mark.parametrize("symptom", ["limb_weakness", "difficulty_walking",
                                     "numbness_or_tingling"])
def test_new_deficit_without_cancer_is_urgent_same_day(symptom: str) -> None:
    result = triage({"cancer_status": "none", symptom: True})
    assert result.level == "urgent"
    assert result.headline == "Urgent (same day)"
    assert not result.provisional
    assert "same day" in result.patient_advice and "same-day" in result.clinician_advice
    assert "MSCC coordinator" not in result.clinician_advice
    assert result.patient_advice.startswith("See a doctor today")
    assert result.warning_answers == ()


def test_radicular_pain_without_cancer_is_not_sent_to_emergency_without_an_emergency_level(
        ) -> None:
    result = triage({"cancer_status": "none", "radicular_pain": True})
    assert result.level != "emergency"
    assert result.warning_answers == ("radicular_pain",)
    assert "emergency department" not in result.patient_advice
    assert "do not show warning signs" not in result.patient_advice
    assert "No red flags" not in result.clinician_advice


@pytest.mark.parametrize(("status", "says_you_have_cancer"), [
    ("known", True), ("suspected", True), ("none", False), ("unknown", False), (None, False)])
def test_emergency_advice_only_says_you_have_cancer_when_you_said_so(
        status: str | None, says_you_have_cancer: bool) -> None:
    answers: dict[str, Any] = {"saddle_numbness": True}
    if status is not None:
        answers["cancer_status"] = status
    result = triage(answers)
    assert result.level == "emergency"
    assert ("Tell them you have cancer" in result.patient_advice) is says_you_have_cancer
    if not says_you_have_cancer:
        assert "Tell them about any cancer you have or had" in result.patient_advice
