"""The ten clinical vignettes (tests/cases/vignettes.yaml) give the expected plan."""

from __future__ import annotations

from typing import Any

import pytest
from tests.rules.conftest import vignettes

from spinemets.rules import plan

VIGNETTES = vignettes()


def _items(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [*data["workup"], *data["recommendations"]]


@pytest.mark.parametrize("vignette", VIGNETTES, ids=[v["id"] for v in VIGNETTES])
def test_vignette(vignette: dict[str, Any]) -> None:
    expect = vignette["expect"]
    data = plan(vignette["case"]).to_dict()
    assert data["format"] == "spinemets-plan/1"
    if "triage" in expect:
        assert data["triage"]["level"] == expect["triage"]
    for slug, value in expect.get("scores", {}).items():
        found = [s for s in data["scores"] if s["score"] == slug]
        assert found, slug
        assert value in (found[0]["total"], found[0]["band"] and found[0]["band"]["id"]), slug
    items = _items(data)
    for item_id, statuses in expect.get("include", {}).items():
        got = [i["status"] for i in items if i["id"] == item_id]
        assert any(s in statuses for s in got), f"{item_id}: {got} not in {statuses}"
    for item_id in expect.get("exclude", []):
        assert not [i for i in items if i["id"] == item_id and i["status"] == "recommended"]
    for flag in expect.get("flags", []):
        assert flag in {f["id"] for f in data["flags"]}
    if "zoledronic_dose_mg" in expect:
        (zol,) = [i for i in items if i["id"] == "zoledronic_acid"]
        assert zol["dose_mg"] == expect["zoledronic_dose_mg"]
        assert zol["crcl_ml_min"] == pytest.approx(51.9, abs=0.05)
    if "dexamethasone_caution_mentions" in expect:
        (dex,) = [i for i in items if i["id"] == "dexamethasone"]
        assert any(expect["dexamethasone_caution_mentions"] in c.lower() for c in dex["cautions"])


@pytest.mark.parametrize("vignette", VIGNETTES, ids=[v["id"] for v in VIGNETTES])
def test_every_item_has_basis_citations_and_rule(vignette: dict[str, Any]) -> None:
    data = plan(vignette["case"]).to_dict()
    for item in _items(data):
        assert item["basis"], item["id"]
        assert item["citations"], item["id"]
        assert isinstance(item["cautions"], list)
        assert any(item["rule"] in b for b in item["basis"])
    assert data["trace"]
