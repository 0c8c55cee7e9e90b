"""``POST /api/v1/fhir/import`` and ``GET /api/v1/cases/{ref}/fhir`` (signed-in clinicians).

Every error on these routes is a FHIR ``OperationOutcome`` (``application/fhir+json``), one
issue per problem with the element path in ``expression``; the export is
``application/fhir+json``. Hostile input (unknown resource types, deep nesting, huge lists) is
refused as 422 before any model reads it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from spinemets import storage
from spinemets.errors import InputError
from spinemets.web._state import (
    P,
    PermissionDeniedError,
    SignInRequiredError,
    get_state,
    requires,
)
from spinemets.web.api._strict import StrictJSONRoute
from spinemets.web.pages._workspace import current_user

__all__ = ["FHIR_JSON", "FhirRoute", "operation_outcome", "router"]

FHIR_JSON = "application/fhir+json"
_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
          409: "conflict", 413: "too-costly", 415: "not-supported", 422: "invalid",
          429: "throttled"}


def operation_outcome(status: int, issues: list[tuple[str, str | None]],
                      headers: dict[str, str] | None = None) -> JSONResponse:
    """An OperationOutcome response: ``issues`` are ``(diagnostics, element path or None)``."""
    code = _CODES.get(status, "exception")
    body = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": code, "diagnostics": text[:1000],
         **({"expression": [where]} if where else {})} for text, where in issues[:50]]}
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


def _from_problem(response: Response) -> Response:
    """A problem+json error answer (strict JSON, permissions) as an OperationOutcome."""
    try:
        body = json.loads(bytes(response.body))
    except ValueError:
        body = {}
    text = str(body.get("detail") or body.get("title") or "request refused")
    headers = {k: v for k, v in response.headers.items()
               if k.lower() in {"www-authenticate", "retry-after", "allow"}}
    return operation_outcome(response.status_code, [(text, None)], headers)


class FhirRoute(StrictJSONRoute):
    """A FHIR route: its errors (its dependencies' too) are OperationOutcomes, never 5xx text."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequiredError:
                return operation_outcome(401, [("Sign in as a clinician to use the FHIR "
                                                "routes", None)])
            except PermissionDeniedError as exc:
                return operation_outcome(403, [(f"Not permitted: {exc}", None)])
            except StarletteHTTPException as exc:
                return operation_outcome(exc.status_code, [(str(exc.detail), None)],
                                         dict(exc.headers or {}))
            except RequestValidationError as exc:
                return operation_outcome(400, [(str(e.get("msg")), ".".join(
                    str(p) for p in e.get("loc", ()))) for e in exc.errors()])
            except InputError as exc:
                return operation_outcome(422, [(p.message, p.field) for p in exc.problems])
            if response.status_code >= 400 and response.media_type != FHIR_JSON:
                return _from_problem(response)
            return response

        return route


router = APIRouter(tags=["fhir"], route_class=FhirRoute)

_PROBLEM: dict[str, Any] = {"content": {FHIR_JSON: {}}}
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
             responses={**_AUTH, 422: {"description": "The Bundle cannot be read (each issue "
                                       "names the element), or the patient is deceased",
                                       **_PROBLEM}},
             dependencies=[requires(P.CASE_WRITE)])
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
            response_class=JSONResponse,
            responses={200: {"description": "A FHIR R4 collection Bundle", **_PROBLEM},
                       **_AUTH, 404: {"description": "No case with that reference",
                                      **_PROBLEM}}, dependencies=[requires(P.CASE_READ)])
def export_fhir(request: Request, ref: str) -> JSONResponse:
    """Collection Bundle: input resources, score Observations, CarePlan, Provenance, CodeSystem."""
    author = _signed_in(request)
    from spinemets.fhir import export_case  # noqa: PLC0415

    with get_state(request).sessions.begin() as session:
        record = storage.get_case(session, case_ref=ref)
        data = None if record is None else dict(record.data)
    if data is None:
        raise HTTPException(404, f"No case is stored as {ref!r}")
    return JSONResponse(export_case(data, author=author), media_type=FHIR_JSON)
