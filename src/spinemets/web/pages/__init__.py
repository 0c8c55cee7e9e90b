"""HTML pages: patient pages (public, EN/ES), the clinician workspace (signed in), the admin
pages, the FHIR import page and the rule book."""

from fastapi import APIRouter

from spinemets.web.pages._admin import router as admin_router
from spinemets.web.pages._cases import router as cases_router
from spinemets.web.pages._checker import router as checker_router
from spinemets.web.pages._fhir import router as fhir_router
from spinemets.web.pages._history import router as history_router
from spinemets.web.pages._imaging import router as imaging_router
from spinemets.web.pages._meetings import router as meetings_router
from spinemets.web.pages._oidc import router as oidc_router
from spinemets.web.pages._patient import router as patient_router
from spinemets.web.pages._results import router as results_router
from spinemets.web.pages._rules import router as rules_router
from spinemets.web.pages._signin import router as signin_router

__all__ = ["pages_router"]

pages_router = APIRouter(include_in_schema=False)
# The clinician workspace is one module per area; /cases/new (cases) comes before /cases/{ref}.
for _router in (patient_router, checker_router, oidc_router, signin_router, cases_router,
                results_router, history_router, meetings_router, admin_router, fhir_router,
                rules_router, imaging_router):
    pages_router.include_router(_router)
