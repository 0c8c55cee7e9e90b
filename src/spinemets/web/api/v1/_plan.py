"""``POST /api/v1/plan``: the spinemets-plan/1 document for a case."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool

from spinemets.web import _core
from spinemets.web._state import get_state
from spinemets.web.api._strict import StrictJSONRoute
from spinemets.web.api.v1._models import CASE_EXAMPLE

__all__ = ["router"]

router = APIRouter(tags=["cases"], route_class=StrictJSONRoute)


@router.post("/plan", summary="Triage, scores, work-up and NOMS plan for a case",
             response_model=dict[str, Any])
async def plan(
    request: Request,
    case: Annotated[dict[str, Any], Body(openapi_examples={"case": {"value": CASE_EXAMPLE}})],
) -> Response:
    # One thread-pool hop for the plan and its serialisation together, so the event loop stays
    # free (health checks answer while a hostile case is planned). A sync endpoint paid two hops
    # (the call, then validating the response against dict[str, Any], a walk over the whole
    # document) and serialised again on the loop. The document is plain JSON data: pydantic's
    # Rust core writes the same bytes FastAPI's response path wrote.
    model = get_state(request).local_model
    return Response(await run_in_threadpool(_plan_json, case, model),
                    media_type="application/json")


def _plan_json(case: dict[str, Any], local_model: Any) -> bytes:
    return to_json(_core.plan_case(case, local_model=local_model))
