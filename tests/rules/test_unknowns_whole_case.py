"""The ranking of unknowns agrees with the plain engine run on the whole case.

The ranking evaluates values scope by scope and remembers each scope's decisions; these tests
hold it to the engine without those shortcuts:

- for every demo case, vignette and the two-lesion case below, each value of each candidate
  input gives the same decisions scope by scope (one memo shared across all the values, as the
  ranking shares it) as the whole engine;
- each candidate input has the consequence the whole engine gives it when filled alone (or,
  if that changes nothing, with the other missing inputs of its group filled), and is left
  out exactly when that changes nothing. A lesion's field can change another lesion's plan
  through the patient-level facts drawn from every lesion, so it is never judged on its lesion
  alone (judged so, a fracture of one lesion was listed although another lesion's fracture
  already decides the scores' input).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from tests.rules.conftest import vignettes

from spinemets.case import Case, load_case
from spinemets.errors import SpinemetsError
from spinemets.rules import _plan, plan
from spinemets.rules._consequence import _values, _variants, group_filled
from spinemets.storage import demo_cases

TODAY = dt.date(2026, 12, 7)

#: Two lesions: the second one's SINS items are missing, and the first is stable and painless,
#: so the worst SINS over the lesions (a patient-level fact) hangs on the second lesion.
TWO_LESIONS: dict[str, Any] = {
    "format": "spinemets-case/1", "id": "two-lesions",
    "patient": {"age_years": 64, "sex": "female", "weight_kg": 70},
    "cancer": {"status": "known", "primary": "breast"},
    "performance": {"kps": 80},
    "fitness": {"fit_for_open_surgery": "yes"},
    "labs": {"creatinine": {"value": 0.9, "unit": "mg/dL"}},
    "lesions": [
        {"levels": ["T6"], "pain": "none", "bone_lesion": "blastic", "alignment": "normal",
         "collapse": "none", "posterolateral": "none", "escc": "0"},
        {"levels": ["L2"], "pain": "mechanical", "escc": "1a"},
    ],
}
#: The second lesion is fractured, so whether the first one is cannot change the scores'
#: "pathological fracture" input (any lesion); judged on its lesion alone it looked as if it
#: could (a score band), and was listed.
FRACTURED_ELSEWHERE: dict[str, Any] = {
    "format": "spinemets-case/1", "id": "fractured-elsewhere",
    "patient": {"age_years": 64, "sex": "female", "weight_kg": 70},
    "cancer": {"status": "known", "primary": "thyroid"},
    "performance": {"kps": 80},
    "fitness": {"fit_for_open_surgery": "yes"},
    "labs": {"creatinine": {"value": 0.9, "unit": "mg/dL"}},
    "lesions": [
        {"levels": ["T6"], "bone_lesion": "blastic", "alignment": "normal",
         "prior_radiotherapy": True},
        {"levels": ["L2"], "pain": "none", "escc": "2", "alignment": "normal",
         "posterolateral": "none", "prior_radiotherapy": True, "pathological_fracture": True},
    ],
}
CASES = {str(c["id"]): c for c in demo_cases()} | {
    str(v["id"]): v["case"] for v in vignettes()} | {
    "two-lesions": TWO_LESIONS, "fractured-elsewhere": FRACTURED_ELSEWHERE}


def _whole(case: Case) -> tuple[tuple[str, bool], frozenset[Any], frozenset[Any]]:
    run = _plan._prepare(case, TODAY)
    bands = _plan._bands(run)
    return (run.triage.level, run.triage.provisional), _plan._decisions(_plan._finish(run)), bands


def _alone(document: dict[str, Any], path: str) -> str | None:
    """The largest consequence of filling ``path`` alone, by the whole engine."""
    base = _whole(load_case(document))
    worst: str | None = None
    for variant in _variants(document, path, _values(path, TODAY) or []):
        try:
            other = _whole(variant)
        except SpinemetsError:
            continue
        if other[0] != base[0]:
            return "triage"
        if other[1] != base[1]:
            worst = "decision"
        elif other[2] != base[2] and worst is None:
            worst = "score"
    return worst


def _expected(document: dict[str, Any], path: str, candidates: list[str]) -> str | None:
    """Alone, then with the other missing inputs of its group (the patient, or the same
    lesion) filled with a middle value: the consequence the whole engine gives."""
    alone = _alone(document, path)
    if alone is not None:
        return alone
    filled = group_filled(document, path, candidates, TODAY)
    return None if filled is document else _alone(filled, path)


def _candidates(case: Case) -> list[str]:
    return _plan._unknowns(_plan._run(case, TODAY))


def test_a_lesion_field_is_judged_in_the_whole_case() -> None:
    assert len(load_case(TWO_LESIONS).lesions) == 2
    unknowns = plan(FRACTURED_ELSEWHERE, today=TODAY).unknowns
    assert "lesions[0].pathological_fracture" not in unknowns


@pytest.mark.parametrize("ref", sorted(CASES))
def test_decisions_scope_by_scope_equal_the_whole_engine(ref: str) -> None:
    case = load_case(CASES[ref])
    document = case.model_dump(mode="json")
    remembered: dict[Any, Any] = {}
    tried = 0
    for path in _candidates(case):
        for variant in [case, *_variants(document, path, _values(path, TODAY) or [])]:
            try:
                whole = _whole(variant)[1]
            except SpinemetsError:
                continue
            assert _plan._decisions_by_scope(_plan._prepare(variant, TODAY), remembered) == \
                whole, f"{ref}: {path}"
            tried += 1
    assert tried or not _candidates(case)


@pytest.mark.parametrize("ref", sorted(CASES))
def test_each_unknown_has_the_consequence_the_whole_engine_gives(ref: str) -> None:
    case = load_case(CASES[ref])
    document = case.model_dump(mode="json")
    result = plan(case, today=TODAY)
    listed = dict(zip(result.unknowns, result.unknown_consequences, strict=True))
    for path in _candidates(case):
        if listed.get(path) == "unlisted":
            continue
        expected = _expected(document, path, _candidates(case))
        assert listed.get(path) == expected, f"{ref}: {path} is {listed.get(path)}, not {expected}"
