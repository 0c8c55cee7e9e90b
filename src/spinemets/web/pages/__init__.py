"""HTML pages: patient pages (public, EN/ES) and the clinician workspace (signed in)."""

from fastapi import APIRouter

from spinemets.web.pages._checker import router as checker_router
from spinemets.web.pages._clinician import router as clinician_router
from spinemets.web.pages._patient import router as patient_router

__all__ = ["pages_router"]

pages_router = APIRouter(include_in_schema=False)
for _router in (patient_router, checker_router, clinician_router):
    pages_router.include_router(_router)
