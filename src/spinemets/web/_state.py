"""Per-application state (created by ``create_app``) and request helpers shared by routers."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam
from fastapi.responses import HTMLResponse
from itsdangerous import URLSafeSerializer
from jinja2 import Environment
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from spinemets.web._clinics import ClinicDirectory
from spinemets.web._i18n import LANGUAGE_NAMES, LANGUAGES, negotiate, translations
from spinemets.web._prefs import COOKIE as PREFS_COOKIE
from spinemets.web._prefs import Preferences
from spinemets.web._sealed import Sealer, sealer
from spinemets.web._settings import Settings

__all__ = [
    "POLICY",
    "ROUTE_POLICY",
    "AppState",
    "PageContext",
    "Permission",
    "PermissionDeniedError",
    "Requirement",
    "SignInRequiredError",
    "client_address",
    "declared_permission",
    "enforce_policy",
    "get_state",
    "page_context",
    "permissions_of",
    "render",
    "request_user",
    "requires",
    "route_permission",
    "safe_next",
]

LANG_COOKIE = "sm_lang"
SESSION_COOKIE = "sm_session"


@dataclass
class AppState:
    """Everything a request needs, built once per application."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    environments: dict[str, Environment]
    clinics: ClinicDirectory
    hasher: PasswordHash = field(default_factory=lambda: PasswordHash((Argon2Hasher(),)))
    #: Verified against for unknown usernames so they cost the same time as real ones.
    dummy_hash: str = ""
    #: Objects created lazily on the event loop (e.g. the sign-in capacity limiter).
    extras: dict[str, Any] = field(default_factory=dict)
    #: The site's local survival model (``spinemets.local_model.ModelFile``), loaded once from
    #: ``settings.local_model``; None when the site configures none.
    local_model: Any = None

    def __post_init__(self) -> None:
        if not self.dummy_hash:
            self.dummy_hash = self.hasher.hash("spinemets-dummy-password-for-timing")

    @property
    def secret(self) -> bytes:
        return self.settings.secret_key.get_secret_value().encode("utf-8")

    def serializer(self, salt: str) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret, salt=salt)

    def sealer(self, purpose: str) -> Sealer:
        """Seals cookie values: encrypted and authenticated, unreadable in the browser."""
        return sealer(self.secret, purpose)

    @cached_property
    def trusted_proxies(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """Networks whose ``X-Forwarded-For`` is believed (``forwarded_allow_ips``)."""
        return tuple(ipaddress.ip_network(entry, strict=False)
                     for entry in self.settings.forwarded_allow_ips)

    def csrf_token(self, session_token: str) -> str:
        digest = hmac.new(self.secret, session_token.encode("utf-8"), hashlib.sha256)
        return digest.hexdigest()


def get_state(request: Request) -> AppState:
    """The application state (FastAPI dependency)."""
    state: AppState = request.app.state.spinemets
    return state


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to return to (never another host: no open redirects)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target


@dataclass(frozen=True)
class PageContext:
    """Language and preferences of one request."""

    language: str
    prefs: Preferences


def page_context(request: Request) -> PageContext:
    """The language and accessibility preferences of a request."""
    state = get_state(request)
    language = negotiate(
        cookie=request.cookies.get(LANG_COOKIE),
        query=request.query_params.get("lang"),
        accept=request.headers.get("accept-language"),
        default=state.settings.default_language,
    )
    prefs = Preferences.parse(request.cookies.get(PREFS_COOKIE))
    return PageContext(language=language, prefs=prefs)


def gettext_for(language: str) -> Any:
    """The gettext function of ``language`` (for strings built in Python)."""
    return translations(language).gettext


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    language: str | None = None,
) -> HTMLResponse:
    """Render a page with the shared context (language, preferences, clinics, paths)."""
    state = get_state(request)
    page = page_context(request)
    lang = language or page.language
    path = request.url.path
    full_path = path + (f"?{request.url.query}" if request.url.query else "")
    ctx: dict[str, Any] = {
        "lang": lang,
        "prefs": page.prefs,
        "current_path": full_path,
        "current_path_quoted": quote(full_path, safe=""),
        "other_languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES if code != lang],
        "clinics": state.clinics,
        "settings": state.settings,
        "gettext_py": gettext_for(lang),
    }
    ctx.update(context or {})
    body = state.environments[lang].get_template(template).render(ctx)
    response = HTMLResponse(body, status_code=status_code)
    response.headers["Content-Language"] = lang
    return response


