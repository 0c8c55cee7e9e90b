"""Every input combination of the categorical scores, against an independent transcription.

The expected points below are typed again from ``../shared/clinical/scores.md`` (§1 SINS, §3
revised Tokuhashi, §4 Tomita, §5 modified Bauer, §7 Katagiri) and from the histology catalogue of
``pathway.md`` §1, on purpose not read from the package's table files: a wrong table value fails
here. Band edges are typed again too.
"""

from __future__ import annotations

import itertools

import pytest

from spinemets.domain import LEVELS
from spinemets.scores import score

SINS_LOCATION = {"junctional": 3, "mobile": 2, "semi_rigid": 1, "rigid": 0}
SINS_PAIN = {"mechanical": 3, "occasional": 1, "none": 0}
SINS_BONE = {"lytic": 2, "mixed": 1, "blastic": 0}
SINS_ALIGN = {"subluxation": 4, "deformity": 2, "normal": 0}
SINS_COLLAPSE = {"over_50": 3, "under_50": 2, "no_collapse_over_50_involved": 1, "none": 0}
SINS_POSTERO = {"bilateral": 3, "unilateral": 1, "none": 0}


def sins_band(total: int) -> str:
    return "stable" if total <= 6 else "indeterminate" if total <= 12 else "unstable"


def test_sins_all_1296_combinations() -> None:
    count = 0
    for loc, pain, bone, align, collapse, postero in itertools.product(
        SINS_LOCATION, SINS_PAIN, SINS_BONE, SINS_ALIGN, SINS_COLLAPSE, SINS_POSTERO
    ):
        result = score("sins", {"location": loc, "pain": pain, "bone_lesion": bone,
                                "alignment": align, "collapse": collapse,
                                "posterolateral": postero})
        expected = (SINS_LOCATION[loc] + SINS_PAIN[pain] + SINS_BONE[bone] + SINS_ALIGN[align]
                    + SINS_COLLAPSE[collapse] + SINS_POSTERO[postero])
        assert result.total == expected
        assert result.band is not None and result.band.id == sins_band(expected)
        count += 1
    assert count == 1296


# scores.md §1 level lookup, typed as the spec words it.
JUNCTIONAL = {"O", "C1", "C2", "C7", "T1", "T2", "T11", "T12", "L1", "L5", "S1"}
MOBILE = {"C3", "C4", "C5", "C6", "L2", "L3", "L4"}
SEMI_RIGID = {f"T{i}" for i in range(3, 11)}
RIGID = {"S2", "S3", "S4", "S5"}


@pytest.mark.parametrize("level", LEVELS)
def test_sins_every_level(level: str) -> None:
    expected = ("junctional" if level in JUNCTIONAL else "mobile" if level in MOBILE
                else "semi_rigid" if level in SEMI_RIGID else "rigid" if level in RIGID else None)
    assert expected is not None
    result = score("sins", {"level": level.lower(), "pain": "none", "bone_lesion": "blastic",
                            "alignment": "normal", "collapse": "none", "posterolateral": "none"})
    assert result.components[0].category == expected
    assert result.total == SINS_LOCATION[expected]


def test_level_sets_cover_the_spine_once() -> None:
    sets = [JUNCTIONAL, MOBILE, SEMI_RIGID, RIGID]
    assert set().union(*sets) == set(LEVELS)
    assert sum(len(s) for s in sets) == len(LEVELS)


# Revised Tokuhashi 2005 (scores.md §3).
def tok_kps(kps: int) -> int:
    return 0 if kps <= 40 else 1 if kps <= 70 else 2


def tok_extraspinal(n: int) -> int:
    return 0 if n >= 3 else 1 if n >= 1 else 2


def tok_vertebral(n: int) -> int:
    return 0 if n >= 3 else 1 if n == 2 else 2


TOK_VISCERAL = {"unremovable": 0, "removable": 1, "none": 2}
TOK_FRANKEL = {"A": 0, "B": 0, "C": 1, "D": 1, "E": 2}
# pathway.md §1 column "Tokuhashi 2005 primary pts" (cervix is "ask").
TOK_PRIMARY = {
    "breast": 5, "prostate": 5, "thyroid": 5, "carcinoid": 5, "kidney": 3, "uterus": 3,
    "rectum": 4, "colon": 2, "lung_nsclc": 0, "lung_sclc": 0, "liver": 1, "gallbladder": 1,
    "stomach": 0, "oesophagus": 0, "pancreas": 0, "bladder": 0, "osteosarcoma": 0, "sarcoma": 2,
    "myeloma": 2, "lymphoma": 2, "melanoma": 2, "ovary": 2, "head_and_neck": 2, "germ_cell": 2,
    "unknown_primary": 1, "other": 2,
}


