"""Every protected call leaves an audit record, refused ones too (ASGI middleware).

Routes that read or change case data write their own, specific record (``case_read``,
``case_update``, ...). :class:`AuditMiddleware` guarantees the rest: when a call to a route
whose permission is not ``PUBLIC`` ends without any audit record, one is written before the
response starts (so nothing is disclosed unaudited):

- ``access_refused`` for a call refused by the policy with a known account (403
  ``forbidden``); a refusal with no account to name (401 ``sign_in_required``) is counted
  per hour and route instead, so an anonymous flood cannot grow the permanent trail;
- ``case_read`` / ``case_change`` for a route with a case reference in its path;
- ``access`` for any other protected route (admin audit views, meeting pages, ...).

Anonymous discovery and health calls are not stored one row each: they go to hourly counters
(:func:`count_anonymous_call`).
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spinemets import storage
from spinemets.storage._audit import AUDIT_TALLY
from spinemets.web._state import AppState, Permission, route_permission

__all__ = ["AuditMiddleware", "count_anonymous_call", "fallback_action"]

logger = logging.getLogger("spinemets.web")

_READS = frozenset({"GET", "HEAD"})


def fallback_action(*, method: str, path_params: dict[str, Any], refused: str | None) -> str:
    """The action of a fallback audit record."""
    if refused:
        return "access_refused"
    if "ref" in path_params:
        return "case_read" if method in _READS else "case_change"
    return "access"


def _case_ref(path_params: dict[str, Any]) -> str | None:
    value = path_params.get("ref")
    if not isinstance(value, str):
        return None
    try:
        return storage.check_case_ref(value)
    except storage.InvalidCaseRefError:
        return None


def _write_fallback(state: AppState, scope: Scope, status: int) -> None:
    if scope.get("route") is None:  # no route matched (404, 405): nothing was served
        return
    path, permission = route_permission(scope)
    if permission is Permission.PUBLIC:
        return
    request_state: dict[str, Any] = scope.get("state") or {}
    refused = request_state.get("refused")
    user = request_state.get("user")
    method = scope.get("method", "GET")
    path_params = scope.get("path_params") or {}
    action = fallback_action(method=method, path_params=path_params, refused=refused)
    outcome = refused or ("success" if status < 400 else f"http_{status}")
    if refused and user is None:
        # Nobody to name: counted per hour, route and outcome (an anonymous flood must not
        # grow the permanent trail); a stale session cookie is counted apart.
        stale = bool(request_state.get("session_presented"))
        with state.sessions.begin() as session:
            storage.count_call(session, route=f"{method} {path}"[:100],
                               outcome="stale_session" if stale else refused)
        return
    detail = f"{method} {path} -> {status}"
    client = scope.get("client")
    with state.sessions.begin() as session:
        storage.record_audit(session, action=action, outcome=outcome, user=user,
                             client=client[0] if client else "", case_ref=_case_ref(path_params),
                             target=path, detail=detail)


class AuditMiddleware:
    """Write the fallback audit record of a protected call that wrote none (see module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tally: list[str] = []
        token = AUDIT_TALLY.set(tally)
        done = False

        async def fallback(status: int) -> None:
            nonlocal done
            done = True
            if tally:
                return
            state: AppState = scope["app"].state.spinemets
            await run_in_threadpool(_write_fallback, state, scope, status)

        async def audited_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not done:
                await fallback(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, audited_send)
        except Exception:
            if not done:
                try:
                    await fallback(500)
                except Exception:  # the original error matters more; logged, not raised
                    logger.exception("fallback audit record could not be written")
            raise
        finally:
            AUDIT_TALLY.reset(token)


def count_anonymous_call(state: AppState, *, route: str, outcome: str = "success") -> None:
    """Count one anonymous discovery or health call (hourly counter, not a row per call)."""
    with state.sessions.begin() as session:
        storage.count_call(session, route=route, outcome=outcome)