# --------------------------------------------------------------------------- authorisation


class Permission(StrEnum):
    """What a route needs. ``PUBLIC``: anyone; ``SIGNED_IN``: any account; others by role."""

    PUBLIC = "public"
    SIGNED_IN = "signed-in"
    CASE_READ = "case:read"
    CASE_WRITE = "case:write"
    CASE_DELETE = "case:delete"
    CASE_PURGE = "case:purge"
    MEETING_READ = "meeting:read"
    MEETING_MANAGE = "meeting:manage"
    MEETING_DECIDE = "meeting:decide"
    EXPORT_PSEUDONYMISED = "export:pseudonymised"
    USER_ADMIN = "user:admin"
    AUDIT_READ = "audit:read"


P = Permission

#: The one policy table: role -> permissions (every signed-in account also has ``SIGNED_IN``).
POLICY: dict[str, frozenset[Permission]] = {
    "clinician": frozenset({P.CASE_READ, P.CASE_WRITE, P.CASE_DELETE, P.MEETING_READ,
                            P.MEETING_DECIDE}),
    "coordinator": frozenset({P.CASE_READ, P.MEETING_READ, P.MEETING_MANAGE}),
    "researcher": frozenset({P.EXPORT_PSEUDONYMISED}),
    "admin": frozenset({P.USER_ADMIN, P.AUDIT_READ, P.CASE_PURGE}),
}

#: Permissions of routes whose modules do not declare one themselves (patient pages, the
#: public JSON calculators, FastAPI's own /docs) and defaults for areas built separately.
#: ``/x/*`` covers ``/x`` and everything under it. A route-level :func:`requires` wins.
ROUTE_POLICY: tuple[tuple[str, Permission], ...] = (
    ("/openapi.json", P.PUBLIC),
    ("/docs/*", P.PUBLIC),
    ("/static/*", P.PUBLIC),
    ("/assets/*", P.PUBLIC),
    ("/healthz", P.PUBLIC),
    ("/api/v1/scores/*", P.PUBLIC),
    ("/api/v1/assess", P.PUBLIC),
    ("/api/v1/plan", P.PUBLIC),
    ("/api/v1/triage", P.PUBLIC),
    ("/", P.PUBLIC),
    ("/guide", P.PUBLIC),
    ("/clinics", P.PUBLIC),
    ("/accessibility", P.PUBLIC),
    ("/preferences", P.PUBLIC),
    ("/language/*", P.PUBLIC),
    ("/check/*", P.PUBLIC),
    # Areas built in parallel (FHIR): stateless conversions and CDS Hooks (which check their
    # own JWTs) are public like the other v1 calculators; clinician FHIR pages read cases.
    # Their routes may declare a narrower permission with ``dependencies=[requires(...)]``.
    ("/api/v1/fhir/*", P.PUBLIC),
    ("/cds-services/*", P.PUBLIC),
    ("/clinician/fhir/*", P.CASE_READ),
)


@dataclass(frozen=True)
class Requirement:
    """The permission a route declares (a no-op dependency read by :func:`enforce_policy`)."""

    permission: Permission

    def __call__(self) -> None:
        return None


def requires(permission: Permission) -> Any:
    """Declare a route's permission: ``@router.get(..., dependencies=[requires(P.CASE_READ)])``.

    Also works on a whole router: ``APIRouter(dependencies=[requires(...)])``; the route's own
    declaration (listed last) wins.
    """
    return Depends(Requirement(permission))


