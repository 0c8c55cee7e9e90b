"""Medication safety: Cockcroft-Gault creatinine clearance and zoledronic acid renal dosing.

The bands and parameters are data (``rules/tables/medication.yaml``). An unknown age, sex,
weight or creatinine gives "needs CrCl" with the missing inputs named, never a default dose.

References
----------
Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum creatinine. Nephron
1976;16:31-41 (``pathway.md`` §5).
Zometa (zoledronic acid) SmPC renal dosing table; Aapro M et al. 2008 (PMC3459591), as
reproduced in ``scores.md`` §15.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from spinemets.errors import InputError
from spinemets.rules._engine import read_table

__all__ = [
    "CrCl",
    "ZoledronicDose",
    "cockcroft_gault",
    "medication_table",
    "zoledronic_dose",
    "zoledronic_withhold",
]


@cache
def medication_table() -> dict[str, Any]:
    """The medication data table."""
    data: dict[str, Any] = read_table("medication.yaml")
    return data


@dataclass(frozen=True, slots=True)
class CrCl:
    """A Cockcroft-Gault creatinine clearance, or the inputs still missing for it."""

    ml_min: float | None
    inputs: dict[str, Any]
    missing: tuple[str, ...] = ()
    formula: str = ("CrCl (mL/min) = (140 - age) x weight (kg) / (72 x serum creatinine "
                    "mg/dL), x 0.85 for women (Cockcroft-Gault 1976)")

    def describe(self) -> str:
        if self.ml_min is None:
            return "CrCl unknown: needs " + ", ".join(self.missing)
        shown = ", ".join(f"{k} {v}" for k, v in self.inputs.items())
        return f"Cockcroft-Gault CrCl {self.ml_min:.1f} mL/min ({shown})"

    @property
    def implausible(self) -> bool:
        """Above the plausibility limit (``medication.yaml``): an implausible combination."""
        limit = medication_table()["cockcroft_gault"]["implausible_above_ml_min"]
        return self.ml_min is not None and self.ml_min > limit


def _check_number(name: str, value: float | Decimal | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal) or value <= 0:
        raise InputError.single(name, "must be a positive number", value=value)


def cockcroft_gault(*, age_years: float | None, weight_kg: float | None, sex: str | None,
                    creatinine_mg_dl: float | Decimal | None) -> CrCl:
    """Creatinine clearance by Cockcroft-Gault.

    Parameters
    ----------
    age_years, weight_kg
        Age and the weight used (actual body weight as recorded).
    sex
        ``female`` (x 0.85) or ``male``; ``other``/``unknown``/``None`` cannot choose the factor
        and give a missing input.
    creatinine_mg_dl
        Serum creatinine in mg/dL (umol/L / 88.4).

    Returns
    -------
    CrCl
        ``ml_min`` ``None`` with ``missing`` naming the inputs to ask for.

    References
    ----------
    Cockcroft DW, Gault MH. Nephron 1976;16:31-41.
    """
    for name, value in (("patient.age_years", age_years), ("patient.weight_kg", weight_kg),
                        ("labs.creatinine", creatinine_mg_dl)):
        _check_number(name, value)
    missing = [name for name, value in (("patient.age_years", age_years),
                                        ("patient.sex", sex if sex in ("female", "male")
                                         else None),
                                        ("patient.weight_kg", weight_kg),
                                        ("labs.creatinine", creatinine_mg_dl)) if value is None]
    inputs: dict[str, Any] = {"age_years": age_years, "sex": sex, "weight_kg": weight_kg,
                              "creatinine_mg_dl": None if creatinine_mg_dl is None else round(
                                  float(creatinine_mg_dl), 3)}
    if missing:
        return CrCl(None, inputs, tuple(missing))
    assert age_years is not None
    assert weight_kg is not None
    assert creatinine_mg_dl is not None
    factor = medication_table()["cockcroft_gault"]["female_factor"] if sex == "female" else 1.0
    value = (140 - float(age_years)) * float(weight_kg) / (72 * float(creatinine_mg_dl)) * factor
    return CrCl(max(value, 0.0), inputs)


@dataclass(frozen=True, slots=True)
class ZoledronicDose:
    """The zoledronic acid dose band for a CrCl (``dose_mg`` ``None``: needs CrCl / withhold)."""

    band: str | None
    label: str
    dose_mg: float | None
    crcl: CrCl
    near_boundary: bool = False
    notes: tuple[str, ...] = ()
    implausible: bool = False

    def describe(self) -> str:
        """The CrCl with one decimal and the band it falls in (or why there is none)."""
        if self.band is None:
            return f"{self.crcl.describe()}: {self.label}"
        return f"{self.crcl.describe()}: band {self.label}"

    @property
    def recommended_against(self) -> bool:
        return self.band == "lt_30"


def zoledronic_dose(crcl: CrCl) -> ZoledronicDose:
    """Dose band from the SmPC renal table (``scores.md`` §15).

    The bands are whole numbers of mL/min. A CrCl between two bands (49.6, 60.4) is rounded
    down to a whole number to place it (an UNVERIFIED implementation decision, see the rule
    book ``docs/rules.md``); the note on that rounding is given only where it decided the band.
    A value near a boundary is flagged, and an implausible CrCl (above the limit in
    ``medication.yaml``) gives no dose.
    """
    spec = medication_table()["zoledronic_acid"]
    if crcl.ml_min is None:
        return ZoledronicDose(None, "needs CrCl (" + ", ".join(crcl.missing) + ")", None, crcl)
    if crcl.implausible:
        limit = medication_table()["cockcroft_gault"]["implausible_above_ml_min"]
        return ZoledronicDose(None, (
            f"no dose: a CrCl of {crcl.ml_min:.1f} mL/min (above {limit}) is an implausible "
            "combination of age, weight and creatinine; check them (and the creatinine unit)"),
            None, crcl, implausible=True)
    whole = math.floor(crcl.ml_min)
    band = next(b for b in spec["bands"]
                if whole >= b["min"] and (b["max"] is None or whole <= b["max"]))
    near = any(abs(crcl.ml_min - edge) <= spec["near_boundary_ml_min"]
               for edge in spec["boundaries"])
    notes = []
    if band["max"] is not None and crcl.ml_min > band["max"]:
        notes.append(f"CrCl {crcl.ml_min:.1f} mL/min lies between two whole-number bands: "
                     f"rounded down to {whole} mL/min, which places it in {band['label']} "
                     "(UNVERIFIED implementation decision; rule book docs/rules.md)")
    if near:
        notes.append(f"CrCl within {spec['near_boundary_ml_min']} mL/min of a dose-band "
                     "boundary: check the inputs (boundary margin is an UNVERIFIED local "
                     "parameter)")
    dose = band["dose_mg"]
    return ZoledronicDose(str(band["id"]), str(band["label"]),
                          None if dose is None else float(dose), crcl, near, tuple(notes))


def zoledronic_withhold(*, baseline_mg_dl: float, current_mg_dl: float) -> tuple[bool, str]:
    """Whether to withhold zoledronic acid for a creatinine rise (``scores.md`` §15).

    Returns
    -------
    tuple
        (withhold, explanation). Exactly 1.4 mg/dL at baseline counts as abnormal and is flagged.
    """
    spec = medication_table()["zoledronic_acid"]["withhold"]
    abnormal = baseline_mg_dl >= spec["abnormal_baseline_from_mg_dl"]
    limit = (spec["increase_abnormal_baseline_mg_dl"] if abnormal
             else spec["increase_normal_baseline_mg_dl"])
    rise = current_mg_dl - baseline_mg_dl
    withhold = rise >= limit - 1e-9
    resume = baseline_mg_dl * (1 + spec["resume_within_fraction"])
    text = (f"baseline {baseline_mg_dl} mg/dL ({'abnormal' if abnormal else 'normal'}), rise "
            f"{rise:.2f} vs limit {limit}: {'withhold' if withhold else 'continue'}")
    if withhold:
        text += f"; resume only when creatinine <= {resume:.2f} mg/dL (within 10% of baseline)"
    if baseline_mg_dl == spec["abnormal_baseline_from_mg_dl"]:
        text += "; baseline exactly 1.4 mg/dL is not assigned by the label: treated as abnormal"
    return withhold, text
