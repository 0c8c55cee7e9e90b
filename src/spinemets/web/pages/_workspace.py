"""Clinician workspace: what every clinician page shares (the signed-in user, CSRF, rendering,
audit of reads and refusals, the stored case and its plan provenance).

Every route declares its permission with :func:`~spinemets.web._state.requires`; the
application-wide :func:`~spinemets.web._state.enforce_policy` checks it before the handler runs,
so a handler only ever sees a user who may do what it does. Every read and write of a case is
audited in the same transaction as the change.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import Response

from spinemets import __version__, storage
from spinemets.case import MAX_LESIONS as CASE_MAX_LESIONS
from spinemets.errors import InputError
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
)

__all__ = ["MAX_LESIONS", "P", "current_user"]

logger = logging.getLogger("spinemets.web.clinician")


P = Permission


MAX_LESIONS = CASE_MAX_LESIONS  # a level belongs to one lesion (spinemets.case)


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
            if state.settings.demo and state.settings.environment == "development" else None}
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


def _stored(state: AppState, ref: str) -> tuple[dict[str, Any], int]:
    """The current document and version of ``ref``; 404 when there is none."""
    with state.sessions.begin() as session:
        record = storage.get_case(session, case_ref=ref)
        if record is None:
            raise HTTPException(status_code=404)
        return dict(record.data), record.current_version


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def _provenance(doc: Mapping[str, Any]) -> VersionInfo:
    """The plan computed now, with the software version and the clinical tables' hash."""
    try:
        plan = json.loads(json.dumps(_core.plan_case(doc), default=str))
    except (InputError, _core.CoreUnavailableError):
        plan = None
    return VersionInfo(plan=plan, software_version=__version__,
                       tables_hash=storage.tables_fingerprint())
