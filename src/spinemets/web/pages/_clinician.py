"""Clinician workspace: sign-in, cases (versioned), history, MDT meetings, print view.

Every route declares its permission with :func:`~spinemets.web._state.requires`; the
application-wide :func:`~spinemets.web._state.enforce_policy` checks it before the handler runs,
so a handler only ever sees a user who may do what it does. Every read and write of a case is
audited in the same transaction as the change.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Mapping
from datetime import date, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import anyio
import anyio.to_thread
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from spinemets import __version__, storage
from spinemets.case import MAX_LESIONS as CASE_MAX_LESIONS
from spinemets.errors import InputError, ProblemDetail
from spinemets.storage import User, VersionInfo
from spinemets.web import _core
from spinemets.web._state import (
    SESSION_COOKIE,
    AppState,
    Permission,
    client_address,
    get_state,
    permissions_of,
    render,
    request_user,
    requires,
    safe_next,
)
from spinemets.web.pages._caseform import (
    LESION_FIELDS,
    SECTIONS,
    case_to_form,
    form_to_case,
    input_id,
)

__all__ = ["router"]

logger = logging.getLogger("spinemets.web.clinician")

P = Permission
router = APIRouter(prefix="/clinician")
MAX_LESIONS = CASE_MAX_LESIONS  # a level belongs to one lesion (spinemets.case)

#: Failed sign-ins: per account (5 free, then 30 s doubling to 15 min) and per client address
#: (more generous: a ward shares one address).
ACCOUNT_THROTTLE = storage.ThrottlePolicy(free=5)
ADDRESS_THROTTLE = storage.ThrottlePolicy(free=20)


def _token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def current_user(request: Request) -> User | None:
    """The signed-in account (loaded by the policy check), if any."""
    user: User | None = request_user(request)
    return user


def _csrf_ok(request: Request, submitted: str | None) -> bool:
    token = _token(request)
    if not token or not submitted:
        return False
    return hmac.compare_digest(get_state(request).csrf_token(token), submitted)


def _require_csrf(request: Request, submitted: str | None) -> None:
    if not _csrf_ok(request, submitted):
        raise HTTPException(status_code=400, detail="The form expired: reload the page.")


def _render(request: Request, template: str, user: User | None, ctx: dict[str, Any],
            status_code: int = 200) -> Response:
    token = _token(request)
    state = get_state(request)
    granted = permissions_of(user.role_set if user else None)
    base = {"user": user, "csrf": state.csrf_token(token) if token and user else "",
            "can": {p.name.lower(): p in granted for p in Permission},
            "demo_credentials": (storage.DEMO_USERNAME, storage.DEMO_PASSWORD)
            if state.settings.demo else None}
    base.update(ctx)
    return render(request, template, base, status_code=status_code, language="en")


def _audit(state: AppState, request: Request, *, action: str, outcome: str,
           user: User | None, case_ref: str | None = None, target: str | None = None,
           detail: str = "") -> None:
    """Record one audit event in its own transaction (for reads and refusals)."""
    with state.sessions.begin() as session:
        storage.record_audit(session, action=action, outcome=outcome, user=user,
                             client=client_address(request), case_ref=case_ref, target=target,
                             detail=detail)


# --------------------------------------------------------------------------- sign-in

#: Login CSRF: the sign-in form carries an HMAC of a one-time nonce held in this cookie (the
#: nonce is also stored server-side and consumed by the attempt that uses it).
LOGIN_COOKIE = "spinemets_login"


def _sign_in_page(request: Request, ctx: dict[str, Any], status_code: int = 200) -> Response:
    """The sign-in form with a fresh one-time login-CSRF nonce (cookie) and its HMAC."""
    state = get_state(request)
    with state.sessions.begin() as session:
        nonce = storage.issue_login_nonce(session)
    response = _render(request, "clinician/sign_in.html", None,
                       {**ctx, "login_csrf": state.csrf_token("login:" + nonce)},
                       status_code=status_code)
    response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict",
                        secure=state.settings.cookies_secure, path="/clinician/sign-in",
                        max_age=3600)
    return response


@router.get("/sign-in", response_class=HTMLResponse, dependencies=[requires(P.PUBLIC)])
def sign_in_form(request: Request, next: str | None = None) -> Response:
    return _sign_in_page(request, {"next": safe_next(next, "/clinician"), "error": None})


class Outcome(StrEnum):
    """What a sign-in attempt came to."""

    OK = "success"
    BAD = "failure"
    EXPIRED = "expired"
    THROTTLED = "throttled"


def _keys(username: str, client: str) -> tuple[str, str]:
    return f"account:{username.casefold()[:150]}", f"address:{client}"


def _pre_check(state: AppState, username: str, nonce: str, client: str) -> (
        tuple[Outcome, float, str | None]):
    """Consume the nonce, read the throttle and the password hash (one short transaction)."""
    account, address = _keys(username, client)
    with state.sessions.begin() as session:
        if not storage.consume_login_nonce(session, nonce=nonce):
            return Outcome.EXPIRED, 0.0, None
        wait = max(storage.throttle_wait(session, key=account),
                   storage.throttle_wait(session, key=address))
        if wait > 0:
            return Outcome.THROTTLED, wait, None
        user = storage.get_user(session, username=username) if username else None
        usable = user is not None and not user.disabled
        return Outcome.OK, 0.0, user.password_hash if user is not None and usable else None


def _attempt(state: AppState, username: str, password: str, nonce: str, *, client: str,
             old_token: str | None) -> tuple[Outcome, float, str | None, User | None]:
    """One sign-in attempt, off the event loop; the same work for unknown and known users."""
    outcome, wait, stored = _pre_check(state, username, nonce, client)
    if outcome is not Outcome.OK:
        with state.sessions.begin() as session:
            storage.record_audit(session, action="sign_in", outcome=str(outcome),
                                 actor=username[:80] or None, client=client)
        return outcome, wait, None, None
    # Unknown or disabled accounts verify a dummy hash: same cost, no enumeration by timing.
    valid = state.hasher.verify(password, stored or state.dummy_hash) and stored is not None
    account, address = _keys(username, client)
    with state.sessions.begin() as session:
        user = storage.get_user(session, username=username) if valid else None
        if user is None:
            storage.record_failure(session, key=account, policy=ACCOUNT_THROTTLE)
            storage.record_failure(session, key=address, policy=ADDRESS_THROTTLE)
            storage.record_audit(session, action="sign_in", outcome=str(Outcome.BAD),
                                 actor=username[:80] or None, client=client)
            return Outcome.BAD, 0.0, None, None
        storage.clear_failures(session, key=account)
        if old_token:  # session rotation: the pre-sign-in token never becomes valid
            storage.delete_session(session, token=old_token)
        token = storage.create_session(
            session, user_id=user.id, lifetime=timedelta(hours=state.settings.session_hours))
        storage.record_audit(session, action="sign_in", outcome=str(Outcome.OK), user=user,
                             client=client)
        return Outcome.OK, 0.0, token, user


SIGN_IN_CONCURRENCY = 2


def _sign_in_limiter(state: AppState) -> anyio.CapacityLimiter:
    limiter = state.extras.get("sign_in_limiter")
    if limiter is None:
        limiter = state.extras["sign_in_limiter"] = anyio.CapacityLimiter(SIGN_IN_CONCURRENCY)
    assert isinstance(limiter, anyio.CapacityLimiter)
    return limiter


def _landing(user: User, target: str) -> str:
    if target == "/clinician" and P.CASE_READ not in permissions_of(user.role_set):
        return "/admin" if P.USER_ADMIN in permissions_of(user.role_set) else "/clinician/account"
    return target


@router.post("/sign-in", response_class=HTMLResponse, dependencies=[requires(P.PUBLIC)])
async def sign_in(request: Request) -> Response:
    form = await request.form()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")), "/clinician")
    state = get_state(request)
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    submitted = str(form.get("login_csrf", ""))
    if not nonce or not hmac.compare_digest(state.csrf_token("login:" + nonce), submitted):
        nonce = ""  # never consume a nonce whose HMAC does not match
    client, old_token = client_address(request), _token(request)
    # At most SIGN_IN_CONCURRENCY password checks at once per worker: the others wait on the
    # event loop (holding no thread and no database connection), so a burst of sign-ins
    # cannot starve other requests such as /healthz.
    outcome, wait, token, user = await anyio.to_thread.run_sync(
        lambda: _attempt(state, username, password, nonce or "-", client=client,
                         old_token=old_token), limiter=_sign_in_limiter(state))
    ctx = {"next": target, "username": username}
    limiter = _sign_in_limiter(state)

    async def page(extra: dict[str, Any], status: int) -> Response:
        return await anyio.to_thread.run_sync(
            lambda: _sign_in_page(request, {**ctx, **extra}, status), limiter=limiter)

    if outcome is Outcome.EXPIRED:
        return await page({"error": "expired"}, 400)
    if outcome is Outcome.THROTTLED:
        response = await page({"error": "throttled", "wait": int(wait) + 1}, 429)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    if token is None or user is None:
        return await page({"error": True}, 401)
    response = RedirectResponse(_landing(user, target), status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/clinician/sign-in")
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=state.settings.cookies_secure, path="/",
                        max_age=state.settings.session_hours * 3600)
    return response


@router.post("/sign-out", dependencies=[requires(P.SIGNED_IN)])
async def sign_out(request: Request) -> Response:
    form = await request.form()
    _require_csrf(request, str(form.get("csrf", "")))
    token = _token(request)
    state = get_state(request)
    user = current_user(request)

    def forget() -> None:
        with state.sessions.begin() as session:
            if token:
                storage.delete_session(session, token=token)
            storage.record_audit(session, action="sign_out", outcome="success", user=user,
                                 client=client_address(request))

    await run_in_threadpool(forget)
    response = RedirectResponse("/clinician/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account", response_class=HTMLResponse, dependencies=[requires(P.SIGNED_IN)])
def account(request: Request) -> Response:
    user = current_user(request)
    return _render(request, "clinician/account.html", user,
                   {"roles": sorted(user.role_set) if user else []})


# --------------------------------------------------------------------------- case list


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


# --------------------------------------------------------------------------- case form


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


def _stored(state: AppState, ref: str) -> tuple[dict[str, Any], int]:
    """The current document and version of ``ref``; 404 when there is none."""
    with state.sessions.begin() as session:
        record = storage.get_case(session, case_ref=ref)
        if record is None:
            raise HTTPException(status_code=404)
        return dict(record.data), record.current_version


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


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


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


def _provenance(doc: Mapping[str, Any]) -> VersionInfo:
    """The plan computed now, with the software version and the clinical tables' hash."""
    try:
        plan = json.loads(json.dumps(_core.plan_case(doc), default=str))
    except (InputError, _core.CoreUnavailableError):
        plan = None
    return VersionInfo(plan=plan, software_version=__version__,
                       tables_hash=storage.tables_fingerprint())


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


