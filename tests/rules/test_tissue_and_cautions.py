"""Tissue diagnosis, prior radiotherapy and bone-agent cautions (pathway.md §3-§5, scores.md §15).

Synthetic cases. Each test names the spec line it checks.
"""

from __future__ import annotations

from typing import Any

import pytest

from spinemets.rules import plan

FORMAT = "spinemets-case/1"


def _plan(**sections: Any) -> dict[str, Any]:
    return plan({"format": FORMAT, **sections}).to_dict()


def _workup(p: dict[str, Any]) -> set[str]:
    return {w["id"] for w in p["workup"]}


def _recs(p: dict[str, Any], rid: str) -> list[dict[str, Any]]:
    return [r for r in p["recommendations"] if r["id"] == rid]


def test_lesion_without_known_cancer_gets_biopsy_staging_and_myeloma_screen() -> None:
    # pathway.md §3: "No known primary, or a new lesion in a patient whose cancer was in long
    # remission" -> biopsy and staging; "Myeloma or lymphoma possible" -> SPEP / FLC.
    p = _plan(cancer={"status": "none"}, lesions=[{"levels": ["T8"], "escc": "2"}])
    assert {"biopsy", "staging_ct", "myeloma_screen"} <= _workup(p)


def test_no_cancer_and_no_lesion_gets_no_biopsy() -> None:
    p = _plan(cancer={"status": "none"}, symptoms={"back_pain": True})
    assert not {"biopsy", "staging_ct"} & _workup(p)


@pytest.mark.parametrize("primary", ["breast", "lymphoma"])
def test_doubtful_histology_makes_lymphoma_possible_before_steroids(primary: str) -> None:
    # pathway.md §2/§5: dexamethasone "unless lymphoma is possible and no tissue diagnosis".
    p = _plan(cancer={"status": "known", "primary": primary, "histology_doubtful": True},
              symptoms={"limb_weakness": True}, lesions=[{"levels": ["T8"], "escc": "2"}])
    (dex,) = _recs(p, "dexamethasone")
    assert dex["status"] != "recommended"
    assert any("Lymphoma possible" in c for c in dex["cautions"])
    assert "myeloma_screen" in _workup(p)


def test_lymphoma_caution_is_given_once() -> None:
    p = _plan(cancer={"status": "suspected"}, symptoms={"limb_weakness": True},
              lesions=[{"levels": ["T8"], "escc": "2"}])
    (dex,) = _recs(p, "dexamethasone")
    assert sum("Lymphoma possible" in c for c in dex["cautions"]) == 1


@pytest.mark.parametrize("override", ["sensitive", "resistant"])
def test_radiosensitivity_override_waits_for_tissue_diagnosis(override: str) -> None:
    # pathway.md §4: "unknown histology | none until tissue diagnosis".
    p = _plan(cancer={"status": "known", "primary": "unknown_primary"},
              lesions=[{"levels": ["T8"], "escc": "3", "radiosensitivity": override}])
    for rid in ("cebrt", "srs"):
        assert all(r["status"] not in ("recommended", "consider") for r in _recs(p, rid))
    assert any(f["id"] == "tissue_diagnosis_first" for f in p["flags"])


@pytest.mark.parametrize("escc", ["0", "1a", "1b", "1c", "2", "3"])
@pytest.mark.parametrize("primary", ["breast", "kidney", "lung_nsclc", "prostate"])
@pytest.mark.parametrize("fit", ["yes", "no", None])
def test_every_radiotherapy_item_checks_prior_radiotherapy(escc: str, primary: str,
                                                           fit: str | None) -> None:
    # pathway.md §5: cEBRT and SRS contraindication column "prior RT dose to the level".
    fitness = {} if fit is None else {"fit_for_open_surgery": fit}
    p = _plan(cancer={"status": "known", "primary": primary}, fitness=fitness,
              lesions=[{"levels": ["T8"], "escc": escc, "prior_radiotherapy": True}])
    for rid in ("cebrt", "srs"):
        for rec in _recs(p, rid):
            assert any("Prior radiotherapy" in c for c in rec["cautions"]), rec
            # pathway.md 6.2: repeating conventional radiotherapy is never "recommended"
            assert rec["status"] != "recommended", rec


@pytest.mark.parametrize(("calcium", "expected"), [
    (None, "Serum calcium not recorded"),
    ({"value": 1.7, "unit": "mmol/L"}, "Read the recorded serum calcium"),
])
def test_denosumab_asks_for_calcium_before_starting(calcium: dict[str, Any] | None,
                                                    expected: str) -> None:
    # scores.md §15: "Correct pre-existing hypocalcaemia before starting."
    labs = {} if calcium is None else {"calcium": calcium}
    p = _plan(cancer={"status": "known", "primary": "breast"}, labs=labs,
              lesions=[{"levels": ["T8"], "escc": "0"}])
    (deno,) = _recs(p, "denosumab")
    assert any(expected in c for c in deno["cautions"])


@pytest.mark.parametrize("escc", ["2", "3"])
def test_srs_after_declined_separation_surgery_goes_to_mdt(escc: str) -> None:
    # pathway.md §4 (high grade, radioresistant: separation surgery then SRS) and §5 (SRS needs a
    # 2-3 mm gap from the cord): without the surgery, SRS alone is not a plain recommendation.
    p = _plan(cancer={"status": "known", "primary": "kidney"},
              fitness={"fit_for_open_surgery": "yes"}, preferences={"accepts_surgery": "no"},
              lesions=[{"levels": ["T8"], "escc": escc}])
    (srs,) = _recs(p, "srs")
    assert srs["status"] == "mdt_review"
    (surgery,) = _recs(p, "separation_surgery")
    assert surgery["status"] == "not_indicated"
