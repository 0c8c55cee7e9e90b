"""Impossible inputs give one clear problem per field, naming the allowed values."""

from __future__ import annotations

import pytest

from spinemets.errors import InputError
from spinemets.scores import score


@pytest.mark.parametrize(
    ("slug", "inputs", "field", "allowed_fragment"),
    [
        ("tokuhashi_2005", {"kps": 55}, "kps", "0-100 in steps of 10"),
        ("tokuhashi_2005", {"kps": 0}, "kps", "10-40"),
        ("tokuhashi_2005", {"kps": True}, "kps", "0-100"),
        ("tokuhashi_2005", {"kps": 70.0}, "kps", "0-100"),
        ("tokuhashi_2005", {"vertebral_body_metastases": 0}, "vertebral_body_metastases", ">= 1"),
        ("tokuhashi_2005", {"primary_points": 6}, "primary_points", "5"),
        ("sins", {"level": "T13"}, "level", "T1-T12"),
        ("sins", {"pain": "agonising"}, "pain", "mechanical"),
        ("bilsky_escc", {"escc": "1d"}, "escc", "1c"),
        ("tomita_2001", {"primary": "spleen"}, "primary", "breast"),
        ("katagiri_2014", {"albumin": {"value": 32, "unit": "g/dL"}}, "albumin.value", "g/L"),
        ("katagiri_2014", {"calcium": {"value": 2.4, "unit": "mmol"}}, "calcium.unit", "mmol/L"),
        ("katagiri_2014", {"ecog": 5}, "ecog", "3-4"),
        ("katagiri_2014", {"hormone_dependent": "yes", "primary": "breast"}, "hormone_dependent",
         "true"),
        ("bauer_modified", {"visceral_metastases": "no"}, "visceral_metastases", "false"),
        ("van_der_linden_2005", {"kps": 10}, "kps", "20-40"),
        ("sins", {"colour": "red"}, "colour", "pain"),
    ],
)
def test_bad_input_names_field_and_allowed(slug: str, inputs: dict[str, object], field: str,
                                           allowed_fragment: str) -> None:
    with pytest.raises(InputError) as info:
        score(slug, inputs)
    problem = next(p for p in info.value.problems if p.field == field)
    assert allowed_fragment in " ".join(problem.allowed)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InputError) as info:
        score("sins", {"level": "T13", "pain": "agonising", "collapse": 50})
    assert {p.field for p in info.value.problems} == {"level", "pain", "collapse"}


def test_disagreeing_inputs_are_an_error_not_a_guess() -> None:
    with pytest.raises(InputError) as info:
        score("sins", {"level": "T5", "location": "junctional"})
    assert {p.field for p in info.value.problems} == {"level", "location"}


def test_agreeing_inputs_are_fine() -> None:
    assert score("sins", {"level": "T5", "location": "semi_rigid"}).components[0].points == 1


def test_override_wins_and_says_so() -> None:
    result = score("tomita_2001", {"primary": "breast", "growth": "moderate",
                                   "visceral_metastases": "none", "bone_metastases": "solitary"})
    assert result.total == 3
    assert any("replaces" in n for n in result.notes)


def test_asia_fallback_for_frankel_is_flagged() -> None:
    inputs = {"kps": 90, "extraspinal_bone_metastases": 0, "vertebral_body_metastases": 1,
              "visceral_metastases": "none", "primary": "breast", "asia": "E"}
    result = score("tokuhashi_2005", inputs)
    assert result.total == 15
    assert any("ASIA" in w and "not in the original" in w for w in result.warnings)
    assert score("tokuhashi_2005", {**inputs, "frankel": "D"}).total == 14


def test_histology_ask_is_incomplete_with_a_question() -> None:
    result = score("tomita_2001", {"primary": "melanoma", "visceral_metastases": "none",
                                   "bone_metastases": "multiple"})
    assert result.status == "incomplete"
    comp = result.components[0]
    assert comp.ask and "melanoma" in comp.ask.lower()
    assert result.to_dict()["components"][0]["ask"] == comp.ask


def test_conditional_histology_lists_only_its_two_groups() -> None:
    result = score("katagiri_2014", {"primary": "lung_nsclc"})
    comp = result.components[0]
    assert set(comp.possible_categories) == {"moderate", "rapid"}
    assert comp.missing == ("targeted_therapy",)


def test_result_json_contract() -> None:
    data = score("sins", {"level": "T12", "pain": "mechanical", "bone_lesion": "lytic",
                          "alignment": "deformity", "collapse": "under_50",
                          "posterolateral": "unilateral"}).to_dict()
    for key in ("score", "version", "status", "total", "band", "possible_totals",
                "possible_bands", "components", "citation", "warnings", "errors"):
        assert key in data
    assert data["band"] == {"id": "unstable", "label": "Unstable",
                            "detail": "13-18: unstable; surgical consultation recommended."}
    assert data["components"][0] == {
        "name": "location", "label": "Location", "input": "T12", "source": "level",
        "category": "junctional", "category_label": "Junctional (O-C2, C7-T2, T11-L1, L5-S1)",
        "points": 3, "basis": "level T12 is junctional (SINS level lookup)"}


def test_results_are_immutable() -> None:
    result = score("bilsky_escc", {"escc": "2"})
    with pytest.raises(AttributeError):
        result.total = 3  # type: ignore[misc]
