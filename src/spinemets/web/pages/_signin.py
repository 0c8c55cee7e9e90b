"""Clinician sign-in, sign-out and the account page (throttled, login CSRF, session rotation)."""

from __future__ import annotations

import hmac
from datetime import timedelta
from enum import StrEnum
from typing import Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from spinemets import storage
from spinemets.storage import User
from spinemets.web._state import (
    SESSION_COOKIE,
    AppState,
    client_address,
    get_state,
    permissions_of,
    requires,
    safe_next,
)
from spinemets.web.pages._workspace import (
    P,
    _render,
    _require_csrf,
    _token,
    current_user,
)

__all__ = ["router"]

router = APIRouter(prefix="/clinician")


#: Failed sign-ins: per account (5 free, then 30 s doubling to 15 min) and per client address
#: (more generous: a ward shares one address).
ACCOUNT_THROTTLE = storage.ThrottlePolicy(free=5)


ADDRESS_THROTTLE = storage.ThrottlePolicy(free=20)


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
