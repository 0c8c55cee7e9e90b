"""Stored cases as JSON, with optimistic concurrency (``ETag`` / ``If-Match``).

- ``GET /api/v1/cases/{ref}``: the latest version; ``ETag: "<version>"``.
- ``PUT /api/v1/cases/{ref}``: a new version; ``If-Match: "<version>"`` is required (``428``
  without it) and must name the current version (``412`` otherwise: someone saved in between).
- ``POST /api/v1/cases``: a new case (``201``; ``409`` if the reference was ever used).
- ``GET /api/v1/cases/{ref}/versions``: every version's metadata, oldest first.
- ``GET /api/v1/export/cases.jsonl``: pseudonymised cases for researchers (see
  :mod:`spinemets.storage._export`).

The same storage path as the case form (no overwrite, plan and provenance computed at save).
Every call, refused or not, is audited; permissions come from the policy table.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from spinemets import storage
from spinemets.errors import InputError, ProblemDetail
from spinemets.storage import CaseVersion, User
from spinemets.web import _core
from spinemets.web._state import P, client_address, get_state, request_user, requires
from spinemets.web.api._strict import StrictJSONRoute
from spinemets.web.api.v1._models import CASE_EXAMPLE

__all__ = ["etag", "router"]

router = APIRouter(tags=["cases"], route_class=StrictJSONRoute)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_READ: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in", **_PROBLEM},
    403: {"description": "The account's roles do not allow this", **_PROBLEM},
    404: {"description": "No live case with that reference", **_PROBLEM},
}
_ETAG = re.compile(r'^\s*"(\d{1,9})"\s*$')
_Reason = Annotated[str, Query(max_length=500, description="Why (kept in the history)")]
_CaseBody = Annotated[dict[str, Any], Body(openapi_examples={"case": {"value": CASE_EXAMPLE}})]


def etag(version: int) -> str:
    """The entity tag of a case version (strong; the version number quoted)."""
    return f'"{version}"'


def _problem(status: int, title: str, detail: str, *, version: int | None = None) -> JSONResponse:
    response = JSONResponse({"title": title, "status": status, "detail": detail},
                            status_code=status, media_type="application/problem+json")
    if version is not None:
        response.headers["ETag"] = etag(version)
    return response


def _audit(request: Request, *, action: str, outcome: str, ref: str | None,
           detail: str) -> None:
    with get_state(request).sessions.begin() as session:
        storage.record_audit(session, action=action, outcome=outcome,
                             user=request_user(request), client=client_address(request),
                             case_ref=ref[:storage.CASE_REF_MAX] if ref else None,
                             detail=detail)


def _version_meta(v: CaseVersion) -> dict[str, Any]:
    return {"version": v.version, "kind": v.kind, "author": v.author,
            "saved_at": v.created_at.isoformat(), "reason": v.reason,
            "software_version": v.software_version, "tables_hash": v.tables_hash,
            "decision": v.decision is not None}


def _checked(request: Request, doc: dict[str, Any], *, ref: str | None, action: str) -> str:
    """The reference of ``doc`` (set from the URL when absent), loaded in full, or 422."""
    if ref is not None:
        doc.setdefault("id", ref)
    found = doc.get("id")
    try:
        if not isinstance(found, str) or (ref is not None and found != ref):
            raise InputError([_id_problem(ref)])
        storage.check_case_ref(found)
        _core.load_case(doc)
    except storage.InvalidCaseRefError:
        _audit(request, action=action, outcome="invalid", ref=None, detail="api: bad reference")
        raise InputError([_id_problem(None)]) from None
    except InputError:
        _audit(request, action=action, outcome="invalid", ref=ref, detail="api: invalid case")
        raise
    return found


def _id_problem(ref: str | None) -> ProblemDetail:
    if ref is None:
        return ProblemDetail("id", f"use {storage.CASE_REF_RULE}")
    return ProblemDetail("id", f"the reference cannot be changed (it is {ref})")


@router.get("/cases/{ref}", summary="The latest version of a stored case (ETag: version)",
            responses=_READ, dependencies=[requires(P.CASE_READ)])
def read_case(request: Request, ref: str, response: Response) -> dict[str, Any]:
    """The case document, its plan at save, and who saved it when and why."""
    with get_state(request).sessions.begin() as session:
        record = storage.get_case(session, case_ref=ref)
        latest = (None if record is None else
                  storage.get_version(session, case_ref=ref, version=record.current_version))
        if record is None or latest is None:
            body = None
        else:
            body = {"ref": ref, **_version_meta(latest), "case": dict(latest.data),
                    "plan": latest.plan}
            storage.record_audit(session, action="case_read", outcome="success",
                                 user=request_user(request), client=client_address(request),
                                 case_ref=ref, detail=f"api, version {latest.version}")
    if body is None:
        _audit(request, action="case_read", outcome="not_found", ref=ref, detail="api")
        raise HTTPException(404, f"No case is stored as {ref!r}")
    response.headers["ETag"] = etag(body["version"])
    return body


@router.get("/cases/{ref}/versions", summary="Every version of a stored case (metadata)",
            responses=_READ, dependencies=[requires(P.CASE_READ)])
def list_versions(request: Request, ref: str) -> dict[str, Any]:
    """Version number, kind, author, time, reason and provenance of every version."""
    with get_state(request).sessions.begin() as session:
        record = storage.get_case(session, case_ref=ref)
        versions = [] if record is None else [
            _version_meta(v) for v in storage.case_versions(session, case_ref=ref)]
    if record is None:
        _audit(request, action="case_read", outcome="not_found", ref=ref, detail="api versions")
        raise HTTPException(404, f"No case is stored as {ref!r}")
    _audit(request, action="case_read", outcome="success", ref=ref, detail="api versions")
    return {"ref": ref, "current_version": record.current_version, "versions": versions}


def _base_version(if_match: str | None) -> int | None:
    found = _ETAG.match(if_match or "")
    return int(found.group(1)) if found else None


def _save_info(doc: dict[str, Any]) -> storage.VersionInfo:
    from spinemets.web.pages._workspace import _provenance  # noqa: PLC0415 - one save path

    return _provenance(doc)


@router.put("/cases/{ref}", summary="Save a new version of a case (If-Match required)",
            responses={**_READ,
                       412: {"description": "If-Match is not the current version", **_PROBLEM},
                       428: {"description": "If-Match missing", **_PROBLEM}},
            dependencies=[requires(P.CASE_WRITE)], response_model=None)
def update_case(
    request: Request, ref: str, case: _CaseBody, response: Response, *,
    if_match: Annotated[str | None, Header(description='The ETag you edited, e.g. "3"')] = None,
    reason: _Reason = "",
) -> dict[str, Any] | JSONResponse:
    """Append a version made from the one named by ``If-Match``; never overwrites."""
    base = _base_version(if_match)
    if base is None:
        _audit(request, action="case_update", outcome="refused", ref=ref,
               detail="api: If-Match missing")
        return _problem(428, "Precondition required",
                        'Send If-Match with the ETag of the version you edited (e.g. "3").')
    _checked(request, case, ref=ref, action="case_update")
    user: User | None = request_user(request)
    info = _save_info(case)
    try:
        with get_state(request).sessions.begin() as session:
            record = storage.update_case(session, case_ref=ref, data=case, base_version=base,
                                         user=user, reason=reason, info=info)
            storage.record_audit(session, action="case_update", outcome="success", user=user,
                                 client=client_address(request), case_ref=ref, detail="api")
            version = record.current_version
    except storage.StaleVersionError as exc:
        _audit(request, action="case_update", outcome="conflict", ref=ref,
               detail=f"api: base {exc.base_version}, current {exc.current_version}")
        return _problem(412, "Precondition failed",
                        f"The case is at version {exc.current_version}; you edited version "
                        f"{exc.base_version}. Read it again and re-apply your change.",
                        version=exc.current_version)
    except storage.CaseNotFoundError:
        _audit(request, action="case_update", outcome="not_found", ref=ref, detail="api")
        raise HTTPException(404, f"No case is stored as {ref!r}") from None
    response.headers["ETag"] = etag(version)
    return {"ref": ref, "version": version}


@router.post("/cases", summary="Store a new case (409 if the reference was ever used)",
             status_code=201,
             responses={**_READ, 409: {"description": "Reference already used", **_PROBLEM}},
             dependencies=[requires(P.CASE_WRITE)], response_model=None)
def create_case(request: Request, case: _CaseBody, response: Response,
                reason: _Reason = "") -> dict[str, Any] | JSONResponse:
    """Version 1 of a new case; its reference is the document's ``id``."""
    ref = _checked(request, case, ref=None, action="case_create")
    user: User | None = request_user(request)
    info = _save_info(case)
    try:
        with get_state(request).sessions.begin() as session:
            storage.create_case(session, case_ref=ref, data=case, user=user,
                                reason=reason or "created", info=info)
            storage.record_audit(session, action="case_create", outcome="success", user=user,
                                 client=client_address(request), case_ref=ref, detail="api")
    except storage.CaseExistsError:
        _audit(request, action="case_create", outcome="refused", ref=ref,
               detail="api: reference already used")
        return _problem(409, "Reference already used",
                        f"A case with reference {ref!r} exists (or existed): choose another.")
    response.headers["ETag"] = etag(1)
    response.headers["Location"] = f"/api/v1/cases/{ref}"
    return {"ref": ref, "version": 1}


@router.get("/export/cases.jsonl", summary="Pseudonymised export of every live case (JSONL)",
            response_class=Response,
            responses={200: {"description": "One JSON object per line",
                             "content": {"application/x-ndjson": {}}},
                       401: _READ[401], 403: _READ[403]},
            dependencies=[requires(P.EXPORT_PSEUDONYMISED)])
def export_cases(request: Request) -> Response:
    """Reference replaced by a keyed hash; no free text, authors, plans or dates beyond year.

    A stored document that does not load as a case is left out (counted in the audit record).
    """
    state = get_state(request)
    tally = storage.ExportTally()
    with state.sessions.begin() as session:
        lines = [json.dumps(item, sort_keys=True, separators=(",", ":"))
                 for item in storage.pseudonymised_cases(session, secret=state.secret,
                                                         tally=tally)]
        storage.record_audit(session, action="case_export", outcome="success",
                             user=request_user(request), client=client_address(request),
                             detail=f"pseudonymised jsonl, {tally.written} cases, "
                             f"{tally.skipped} left out")
    return Response("".join(line + "\n" for line in lines), media_type="application/x-ndjson",
                    headers={"Content-Disposition": 'attachment; filename="cases.jsonl"'})