# --------------------------------------------------------------------------- results


def _latest_decision(versions: list[storage.CaseVersion]) -> dict[str, Any] | None:
    for v in reversed(versions):
        if v.decision:
            verdicts = [{**verdict, "label": _verdict_label(str(verdict.get("item", "")))}
                        for verdict in v.decision.get("verdicts") or ()]
            return {**v.decision, "verdicts": verdicts, "version": v.version,
                    "author": v.author, "at": v.created_at}
    return None


def _verdict_label(key: str) -> str:
    """``separation_surgery@L2`` in words: "Separation surgery (L2)"."""
    from spinemets.report._labels import item_label  # noqa: PLC0415 - results pages only

    item, _, lesion = key.partition("@")
    return item_label(item) + (f" ({lesion})" if lesion else "")


def _read_case(request: Request, ref: str, what: str) -> tuple[
        dict[str, Any], int, list[storage.CaseVersion]]:
    """The current document, version and history of a stored case; the read is audited."""
    with get_state(request).sessions.begin() as session:
        record = storage.get_case(session, case_ref=ref)
        if record is None:
            raise HTTPException(status_code=404)
        data, version = dict(record.data), record.current_version
        versions = list(storage.case_versions(session, case_ref=ref))
        storage.record_audit(session, action="case_read", outcome="success",
                             user=current_user(request), client=client_address(request),
                             case_ref=ref, detail=f"{what}, version {version}")
    return data, version, versions


