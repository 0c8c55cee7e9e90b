"""Laboratory values with UCUM units and their conversion to the units the scores use.

Conversion factors come from the definitions of the units: g/L -> g/dL divides by 10; calcium
mmol/L -> mg/dL multiplies by the molar mass 40.078 g/mol / 10 = 4.0078; creatinine umol/L ->
mg/dL divides by 88.4 (the factor ``pathway.md`` §5 states); bilirubin umol/L -> mg/dL divides
by 17.104 (molar mass 584.66 g/mol); CRP mg/L -> mg/dL divides by 10. Platelet counts:
10*3/uL = 10*9/L, and /uL divides by 1000.

Plausibility bounds are not clinical thresholds: they only catch a value given in the wrong unit
(albumin "32 g/dL" is almost certainly g/L) and say so, naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from spinemets.errors import InputError

__all__ = ["ANALYTES", "LabValue", "parse_lab"]


@dataclass(frozen=True, slots=True)
class _Analyte:
    canonical_unit: str
    factors: Mapping[str, Decimal]  # multiply a value in this unit to get the canonical unit
    plausible: tuple[Decimal, Decimal]  # in the canonical unit


ANALYTES: Final[dict[str, _Analyte]] = {
    "albumin": _Analyte("g/dL", {"g/dL": Decimal(1), "g/L": Decimal("0.1")},
                        (Decimal("0.5"), Decimal("7"))),
    "calcium": _Analyte("mg/dL", {"mg/dL": Decimal(1), "mmol/L": Decimal("4.0078")},
                        (Decimal(3), Decimal(25))),
    "creatinine": _Analyte("mg/dL", {"mg/dL": Decimal(1), "umol/L": Decimal(1) / Decimal("88.4")},
                           (Decimal("0.1"), Decimal(30))),
    "bilirubin": _Analyte("mg/dL", {"mg/dL": Decimal(1), "umol/L": Decimal(1) / Decimal("17.104")},
                          (Decimal(0), Decimal(60))),
    "crp": _Analyte("mg/dL", {"mg/dL": Decimal(1), "mg/L": Decimal("0.1")},
                    (Decimal(0), Decimal(100))),
    "ldh": _Analyte("U/L", {"U/L": Decimal(1), "IU/L": Decimal(1)}, (Decimal(10), Decimal(20000))),
    "platelets": _Analyte(
        "10*3/uL",
        {"10*3/uL": Decimal(1), "10*9/L": Decimal(1), "/uL": Decimal("0.001")},
        (Decimal(0), Decimal(3000)),
    ),
    "hemoglobin": _Analyte("g/dL", {"g/dL": Decimal(1), "g/L": Decimal("0.1")},
                           (Decimal(2), Decimal(25))),
    "inr": _Analyte("1", {"1": Decimal(1)}, (Decimal("0.5"), Decimal(15))),
    "alkaline_phosphatase": _Analyte("U/L", {"U/L": Decimal(1), "IU/L": Decimal(1)},
                                     (Decimal(5), Decimal(10000))),
    "psa": _Analyte("ng/mL", {"ng/mL": Decimal(1), "ug/L": Decimal(1)},
                    (Decimal(0), Decimal(100000))),
}


@dataclass(frozen=True, slots=True)
class LabValue:
    """A lab value as given and converted to the canonical unit of its analyte."""

    analyte: str
    value: Decimal
    unit: str
    canonical: Decimal
    canonical_unit: str

    def describe(self) -> str:
        given = f"{self.value} {self.unit}"
        if self.unit == self.canonical_unit:
            return given
        return f"{given} = {self.canonical.quantize(Decimal('0.01'))} {self.canonical_unit}"


def _to_decimal(raw: object, field: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise InputError.single(f"{field}.value", "must be a number", value=raw)
    try:
        value = Decimal(str(raw))
    except ArithmeticError as exc:
        raise InputError.single(f"{field}.value", "must be a number", value=raw) from exc
    if not value.is_finite() or value < 0:
        raise InputError.single(f"{field}.value", "must be a finite number >= 0", value=raw)
    return value


def parse_lab(analyte: str, given: Any, *, field: str | None = None) -> LabValue:
    """Parse ``{"value": 3.2, "unit": "g/dL"}`` for ``analyte``; raise :class:`InputError`."""
    field = field or analyte
    spec = ANALYTES.get(analyte)
    if spec is None:
        raise InputError.single(field, "unknown laboratory analyte", value=analyte,
                                allowed=sorted(ANALYTES))
    if not isinstance(given, Mapping) or "value" not in given or "unit" not in given:
        raise InputError.single(
            field, "a lab value needs a value and a UCUM unit, e.g. {\"value\": 3.2, \"unit\": "
            f"\"{spec.canonical_unit}\"}}", value=given, allowed=tuple(spec.factors))
    extra = set(given) - {"value", "unit"}
    if extra:
        raise InputError.single(field, f"unexpected keys {sorted(extra)}", value=sorted(extra),
                                allowed=("value", "unit"))
    unit = given["unit"]
    if unit not in spec.factors:
        raise InputError.single(f"{field}.unit", f"unit {unit!r} is not accepted for {analyte}",
                                value=unit, allowed=tuple(spec.factors))
    value = _to_decimal(given["value"], field)
    canonical = value * spec.factors[unit]
    low, high = spec.plausible
    if not low <= canonical <= high:
        raise InputError.single(
            f"{field}.value",
            f"{value} {unit} is implausible for {analyte} (plausible {low}-{high} "
            f"{spec.canonical_unit}); check the unit",
            value=float(value), allowed=tuple(spec.factors))
    return LabValue(analyte, value, unit, canonical, spec.canonical_unit)
