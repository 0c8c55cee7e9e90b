"""Decision tables: every rule cited and reachable; every documented id can be produced."""

from __future__ import annotations

from tests.rules.conftest import extra_cases, vignettes

import spinemets.rules as rules_pkg
from spinemets.rules import all_rules, plan, references, triage, triage_rules

RECOMMENDATION_IDS = {
    "analgesia", "dexamethasone", "bone_modifying_agent", "zoledronic_acid", "denosumab",
    "brace", "immobilise_flat", "cebrt", "srs", "systemic_therapy", "separation_surgery",
    "stabilisation", "reconstruction_corpectomy", "en_bloc_resection", "cement_augmentation",
    "laser_interstitial_thermal_therapy", "embolisation", "cordotomy", "best_supportive_care",
    "palliative_care_referral"}
WORKUP_IDS = {"mri_whole_spine_24_hours", "mri_whole_spine_1_week", "ct_levels",
              "standing_xray", "biopsy", "staging_ct", "myeloma_screen", "bloods_baseline",
              "crcl_before_bma", "dental_review"}


def _corpus() -> list[dict[str, object]]:
    return [v["case"] for v in vignettes()] + list(extra_cases().values())


def test_every_rule_has_citations_text_and_evidence() -> None:
    refs = references()
    for rule in all_rules():
        assert rule.citations and all(c in refs for c in rule.citations), rule.id
        assert rule.text and rule.evidence, rule.id
    for rule in triage_rules():
        assert rule.citations and all(c in refs for c in rule.citations), rule.id


def test_table_outcomes_use_the_documented_vocabulary() -> None:
    for rule in all_rules():
        if rule.kind == "recommendation":
            assert rule.outcome in RECOMMENDATION_IDS, rule.id
        elif rule.kind == "workup":
            assert rule.outcome in WORKUP_IDS, rule.id


def test_every_rule_is_reachable_from_some_case() -> None:
    fired: set[str] = set()
    produced: set[str] = set()
    for case in _corpus():
        result = plan(case)
        fired |= {t["rule"] for t in result.trace
                  if t["outcome"] in ("applied", "fired") or t["outcome"].startswith("overridden")}
        produced |= {i.id for i in (*result.workup, *result.recommendations)}
    assert {r.id for r in all_rules()} - fired == set()
    assert RECOMMENDATION_IDS - produced == set()
    assert WORKUP_IDS - produced == set()


def test_every_triage_rule_is_reachable() -> None:
    answers = [
        {"cancer_status": "known", "limb_weakness": True},
        {"cancer_status": "none", "saddle_numbness": True},
        {"cancer_status": "known", "back_pain": True, "pain_night": True},
        {"cancer_status": "known", "back_pain": True, "pain_onset_sudden": True,
         "pain_better_with_rest": False},
        {"cancer_status": "unknown", "back_pain": True},
        {"cancer_status": "known", "back_pain": True},
        {"cancer_status": "none", "back_pain": True, "age_over_50": True},
        {"limb_weakness": True},
        {"cancer_status": "none", "difficulty_walking": True},
    ]
    fired = {r for a in answers for r in triage(a).rules}
    assert {r.id for r in triage_rules()} - fired == set()


def test_public_api() -> None:
    assert sorted(rules_pkg.__all__) == sorted(
        {"TRIAGE_QUESTIONS", "CrCl", "Fact", "Inconsistency", "Item", "Plan", "Rule",
         "TriageOption", "TriageQuestion", "TriageResult", "ZoledronicDose", "all_rules",
         "check_case", "checks", "cockcroft_gault", "open_questions",
         "plan", "references", "tables", "triage", "triage_case", "triage_rules",
         "warning_sign_questions", "workup",
         "zoledronic_dose", "zoledronic_withhold"})


def test_no_recommendation_is_explicit() -> None:
    data = plan({"format": "spinemets-case/1", "lesions": [{"levels": ["T5"]}]}).to_dict()
    flags = [f for f in data["flags"] if f["id"] == "no_recommendation"]
    assert any(f.get("lesion") == "T5" for f in flags)
    assert data["unknowns"]


def test_contested_situations_raise_mdt_review() -> None:
    cases = extra_cases()
    for name in ("breast-1c", "myeloma-rapid"):
        flags = plan(cases[name]).to_dict()["flags"]
        assert "mdt_review" in {f["id"] for f in flags}, name
