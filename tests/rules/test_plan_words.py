"""The plan says why it cannot decide, and its words match what it did (issue 13 §2-§3).

Golden cases: ``tests/cases/plan/plan_words.yaml`` (each cites its source).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from spinemets.rules import plan

GOLDEN = Path(__file__).parent.parent / "cases" / "plan" / "plan_words.yaml"
DATA = yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))
CASES = DATA["cases"]


def test_golden_file_cites_its_source() -> None:
    assert DATA["source"]
    assert all(c.get("source") for c in CASES)


def _item(data: dict[str, Any], item_id: str, lesion: str | None) -> dict[str, Any] | None:
    found = [i for i in (*data["recommendations"], *data["workup"])
             if i["id"] == item_id and i.get("lesion") == lesion]
    return found[0] if found else None


@pytest.mark.parametrize("golden", CASES, ids=[c["id"] for c in CASES])
def test_plan_words(golden: dict[str, Any]) -> None:
    data = plan(golden["case"]).to_dict()
    expect = golden["expect"]
    for want in expect.get("flags", []):
        assert any(all(f.get(k) == v for k, v in want.items()) for f in data["flags"]), (
            want, data["flags"])
    for want in expect.get("items", []):
        item = _item(data, want["id"], want.get("lesion"))
        assert item is not None, want
        assert item["status"] == want["status"], (want, item)
        for text in want.get("basis_has", []):
            assert any(text in line for line in item["basis"]), (text, item["basis"])
    for want in expect.get("absent", []):
        assert _item(data, want["id"], want.get("lesion")) is None, want
    ids = {f["id"] for f in data["flags"]}
    assert not ids & set(expect.get("no_flag_ids", [])), data["flags"]
    named = json.dumps([f for f in data["flags"] if f["id"] == "no_recommendation"])
    for name in expect.get("no_flag_names", []):
        assert name not in named
    if expect.get("not_urgent"):
        assert not [f for f in data["flags"] if f.get("urgency")]
    rendered = json.dumps({k: data[k] for k in ("recommendations", "flags")})
    for text in expect.get("no_text", []):
        assert text not in rendered


def test_zoledronic_display_shows_band_and_rounding_only_where_it_decided() -> None:
    from spinemets.rules import CrCl, zoledronic_dose  # noqa: PLC0415

    exact = zoledronic_dose(CrCl(60.0, {}))
    assert exact.describe().endswith("CrCl 60.0 mL/min (): band CrCl 50-60 mL/min: 3.5 mg")
    assert not [n for n in exact.notes if "rounded down" in n]
    between = zoledronic_dose(CrCl(60.4, {}))
    assert between.dose_mg == 3.5
    assert any("60.4 mL/min lies between two whole-number bands: rounded down to 60" in n
               for n in between.notes)
    assert not [n for n in zoledronic_dose(CrCl(51.9, {})).notes if "rounded" in n]