def _results(request: Request, ref: str, template: str) -> Response:
    user = current_user(request)
    data, version, versions = _read_case(request, ref, template.rsplit("/", 1)[-1])
    report = _case_report(data, ref, version, versions)
    from markupsafe import Markup  # noqa: PLC0415 - only the results pages embed the SVG

    from spinemets.report import spine_svg  # noqa: PLC0415

    return _render(request, template, user, {
        "ref": ref, "case": data, "version": version, "versions": versions,
        "decision": _latest_decision(versions), "report": report,
        "spine_svg": Markup(spine_svg(report)), "standalone": False,  # the SVG escapes all text
        "imaging": _imaging_figure(request, ref, inline=False)})


def _imaging_figure(request: Request, ref: str, *, inline: bool) -> dict[str, Any] | None:
    """The case's newest CT overlay and caption (issue 24), for the results and the report."""
    from spinemets.web.pages._imaging_report import imaging_figure  # noqa: PLC0415

    return imaging_figure(request, ref, inline=inline)


def _case_report(data: Mapping[str, Any], ref: str, version: int,
                 versions: list[storage.CaseVersion]) -> Any:
    """The presentation model of the current plan of a stored case (spinemets.report)."""
    from spinemets.report import build_report, default_meta  # noqa: PLC0415

    plan = _core.plan_case(data)
    author = versions[-1].author if versions else None
    meta = default_meta(ref, case_version=version, author=author,
                        plan_format=str(plan.get("format")))
    return build_report(plan, data, meta=meta)


@router.get("/cases/{ref}", response_class=HTMLResponse, dependencies=[requires(P.CASE_READ)])
def case_results(request: Request, ref: str) -> Response:
    return _results(request, ref, "clinician/results.html")


@router.get("/cases/{ref}/print", response_class=HTMLResponse,
            dependencies=[requires(P.CASE_READ)])
def case_print(request: Request, ref: str) -> Response:
    return _results(request, ref, "clinician/print.html")


@router.get("/cases/{ref}/report.pdf", dependencies=[requires(P.CASE_READ)])
def case_report_pdf(request: Request, ref: str) -> Response:
    """The tumour-board report of the current version as a tagged PDF (PDF/UA-1)."""
    from spinemets.report import PdfUnavailableError, render_pdf  # noqa: PLC0415

    data, version, versions = _read_case(request, ref, "report.pdf")
    try:
        pdf = render_pdf(_case_report(data, ref, version, versions),
                         decision=_latest_decision(versions),
                         imaging=_imaging_figure(request, ref, inline=True))
    except PdfUnavailableError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc
    filename = quote(f"spinemets-{ref}-v{version}.pdf")
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{filename}",
        "Cache-Control": "no-store"})


# --------------------------------------------------------------------------- history


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


# --------------------------------------------------------------------------- MDT meetings


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
