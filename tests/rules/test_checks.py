"""Consistency checks (issue 13 §1): golden cases per check, and properties over public cases.

Golden cases: ``tests/cases/plan/checks.yaml`` (each cites the definition it rests on).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.rules.conftest import extra_cases, vignettes

from spinemets.case import MAX_LESIONS, load_case
from spinemets.errors import CaseFormatError
from spinemets.rules import check_case, checks, plan, references

GOLDEN = Path(__file__).parent.parent / "cases" / "plan" / "checks.yaml"
DATA = yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))
DEMO = Path(__file__).parents[2] / "src" / "spinemets" / "storage" / "demo_cases.yaml"
PUBLIC = [v["case"] for v in vignettes()] + yaml.safe_load(DEMO.read_text("utf-8"))["cases"]


def _consistency(case: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in plan(case).to_dict()["flags"] if f["id"] == "consistency"]


def test_golden_file_cites_its_sources() -> None:
    assert DATA["source"]
    assert all(c.get("source") for c in DATA["cases"])


@pytest.mark.parametrize("golden", DATA["cases"], ids=[c["id"] for c in DATA["cases"]])
def test_check_golden(golden: dict[str, Any]) -> None:
    flags = _consistency(golden["case"])
    got = [{k: f[k] for k in ("check", "severity", "fields", "reason", "verify")} for f in flags]
    assert got == golden["expect"]["consistency"]
    assert all(f["citations"] for f in flags)


def test_every_check_has_a_golden_case_and_citations() -> None:
    fired = {f["check"] for c in DATA["cases"] for f in c["expect"]["consistency"]}
    assert {c.id for c in checks()} == fired
    refs = references()
    for check in checks():
        assert check.citations and all(c in refs for c in check.citations), check.id
        assert check.severity in ("critical", "warning")


def test_check_case_matches_the_plan_flags() -> None:
    case = DATA["cases"][0]["case"]
    assert [c.to_flag() for c in check_case(case)] == _consistency(case)


def test_a_check_never_changes_an_input() -> None:
    # Fit for surgery with KPS 30: the plan still rests on the fitness answer as entered.
    case = {"cancer": {"status": "known", "primary": "kidney"},
            "fitness": {"fit_for_open_surgery": "yes"}, "performance": {"kps": 30},
            "lesions": [{"levels": ["L2"], "escc": "3"}]}
    data = plan(case).to_dict()
    (surgery,) = [r for r in data["recommendations"] if r["id"] == "separation_surgery"]
    assert surgery["status"] == "recommended"
    assert [f["severity"] for f in data["flags"] if f["id"] == "consistency"] == ["critical"]


def test_implausible_crcl_gives_no_dose() -> None:
    case = {"cancer": {"status": "known", "primary": "breast"},
            "patient": {"age_years": 20, "sex": "male", "weight_kg": 120},
            "labs": {"creatinine": {"value": 0.5, "unit": "mg/dL"}},
            "disease": {"vertebral_body_metastases": 2, "extraspinal_bone_metastases": 1}}
    data = plan(case).to_dict()
    (zol,) = [r for r in data["recommendations"] if r["id"] == "zoledronic_acid"]
    assert zol["dose_mg"] is None and zol["dose_band"] is None
    assert any("implausible" in c for c in zol["cautions"])
    assert not {"patient.age_years", "patient.weight_kg", "labs.creatinine"} & set(
        data["unknowns"])


def test_unknown_lesions_are_not_an_empty_lesion_list() -> None:
    # Vignette v09 declares 3 vertebral metastases and leaves lesions out: unknown, not absent.
    assert not _consistency({"disease": {"vertebral_body_metastases": 3}})
    assert not _consistency({"disease": {"vertebral_body_metastases": 3}, "lesions": None})
    assert _consistency({"disease": {"vertebral_body_metastases": 3}, "lesions": []})


@pytest.mark.parametrize(("lesions", "field", "names"), [
    ([{"levels": ["L2"], "escc": "0"}, {"levels": ["L2"], "escc": "3"}],
     "lesions[1].levels[0]", "lesions[0].levels[0]"),
    ([{"levels": ["T11", "T12"]}, {"levels": ["L1"]}, {"levels": ["T12", "L1"]}],
     "lesions[2].levels[0]", "lesions[0].levels[1]"),
])
def test_a_level_in_two_lesions_is_refused_naming_both(
        lesions: list[dict[str, Any]], field: str, names: str) -> None:
    case = {"cancer": {"status": "known", "primary": "kidney"}, "lesions": lesions}
    with pytest.raises(CaseFormatError) as info:
        plan(case)
    first = info.value.problems[0]
    assert first.field == field
    assert names in first.message and "belongs to one lesion" in first.message


def test_more_lesions_than_levels_is_refused_naming_the_limit() -> None:
    with pytest.raises(CaseFormatError) as info:
        load_case({"lesions": [{}] * (MAX_LESIONS + 3)})
    (problem,) = info.value.problems
    assert problem.field == "lesions"
    assert f"at most {MAX_LESIONS}" in problem.message
    assert len(load_case({"lesions": [{}] * MAX_LESIONS}).lesions) == MAX_LESIONS


# -- properties over the public cases ------------------------------------------------------------


def _present(case: dict[str, Any], path: str) -> bool:
    """Whether ``path`` (``lesions[0].escc``, ``cancer.overrides.radiosensitivity``) is given."""
    node: Any = case
    for part in path.replace("[", ".[").split("."):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(node, list) or index >= len(node):
                return False
            node = node[index]
        else:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        if node is None:
            return False
    return node != "unknown"


def _leaves(case: dict[str, Any]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for section, body in case.items():
        if section == "lesions":
            out.extend(("lesions", i, k) for i, lesion in enumerate(body) for k in lesion)
        elif isinstance(body, dict):
            out.extend((section, k) for k in body)
    return out


@st.composite
def weakened(draw: st.DrawFn, corpus: list[dict[str, Any]]) -> dict[str, Any]:
    """A public case with some of its inputs made unknown (removed)."""
    case = copy.deepcopy(draw(st.sampled_from(corpus)))
    leaves = _leaves(case)
    for leaf in draw(st.lists(st.sampled_from(leaves), max_size=6, unique=True) if leaves
                     else st.just([])):
        node = case
        for key in leaf[:-1]:
            node = node[key]
        node.pop(leaf[-1], None)
    return case


@pytest.mark.parametrize("case", PUBLIC, ids=[c.get("id", "vignette") for c in PUBLIC])
def test_no_consistency_flag_on_public_cases(case: dict[str, Any]) -> None:
    # None of the public vignettes or demo cases is contradictory by construction.
    assert _consistency(case) == []


@settings(max_examples=120, deadline=None)
@given(weakened(PUBLIC))
def test_no_consistency_flag_when_public_inputs_are_unknown(case: dict[str, Any]) -> None:
    assert _consistency(case) == []


@settings(max_examples=150, deadline=None)
@given(weakened(PUBLIC + list(extra_cases().values())))
def test_unknowns_never_name_a_field_present_in_the_case(case: dict[str, Any]) -> None:
    data = plan(case).to_dict()
    named = list(data["unknowns"])
    named += [m for f in data["flags"] for m in f.get("missing", [])]
    named += [u for t in data["trace"] for u in t.get("unknown", [])]
    present = [n for n in named if _present(case, n)]
    assert present == [], present
