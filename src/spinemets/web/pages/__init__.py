"""HTML pages: patient pages (public, EN/ES) and the clinician workspace (signed in).

Each page area is a module with a ``router``; optional areas (``_admin``, ``_fhir``) are
included when their module is present.
"""

import importlib

from fastapi import APIRouter

__all__ = ["pages_router"]

pages_router = APIRouter(include_in_schema=False)
for _name in ("_patient", "_checker", "_clinician", "_admin", "_fhir", "_rules"):
    try:
        _module = importlib.import_module(f"spinemets.web.pages.{_name}")
    except ModuleNotFoundError as _exc:  # an optional area not built yet
        if _exc.name == f"spinemets.web.pages.{_name}":
            continue
        raise
    pages_router.include_router(_module.router)