def tok_band(total: int) -> str:
    return "lt_6_months" if total <= 8 else "ge_6_months" if total <= 11 else "ge_12_months"


def test_tokuhashi_every_combination_with_primary_points() -> None:
    count = 0
    for kps, extra, vert, visc, pts, frankel in itertools.product(
        range(10, 101, 10), range(5), range(1, 5), TOK_VISCERAL, range(6), TOK_FRANKEL
    ):
        result = score("tokuhashi_2005", {
            "kps": kps, "extraspinal_bone_metastases": extra, "vertebral_body_metastases": vert,
            "visceral_metastases": visc, "primary_points": pts, "frankel": frankel})
        expected = (tok_kps(kps) + tok_extraspinal(extra) + tok_vertebral(vert)
                    + TOK_VISCERAL[visc] + pts + TOK_FRANKEL[frankel])
        assert result.total == expected, (kps, extra, vert, visc, pts, frankel)
        assert result.band is not None and result.band.id == tok_band(expected)
        count += 1
    assert count == 10 * 5 * 4 * 3 * 6 * 5


@pytest.mark.parametrize("primary", sorted(TOK_PRIMARY))
def test_tokuhashi_every_histology(primary: str) -> None:
    base = {"kps": 80, "extraspinal_bone_metastases": 0, "vertebral_body_metastases": 1,
            "visceral_metastases": "none", "frankel": "E"}
    result = score("tokuhashi_2005", {**base, "primary": primary})
    assert result.total == 2 + 2 + 2 + 2 + TOK_PRIMARY[primary] + 2


def test_tokuhashi_cervix_asks_between_uterus_and_others() -> None:
    base = {"kps": 80, "extraspinal_bone_metastases": 0, "vertebral_body_metastases": 1,
            "visceral_metastases": "none", "frankel": "E"}
    result = score("tokuhashi_2005", {**base, "primary": "cervix"})
    assert result.status == "incomplete"
    assert result.possible_totals == (12, 13)
    assert result.missing == ("primary_points",)
    assert score("tokuhashi_2005", {**base, "primary": "cervix", "primary_points": 3}).total == 13


# Tomita 2001 (scores.md §4).
TOM_GROWTH = {"slow": 1, "moderate": 2, "rapid": 4}
TOM_VISCERAL = {"none": 0, "treatable": 2, "untreatable": 4}
TOM_BONE = {"solitary": 1, "multiple": 2}
TOM_PRIMARY = {"breast": "slow", "prostate": "slow", "thyroid": "slow", "kidney": "moderate",
               "uterus": "moderate", "colon": "rapid", "lung_nsclc": "rapid",
               "lung_sclc": "rapid", "liver": "rapid", "stomach": "rapid",
               "unknown_primary": "rapid"}
TOM_ASK = {"carcinoid", "rectum", "gallbladder", "oesophagus", "pancreas", "bladder",
           "osteosarcoma", "sarcoma", "myeloma", "lymphoma", "melanoma", "ovary", "cervix",
           "head_and_neck", "germ_cell", "other"}


def tom_band(total: int) -> str:
    return ("long_term_local_control" if total <= 3 else "middle_term_local_control"
            if total <= 5 else "short_term_palliation" if total <= 7 else "terminal_care")


def test_tomita_every_combination() -> None:
    for growth, visc, bone in itertools.product(TOM_GROWTH, TOM_VISCERAL, TOM_BONE):
        result = score("tomita_2001", {"growth": growth, "visceral_metastases": visc,
                                       "bone_metastases": bone})
        expected = TOM_GROWTH[growth] + TOM_VISCERAL[visc] + TOM_BONE[bone]
        assert result.total == expected
        assert result.band is not None and result.band.id == tom_band(expected)


@pytest.mark.parametrize("primary", sorted(TOM_PRIMARY.keys() | TOM_ASK))
def test_tomita_every_histology(primary: str) -> None:
    inputs = {"primary": primary, "visceral_metastases": "none", "bone_metastases": "solitary"}
    result = score("tomita_2001", inputs)
    if primary in TOM_ASK:
        assert result.status == "incomplete"
        assert result.possible_totals == (2, 5)
        assert result.components[0].ask
        assert result.missing == ("growth",)
    else:
        assert result.total == TOM_GROWTH[TOM_PRIMARY[primary]] + 1


