"""Clinician workspace: sign-in, case entry (lesion by lesion), results, print view."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from spinemets import storage
from spinemets.errors import InputError, ProblemDetail
from spinemets.storage import User
from spinemets.web import _core
from spinemets.web._state import SESSION_COOKIE, AppState, get_state, render, safe_next
from spinemets.web.pages._caseform import (
    LESION_FIELDS,
    SECTIONS,
    case_to_form,
    form_to_case,
    input_id,
)

__all__ = ["router"]

router = APIRouter(prefix="/clinician")
MAX_LESIONS = 12


def _token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def current_user(request: Request) -> User | None:
    """The signed-in clinician, if any."""
    token = _token(request)
    if not token:
        return None
    state = get_state(request)
    with state.sessions.begin() as session:
        return storage.get_session_user(session, token=token)


def _csrf_ok(request: Request, submitted: str | None) -> bool:
    token = _token(request)
    if not token or not submitted:
        return False
    return hmac.compare_digest(get_state(request).csrf_token(token), submitted)


def _sign_in_redirect(request: Request) -> Response:
    return RedirectResponse(f"/clinician/sign-in?next={request.url.path}", status_code=303)


def _render(request: Request, template: str, user: User | None, ctx: dict[str, Any],
            status_code: int = 200) -> Response:
    token = _token(request)
    base = {"user": user, "csrf": get_state(request).csrf_token(token) if token else "",
            "demo_credentials": (storage.DEMO_USERNAME, storage.DEMO_PASSWORD)
            if get_state(request).settings.demo else None}
    base.update(ctx)
    return render(request, template, base, status_code=status_code, language="en")


#: Login CSRF: the sign-in form carries an HMAC of a random nonce held in this cookie.
LOGIN_COOKIE = "spinemets_login"


def _sign_in_page(request: Request, ctx: dict[str, Any], status_code: int = 200) -> Response:
    """The sign-in form with a fresh login-CSRF nonce (cookie) and its HMAC (hidden field)."""
    state = get_state(request)
    nonce = secrets.token_urlsafe(32)
    response = _render(request, "clinician/sign_in.html", None,
                       {**ctx, "login_csrf": state.csrf_token("login:" + nonce)},
                       status_code=status_code)
    response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict",
                        secure=state.settings.secure_cookies, path="/clinician/sign-in",
                        max_age=3600)
    return response


def _login_csrf_ok(request: Request, submitted: str) -> bool:
    nonce = request.cookies.get(LOGIN_COOKIE)
    if not nonce or not submitted:
        return False
    expected = get_state(request).csrf_token("login:" + nonce)
    return hmac.compare_digest(expected, submitted)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, next: str | None = None) -> Response:
    return _sign_in_page(request, {"next": safe_next(next, "/clinician"), "error": None})


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    form = await request.form()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")), "/clinician")
    if not _login_csrf_ok(request, str(form.get("login_csrf", ""))):
        return _sign_in_page(request, {"next": target, "error": "expired",
                                       "username": username}, status_code=400)
    state = get_state(request)
    # Argon2 and the database run in the threadpool: the event loop keeps serving others.
    token = await run_in_threadpool(_check_password, state, username, password)
    if token is None:
        return _sign_in_page(request, {"next": target, "error": True,
                                       "username": username}, status_code=401)
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/clinician/sign-in")
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=state.settings.secure_cookies, path="/",
                        max_age=state.settings.session_hours * 3600)
    return response


def _check_password(state: AppState, username: str, password: str) -> str | None:
    """A new session token if ``password`` is right for ``username``, else None."""
    with state.sessions.begin() as session:
        user = storage.get_user(session, username=username) if username else None
        if user is None or not state.hasher.verify(password, user.password_hash):
            return None
        return storage.create_session(
            session, user_id=user.id, lifetime=timedelta(hours=state.settings.session_hours))


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    form = await request.form()
    token = _token(request)
    if token and _csrf_ok(request, str(form.get("csrf", ""))):
        with get_state(request).sessions.begin() as session:
            storage.delete_session(session, token=token)
    response = RedirectResponse("/clinician/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("", response_class=HTMLResponse)
def case_list(request: Request) -> Response:
    user = current_user(request)
    if user is None:
        return _sign_in_redirect(request)
    with get_state(request).sessions.begin() as session:
        cases = [{"ref": c.case_ref, "demo": c.demo, "updated": c.updated_at,
                  "primary": (c.data.get("cancer") or {}).get("primary"),
                  "lesions": len(c.data.get("lesions") or [])}
                 for c in storage.list_cases(session)]
    return _render(request, "clinician/cases.html", user, {"cases": cases})


def _form_ctx(values: dict[str, str], lesion_count: int, problems: list[ProblemDetail],
              ref: str | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    for p in problems:
        errors.setdefault(p.field, p.message + (f" (allowed: {', '.join(p.allowed)})"
                                                 if p.allowed else ""))
    return {"sections": SECTIONS, "lesion_fields": LESION_FIELDS, "values": values,
            "lesion_count": lesion_count, "errors": errors, "input_id": input_id,
            "problems": [{"field": p.field, "message": errors[p.field],
                          "href": "#" + input_id(p.field)} for p in problems],
            "ref": ref}


@router.get("/cases/new", response_class=HTMLResponse)
def new_case(request: Request) -> Response:
    user = current_user(request)
    if user is None:
        return _sign_in_redirect(request)
    values = {"id": f"case-{secrets.token_hex(3)}"}
    return _render(request, "clinician/case_form.html", user, _form_ctx(values, 1, [], None))


def _stored_case(request: Request, ref: str) -> dict[str, Any]:
    """The stored case document for ``ref``; 404 when there is none."""
    with get_state(request).sessions.begin() as session:
        record = storage.get_case(session, case_ref=ref)
        if record is None:
            raise HTTPException(status_code=404)
        return dict(record.data)


@router.get("/cases/{ref}/edit", response_class=HTMLResponse)
def edit_case(request: Request, ref: str) -> Response:
    user = current_user(request)
    if user is None:
        return _sign_in_redirect(request)
    values, count = case_to_form(_stored_case(request, ref))
    return _render(request, "clinician/case_form.html", user, _form_ctx(values, count, [], ref))


@router.post("/cases", response_class=HTMLResponse)
async def save_case(request: Request) -> Response:
    user = current_user(request)
    if user is None:
        return _sign_in_redirect(request)
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    if not _csrf_ok(request, values.get("csrf")):
        raise HTTPException(status_code=403)
    count = _lesion_count(values.get("lesion_count", "1"))
    changed = _lesion_action(values, count, values.get("action", "save"))
    if changed is not None:
        values, count = changed
        return _render(request, "clinician/case_form.html", user,
                       _form_ctx(values, count, [], values.get("original_ref") or None))
    doc, problems = await run_in_threadpool(_checked_case, values, count)
    ref = str(doc.get("id") or "")
    if problems:
        return _render(request, "clinician/case_form.html", user,
                       _form_ctx(values, count, problems, values.get("original_ref") or None),
                       status_code=422)
    await run_in_threadpool(_save, get_state(request), ref, doc, user.id)
    return RedirectResponse(f"/clinician/cases/{ref}", status_code=303)


def _checked_case(values: dict[str, str], count: int) -> tuple[dict[str, Any],
                                                               list[ProblemDetail]]:
    """The case document from the form, and every problem with it (loaded in full)."""
    doc, problems = form_to_case(values, count)
    if not str(doc.get("id") or ""):
        problems.insert(0, ProblemDetail("id", "enter a case reference"))
    try:
        _core.load_case(doc)
    except InputError as exc:
        problems.extend(exc.problems)
    except _core.CoreUnavailableError:
        if not problems:
            raise
    return doc, problems


def _save(state: AppState, ref: str, doc: dict[str, Any], user_id: int) -> None:
    with state.sessions.begin() as session:
        storage.save_case(session, case_ref=ref, data=doc, created_by=user_id)


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


def _results(request: Request, ref: str, template: str) -> Response:
    user = current_user(request)
    if user is None:
        return _sign_in_redirect(request)
    data = _stored_case(request, ref)
    plan = _core.plan_case(data)
    recs = plan.get("recommendations", [])
    lesions = [str(r.get("lesion")) for r in recs if r.get("lesion")]
    by_lesion = {lesion: [r for r in recs if r.get("lesion") == lesion]
                 for lesion in dict.fromkeys(lesions)}
    patient_level = [r for r in recs if not r.get("lesion")]
    return _render(request, template, user, {
        "ref": ref, "case": data, "plan": plan, "scores": plan.get("scores", []),
        "by_lesion": by_lesion, "patient_level": patient_level,
    })


@router.get("/cases/{ref}", response_class=HTMLResponse)
def case_results(request: Request, ref: str) -> Response:
    return _results(request, ref, "clinician/results.html")


@router.get("/cases/{ref}/print", response_class=HTMLResponse)
def case_print(request: Request, ref: str) -> Response:
    return _results(request, ref, "clinician/print.html")
