"""Cockcroft-Gault and the zoledronic acid renal table (scores.md §15 worked examples)."""

from __future__ import annotations

import pytest

from spinemets.errors import InputError
from spinemets.rules import CrCl, cockcroft_gault, zoledronic_dose, zoledronic_withhold


def _crcl(value: float) -> CrCl:
    return CrCl(value, {})


@pytest.mark.parametrize(("crcl", "dose"), [(72, 4.0), (60, 3.5), (45, 3.3), (30, 3.0),
                                            (29, None), (49.6, 3.3)])
def test_worked_examples(crcl: float, dose: float | None) -> None:
    result = zoledronic_dose(_crcl(crcl))
    assert result.dose_mg == dose
    assert result.recommended_against == (dose is None)


def test_vignette_v09_cockcroft_gault() -> None:
    crcl = cockcroft_gault(age_years=70, weight_kg=80, sex="male", creatinine_mg_dl=1.5)
    assert crcl.ml_min == pytest.approx(51.85, abs=0.01)
    assert zoledronic_dose(crcl).dose_mg == 3.5


def test_female_factor() -> None:
    male = cockcroft_gault(age_years=70, weight_kg=80, sex="male", creatinine_mg_dl=1.5)
    female = cockcroft_gault(age_years=70, weight_kg=80, sex="female", creatinine_mg_dl=1.5)
    assert female.ml_min == pytest.approx(male.ml_min * 0.85)  # type: ignore[operator]


@pytest.mark.parametrize("sex", [None, "other", "unknown"])
def test_unknown_input_needs_crcl_never_a_default_dose(sex: str | None) -> None:
    crcl = cockcroft_gault(age_years=70, weight_kg=None, sex=sex, creatinine_mg_dl=1.0)
    dose = zoledronic_dose(crcl)
    assert dose.dose_mg is None and dose.band is None
    assert "patient.weight_kg" in crcl.missing and "patient.sex" in crcl.missing
    assert "needs CrCl" in dose.label


def test_near_boundary_flagged() -> None:
    assert zoledronic_dose(_crcl(50.4)).near_boundary
    assert not zoledronic_dose(_crcl(55.0)).near_boundary


def test_withhold_worked_example() -> None:
    withhold, text = zoledronic_withhold(baseline_mg_dl=1.0, current_mg_dl=1.6)
    assert withhold and "1.10" in text
    assert not zoledronic_withhold(baseline_mg_dl=1.0, current_mg_dl=1.3)[0]
    assert "exactly 1.4" in zoledronic_withhold(baseline_mg_dl=1.4, current_mg_dl=2.0)[1]


def test_bad_number() -> None:
    with pytest.raises(InputError):
        cockcroft_gault(age_years=-1, weight_kg=80, sex="male", creatinine_mg_dl=1.0)
