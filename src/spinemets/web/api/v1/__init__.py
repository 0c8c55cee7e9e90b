"""Version 1 of the JSON API: one router per resource."""

from fastapi import APIRouter

from spinemets.web.api.v1._assess import router as assess_router
from spinemets.web.api.v1._cases import router as cases_router
from spinemets.web.api.v1._fhir import router as fhir_router
from spinemets.web.api.v1._plan import router as plan_router
from spinemets.web.api.v1._scores import router as scores_router
from spinemets.web.api.v1._triage import router as triage_router

__all__ = ["v1_router"]

v1_router = APIRouter(prefix="/api/v1")
for _router in (scores_router, assess_router, plan_router, triage_router, cases_router,
                fhir_router):
    v1_router.include_router(_router)
