"""Clinician sign-in, sign-out and the account page (throttled, login CSRF, session rotation)."""

from __future__ import annotations

import hashlib
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
from spinemets.web._devices import DEVICE_COOKIE, DEVICE_DAYS, device_id, remember_device
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


#: Failed sign-ins are counted per key; past a key's free failures each further failure doubles
#: the wait before that key may try again (30 s up to 15 min), an attempt during the wait is
#: refused unchecked and not counted, and a quiet ``window`` forgets the key. Nothing is ever
#: locked for good, and no key is one an attacker elsewhere can fill for the real user:
#:
#: - a browser that signed in as the account before (device cookie): its own counter only;
#: - otherwise the account from this source (address) together ...
PAIR_THROTTLE = storage.ThrottlePolicy(free=5)
#: ... the account from every browser without its device cookie, any source (at most about
#: 20 guesses an hour reach the password check: ASVS 2.2.1 allows 100) ...
ACCOUNT_THROTTLE = storage.ThrottlePolicy(free=10, window=timedelta(hours=1))
#: ... and the source for every account (password spraying), high enough for a hospital whose
#: wards all reach the server from one NAT address.
ADDRESS_THROTTLE = storage.ThrottlePolicy(free=300)
DEVICE_THROTTLE = storage.ThrottlePolicy(free=5)

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


def _account(username: str) -> str:
    """The account a typed name means (normalised), or a stand-in key for an impossible name."""
    try:
        return storage.normalise_username(username)
    except ValueError:
        return "invalid:" + hashlib.sha256(username.encode("utf-8", "replace")).hexdigest()[:24]


def _keys(account: str, client: str, device: str | None) -> tuple[str, ...]:
    """The throttle keys of one attempt (see :data:`PAIR_THROTTLE`)."""
    if device is not None:
        return (f"device:{device}",)
    return (f"pair:{account}|{client}"[:200], f"account:{account}", f"address:{client}")


def _policy(key: str) -> storage.ThrottlePolicy:
    kind = key.split(":", 1)[0]
    return {"device": DEVICE_THROTTLE, "pair": PAIR_THROTTLE, "account": ACCOUNT_THROTTLE,
            "address": ADDRESS_THROTTLE}[kind]


def _usable_hash(user: User | None) -> str | None:
    """The password hash to verify, or None (unknown, disabled or single-sign-on account)."""
    if user is None or user.disabled or not user.password_hash.startswith("$"):
        return None
    return user.password_hash


def _pre_check(state: AppState, account: str, nonce: str, keys: tuple[str, ...]) -> (
        tuple[Outcome, float, str | None]):
    """Consume the nonce, read the throttle and the password hash (one short transaction)."""
    with state.sessions.begin() as session:
        if not storage.consume_login_nonce(session, nonce=nonce):
            return Outcome.EXPIRED, 0.0, None
        wait = max(storage.throttle_wait(session, key=key) for key in keys)
        if wait > 0:
            return Outcome.THROTTLED, wait, None
        user = None if account.startswith("invalid:") else storage.get_user(
            session, username=account)
        return Outcome.OK, 0.0, _usable_hash(user)


def _attempt(state: AppState, username: str, password: str, nonce: str, *, client: str,
             old_token: str | None, device: str | None
             ) -> tuple[Outcome, float, str | None, User | None]:
    """One sign-in attempt, off the event loop; the same work for unknown and known users."""
    account = _account(username)
    keys = _keys(account, client, device_id(state, device, account))
    actor = account if username else None  # an impossible name is audited by its hash
    outcome, wait, stored = _pre_check(state, account, nonce, keys)
    if outcome is not Outcome.OK:
        with state.sessions.begin() as session:
            storage.record_audit(session, action="sign_in", outcome=str(outcome),
                                 actor=actor, client=client)
        return outcome, wait, None, None
    # Unknown or disabled accounts verify a dummy hash: same cost, no enumeration by timing.
    # A password longer than any that can be set is wrong: its first part is verified, for
    # the same cost, and it fails.
    too_long = len(password) > storage.PASSWORD_MAX
    valid = (state.hasher.verify(password[:storage.PASSWORD_MAX], stored or state.dummy_hash)
             and stored is not None and not too_long)
    with state.sessions.begin() as session:
        user = storage.get_user(session, username=account) if valid else None
        if user is None:
            for key in keys:
                storage.record_failure(session, key=key, policy=_policy(key))
            storage.record_audit(session, action="sign_in", outcome=str(Outcome.BAD),
                                 actor=actor, client=client)
            return Outcome.BAD, 0.0, None, None
        for key in keys:  # the account-wide and address counts stay: they bound guessing
            if key.startswith(("pair:", "device:")):
                storage.clear_failures(session, key=key)
        token = _open_session(state, session, user, old_token)
        storage.record_audit(session, action="sign_in", outcome=str(Outcome.OK), user=user,
                             client=client)
        return Outcome.OK, 0.0, token, user


