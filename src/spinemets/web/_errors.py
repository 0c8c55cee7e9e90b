"""One place that maps errors to HTTP: JSON problems for the API, friendly pages elsewhere.

No traceback or exception text from an unexpected error ever reaches a client; it is logged
server-side without request bodies (no patient data in logs).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from spinemets.errors import InputError, ScoreUnavailableError, UnknownScoreError
from spinemets.web._core import CoreUnavailableError
from spinemets.web._state import render

__all__ = ["PROBLEM_RESPONSES", "install_error_handlers", "validation_problems"]

logger = logging.getLogger("spinemets.web")

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["title", "status"],
    "properties": {
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "value": {},
                    "allowed": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _PROBLEM_SCHEMA}},
    }


#: Error responses every JSON route may return (declared so the OpenAPI schema is honest).
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem("Malformed request body (not JSON, NaN or Infinity, a lone surrogate)"),
    413: _problem("Request body too large"),
    415: _problem("Request body is not application/json"),
    422: _problem("Invalid input: one problem per field, each naming its path"),
    500: _problem("Unexpected server error (no details are disclosed)"),
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _safe(value: Any) -> Any:
    """``value`` made encodable as strict JSON: an echoed input never breaks its own error.

    Non-finite numbers become their text (``"nan"``), lone surrogates become ``\\udxxx``
    escapes, and anything that is not a JSON type becomes its ``repr``.
    """
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(_safe(k)): _safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    return _safe(repr(value))


def _json(status: int, title: str, *, detail: str | None = None,
          problems: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"title": title, "status": status}
    if detail:
        body["detail"] = detail
    if problems is not None:
        body["problems"] = problems
    return JSONResponse(_safe(body), status_code=status, media_type="application/problem+json")


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method some route allows for this path (a 405 names them all in ``Allow``)."""
    routes = request.app.router.routes
    allowed = [method for method in _METHODS
               if any(route.matches({**request.scope, "method": method})[0] == Match.FULL
                      for route in routes)]
    return ", ".join(allowed)


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = list(loc)
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or str(loc[0] if loc else "body")


def validation_problems(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as problems, each naming the field path (``answers.back_pain``)."""
    problems = []
    for err in exc.errors():
        problem: dict[str, Any] = {"field": _loc_to_field(err.get("loc", ())),
                                   "message": str(err.get("msg", "invalid"))}
        ctx = err.get("ctx") or {}
        if "expected" in ctx:
            problem["allowed"] = [s.strip(" '") for s in str(ctx["expected"]).split(",")]
        problems.append(problem)
    return problems


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    _install_input_handlers(app)
    _install_core_handlers(app)
    _install_fallback_handlers(app)


def _install_input_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if any(err.get("type") == "json_invalid" for err in exc.errors()):
            return _json(400, "Malformed JSON", detail="The request body is not valid JSON.")
        return _json(422, "Invalid input", problems=validation_problems(exc))

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> Response:
        return _json(422, "Invalid input", problems=exc.to_list())


def _install_core_handlers(app: FastAPI) -> None:
    @app.exception_handler(UnknownScoreError)
    async def _unknown(request: Request, exc: UnknownScoreError) -> Response:
        return _json(404, "Unknown score", detail=f"No score is registered as {exc.slug!r}.",
                     problems=[{"field": "slug", "message": "unknown score", "value": exc.slug,
                                "allowed": list(exc.known)}])

    @app.exception_handler(ScoreUnavailableError)
    async def _unavailable(request: Request, exc: ScoreUnavailableError) -> Response:
        return _json(409, "Score unavailable", detail=exc.reason)

    @app.exception_handler(CoreUnavailableError)
    async def _core(request: Request, exc: CoreUnavailableError) -> Response:
        logger.error("core unavailable: %s", exc)
        return _json(503, "Service unavailable", detail="This feature is not installed.")


def _install_fallback_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request) or request.url.path in {"/openapi.json", "/healthz"}:
            response: Response = _json(exc.status_code, str(exc.detail))
        else:
            response = render(request, "error.html", {"status": exc.status_code},
                              status_code=exc.status_code)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        if exc.status_code == 405:
            response.headers["Allow"] = _allowed_methods(request)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.error("unexpected %s on %s %s", type(exc).__name__, request.method,
                     request.url.path)
        if _is_api(request):
            return _json(500, "Internal server error")
        try:
            return render(request, "error.html", {"status": 500}, status_code=500)
        except Exception:
            return Response("Internal server error", status_code=500, media_type="text/plain")
