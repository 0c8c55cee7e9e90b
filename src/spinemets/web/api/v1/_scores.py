"""``/api/v1/scores``: the registry, one score's definition, and computing a score."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path

from spinemets.errors import InputError
from spinemets.web import _core
from spinemets.web.api._strict import StrictJSONRoute
from spinemets.web.api.v1._models import ScoreCompute

__all__ = ["router"]

router = APIRouter(tags=["scores"], route_class=StrictJSONRoute)

Slug = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{1,63}$", description="Score slug")]
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No score with that slug"},
    409: {"description": "Score registered but unavailable (unverified)"},
}


@router.get("/scores", summary="Every registered score (available, provisional, unavailable)")
def list_scores() -> dict[str, Any]:
    return {"scores": _core.score_summaries()}


@router.get("/scores/{slug}", summary="One score's definition", responses=_ERRORS)
def get_score(slug: Slug) -> dict[str, Any]:
    return _core.score_detail(slug)


@router.post("/scores/{slug}", summary="Compute one score", responses=_ERRORS)
def compute_score(
    slug: Slug,
    request: Annotated[
        ScoreCompute,
        Body(openapi_examples={"sins": {"value": {"inputs": {
            "level": "T12", "pain": "mechanical", "bone_lesion": "lytic",
            "alignment": "normal", "collapse": "under_50", "posterolateral": "unilateral"}}}}),
    ],
) -> dict[str, Any]:
    try:
        return _core.compute_score(slug, request.inputs, lesion=request.lesion)
    except InputError as exc:  # name the field by its path in the request body
        raise exc.prefixed("inputs.") from None
