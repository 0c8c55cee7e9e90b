"""Clinician page: CT measurements of a case and SINS suggestions to accept or reject.

``/clinician/cases/{ref}/imaging`` stores the output of ``spinemets imaging measure`` (the
``spinemets-imaging/1`` JSON, checked, and its overlay PNG) with who stored it and when, and shows
each suggestion beside the SINS value the case holds for the lesion at that level. Accepting
writes the value into the case as a new version ("from CT measurement N, confirmed by <user>")
only when the case has no value there: a suggestion never overwrites a value a clinician
entered. Rejecting is recorded too. The measurement itself runs where the images are (the CLI),
so no CT leaves the imaging workstation and the web app needs no imaging libraries.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from spinemets import storage
from spinemets.case import load_case
from spinemets.errors import InputError
from spinemets.imaging._check import COMPONENT_VALUES, check_document
from spinemets.storage import User
from spinemets.storage._imaging import (
    ImagingMeasurement,
    add_measurement,
    get_measurement,
    list_measurements,
    record_imaging_decision,
)
from spinemets.web._state import Permission, client_address, get_state, requires
from spinemets.web.pages._workspace import _provenance, _render, _require_csrf, current_user

__all__ = ["router"]

P = Permission
router = APIRouter(prefix="/clinician/cases/{ref}/imaging")
_TEMPLATE = "clinician/imaging.html"
_PNG = b"\x89PNG\r\n\x1a\n"
_LABELS = {
    "collapse": {"over_50": ">50% collapse", "under_50": "<50% collapse",
                 "no_collapse_over_50_involved": "No collapse with >50% of body involved",
                 "none": "None of the above"},
    "bone_lesion": {"lytic": "Lytic", "mixed": "Mixed (lytic/blastic)", "blastic": "Blastic"},
    "posterolateral": {"bilateral": "Bilateral", "unilateral": "Unilateral",
                       "none": "None of the above"},
}
_NAMES = {"collapse": "Vertebral body collapse", "bone_lesion": "Bone lesion",
          "posterolateral": "Posterolateral involvement"}


def _case(session: Any, ref: str) -> storage.CaseRecord:
    record = storage.get_case(session, case_ref=ref)
    if record is None:
        raise HTTPException(status_code=404)
    return record


def _lesions_at(data: dict[str, Any], level: str) -> list[int]:
    return [i for i, lesion in enumerate(data.get("lesions") or [])
            if isinstance(lesion, dict) and level in (lesion.get("levels") or [])]


def _rows(row: ImagingMeasurement, data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per suggestion: the level, the suggestion, the case's value, the decision."""
    out = []
    for level in row.document["levels"]:
        for component, suggestion in level["suggestions"].items():
            lesions = _lesions_at(data, level["level"])
            current = [(data["lesions"][i].get(component)) for i in lesions]
            decision = (row.decisions or {}).get(f"{level['level']}.{component}")
            out.append({
                "level": level["level"], "status": level["status"], "component": component,
                "name": _NAMES[component], "suggestion": suggestion,
                "label": _LABELS[component].get(suggestion.get("value") or "", ""),
                "lesions": [i + 1 for i in lesions],
                "current": [_LABELS[component].get(c, c) if c else None for c in current],
                "decision": decision,
                "key": f"{level['level']}.{component}"})
    return out


def _page(request: Request, ref: str, *, selected: int | None = None,
          problems: list[dict[str, str]] | None = None, notice: str = "",
          status_code: int = 200) -> Response:
    with get_state(request).sessions.begin() as session:
        record = _case(session, ref)
        data, version = dict(record.data), record.current_version
        rows = list_measurements(session, case=record)
        chosen = next((r for r in rows if r.id == selected), rows[0] if rows else None)
        summary = [{"id": r.id, "author": r.author, "at": r.created_at, "levels": len(
            r.document["levels"])} for r in rows]
        table = _rows(chosen, data) if chosen is not None else []
        measurement = None if chosen is None else {
            "id": chosen.id, "document": chosen.document, "author": chosen.author,
            "at": chosen.created_at, "overlay": chosen.overlay is not None}
    return _render(request, _TEMPLATE, current_user(request), {
        "ref": ref, "version": version, "measurements": summary, "measurement": measurement,
        "rows": table, "problems": problems or [], "notice": notice},
        status_code=status_code)


@router.get("", response_class=HTMLResponse, dependencies=[requires(P.CASE_READ)])
def imaging_page(request: Request, ref: str, m: int | None = None) -> Response:
    """The case's CT measurements, the chosen one's suggestions, and the upload form."""
    return _page(request, ref, selected=m)


def _problem(message: str, field: str = "document") -> list[dict[str, str]]:
    return [{"field": field, "message": message, "href": f"#f-{field}"}]


async def _read(upload: Any) -> bytes:
    if isinstance(upload, UploadFile) and upload.filename:
        return await upload.read()
    return b""


@router.post("", response_class=HTMLResponse, dependencies=[requires(P.CASE_WRITE)])
async def imaging_upload(request: Request, ref: str) -> Response:
    """Store a measurement document (and its overlay) for the case."""
    form = await request.form()
    try:
        _require_csrf(request, str(form.get("csrf") or ""))
        raw, overlay = await _read(form.get("document")), await _read(form.get("overlay"))
    finally:
        await form.close()
    try:
        document = check_document(json.loads(raw.decode("utf-8", errors="replace")))
    except ValueError as exc:  # InputError is a ValueError; so is a JSON error
        message = ("; ".join(str(p) for p in exc.problems[:3]) if isinstance(exc, InputError)
                   else "the file is not JSON")
        return _page(request, ref, problems=_problem(
            f"Choose the JSON written by spinemets imaging measure ({message})."),
            status_code=422)
    if overlay and not overlay.startswith(_PNG):
        return _page(request, ref, problems=_problem("The overlay is not a PNG image.",
                                                     "overlay"), status_code=422)
    return await run_in_threadpool(_store, request, ref, document, overlay or None)


