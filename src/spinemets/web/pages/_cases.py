"""Clinician cases: the case list and the case form (new, edit, save as a new version)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from spinemets import storage
from spinemets.errors import InputError, ProblemDetail
from spinemets.storage import User
from spinemets.web import _core
from spinemets.web._state import (
    client_address,
    get_state,
    requires,
)
from spinemets.web.pages._caseform import (
    LESION_FIELDS,
    SECTIONS,
    case_to_form,
    form_to_case,
    input_id,
)
from spinemets.web.pages._workspace import (
    MAX_LESIONS,
    P,
    _audit,
    _int,
    _provenance,
    _render,
    _require_csrf,
    _stored,
    current_user,
    logger,
)

__all__ = ["router"]

router = APIRouter(prefix="/clinician")


@router.get("", response_class=HTMLResponse, dependencies=[requires(P.CASE_READ)])
def case_list(request: Request) -> Response:
    user = current_user(request)
    with get_state(request).sessions.begin() as session:
        cases = [{"ref": c.case_ref, "demo": c.demo, "updated": c.updated_at,
                  "created": c.created_at, "version": c.current_version,
                  "primary": (c.data.get("cancer") or {}).get("primary"),
                  "lesions": len(c.data.get("lesions") or [])}
                 for c in storage.list_cases(session)]
        storage.record_audit(session, action="case_list", outcome="success", user=user,
                             client=client_address(request), detail=f"{len(cases)} cases")
    return _render(request, "clinician/cases.html", user,
                   {"cases": cases, "deleted": request.query_params.get("deleted")})


def _form_ctx(values: dict[str, str], lesion_count: int, problems: list[ProblemDetail],
              ref: str | None, base_version: int | None = None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    for p in problems:
        errors.setdefault(p.field, p.message + (f" (allowed: {', '.join(p.allowed)})"
                                                 if p.allowed else ""))
    return {"sections": SECTIONS, "lesion_fields": LESION_FIELDS, "values": values,
            "lesion_count": lesion_count, "errors": errors, "input_id": input_id,
            "problems": [{"field": p.field, "message": errors[p.field],
                          "href": "#" + input_id(p.field)} for p in problems],
            "ref": ref, "base_version": base_version, "ref_rule": storage.CASE_REF_RULE,
            "ref_max": storage.CASE_REF_MAX}


@router.get("/cases/new", response_class=HTMLResponse, dependencies=[requires(P.CASE_WRITE)])
def new_case(request: Request) -> Response:
    values = {"id": f"case-{secrets.token_hex(3)}"}
    return _render(request, "clinician/case_form.html", current_user(request),
                   _form_ctx(values, 1, [], None))


@router.get("/cases/{ref}/edit", response_class=HTMLResponse,
            dependencies=[requires(P.CASE_WRITE)])
def edit_case(request: Request, ref: str) -> Response:
    state = get_state(request)
    user = current_user(request)
    data, version = _stored(state, ref)
    _audit(state, request, action="case_read", outcome="success", user=user, case_ref=ref,
           detail=f"edit form, version {version}")
    values, count = case_to_form(data)
    return _render(request, "clinician/case_form.html", user,
                   _form_ctx(values, count, [], ref, version))


class SaveRequest:
    """A validated save: document, reference, the version it started from and why."""

    __slots__ = ("base_version", "doc", "original_ref", "reason", "ref", "values")

    def __init__(self, values: dict[str, str], doc: dict[str, Any]) -> None:
        self.values = values
        self.doc = doc
        self.ref = str(doc.get("id") or "")
        self.original_ref = values.get("original_ref") or None
        self.base_version = _int(values.get("base_version"))
        self.reason = values.get("reason", "").strip()[:500]


@router.post("/cases", response_class=HTMLResponse, dependencies=[requires(P.CASE_WRITE)])
async def save_case(request: Request) -> Response:
    user = current_user(request)
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    _require_csrf(request, values.get("csrf"))
    count = _lesion_count(values.get("lesion_count", "1"))
    original = values.get("original_ref") or None
    base = _int(values.get("base_version"))
    changed = _lesion_action(values, count, values.get("action", "save"))
    if changed is not None:
        values, count = changed
        return _render(request, "clinician/case_form.html", user,
                       _form_ctx(values, count, [], original, base))
    doc, problems = await run_in_threadpool(_checked_case, values, count)
    save = SaveRequest(values, doc)
    if save.original_ref and save.ref != save.original_ref:
        problems.insert(0, ProblemDetail("id", f"the reference cannot be changed while editing "
                                         f"(it is {save.original_ref}); enter a new case to use "
                                         "another reference"))
    if problems:
        return _render(request, "clinician/case_form.html", user,
                       _form_ctx(values, count, problems, original, base), status_code=422)
    return await run_in_threadpool(_store, request, save, count, user)


def _store(request: Request, save: SaveRequest, count: int, user: User | None) -> Response:
    state = get_state(request)
    info = _provenance(save.doc)
    client = client_address(request)
    try:
        with state.sessions.begin() as session:
            if save.original_ref is None:
                storage.create_case(session, case_ref=save.ref, data=save.doc, user=user,
                                    reason=save.reason or "created", info=info)
                action = "case_create"
            else:
                storage.update_case(session, case_ref=save.ref, data=save.doc, user=user,
                                    base_version=save.base_version or 0, reason=save.reason,
                                    info=info)
                action = "case_update"
            storage.record_audit(session, action=action, outcome="success", user=user,
                                 client=client, case_ref=save.ref)
    except storage.CaseExistsError:
        _audit(state, request, action="case_create", outcome="refused", user=user,
               case_ref=save.ref, detail="reference already used")
        problem = ProblemDetail("id", f"a case with reference {save.ref} already exists: "
                                "open it from the case list, or choose another reference")
        return _render(request, "clinician/case_form.html", user,
                       _form_ctx(save.values, count, [problem], None), status_code=409)
    except storage.StaleVersionError as exc:
        _audit(state, request, action="case_update", outcome="conflict", user=user,
               case_ref=save.ref, detail=f"base {exc.base_version}, current "
               f"{exc.current_version}")
        return _conflict(request, save, exc, user)
    except storage.CaseNotFoundError as exc:
        raise HTTPException(status_code=404) from exc
    logger.info("case saved: %s", save.ref)
    return RedirectResponse(f"/clinician/cases/{quote(save.ref)}", status_code=303)


def _conflict(request: Request, save: SaveRequest, exc: storage.StaleVersionError,
              user: User | None) -> Response:
    """409: someone saved in between. Show both versions; offer to re-apply this edit."""
    theirs, version = _stored(get_state(request), save.ref)
    changes = storage.diff_documents(theirs, save.doc)
    hidden = {k: v for k, v in save.values.items()
              if k not in {"csrf", "base_version", "action"}}
    return _render(request, "clinician/conflict.html", user, {
        "ref": save.ref, "base_version": exc.base_version, "current_version": version,
        "changes": changes, "hidden": hidden}, status_code=409)


def _checked_case(values: dict[str, str], count: int) -> tuple[dict[str, Any],
                                                               list[ProblemDetail]]:
    """The case document from the form, and every problem with it (loaded in full)."""
    doc, problems = form_to_case(values, count)
    ref = str(doc.get("id") or "")
    if not ref:
        problems.insert(0, ProblemDetail("id", "enter a case reference"))
    else:
        try:
            storage.check_case_ref(ref)
        except storage.InvalidCaseRefError:
            problems.insert(0, ProblemDetail("id", f"use {storage.CASE_REF_RULE}"))
    has_id = any(p.field == "id" for p in problems)
    try:
        _core.load_case(doc)
    except InputError as exc:
        problems.extend(p for p in exc.problems if not (has_id and p.field == "id"))
    except _core.CoreUnavailableError:
        if not problems:
            raise
    return doc, problems


def _lesion_count(raw: str) -> int:
    try:
        return min(MAX_LESIONS, max(1, int(raw)))
    except ValueError:
        return 1


def _lesion_action(values: dict[str, str], count: int, action: str) -> (
        tuple[dict[str, str], int] | None):
    """Form values and lesion count after an add/remove-lesion button; None to save."""
    if action == "add_lesion":
        return values, min(MAX_LESIONS, count + 1)
    index = action.removeprefix("remove_lesion_")
    if index != action and index.isdigit() and count > 1:
        return _drop_lesion(values, int(index), count), count - 1
    return None


def _drop_lesion(values: dict[str, str], index: int, count: int) -> dict[str, str]:
    out = {k: v for k, v in values.items() if not k.startswith("lesions[")}
    target = 0
    for i in range(count):
        if i == index:
            continue
        for field in LESION_FIELDS:
            key = f"lesions[{i}].{field.path}"
            if key in values:
                out[f"lesions[{target}].{field.path}"] = values[key]
        target += 1
    return out
