"""``POST /api/v1/fhir/import`` and ``GET /api/v1/cases/{ref}/fhir`` (signed-in clinicians)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request

from spinemets import storage
from spinemets.web._state import P, get_state, requires
from spinemets.web.api._strict import StrictJSONRoute
from spinemets.web.pages._workspace import current_user

__all__ = ["router"]

router = APIRouter(tags=["fhir"], route_class=StrictJSONRoute)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in as a clinician", **_PROBLEM}}

_BUNDLE_EXAMPLE = {"resourceType": "Bundle", "type": "collection", "entry": [
    {"resource": {"resourceType": "Observation", "id": "ecog", "status": "final",
                  "code": {"coding": [{"system": "http://loinc.org", "code": "89247-1"}]},
                  "effectiveDateTime": "2025-01-10", "valueInteger": 1}}]}


def _signed_in(request: Request) -> str:
    user = current_user(request)
    if user is None:
        raise HTTPException(401, "Sign in as a clinician to use the FHIR routes")
    return user.display_name


@router.post("/fhir/import", summary="Import a FHIR R4 Bundle as a spinemets-case/1 case",
             responses=_AUTH, dependencies=[requires(P.CASE_WRITE)])
def import_fhir(
    request: Request,
    bundle: Annotated[dict[str, Any], Body(openapi_examples={"bundle": {
        "value": _BUNDLE_EXAMPLE}})],
    accept: Annotated[list[str] | None, Query(
        description="Stale observations to use anyway (Observation/ID)")] = None,
    as_of: Annotated[dt.datetime | None, Query(
        description="Reference time for ages and staleness (default now)")] = None,
) -> dict[str, Any]:
    """The case, the source of each value, and every resource or element not used (and why).

    Nothing is saved: the clinician reviews the report first.
    """
    _signed_in(request)
    from spinemets.fhir import import_bundle  # noqa: PLC0415 - the fhir extra is optional

    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=dt.UTC)
    return import_bundle(bundle, as_of=as_of, accept_stale=accept or ()).to_dict()


@router.get("/cases/{ref}/fhir", summary="A stored case's scores and plan as a FHIR Bundle",
            responses={**_AUTH, 404: {"description": "No case with that reference",
                                      **_PROBLEM}}, dependencies=[requires(P.CASE_READ)])
def export_fhir(request: Request, ref: str) -> dict[str, Any]:
    """Collection Bundle: input resources, score Observations, CarePlan, Provenance, CodeSystem."""
    author = _signed_in(request)
    from spinemets.fhir import export_case  # noqa: PLC0415

    with get_state(request).sessions.begin() as session:
        record = storage.get_case(session, case_ref=ref)
        data = None if record is None else dict(record.data)
    if data is None:
        raise HTTPException(404, f"No case is stored as {ref!r}")
    return export_case(data, author=author)
