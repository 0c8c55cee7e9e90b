"""HTML pages: patient pages (public, EN/ES), the clinician workspace (signed in), the admin
pages, the FHIR import page and the rule book."""

from fastapi import APIRouter

from spinemets.web.pages._admin import router as admin_router
from spinemets.web.pages._checker import router as checker_router
from spinemets.web.pages._clinician import router as clinician_router
from spinemets.web.pages._fhir import router as fhir_router
from spinemets.web.pages._imaging import router as imaging_router
from spinemets.web.pages._patient import router as patient_router
from spinemets.web.pages._rules import router as rules_router

__all__ = ["pages_router"]

pages_router = APIRouter(include_in_schema=False)
for _router in (patient_router, checker_router, clinician_router, admin_router, fhir_router,
                rules_router, imaging_router):
    pages_router.include_router(_router)
