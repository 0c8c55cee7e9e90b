"""``POST /api/v1/assess``: every applicable score on a case."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from spinemets.web import _core
from spinemets.web.api._strict import StrictJSONRoute
from spinemets.web.api.v1._models import CASE_EXAMPLE

__all__ = ["router"]

router = APIRouter(tags=["cases"], route_class=StrictJSONRoute)


@router.post("/assess", summary="Every applicable score on a spinemets-case/1 document")
def assess(
    case: Annotated[dict[str, Any], Body(openapi_examples={"case": {"value": CASE_EXAMPLE}})],
) -> dict[str, Any]:
    return _core.assess_case(case)
