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
from spinemets.rules._consequence import (
    _Base,
    _values,
    _variant,
    _variants,
    _with,
    group_filled,
)
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


def _alone(case: _Base, path: str) -> str | None:
    """The largest consequence of filling ``path`` alone, by the whole engine."""
    base = _whole(case.case)
    worst: str | None = None
    for variant in _variants(case, path, _values(path, TODAY) or []):
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


def _expected(case: _Base, path: str, candidates: list[str]) -> str | None:
    """Alone, then with the other missing inputs of its group (the patient, or the same
    lesion) filled with a middle value: the consequence the whole engine gives."""
    alone = _alone(case, path)
    if alone is not None:
        return alone
    filled = group_filled(case, path, candidates, TODAY)
    return None if filled is case else _alone(filled, path)


def _candidates(case: Case) -> list[str]:
    return _plan._unknowns(_plan._run(case, TODAY))


def test_a_lesion_field_is_judged_in_the_whole_case() -> None:
    assert len(load_case(TWO_LESIONS).lesions) == 2
    unknowns = plan(FRACTURED_ELSEWHERE, today=TODAY).unknowns
    assert "lesions[0].pathological_fracture" not in unknowns


@pytest.mark.parametrize("ref", sorted(CASES))
def test_decisions_scope_by_scope_equal_the_whole_engine(ref: str) -> None:
    case = load_case(CASES[ref])
    remembered: dict[Any, Any] = {}
    tried = 0
    for path in _candidates(case):
        for variant in [case, *_variants(_Base.of(case), path,
                                         _values(path, TODAY) or [])]:
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
    result = plan(case, today=TODAY)
    listed = dict(zip(result.unknowns, result.unknown_consequences, strict=True))
    for path in _candidates(case):
        if listed.get(path) == "unlisted":
            continue
        expected = _expected(_Base.of(case), path, _candidates(case))
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


@pytest.mark.parametrize("ref", sorted(CASES))
def test_a_variant_validated_by_section_equals_the_whole_validation(ref: str) -> None:
    """Every value tried for every candidate (and for every candidate of the case with its
    group filled): the case built validating only the changed section equals the case
    validated whole from the changed JSON document, and both refuse the same values."""
    case = load_case(CASES[ref])
    candidates = _candidates(case)
    bases = [_Base.of(case)]
    bases += [group_filled(bases[0], path, candidates, TODAY) for path in candidates]
    tried = 0
    for base in bases:
        assert base.case == load_case(base.document)
        for path in candidates:
            for value in _values(path, TODAY) or []:
                changed = _with(base.document, path, value)
                refusal: str | None = None
                try:
                    whole = load_case(changed)
                except SpinemetsError as exc:
                    refusal = str(exc)
                if refusal is not None:
                    with pytest.raises(SpinemetsError) as caught:
                        _variant(base, path, value)
                    assert str(caught.value) == refusal, f"{ref}: {path} = {value!r}"
                    continue
                variant = _variant(base, path, value)
                assert variant.case == whole, f"{ref}: {path} = {value!r}"
                assert variant.case.lesions_recorded == whole.lesions_recorded
                assert variant.document == changed
                tried += 1
    assert tried or not candidates


def test_a_variant_keeps_unknown_lesions_unknown() -> None:
    """A case without a lesion list keeps it unknown in its variants; ``[]`` stays recorded."""
    lesions: list[Any] | None
    for lesions in (None, []):
        case = load_case({"patient": {"age_years": 60}, "lesions": lesions})
        base = _Base.of(case)
        assert base.document["lesions"] == lesions
        variant = _variant(base, "performance.kps", 50).case
        assert variant.lesions_recorded is (lesions is not None)
        assert variant == load_case(_with(base.document, "performance.kps", 50))


def test_remembered_lesion_scores_and_facts_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lesion memos (per lesion object) forget everything when full: ranking many cases
    never holds more than their bound, and plans stay the same."""
    from spinemets.case import _assess  # noqa: PLC0415 - private memos
    from spinemets.rules import _facts  # noqa: PLC0415

    expected = {ref: plan(CASES[ref], today=TODAY).to_dict() for ref in sorted(CASES)[:6]}
    _plan.clear_caches()
    monkeypatch.setattr(_assess._BY_LESION, "size", 10)
    monkeypatch.setattr(_facts._OWN_FACTS, "size", 10)
    for ref, whole in expected.items():
        assert plan(CASES[ref], today=TODAY).to_dict() == whole, ref
        assert len(_assess._BY_LESION) <= 10
        assert len(_facts._OWN_FACTS) <= 10
    _plan.clear_caches()
