"""MDT meetings: meetings, the cases on them and the board's recorded decisions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from spinemets import storage
from spinemets.web import _core
from spinemets.web._state import (
    AppState,
    client_address,
    get_state,
    requires,
)
from spinemets.web.pages._results import _verdict_label
from spinemets.web.pages._workspace import (
    P,
    _audit,
    _int,
    _provenance,
    _render,
    _require_csrf,
    _stored,
    current_user,
)

__all__ = ["router"]

router = APIRouter(prefix="/clinician")


@router.get("/meetings", response_class=HTMLResponse, dependencies=[requires(P.MEETING_READ)])
def meetings(request: Request) -> Response:
    with get_state(request).sessions.begin() as session:
        items = list(storage.list_meetings(session))
    return _render(request, "clinician/meetings.html", current_user(request),
                   {"meetings": items, "today": date.today().isoformat(), "errors": {}})


@router.post("/meetings", response_class=HTMLResponse,
             dependencies=[requires(P.MEETING_MANAGE)])
async def create_meeting(request: Request) -> Response:
    form = await request.form()
    _require_csrf(request, str(form.get("csrf", "")))
    title = str(form.get("title", "")).strip()[:200]
    attendees = str(form.get("attendees", "")).strip()[:4000]
    try:
        held_on = date.fromisoformat(str(form.get("held_on", "")))
    except ValueError:
        held_on = None
    user = current_user(request)
    state = get_state(request)
    if not title or held_on is None:
        with state.sessions.begin() as session:
            items = list(storage.list_meetings(session))
        errors = {k: v for k, v in (("title", "enter a title" if not title else ""),
                                    ("held_on", "enter the date as YYYY-MM-DD"
                                     if held_on is None else "")) if v}
        return _render(request, "clinician/meetings.html", user,
                       {"meetings": items, "today": date.today().isoformat(),
                        "errors": errors}, status_code=422)
    with state.sessions.begin() as session:
        meeting = storage.create_meeting(session, title=title, held_on=held_on,
                                         attendees=attendees, user=user)
        storage.record_audit(session, action="meeting_create", outcome="success", user=user,
                             client=client_address(request), target=f"meeting:{meeting.id}")
    return RedirectResponse(f"/clinician/meetings/{meeting.id}", status_code=303)


def _meeting(state: AppState, meeting_id: int) -> tuple[storage.Meeting, list[dict[str, Any]]]:
    with state.sessions.begin() as session:
        meeting = storage.get_meeting(session, meeting_id=meeting_id)
        if meeting is None:
            raise HTTPException(status_code=404)
        cases = []
        for record in storage.meeting_cases(session, meeting_id=meeting_id):
            versions = list(storage.case_versions(session, case_ref=record.case_ref))
            decided = [v for v in versions if v.decision
                       and v.decision.get("meeting_id") == meeting_id]
            cases.append({"ref": record.case_ref, "version": record.current_version,
                          "decided": decided[-1] if decided else None})
    return meeting, cases


@router.get("/meetings/{meeting_id}", response_class=HTMLResponse,
            dependencies=[requires(P.MEETING_READ)])
def meeting_page(request: Request, meeting_id: int) -> Response:
    meeting, cases = _meeting(get_state(request), meeting_id)
    return _render(request, "clinician/meeting.html", current_user(request),
                   {"meeting": meeting, "cases": cases, "error": None})


@router.post("/meetings/{meeting_id}/cases", response_class=HTMLResponse,
             dependencies=[requires(P.MEETING_MANAGE)])
async def add_meeting_case(request: Request, meeting_id: int) -> Response:
    form = await request.form()
    _require_csrf(request, str(form.get("csrf", "")))
    ref = str(form.get("case_ref", "")).strip()
    state = get_state(request)
    user = current_user(request)
    try:
        with state.sessions.begin() as session:
            if storage.get_meeting(session, meeting_id=meeting_id) is None:
                raise HTTPException(status_code=404)
            storage.add_meeting_case(session, meeting_id=meeting_id, case_ref=ref)
            storage.record_audit(session, action="meeting_add_case", outcome="success",
                                 user=user, client=client_address(request), case_ref=ref,
                                 target=f"meeting:{meeting_id}")
    except storage.CaseNotFoundError:
        meeting, cases = _meeting(state, meeting_id)
        return _render(request, "clinician/meeting.html", user,
                       {"meeting": meeting, "cases": cases,
                        "error": "No case with that reference"}, status_code=422)
    return RedirectResponse(f"/clinician/meetings/{meeting_id}", status_code=303)


VERDICTS = ("accepted", "changed", "rejected")


def _decision_ctx(request: Request, meeting_id: int, ref: str) -> dict[str, Any]:
    state = get_state(request)
    meeting, cases = _meeting(state, meeting_id)
    if ref not in {c["ref"] for c in cases}:
        raise HTTPException(status_code=404)
    data, version = _stored(state, ref)
    plan = _core.plan_case(data)
    items = [{**item, "label": _verdict_label(_item_key(item))}
             for item in (*(plan.get("workup") or []), *(plan.get("recommendations") or []))]
    return {"meeting": meeting, "ref": ref, "version": version, "items": items,
            "verdicts": VERDICTS, "errors": {}, "values": {}}


@router.get("/meetings/{meeting_id}/cases/{ref}", response_class=HTMLResponse,
            dependencies=[requires(P.MEETING_DECIDE)])
def decision_form(request: Request, meeting_id: int, ref: str) -> Response:
    ctx = _decision_ctx(request, meeting_id, ref)
    _audit(get_state(request), request, action="case_read", outcome="success",
           user=current_user(request), case_ref=ref, detail=f"decision form, meeting "
           f"{meeting_id}")
    return _render(request, "clinician/decision.html", current_user(request), ctx)


def _item_key(item: Mapping[str, Any]) -> str:
    return str(item.get("id")) + (f"@{item['lesion']}" if item.get("lesion") else "")


def _read_decision(values: Mapping[str, str], items: list[dict[str, Any]],
                   meeting_id: int) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    verdicts = []
    for index, item in enumerate(items):
        verdict = values.get(f"v{index}", "")
        reason = values.get(f"r{index}", "").strip()[:1000]
        if verdict not in VERDICTS:
            errors[f"v{index}"] = "choose accepted, changed or rejected"
        elif verdict != "accepted" and not reason:
            errors[f"r{index}"] = "give the reason for changing or rejecting it"
        verdicts.append({"item": _item_key(item), "status": item.get("status"),
                         "verdict": verdict, "reason": reason})
    follow_up = values.get("follow_up", "").strip()
    try:
        follow = date.fromisoformat(follow_up).isoformat() if follow_up else None
    except ValueError:
        errors["follow_up"] = "enter the date as YYYY-MM-DD"
        follow = None
    responsible = values.get("responsible", "").strip()[:200]
    if not responsible:
        errors["responsible"] = "name the responsible clinician"
    decision = {"meeting_id": meeting_id, "verdicts": verdicts,
                "free_text": values.get("free_text", "").strip()[:4000],
                "responsible": responsible, "follow_up": follow}
    return decision, errors


@router.post("/meetings/{meeting_id}/cases/{ref}", response_class=HTMLResponse,
             dependencies=[requires(P.MEETING_DECIDE)])
async def record_decision(request: Request, meeting_id: int, ref: str) -> Response:
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    _require_csrf(request, values.get("csrf"))
    ctx = await run_in_threadpool(_decision_ctx, request, meeting_id, ref)
    decision, errors = _read_decision(values, ctx["items"], meeting_id)
    user = current_user(request)
    if errors:
        return _render(request, "clinician/decision.html", user,
                       {**ctx, "errors": errors, "values": values}, status_code=422)
    base = _int(values.get("base_version")) or 0
    state = get_state(request)

    def store() -> None:
        info = _provenance(_stored(state, ref)[0])
        with state.sessions.begin() as session:
            storage.record_decision(session, case_ref=ref, base_version=base,
                                    decision=decision, user=user, info=info,
                                    reason=f"MDT decision, meeting {meeting_id}")
            storage.record_audit(session, action="case_decision", outcome="success",
                                 user=user, client=client_address(request), case_ref=ref,
                                 target=f"meeting:{meeting_id}")

    try:
        await run_in_threadpool(store)
    except storage.StaleVersionError:
        errors = {"base_version": "the case changed since this form was opened: review the "
                  "plan below and record the decision again"}
        fresh = await run_in_threadpool(_decision_ctx, request, meeting_id, ref)
        return _render(request, "clinician/decision.html", user,
                       {**fresh, "errors": errors, "values": values}, status_code=409)
    return RedirectResponse(f"/clinician/meetings/{meeting_id}", status_code=303)
