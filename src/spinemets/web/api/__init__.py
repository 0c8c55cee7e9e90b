"""JSON API: ``/api/v1/...`` routers (one per resource) and ``/healthz``."""

from fastapi import APIRouter

from spinemets.web.api._health import router as health_router
from spinemets.web.api.v1 import v1_router

__all__ = ["api_router"]

api_router = APIRouter()
api_router.include_router(v1_router)
api_router.include_router(health_router)
