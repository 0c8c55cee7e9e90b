"""``POST /api/v1/plan``: the spinemets-plan/1 document for a case."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from spinemets.web import _core
from spinemets.web.api._strict import StrictJSONRoute
from spinemets.web.api.v1._models import CASE_EXAMPLE

__all__ = ["router"]

router = APIRouter(tags=["cases"], route_class=StrictJSONRoute)


@router.post("/plan", summary="Triage, scores, work-up and NOMS plan for a case")
def plan(
    case: Annotated[dict[str, Any], Body(openapi_examples={"case": {"value": CASE_EXAMPLE}})],
) -> dict[str, Any]:
    return _core.plan_case(case)
