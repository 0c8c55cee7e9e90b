"""Administration: accounts overview, deleted cases (purge), audit trail with exports, and the
feedback EHRs sent on CDS Hooks cards.

Admins see references and audit records, never case content (unless they are clinicians too,
through the clinician workspace).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from spinemets import storage
from spinemets.storage import AuditEvent, CaseRecord
from spinemets.web._state import Permission, client_address, get_state, requires
from spinemets.web.pages._workspace import _render, _require_csrf, current_user

__all__ = ["audit_event_bundle", "router"]

P = Permission
router = APIRouter(prefix="/admin")

_FILTERS = ("actor", "action", "case_ref", "outcome", "since", "until")


@router.get("", response_class=HTMLResponse, dependencies=[requires(P.USER_ADMIN)])
def admin_home(request: Request) -> Response:
    with get_state(request).sessions.begin() as session:
        users = [{"username": u.username, "display_name": u.display_name,
                  "roles": u.roles, "disabled": u.disabled, "created": u.created_at}
                 for u in storage.list_users(session)]
        deleted = [{"ref": c.case_ref, "deleted": c.deleted_at, "version": c.current_version}
                   for c in session.scalars(select(CaseRecord).where(
                       CaseRecord.deleted_at.is_not(None)).order_by(CaseRecord.case_ref))]
    return _render(request, "admin/index.html", current_user(request),
                   {"users": users, "deleted": deleted,
                    "purged": request.query_params.get("purged")})


@router.post("/cases/{ref}/purge", dependencies=[requires(P.CASE_PURGE)])
async def purge(request: Request, ref: str) -> Response:
    form = await request.form()
    _require_csrf(request, str(form.get("csrf", "")))
    if str(form.get("confirm", "")) != ref:
        raise HTTPException(status_code=400, detail="Type the reference to confirm the purge.")
    user = current_user(request)
    with get_state(request).sessions.begin() as session:
        record = storage.get_case(session, case_ref=ref, include_deleted=True)
        if record is None or record.deleted_at is None:
            raise HTTPException(status_code=404)
        storage.purge_case(session, case_ref=ref)
        storage.record_audit(session, action="case_purge", outcome="success", user=user,
                             client=client_address(request), case_ref=ref)
    return RedirectResponse(f"/admin?purged={quote(ref)}", status_code=303)


def _when(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _query(request: Request, *, limit: int | None) -> tuple[dict[str, str], list[AuditEvent]]:
    filters = {k: request.query_params.get(k, "").strip() for k in _FILTERS}
    with get_state(request).sessions.begin() as session:
        events = list(storage.list_audit(
            session, actor=filters["actor"] or None, action=filters["action"] or None,
            case_ref=filters["case_ref"] or None, outcome=filters["outcome"] or None,
            since=_when(filters["since"]), until=_when(filters["until"]), limit=limit))
    return filters, events


def _log_export(request: Request, kind: str, count: int) -> None:
    with get_state(request).sessions.begin() as session:
        storage.record_audit(session, action="audit_export", outcome="success",
                             user=current_user(request), client=client_address(request),
                             detail=f"{kind}, {count} records")


@router.get("/audit", response_class=HTMLResponse, dependencies=[requires(P.AUDIT_READ)])
def audit_page(request: Request) -> Response:
    filters, events = _query(request, limit=500)
    query = "&".join(f"{k}={quote(v)}" for k, v in filters.items() if v)
    return _render(request, "admin/audit.html", current_user(request),
                   {"filters": filters, "events": events, "query": query})


_COLUMNS = ("id", "at", "actor", "roles", "action", "case_ref", "target", "client", "outcome",
            "detail")


@router.get("/audit.csv", dependencies=[requires(P.AUDIT_READ)])
def audit_csv(request: Request) -> Response:
    _filters, events = _query(request, limit=None)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_COLUMNS)
    for e in events:
        row = [getattr(e, c) for c in _COLUMNS]
        # Spreadsheet formula injection: a cell starting with = + - @ is quoted as text.
        writer.writerow(["'" + str(v) if isinstance(v, str) and v[:1] in "=+-@" else
                         ("" if v is None else v) for v in row])
    _log_export(request, "csv", len(events))
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"'})


_ACTIONS = {"case_create": "C", "case_update": "U", "case_decision": "U", "case_delete": "D",
            "case_purge": "D"}


def audit_event_bundle(events: list[AuditEvent]) -> dict[str, Any]:
    """A FHIR R4B ``Bundle`` (collection) of ``AuditEvent`` resources, validated by
    ``fhir.resources``.

    Type: DICOM "Application Activity"-style codes from the FHIR ``audit-event-type`` system
    (``rest``) for case access and ``110114`` (User Authentication) for sign-in; ``action`` is
    C/R/U/D/E; ``outcome`` 0 (success), 4 (minor failure: refused, conflict, throttled).
    """
    from fhir.resources.R4B.bundle import Bundle  # noqa: PLC0415 - optional FHIR stack

    entries = []
    for e in events:
        sign_in = e.action in {"sign_in", "sign_out"}
        resource: dict[str, Any] = {
            "resourceType": "AuditEvent",
            "id": f"audit-{e.id}",
            "type": ({"system": "http://dicom.nema.org/resources/ontology/DCM",
                      "code": "110114", "display": "User Authentication"} if sign_in else
                     {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
                      "code": "rest", "display": "RESTful Operation"}),
            "subtype": [{"system": "urn:spinemets:audit-action", "code": e.action}],
            "action": _ACTIONS.get(e.action, "E" if sign_in else "R"),
            "recorded": (e.at if e.at.tzinfo else e.at.replace(tzinfo=UTC)).isoformat(),
            "outcome": "0" if e.outcome == "success" else "4",
            "outcomeDesc": e.outcome + (f": {e.detail}" if e.detail else ""),
            "agent": [{"who": {"display": e.actor or "(anonymous)"},
                       "requestor": True,
                       "role": [{"text": r} for r in e.roles.split()] or None,
                       "network": {"address": e.client, "type": "2"} if e.client else None}],
            "source": {"observer": {"display": "spinemets"}},
        }
        if e.case_ref:
            resource["entity"] = [{"what": {"identifier": {
                "system": "urn:spinemets:case-ref", "value": e.case_ref}}}]
        entries.append({"resource": _clean(resource)})
    bundle = Bundle.model_validate({"resourceType": "Bundle", "type": "collection",
                                    "entry": entries})
    data: dict[str, Any] = json.loads(bundle.model_dump_json(exclude_none=True))
    return data


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


@router.get("/audit.fhir.json", dependencies=[requires(P.AUDIT_READ)])
def audit_fhir(request: Request) -> Response:
    _filters, events = _query(request, limit=None)
    try:
        body = audit_event_bundle(events)
    except ImportError as exc:
        raise HTTPException(status_code=503, detail="FHIR support is not installed") from exc
    _log_export(request, "fhir", len(events))
    return Response(json.dumps(body), media_type="application/fhir+json",
                    headers={"Content-Disposition": 'attachment; filename="audit.json"'})


@router.get("/cds-feedback", response_class=HTMLResponse, dependencies=[requires(P.AUDIT_READ)])
def cds_feedback(request: Request) -> Response:
    """Feedback on CDS Hooks cards (accepted or overridden, with the reason), newest first."""
    from spinemets.web.cds import feedback_entries  # noqa: PLC0415 - CDS router is optional

    entries = feedback_entries(request, limit=500)
    counts = {outcome: sum(e["outcome"] == outcome for e in entries)
              for outcome in ("accepted", "overridden")}
    return _render(request, "admin/cds_feedback.html", current_user(request),
                   {"entries": entries, "counts": counts})
