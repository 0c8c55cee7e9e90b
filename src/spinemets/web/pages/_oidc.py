"""Single sign-on routes: ``/clinician/sign-in/oidc`` (to the provider) and its callback.

The flow's state is a one-time login nonce (stored hashed, consumed by the callback: a replayed
callback is refused before any code exchange); the PKCE verifier, the ID-token nonce and the
page to return to travel in a signed, HttpOnly cookie that lives ten minutes. Sessions, the
audit trail and session rotation are the same as for passwords.
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError

from spinemets import storage
from spinemets.storage import User
from spinemets.web import _oidc
from spinemets.web._sealed import Sealer, UnsealableError
from spinemets.web._state import AppState, client_address, get_state, requires, safe_next
from spinemets.web.pages._signin import _open_session, _sign_in_page, signed_in_response
from spinemets.web.pages._workspace import P, _token

__all__ = ["router"]

router = APIRouter(prefix="/clinician/sign-in/oidc")

FLOW_COOKIE = "sm_oidc"
FLOW_SECONDS = 600
CALLBACK = "/clinician/sign-in/oidc/callback"


def _serializer(state: AppState) -> Sealer:
    # sealed (encrypted): the PKCE verifier and nonce are never readable in the browser
    return state.sealer("spinemets-oidc-flow")


def _redirect_uri(request: Request, state: AppState) -> str:
    return state.settings.oidc_redirect_uri or str(request.base_url).rstrip("/") + CALLBACK


async def _refuse(request: Request, state: AppState, error: _oidc.OidcError) -> Response:
    """Audit a refused single sign-on and show the sign-in page with its one-line reason."""
    client = client_address(request)

    def page() -> Response:
        detail = "".join(c if c.isprintable() else "?" for c in f"oidc: {error.detail or error}")
        with state.sessions.begin() as session:
            storage.record_audit(session, action="sign_in", outcome="failure", client=client,
                                 detail=detail)
        return _sign_in_page(request, {"next": "/clinician", "error": "sso",
                                       "sso_message": str(error)}, error.status)

    response = await anyio.to_thread.run_sync(page)
    response.delete_cookie(FLOW_COOKIE, path="/clinician/sign-in/oidc")
    return response


@router.get("", response_class=HTMLResponse, dependencies=[requires(P.PUBLIC)])
async def start(request: Request, next: str | None = None) -> Response:
    state = get_state(request)
    settings = state.settings
    if not settings.oidc_enabled:
        return await _refuse(request, state, _oidc.OidcError(
            "Single sign-on is not set up here.", status=404, detail="not configured"))

    def begin() -> tuple[str, _oidc.Flow]:
        meta = _oidc.metadata(settings, state.extras)
        with state.sessions.begin() as session:
            flow_state = storage.issue_login_nonce(
                session, lifetime=timedelta(seconds=FLOW_SECONDS))
        return _oidc.authorization_url(settings, meta, redirect_uri=_redirect_uri(request, state),
                                       state=flow_state,
                                       next_path=safe_next(next, "/clinician"))

    try:
        url, flow = await anyio.to_thread.run_sync(begin)
    except _oidc.OidcError as error:
        return await _refuse(request, state, error)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(FLOW_COOKIE, _serializer(state).dumps(
        [flow.state, flow.nonce, flow.verifier, flow.next]), max_age=FLOW_SECONDS,
        httponly=True, samesite="lax", secure=settings.cookies_secure,
        path="/clinician/sign-in/oidc")
    return response


def _flow(request: Request, state: AppState) -> _oidc.Flow:
    """The flow this browser started; refuses a missing, expired, altered or mismatched one."""
    expired = _oidc.OidcError("The sign-in took too long or was started in another browser: "
                              "please sign in again.", detail="flow cookie")
    try:
        data = _serializer(state).loads(request.cookies.get(FLOW_COOKIE) or "",
                                        max_age=FLOW_SECONDS)
    except UnsealableError as exc:
        raise expired from exc
    if not (isinstance(data, list) and len(data) == 4 and all(isinstance(x, str) for x in data)):
        raise expired
    flow = _oidc.Flow(state=data[0], nonce=data[1], verifier=data[2], next=data[3])
    if not hmac.compare_digest(flow.state, request.query_params.get("state", "")):
        raise expired
    return flow


def _account(state: AppState, claims: dict[str, Any], session: Any) -> User:
    """The account of a verified identity: found, created at first sign-in, or refused."""
    settings = state.settings
    subject = f"{settings.oidc_issuer} {claims.get('sub', '')}"
    roles = _oidc.mapped_roles(settings, claims)
    no_role = _oidc.OidcError("Your hospital account has no spinemets role: ask your "
                              "administrator.", status=403, detail="no mapped role")
    if len(subject) > 255:
        raise _oidc.OidcError("This hospital account cannot be used here.", detail="long sub")
    user = storage.get_user_by_oidc_subject(session, subject=subject)
    if user is not None and user.disabled:
        raise _oidc.OidcError("This account is disabled here: ask your administrator.",
                              status=403, detail="disabled")
    if not roles:
        raise no_role
    if user is None:
        wanted = str(claims.get("preferred_username") or claims.get("email") or "")
        try:
            existing = [u.username for u in storage.list_users(session)]
            name = storage.check_new_username(wanted, existing=existing)
        except ValueError as exc:
            raise _oidc.OidcError(
                "There is no spinemets account for you yet and your hospital username cannot "
                "be used for one (taken or not allowed): ask your administrator.",
                status=403, detail=str(exc)) from exc
        user = storage.create_user(
            session, username=name, password_hash="!single-sign-on",
            display_name=str(claims.get("name") or name)[:120], roles=roles,
            oidc_subject=subject)
        storage.record_audit(session, action="user_add", outcome="success", actor="oidc",
                             target=f"user:{name}", detail=f"roles {' '.join(roles)}")
    elif user.role_set != set(roles):
        user = storage.set_roles(session, username=user.username, roles=roles)
    return user


def _complete(request: Request, state: AppState, client: str, old_token: str | None
              ) -> tuple[str, User, str]:
    """The callback's work, off the event loop: session token, account, page to go to."""
    settings = state.settings
    flow = _flow(request, state)
    with state.sessions.begin() as session:
        if not storage.consume_login_nonce(session, nonce=flow.state):
            raise _oidc.OidcError("This sign-in link was used already: please sign in again.",
                                  detail="state replayed")
    params = request.query_params
    if params.get("error"):
        raise _oidc.OidcError("The hospital sign-in service did not sign you in.",
                              detail=f"provider error {params.get('error', '')[:60]}")
    if params.get("iss") and params.get("iss") != settings.oidc_issuer:  # RFC 9207 mix-up
        raise _oidc.OidcError("The answer came from another sign-in service.",
                              detail="iss parameter")
    meta = _oidc.metadata(settings, state.extras)
    claims = _oidc.finish(settings, meta, redirect_uri=_redirect_uri(request, state),
                          code=params.get("code", "")[:2000], flow=flow)
    try:
        with state.sessions.begin() as session:
            user = _account(state, claims, session)
            token = _open_session(state, session, user, old_token)
            storage.record_audit(session, action="sign_in", outcome="success", user=user,
                                 client=client, detail="oidc")
    except _oidc.OidcError as error:
        error.detail = f"{claims.get('sub', '')!s:.60} {error.detail}"
        raise
    except IntegrityError as exc:  # the same new user signing in twice at once
        raise _oidc.OidcError("Your account was being set up by another sign-in: please sign "
                              "in again.", status=409, detail="concurrent first sign-in") from exc
    return token, user, flow.next


@router.get("/callback", response_class=HTMLResponse, dependencies=[requires(P.PUBLIC)])
async def callback(request: Request) -> Response:
    state = get_state(request)
    client, old_token = client_address(request), _token(request)
    try:
        token, user, target = await anyio.to_thread.run_sync(
            lambda: _complete(request, state, client, old_token))
    except _oidc.OidcError as error:
        return await _refuse(request, state, error)
    response = signed_in_response(state, user, token, target)
    response.delete_cookie(FLOW_COOKIE, path="/clinician/sign-in/oidc")
    return response