def _open_session(state: AppState, session: Any, user: User, old_token: str | None) -> str:
    """A new session for ``user``; the pre-sign-in token never becomes valid (rotation)."""
    if old_token:
        storage.delete_session(session, token=old_token)
    return storage.create_session(
        session, user_id=user.id, lifetime=timedelta(hours=state.settings.session_hours))


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
    username = str(form.get("username", ""))[:1000].strip()
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")), "/clinician")
    state = get_state(request)
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    submitted = str(form.get("login_csrf", ""))
    if not nonce or not hmac.compare_digest(state.csrf_token("login:" + nonce), submitted):
        nonce = ""  # never consume a nonce whose HMAC does not match
    client, old_token = client_address(request), _token(request)
    device = request.cookies.get(DEVICE_COOKIE)
    # At most SIGN_IN_CONCURRENCY password checks at once per worker: the others wait on the
    # event loop (holding no thread and no database connection), so a burst of sign-ins
    # cannot starve other requests such as /healthz.
    outcome, wait, token, user = await anyio.to_thread.run_sync(
        lambda: _attempt(state, username, password, nonce or "-", client=client,
                         old_token=old_token, device=device), limiter=_sign_in_limiter(state))
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
    response = signed_in_response(state, user, token, target)
    response.set_cookie(DEVICE_COOKIE, remember_device(state, device, user.username),
                        httponly=True, samesite="strict", secure=state.settings.cookies_secure,
                        path="/clinician/sign-in", max_age=DEVICE_DAYS * 24 * 3600)
    return response


def signed_in_response(state: AppState, user: User, token: str, target: str) -> Response:
    """The redirect after any successful sign-in (password or single sign-on)."""
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
def account(request: Request, changed: bool = False) -> Response:
    user = current_user(request)
    return _render(request, "clinician/account.html", user,
                   {"roles": sorted(user.role_set) if user else [], "changed": changed,
                    "local_password": _usable_hash(user) is not None})


#: Wrong current passwords on the change form, per account (a stolen session cannot be used to
#: guess the password it does not know).
PASSWORD_CHANGE_THROTTLE = storage.ThrottlePolicy(free=5)


def _password_page(request: Request, errors: dict[str, str] | None = None,
                   status: int = 200) -> Response:
    return _render(request, "clinician/password.html", current_user(request),
                   {"errors": errors or {}, "minimum": storage.PASSWORD_MIN},
                   status_code=status)


@router.get("/account/password", response_class=HTMLResponse,
            dependencies=[requires(P.SIGNED_IN)])
def password_form(request: Request) -> Response:
    user = current_user(request)
    if _usable_hash(user) is None:
        return RedirectResponse("/clinician/account", status_code=303)
    return _password_page(request)


def _new_password_errors(current: str, new: str, confirm: str, username: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    try:
        storage.check_password(new, username=username)
    except ValueError as exc:
        errors["new_password"] = "New " + str(exc)
    if "new_password" not in errors and new == current:
        errors["new_password"] = "New password: it must differ from the current one"
    if new != confirm:
        errors["confirm_password"] = "New password again: the two new passwords differ"
    return errors


def _change_password(state: AppState, user: User, current: str, new: str, confirm: str, *,
                     client: str, old_token: str | None
                     ) -> tuple[dict[str, str], float, str | None]:
    """Check and apply a password change (off the event loop): errors, wait, new token."""
    key = f"password-change:{user.id}"
    with state.sessions.begin() as session:
        wait = storage.throttle_wait(session, key=key)
        stored = _usable_hash(storage.get_user_by_id(session, user_id=user.id))
    if wait > 0:
        return {"current_password": f"Too many wrong passwords: wait {int(wait) + 1} seconds, "
                                    "then try again"}, wait, None
    if stored is None or not state.hasher.verify(current, stored):
        with state.sessions.begin() as session:
            storage.record_failure(session, key=key, policy=PASSWORD_CHANGE_THROTTLE)
            storage.record_audit(session, action="password_change", outcome="failure",
                                 user=user, client=client, detail="current password wrong")
        return {"current_password": "Current password: it is not right"}, 0.0, None
    errors = _new_password_errors(current, new, confirm, user.username)
    if errors:
        return errors, 0.0, None
    new_hash = state.hasher.hash(new)
    with state.sessions.begin() as session:
        storage.clear_failures(session, key=key)
        changed = storage.update_user(session, username=user.username, password_hash=new_hash)
        token = _open_session(state, session, changed, old_token)  # every other one ended
        storage.record_audit(session, action="password_change", outcome="success", user=user,
                             client=client)
    return {}, 0.0, token


@router.post("/account/password", response_class=HTMLResponse,
             dependencies=[requires(P.SIGNED_IN)])
async def change_password(request: Request) -> Response:
    form = await request.form()
    _require_csrf(request, str(form.get("csrf", "")))
    user = current_user(request)
    if user is None or _usable_hash(user) is None:
        return RedirectResponse("/clinician/account", status_code=303)
    state = get_state(request)
    fields = [str(form.get(f, ""))[:storage.PASSWORD_MAX + 1]
              for f in ("current_password", "new_password", "confirm_password")]
    client, old_token = client_address(request), _token(request)
    errors, wait, token = await anyio.to_thread.run_sync(
        lambda: _change_password(state, user, *fields, client=client, old_token=old_token),
        limiter=_sign_in_limiter(state))
    if token is None:
        response = await anyio.to_thread.run_sync(
            lambda: _password_page(request, errors, 429 if wait else 400))
        if wait:
            response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    response = RedirectResponse("/clinician/account?changed=true", status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=state.settings.cookies_secure, path="/",
                        max_age=state.settings.session_hours * 3600)
    return response