def _store(request: Request, ref: str, document: dict[str, Any],
           overlay: bytes | None) -> Response:
    user = current_user(request)
    with get_state(request).sessions.begin() as session:
        record = _case(session, ref)
        row = add_measurement(session, case=record, document=document, overlay=overlay,
                              user=user)
        storage.record_audit(session, action="imaging_store", outcome="success", user=user,
                             client=client_address(request), case_ref=ref,
                             detail=f"measurement {row.id}, {len(document['levels'])} levels")
        row_id = row.id
    return RedirectResponse(f"/clinician/cases/{quote(ref)}/imaging?m={row_id}",
                            status_code=303)


@router.get("/{measurement_id}/overlay.png", dependencies=[requires(P.CASE_READ)])
def imaging_overlay(request: Request, ref: str, measurement_id: int) -> Response:
    with get_state(request).sessions.begin() as session:
        row = get_measurement(session, case=_case(session, ref), measurement_id=measurement_id)
        if row is None or row.overlay is None:
            raise HTTPException(status_code=404)
        png = bytes(row.overlay)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post("/{measurement_id}/decide", response_class=HTMLResponse,
             dependencies=[requires(P.CASE_WRITE)])
async def imaging_decide(request: Request, ref: str, measurement_id: int) -> Response:
    """Accept or reject one suggestion."""
    form = await request.form()
    _require_csrf(request, str(form.get("csrf") or ""))
    key = str(form.get("key") or "")[:40]
    decision = str(form.get("decision") or "")
    base = str(form.get("base_version") or "")
    if decision not in ("accept", "reject") or not base.isdigit():
        raise HTTPException(status_code=400, detail="decision: accept or reject")
    return await run_in_threadpool(_decide, request, ref, measurement_id=measurement_id,
                                   key=key, decision=decision, base=int(base))


def _decide(request: Request, ref: str, *, measurement_id: int, key: str, decision: str,
            base: int) -> Response:
    user = current_user(request)
    level, _, component = key.partition(".")
    with get_state(request).sessions.begin() as session:
        record = _case(session, ref)
        row = get_measurement(session, case=record, measurement_id=measurement_id)
        entry = None if row is None else next(
            (lv for lv in row.document["levels"] if lv["level"] == level), None)
        if row is None or entry is None or component not in entry["suggestions"]:
            raise HTTPException(status_code=404)
        value = entry["suggestions"][component].get("value")
        problem = ""
        if decision == "reject":
            record_imaging_decision(session, measurement=row, key=key, user=user,
                                    decision={"decision": "rejected", "value": value})
            _audit_in(session, request, user, ref, f"rejected {key} ({measurement_id})")
            notice = f"{_NAMES[component]} at {level}: suggestion rejected."
        else:
            problem, notice = _accept(session, request, record=record, row=row, key=key,
                                      value=value, base=base)
    if problem:
        return _page(request, ref, selected=measurement_id, status_code=409,
                     problems=_problem(problem, "decision"))
    return _page(request, ref, selected=measurement_id, notice=notice)


def _audit_in(session: Any, request: Request, user: User | None, ref: str,
              detail: str) -> None:
    storage.record_audit(session, action="imaging_decision", outcome="success", user=user,
                         client=client_address(request), case_ref=ref, detail=detail)


def _accept(session: Any, request: Request, *, record: storage.CaseRecord,
            row: ImagingMeasurement, key: str, value: str | None,
            base: int) -> tuple[str, str]:
    """Write an accepted value into the case (new version) when the case has none there."""
    level, _, component = key.partition(".")
    name = _NAMES[component]
    if value is None or value not in COMPONENT_VALUES[component]:
        return f"{name} at {level}: there is no value to accept; choose it in the case form.", ""
    if record.current_version != base:
        return (f"The case changed (version {record.current_version}, not {base}): review "
                "the page again, then decide."), ""
    data = json.loads(json.dumps(record.data))
    lesions = _lesions_at(data, level)
    if len(lesions) != 1:
        return (f"{name} at {level}: the case has {len(lesions)} lesions at {level}; add or "
                "choose the lesion in the case form first."), ""
    lesion = data["lesions"][lesions[0]]
    user = current_user(request)
    who = user.username if user else "(system)"
    if lesion.get(component) not in (None, value):
        return (f"{name} at {level}: the case already holds "
                f"'{_LABELS[component].get(lesion[component], lesion[component])}', entered "
                "by a clinician. A suggestion never replaces it: change it in the case form "
                "if you agree with the measurement."), ""
    version = record.current_version
    if lesion.get(component) is None:
        lesion[component] = value
        try:
            load_case(data)
        except InputError:
            return f"{name} at {level}: the case would not be valid with this value.", ""
        reason = (f"{name} of lesion {lesions[0] + 1} ({level}) from CT measurement {row.id}, "
                  f"confirmed by {who}")
        storage.update_case(session, case_ref=record.case_ref, data=data, base_version=base,
                            user=user, reason=reason, info=_provenance(data))
        version = base + 1
    record_imaging_decision(session, measurement=row, key=key, user=user, decision={
        "decision": "accepted", "value": value, "case_version": version})
    _audit_in(session, request, user, record.case_ref, f"accepted {key} ({row.id})")
    return "", (f"{name} at {level}: '{_LABELS[component][value]}' from CT measurement, "
                f"confirmed by {who} (case version {version}).")
