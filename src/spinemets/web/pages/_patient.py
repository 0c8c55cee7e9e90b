"""Public patient pages: home, condition guide, clinics, accessibility tools, language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from spinemets.web._i18n import LANGUAGES
from spinemets.web._prefs import CHOICES
from spinemets.web._prefs import COOKIE as PREFS_COOKIE
from spinemets.web._state import LANG_COOKIE, get_state, page_context, render, safe_next

__all__ = ["router"]

router = APIRouter()
_YEAR = 60 * 60 * 24 * 365


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
def home(request: Request) -> Response:
    return render(request, "patient/home.html")


@router.api_route("/guide", methods=["GET", "HEAD"], response_class=HTMLResponse)
def guide(request: Request) -> Response:
    return render(request, "patient/guide.html")


@router.api_route("/clinics", methods=["GET", "HEAD"], response_class=HTMLResponse)
def clinics(request: Request) -> Response:
    return render(request, "patient/clinics.html")


@router.api_route("/accessibility", methods=["GET", "HEAD"], response_class=HTMLResponse)
def accessibility(request: Request) -> Response:
    return render(request, "patient/accessibility.html", {"choices": CHOICES})


def _cookie_kwargs(request: Request) -> dict[str, object]:
    secure = get_state(request).settings.secure_cookies
    return {"max_age": _YEAR, "httponly": False, "samesite": "lax", "secure": secure,
            "path": "/"}


@router.post("/preferences")
def set_preferences(
    request: Request,
    *,
    toggle: Annotated[str | None, Form()] = None,
    size: Annotated[str | None, Form()] = None,
    contrast: Annotated[str | None, Form()] = None,
    font: Annotated[str | None, Form()] = None,
    motion: Annotated[str | None, Form()] = None,
    reset: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """Change accessibility preferences (works without JavaScript)."""
    prefs = page_context(request).prefs
    if reset:
        prefs = type(prefs)()
    if toggle:
        prefs = prefs.toggled(toggle)
    for name, value in (("size", size), ("contrast", contrast), ("font", font),
                        ("motion", motion)):
        if value:
            prefs = prefs.with_choice(name, value)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(PREFS_COOKIE, prefs.serialise(), **_cookie_kwargs(request))  # type: ignore[arg-type]
    return response


@router.get("/language/{code}")
def set_language(request: Request, code: str, next: str | None = None) -> Response:
    """Switch the language of the patient pages."""
    target = safe_next(next)
    response = RedirectResponse(target, status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, **_cookie_kwargs(request))  # type: ignore[arg-type]
    return response
