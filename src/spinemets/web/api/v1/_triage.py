"""``POST /api/v1/triage``: the triage level for symptom answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from spinemets.web import _core
from spinemets.web.api._strict import StrictJSONRoute
from spinemets.web.api.v1._models import TriageRequest

__all__ = ["router"]

router = APIRouter(tags=["triage"], route_class=StrictJSONRoute)


@router.post("/triage", summary="Triage level (emergency, urgent, soon, routine) with its basis")
def triage(request: TriageRequest) -> dict[str, Any]:
    answers = request.answers.model_dump(mode="json", exclude_none=True)
    return _core.triage_answers(answers)