def _policy_default(path: str) -> Permission | None:
    for pattern, permission in ROUTE_POLICY:
        if pattern.endswith("/*"):
            base = pattern[:-2]
            if path == base or path.startswith(base + "/"):
                return permission
        elif path == pattern:
            return permission
    return None


def declared_permission(dependencies: Sequence[Any], path: str) -> Permission | None:
    """The permission of a route: its last :class:`Requirement`, else the table; else None."""
    declared = [d.dependency.permission for d in dependencies
                if isinstance(d, DependsParam) and isinstance(d.dependency, Requirement)]
    if declared:
        return declared[-1]
    return _policy_default(path)


def route_permission(scope: Any) -> tuple[str, Permission | None]:
    """The matched route's path template and permission (``("", None)``: no route matched)."""
    route = scope.get("route")
    if route is None:
        return "", None
    context = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(context, "path_format", None) or getattr(route, "path_format", "") or ""
    return path, declared_permission(getattr(route, "dependencies", []), path)


def permissions_of(roles: Iterable[str] | None) -> frozenset[Permission]:
    """Everything accounts with ``roles`` may do (``None``: anonymous)."""
    if roles is None:
        return frozenset({P.PUBLIC})
    granted = {P.PUBLIC, P.SIGNED_IN}
    for role in roles:
        granted |= POLICY.get(role, frozenset())
    return frozenset(granted)


class SignInRequiredError(Exception):
    """No (valid) session on a route that needs one: pages redirect, the API answers 401."""


class PermissionDeniedError(Exception):
    """Signed in, but the account's roles do not grant the route's permission (403)."""

    def __init__(self, permission: Permission | None) -> None:
        super().__init__(f"permission {permission} needed" if permission else
                         "no permission declared for this route")
        self.permission = permission


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(address: str, networks: Sequence[Any]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in network for network in networks)


def client_address(request: Request) -> str:
    """The client's address (for audit and throttling).

    The TCP peer, unless the peer is one of the configured trusted proxies
    (``forwarded_allow_ips``): then ``X-Forwarded-For`` is read from the right, skipping
    trusted proxies, and the first address not trusted is the client. Forwarded headers from
    anyone else (loopback included) are ignored, and a malformed entry stops the walk at the
    last proxy that was trusted.
    """
    peer = request.client.host if request.client else ""
    networks = get_state(request).trusted_proxies
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for header in request.headers.getlist("x-forwarded-for")
            for hop in header.split(",")]
    client = peer
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            break
        client = str(ip)
        if not _trusted(client, networks):
            break
    return client


def request_user(request: Request) -> Any:
    """The signed-in account of this request (set by :func:`enforce_policy`), or None."""
    return getattr(request.state, "user", None)


def _load_user(state: AppState, token: str) -> Any:
    from datetime import timedelta  # noqa: PLC0415 - keeps the module header light

    from spinemets import storage  # noqa: PLC0415 - storage imports nothing from web

    idle = timedelta(minutes=state.settings.session_idle_minutes)
    with state.sessions.begin() as session:
        return storage.get_session_user(session, token=token, idle=idle)


async def enforce_policy(request: Request) -> None:
    """The one authorisation check, applied to every route (an application dependency).

    Finds the route's permission (:func:`declared_permission`), loads the session's account
    when one is needed and raises :class:`SignInRequiredError` or
    :class:`PermissionDeniedError`. A route with no declared permission is refused to all.
    """
    from starlette.concurrency import run_in_threadpool  # noqa: PLC0415

    _path, permission = route_permission(request.scope)
    request.state.permission = permission
    if permission is P.PUBLIC:
        return
    token = request.cookies.get(SESSION_COOKIE)
    user = await run_in_threadpool(_load_user, get_state(request), token) if token else None
    request.state.user = user
    request.state.session_presented = bool(token)
    if user is None:
        request.state.refused = "sign_in_required"  # audited by web._audit
        raise SignInRequiredError
    if permission is None or permission not in permissions_of(user.role_set):
        request.state.refused = "forbidden"
        raise PermissionDeniedError(permission)
