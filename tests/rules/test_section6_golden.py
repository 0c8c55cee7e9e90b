"""Golden cases for the pathway's section 6 rules (tests/cases/plan/section6.yaml)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from tests.rules.conftest import section6, section6_case

from spinemets.rules import plan
from spinemets.rules._engine import references

DATA = section6()
TODAY = DATA["today"] if isinstance(DATA["today"], dt.date) else dt.date.fromisoformat(
    DATA["today"])
DOSE_KEYS = ("dose", "dose_mg", "dose_label", "renal_dose")


@pytest.mark.parametrize("golden", DATA["cases"], ids=lambda g: g["id"])
def test_section6_golden(golden: dict[str, Any]) -> None:
    assert golden["citations"] and all(c in references() for c in golden["citations"])
    result = plan(section6_case(golden["change"]), today=TODAY).to_dict()
    expect = golden["expect"]
    items = {(r["id"], r.get("lesion")): r for r in result["recommendations"]}
    status = {key[0]: item["status"] for key, item in items.items()}
    flags = [f["id"] for f in result["flags"]]
    for item, wanted in expect.get("status", {}).items():
        assert status.get(item) == wanted, (golden["id"], item, status.get(item))
    for item, refused in expect.get("not_status", {}).items():
        assert status.get(item) != refused, (golden["id"], item)
    for flag in expect.get("flags", []):
        assert flag in flags, (golden["id"], flags)
    for flag in expect.get("no_flags", []):
        assert flag not in flags, (golden["id"], flags)
    for path in expect.get("unknowns", []):
        assert path in result["unknowns"]
    for item in expect.get("present", []):
        assert item in status, (golden["id"], sorted(status))
    for item in expect.get("absent", []):
        assert item not in status, (golden["id"], sorted(status))
    for item in expect.get("dosed", []):
        assert "dose_mg" in items[(item, None)], (golden["id"], item)
    if "first_flag" in expect:
        assert flags[0] == expect["first_flag"]
    if expect.get("no_dose"):
        for item in result["recommendations"]:
            assert not any(k in item for k in DOSE_KEYS), item
    if expect.get("scores_adults_only"):
        assert all(s.get("validated_in_adults_only") for s in result["scores"])
