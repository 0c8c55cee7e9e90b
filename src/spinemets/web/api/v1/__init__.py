"""Version 1 of the JSON API: one router per resource; optional areas included when present."""

import importlib

from fastapi import APIRouter

__all__ = ["v1_router"]

v1_router = APIRouter(prefix="/api/v1")
for _name in ("_scores", "_assess", "_plan", "_triage", "_cases", "_fhir"):
    try:
        _module = importlib.import_module(f"spinemets.web.api.v1.{_name}")
    except ModuleNotFoundError as _exc:  # an optional area not built yet
        if _exc.name == f"spinemets.web.api.v1.{_name}":
            continue
        raise
    v1_router.include_router(_module.router)