# Modified Bauer (scores.md §5) and the catalogue's favourable/lung columns.
BAUER_FAVOURABLE = {"breast", "kidney", "lymphoma", "myeloma"}
BAUER_LUNG = {"lung_nsclc", "lung_sclc"}


def test_bauer_modified_every_combination() -> None:
    for primary, visceral, solitary in itertools.product(
        sorted(TOK_PRIMARY.keys() | {"cervix"}), (True, False), (True, False)
    ):
        inputs = {"primary": primary, "visceral_metastases": visceral,
                  "solitary_skeletal_metastasis": solitary}
        result = score("bauer_modified", inputs)
        if primary == "unknown_primary":
            assert result.status == "incomplete"
            assert result.missing == ("lung_cancer",)
            continue
        expected = ((not visceral) + (primary not in BAUER_LUNG)
                    + (primary in BAUER_FAVOURABLE) + solitary)
        assert result.total == expected, inputs
        band = "poor" if expected <= 1 else "intermediate" if expected == 2 else "good"
        assert result.band is not None and result.band.id == band
        with_fracture = score("bauer_1995", {**inputs, "pathological_fracture": False})
        assert with_fracture.total == expected + 1


# Katagiri 2014 (scores.md §7; UNVERIFIED table, results provisional).
KAT_GROWTH = {"rapid": 3, "moderate": 2, "slow": 0}
KAT_VISCERAL = {"disseminated": 2, "nodular": 1, "none": 0}
KAT_LAB = {"critical": 2, "abnormal": 1, "normal": 0}


def test_katagiri_every_combination() -> None:
    for growth, visc, lab, ecog, chemo, multiple in itertools.product(
        KAT_GROWTH, KAT_VISCERAL, KAT_LAB, range(5), (True, False), (True, False)
    ):
        result = score("katagiri_2014", {
            "growth": growth, "visceral_metastases": visc, "lab_status": lab, "ecog": ecog,
            "previous_chemotherapy": chemo, "multiple_skeletal_metastases": multiple})
        expected = (KAT_GROWTH[growth] + KAT_VISCERAL[visc] + KAT_LAB[lab] + (ecog >= 3)
                    + chemo + multiple)
        assert result.total == expected
        band = "low" if expected <= 3 else "intermediate" if expected <= 6 else "high"
        assert result.band is not None and result.band.id == band
        assert result.provisional
        assert "provisional table" in result.warnings[0]


@pytest.mark.parametrize(
    ("labs", "expected"),
    [
        ({"crp": {"value": 0.4, "unit": "mg/dL"}}, {"abnormal", "critical"}),
        ({"crp": {"value": 4, "unit": "mg/L"}, "platelets": {"value": 150, "unit": "10*3/uL"},
          "calcium": {"value": 2.4, "unit": "mmol/L"},
          "bilirubin": {"value": 10, "unit": "umol/L"}}, {"abnormal"}),
        ({"platelets": {"value": 99, "unit": "10*9/L"}}, {"critical"}),
        ({"calcium": {"value": 10.3, "unit": "mg/dL"}}, {"critical"}),
        ({"albumin": {"value": 37, "unit": "g/L"}, "crp": {"value": 0.39, "unit": "mg/dL"},
          "ldh": {"value": 249, "unit": "U/L"}, "platelets": {"value": 100, "unit": "10*3/uL"},
          "calcium": {"value": 10.29, "unit": "mg/dL"},
          "bilirubin": {"value": 1.39, "unit": "mg/dL"}}, {"normal"}),
        ({"albumin": {"value": 3.69, "unit": "g/dL"}, "platelets": {"value": 100, "unit":
          "10*3/uL"}, "calcium": {"value": 9, "unit": "mg/dL"},
          "bilirubin": {"value": 1, "unit": "mg/dL"}}, {"abnormal"}),
    ],
)
def test_katagiri_lab_thresholds(labs: dict[str, object], expected: set[str]) -> None:
    result = score("katagiri_2014", labs)
    lab = result.components[2]
    got = {lab.category} if lab.known else set(lab.possible_categories)
    assert got == expected
