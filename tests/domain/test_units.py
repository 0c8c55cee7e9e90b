"""Lab unit conversions and level parsing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinemets.domain import parse_lab, parse_level, spine_region
from spinemets.errors import InputError


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "canonical"),
    [
        ("albumin", 32, "g/L", Decimal("3.2")),
        ("albumin", 3.2, "g/dL", Decimal("3.2")),
        ("calcium", 2.5, "mmol/L", Decimal("10.0195")),
        ("creatinine", 88.4, "umol/L", Decimal(1)),
        ("creatinine", 265, "umol/L", Decimal(265) / Decimal("88.4")),
        ("bilirubin", 17.104, "umol/L", Decimal(1)),
        ("crp", 4, "mg/L", Decimal("0.4")),
        ("platelets", 80000, "/uL", Decimal(80)),
        ("platelets", 80, "10*9/L", Decimal(80)),
    ],
)
def test_conversions(analyte: str, value: float, unit: str, canonical: Decimal) -> None:
    lab = parse_lab(analyte, {"value": value, "unit": unit})
    assert abs(lab.canonical - canonical) < Decimal("1e-9")


@given(st.decimals(min_value=Decimal("10"), max_value=Decimal("60"), places=1))
def test_albumin_g_per_l_round_trip(g_per_l: Decimal) -> None:
    lab = parse_lab("albumin", {"value": str(g_per_l), "unit": "g/L"})
    assert lab.canonical * 10 == g_per_l


@pytest.mark.parametrize(
    ("analyte", "given", "field"),
    [
        ("albumin", {"value": 32, "unit": "g/dL"}, "albumin.value"),
        ("calcium", {"value": 9.5, "unit": "mmol/L"}, "calcium.value"),
        ("creatinine", {"value": 1.2, "unit": "mmol/L"}, "creatinine.unit"),
        ("albumin", 3.2, "albumin"),
        ("albumin", {"value": "high", "unit": "g/dL"}, "albumin.value"),
        ("albumin", {"value": -1, "unit": "g/dL"}, "albumin.value"),
    ],
)
def test_wrong_units_and_values_name_the_field(analyte: str, given: object, field: str) -> None:
    with pytest.raises(InputError) as info:
        parse_lab(analyte, given)
    assert info.value.problems[0].field == field


def test_levels() -> None:
    assert parse_level(" t12 ") == "T12"
    assert spine_region("O") == "cervical"
    for bad in ("T13", "C8", "L6", "S6", "Co1", 12, None):
        with pytest.raises(InputError):
            parse_level(bad)
