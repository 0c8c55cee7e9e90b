"""Per-application state (created by ``create_app``) and request helpers shared by routers."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
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
from spinemets.web._settings import Settings

__all__ = ["AppState", "PageContext", "get_state", "page_context", "render", "safe_next"]

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

    @property
    def secret(self) -> bytes:
        return self.settings.secret_key.get_secret_value().encode("utf-8")

    def serializer(self, salt: str) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret, salt=salt)

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
