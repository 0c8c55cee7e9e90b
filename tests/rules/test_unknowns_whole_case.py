"""The ranking of unknowns agrees with the plain engine run on the whole case.

The ranking evaluates values scope by scope and remembers each scope's decisions; these tests
hold it to the engine without those shortcuts:

- for every demo case, vignette and the multi-lesion cases below, each value of each candidate
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
#: Lesions alike but for their levels (and one field each): their decisions are computed once
#: per set of facts read and given to each lesion under its own label; a value tried for one
#: lesion must still change that lesion only. A 15-year-old, so the adult-only items differ.
ALIKE: dict[str, Any] = {
    "format": "spinemets-case/1", "id": "alike-lesions",
    "patient": {"age_years": 15, "sex": "male", "weight_kg": 60},
    "cancer": {"status": "known", "primary": "kidney"},
    "performance": {"kps": 70},
    "labs": {"creatinine": {"value": 0.8, "unit": "mg/dL"}},
    "lesions": [
        {"levels": [level], "pain": "mechanical", "bone_lesion": "lytic", "alignment": "normal",
         "collapse": "under_50", "posterolateral": "unilateral", "escc": escc} | extra
        for level, escc, extra in (
            ("T4", "1b", {}), ("T8", "1b", {}), ("T10", "1b", {"prior_radiotherapy": True}),
            ("L3", "2", {}), ("L4", "2", {"pathological_fracture": True}))
    ],
}
CASES = {str(c["id"]): c for c in demo_cases()} | {
    str(v["id"]): v["case"] for v in vignettes()} | {
    "two-lesions": TWO_LESIONS, "fractured-elsewhere": FRACTURED_ELSEWHERE,
    "alike-lesions": ALIKE, "alike-lesions-adult": ALIKE | {
        "id": "alike-lesions-adult", "patient": {"age_years": 66, "sex": "male"}},
    # radiosensitive: radiotherapy items whose published schedules follow the triage level
    "alike-lesions-breast": ALIKE | {
        "id": "alike-lesions-breast", "patient": {"age_years": 58, "sex": "female"},
        "cancer": {"status": "known", "primary": "breast"}}}


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


@pytest.mark.parametrize(("path", "expected"), [
    ("performance.kps", list(range(0, 101, 10))),
    ("performance.ecog", [0, 1, 2, 3, 4, 5]),
    ("cancer.overrides.tokuhashi_primary_points", [0, 1, 2, 3, 4, 5]),
])
def test_a_small_whole_number_is_tried_at_every_allowed_value(path: str, expected: list[int],
                                                              ) -> None:
    # Before the case format's schema stated its ranges, KPS was tried at 0, 50, 100, 150 and
    # 200 (two refused) and ECOG at 0 only, so an ECOG of 3 or 4 was never tried.
    assert _values(path, TODAY) == expected


def test_counts_and_ranges_are_tried_where_the_scores_change() -> None:
    counts = _values("disease.extraspinal_bone_metastases", TODAY) or []
    assert {0, 1, 2, 3} <= set(counts)  # Tokuhashi: 0 / 1-2 / 3 or more
    ages = _values("patient.age_years", TODAY) or []
    assert min(ages) == 0 and max(ages) == 130
    assert any(a < 18 for a in ages) and any(18 <= a <= 50 for a in ages) and any(
        a > 50 for a in ages)
    for value in (*counts, *ages, *(_values("performance.kps", TODAY) or [])):
        assert value == value  # no NaN


def test_what_a_lesion_reads_of_the_whole_case_covers_every_enriched_item() -> None:
    """The lesion key leaves out what no lesion item reads; every item :func:`_enrich` changes
    from patient-wide values must say which values (else a lesion would be keyed too coarsely
    the day a lesion rule gives it)."""
    import inspect  # noqa: PLC0415

    source = inspect.getsource(_plan._enrich)
    named = {item for item in _plan._ENRICH_READS if f'"{item}"' in source}
    assert set(_plan.DRUG_ITEMS) | named == set(_plan._ENRICH_READS)
    assert {"cebrt", "srs", "zoledronic_acid", "analgesia", "bloods_baseline"} <= named
    assert set(_plan._lesion_reads()) <= {*_plan._Global._fields, "under_18"}
