"""Every listed unknown can change the plan; unknowns are ordered by consequence.

For every demo case and vignette, each input the plan lists in ``unknowns`` is filled with
every allowed value of its field; some value must change the plan's triage level, an item's
status, dose or schedule, a flag, or a score's band (compared here on the plan's JSON, not on
the engine's own signature). An input that only matters together with another missing input
(a creatinine without a weight gives no clearance) is tried with the other missing inputs
filled too. Consequence groups come in order: triage, decision, score.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from tests.rules.conftest import vignettes

from spinemets.case import load_case
from spinemets.errors import SpinemetsError
from spinemets.rules import plan
from spinemets.rules._consequence import CONSEQUENCES, _values, _with
from spinemets.storage import demo_cases

TODAY = dt.date(2026, 12, 7)
CASES = {str(c["id"]): c for c in demo_cases()} | {
    str(v["id"]): v["case"] for v in vignettes()}


def _view(document: dict[str, Any]) -> tuple[Any, ...]:
    """What a clinician would see change: level, items with status and extras, flags, bands."""
    data = plan(document, today=TODAY).to_dict()
    items = sorted(
        (i["id"], i.get("lesion") or "", i["status"],
         repr(sorted((k, repr(v)) for k, v in i.items() if k not in {
             "id", "lesion", "status", "basis", "citations", "cautions", "rule", "evidence"})))
        for i in (*data["workup"], *data["recommendations"]))
    flags = sorted((f["id"], f.get("lesion") or "") for f in data["flags"])
    bands = sorted((s["score"], s.get("lesion") or "", s.get("status"),
                    repr((s.get("band") or {}).get("id")), repr(s.get("possible_bands")))
                   for s in data["scores"])
    return data["triage"]["level"], data["triage"].get("provisional"), items, flags, bands


def _changes(base: dict[str, Any], path: str) -> bool:
    before = _view(base)
    for value in _values(path, TODAY) or []:
        try:
            load_case(candidate := _with(base, path, value))
            if _view(candidate) != before:
                return True
        except SpinemetsError:
            continue
    return False


@pytest.mark.parametrize("ref", sorted(CASES))
def test_every_listed_unknown_can_change_the_plan(ref: str) -> None:
    document = load_case(CASES[ref]).model_dump(mode="json")
    result = plan(document, today=TODAY)
    assert len(result.unknown_consequences) == len(result.unknowns)
    ranks = [CONSEQUENCES.index(k) for k in result.unknown_consequences]
    assert ranks == sorted(ranks), "unknowns are not ordered by consequence"
    inert = []
    for path, kind in zip(result.unknowns, result.unknown_consequences, strict=True):
        if kind == "unlisted":
            continue
        if _changes(document, path):
            continue
        filled = document
        for other in result.unknowns:
            options = _values(other, TODAY)
            if other != path and options:
                trial = _with(filled, other, options[len(options) // 2])
                try:
                    load_case(trial)
                    filled = trial
                except SpinemetsError:
                    continue
        if not _changes(filled, path):
            inert.append(path)
    assert inert == [], f"{ref}: listed unknowns that change nothing: {inert}"
