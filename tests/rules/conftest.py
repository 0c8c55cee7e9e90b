"""Shared cases for the rules tests: the vignettes and variants that reach every rule."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

VIGNETTES_PATH = Path(__file__).parent.parent / "cases" / "vignettes.yaml"


def vignettes() -> list[dict[str, Any]]:
    with VIGNETTES_PATH.open(encoding="utf-8") as fh:
        data: list[dict[str, Any]] = yaml.safe_load(fh)
    return data


def vignette_case(vid: str) -> dict[str, Any]:
    for v in vignettes():
        if v["id"].startswith(vid):
            return copy.deepcopy(v["case"])
    raise KeyError(vid)


def variant(vid: str, **sections: dict[str, Any]) -> dict[str, Any]:
    """A vignette with some sections patched (``lesion0`` patches the first lesion)."""
    case = vignette_case(vid)
    for name, patch in sections.items():
        if name == "lesion0":
            case["lesions"][0] = {**case["lesions"][0], **patch}
        else:
            case[name] = {**case.get(name, {}), **patch}
    return case


def extra_cases() -> dict[str, dict[str, Any]]:
    """Variants designed so that every rule of every table fires in some case."""
    return {
        "renal-1c-unfit": variant("v03", fitness={"fit_for_open_surgery": "no"},
                                  lesion0={"escc": "1c", "anterior_column_destroyed": True}),
        "renal-3-unfit-anterior": variant("v03", fitness={"fit_for_open_surgery": "no"},
                                          lesion0={"anterior_column_destroyed": True}),
        "cervical-unstable-unfit": variant(
            "v08", fitness={"fit_for_open_surgery": "no"}, symptoms={"limb_weakness": True},
            lesion0={"anterior_column_destroyed": True}),
        "cervical-unstable-declines": variant(
            "v08", fitness={"fit_for_open_surgery": "unknown"},
            preferences={"accepts_surgery": "no"}),
        "cervical-unstable-hypervascular": variant(
            "v08", lesion0={"hypervascular_on_imaging": True}),
        "renal-3-fitness-unknown-declines": variant(
            "v03", fitness={"fit_for_open_surgery": None}, preferences={"accepts_surgery": "no"}),
        "lung-3-poor-prognosis": variant("v05", fitness={"fit_for_open_surgery": "yes"},
                                         lesion0={"escc": "3"}),
        "lung-cement-contraindicated": variant(
            "v05", fitness={"coagulopathy_uncorrectable": True, "active_infection": True,
                            "pmma_allergy": True},
            symptoms={"limb_weakness": True}, lesion0={"posterior_wall_retropulsion": True}),
        "breast-1c": variant("v01", lesion0={"escc": "1c"}),
        "breast-prior-rt-recent": variant(
            "v01", lesion0={"prior_radiotherapy": True, "prior_radiotherapy_date": "2026-10-01",
                            "prior_radiotherapy_dose_gy": 8, "prior_radiotherapy_fractions": 1,
                            "prior_radiotherapy_technique": "conventional"}),
        "prostate-asymptomatic": {
            "format": "spinemets-case/1", "patient": {"age_years": 70, "sex": "male"},
            "cancer": {"status": "known", "primary": "prostate"},
            "symptoms": {"back_pain": False, "limb_weakness": False, "difficulty_walking": False,
                         "numbness_or_tingling": False, "saddle_numbness": False,
                         "bladder_or_bowel_dysfunction": False, "radicular_pain": False},
            "neurology": {"frankel": "E"},
            "lesions": [{"levels": ["L2"], "pain": "none", "bone_lesion": "blastic",
                         "alignment": "normal", "collapse": "none", "posterolateral": "none",
                         "escc": "0", "prior_radiotherapy": False}]},
        "kidney-asymptomatic-srs": {
            "format": "spinemets-case/1", "cancer": {"status": "known", "primary": "kidney"},
            "symptoms": {"back_pain": False, "limb_weakness": False, "difficulty_walking": False,
                         "numbness_or_tingling": False, "saddle_numbness": False,
                         "bladder_or_bowel_dysfunction": False, "radicular_pain": False},
            "neurology": {"frankel": "E"},
            "lesions": [{"levels": ["L2"], "pain": "none", "bone_lesion": "blastic",
                         "alignment": "normal", "collapse": "none", "posterolateral": "none",
                         "escc": "0", "prior_radiotherapy": False}]},
        "new-weakness-no-cancer": {
            "format": "spinemets-case/1", "cancer": {"status": "none"},
            "symptoms": {"limb_weakness": True}},
        "myeloma-rapid": variant("v07", neurology={"rapidly_progressive": True}),
        "unknown-primary-high-grade": variant("v06", symptoms={"limb_weakness": True},
                                              lesion0={"escc": "3"}),
        "cordotomy": variant("v01", symptoms={"refractory_unilateral_pain": True}),
        "zoledronic-low-crcl": variant("v09", labs={"creatinine": {"value": 4.0,
                                                                    "unit": "mg/dL"}}),
        "lung-unstable-short-survival": variant(
            "v05", fitness={"fit_for_open_surgery": "yes"},
            lesion0={"escc": "3", "alignment": "subluxation", "posterolateral": "bilateral",
                     "anterior_column_destroyed": True}),
        "lung-unstable-scores-disagree": variant(
            "v05", fitness={"fit_for_open_surgery": "yes"}, performance={"kps": 20},
            neurology={"frankel": "D", "ambulatory": "with_aid"},
            disease={"visceral_metastases": "none"},
            lesion0={"escc": "3", "alignment": "subluxation", "posterolateral": "bilateral"}),
        "uterus-radiosensitivity-ask": {
            "format": "spinemets-case/1", "cancer": {"status": "known", "primary": "uterus"},
            "symptoms": {"limb_weakness": True},
            "lesions": [{"levels": ["T8"], "escc": "3"}, {"levels": ["L1"], "escc": "1a"}]},
        "sins-items-missing": {"format": "spinemets-case/1",
                               "cancer": {"status": "known", "primary": "breast"},
                               "lesions": [{"levels": ["T5"], "escc": "1a"}]},
    }


SECTION6_PATH = Path(__file__).parents[1] / "cases" / "plan" / "section6.yaml"


def section6() -> dict[str, Any]:
    """The section 6 golden file (tests/cases/plan/section6.yaml)."""
    data: dict[str, Any] = yaml.safe_load(SECTION6_PATH.read_text(encoding="utf-8"))
    return data


def section6_case(change: dict[str, Any]) -> dict[str, Any]:
    """The golden file's base case with one golden case's ``change`` applied."""
    case: dict[str, Any] = copy.deepcopy(section6()["base"])
    for section, values in change.items():
        if section == "lesion":
            case["lesions"][0].update(values)
        else:
            case[section] = {**case.get(section, {}), **values}
    return case
