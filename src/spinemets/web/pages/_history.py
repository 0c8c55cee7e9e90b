"""Clinician case history: versions and their differences, re-run with today's tables, delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from spinemets import storage
from spinemets.web._state import (
    client_address,
    get_state,
    requires,
)
from spinemets.web.pages._workspace import (
    P,
    _int,
    _provenance,
    _render,
    _require_csrf,
    current_user,
)

__all__ = ["router"]

router = APIRouter(prefix="/clinician")


def plan_summary(plan: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a clinician compares between plans: triage, each item's status, flags."""
    if not plan:
        return {}
    triage = plan.get("triage") or {}
    items = {}
    for section in ("workup", "recommendations"):
        for r in plan.get(section) or []:
            key = f"{section}:{r.get('id')}" + (f"@{r['lesion']}" if r.get("lesion") else "")
            items[key] = r.get("status")
    return {"triage": triage.get("level"), "items": items,
            "flags": sorted(str(f.get("id")) for f in plan.get("flags") or [])}


@router.get("/cases/{ref}/history", response_class=HTMLResponse,
            dependencies=[requires(P.CASE_READ)])
def case_history(request: Request, ref: str, a: int | None = None,
                 b: int | None = None) -> Response:
    state = get_state(request)
    user = current_user(request)
    with state.sessions.begin() as session:
        versions = list(storage.case_versions(session, case_ref=ref))
        if not versions:
            raise HTTPException(status_code=404)
        storage.record_audit(session, action="case_history", outcome="success", user=user,
                             client=client_address(request), case_ref=ref)
    by_number = {v.version: v for v in versions}
    right = by_number.get(b if b is not None else versions[-1].version, versions[-1])
    left = by_number.get(a if a is not None else right.version - 1, versions[0])
    return _render(request, "clinician/history.html", user, {
        "ref": ref, "versions": versions, "left": left, "right": right,
        "deleted": versions[-1].kind == "delete",
        "doc_changes": storage.diff_documents(left.data, right.data),
        "plan_changes": storage.diff_documents(plan_summary(left.plan),
                                               plan_summary(right.plan)),
        "decision_changes": storage.diff_documents(left.decision or {}, right.decision or {}),
    })


@router.get("/cases/{ref}/rerun", response_class=HTMLResponse,
            dependencies=[requires(P.CASE_READ)])
def case_rerun(request: Request, ref: str) -> Response:
    """Re-run the current version with today's tables: what changed in the plan."""
    state = get_state(request)
    user = current_user(request)
    with state.sessions.begin() as session:
        record = storage.get_case(session, case_ref=ref)
        if record is None:
            raise HTTPException(status_code=404)
        stored = storage.get_version(session, case_ref=ref, version=record.current_version)
        storage.record_audit(session, action="case_rerun", outcome="success", user=user,
                             client=client_address(request), case_ref=ref)
    assert stored is not None  # every case has its current version
    today = _provenance(stored.data)
    return _render(request, "clinician/rerun.html", user, {
        "ref": ref, "stored": stored, "today": today,
        "changes": storage.diff_documents(plan_summary(stored.plan), plan_summary(today.plan)),
    })


@router.post("/cases/{ref}/delete", dependencies=[requires(P.CASE_DELETE)])
async def delete_case(request: Request, ref: str) -> Response:
    form = await request.form()
    _require_csrf(request, str(form.get("csrf", "")))
    base = _int(str(form.get("base_version", ""))) or 0
    reason = str(form.get("reason", "")).strip()[:500]
    user = current_user(request)
    state = get_state(request)

    def remove() -> int:
        try:
            with state.sessions.begin() as session:
                storage.soft_delete_case(session, case_ref=ref, base_version=base, user=user,
                                         reason=reason or "deleted")
                storage.record_audit(session, action="case_delete", outcome="success",
                                     user=user, client=client_address(request), case_ref=ref)
        except storage.StaleVersionError:
            return 409
        except storage.CaseNotFoundError:
            return 404
        return 303

    status = await run_in_threadpool(remove)
    if status != 303:
        raise HTTPException(status_code=status)
    return RedirectResponse(f"/clinician?deleted={quote(ref)}", status_code=303)
