"""Liveness and database readiness (each call counted per hour, not stored one row each)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text

from spinemets.web._audit import count_anonymous_call
from spinemets.web._state import AppState, get_state

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Health check (application and database)")
def healthz(state: Annotated[AppState, Depends(get_state)]) -> JSONResponse:
    body: dict[str, Any] = {"status": "ok", "database": "ok"}
    try:
        with state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        count_anonymous_call(state, route="/healthz")
    except Exception:
        body = {"status": "degraded", "database": "unavailable"}
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)
