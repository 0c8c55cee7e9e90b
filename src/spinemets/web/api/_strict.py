"""Strict JSON for the API: RFC 8259 bodies only, refused with a problem document otherwise.

Python's ``json`` accepts ``NaN``, ``Infinity`` and lone UTF-16 surrogates (``"\\ud800"``);
none is valid JSON text or Unicode, and each used to end in a 500 when the error response that
echoed it could not be encoded. A body that is not ``application/json`` gets 415.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

__all__ = ["StrictJSONRoute", "strict_json_problem"]

_JSON_TYPES = ("application/json", "application/problem+json")


class _NotJSONError(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJSONError(f"{name} is not a JSON number")


def _lone_surrogate(value: Any) -> bool:
    """True if any string (key or value) in ``value`` holds a UTF-16 surrogate code point."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= ch <= "\udfff" for ch in item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse({"title": title, "status": status, "detail": detail},
                        status_code=status, media_type="application/problem+json")


def strict_json_problem(content_type: str, body: bytes) -> JSONResponse | None:
    """The problem response for a request body that is not strict JSON, or None if it is."""
    return _parse_strict(content_type, body)[0]


def _parse_strict(content_type: str, body: bytes) -> tuple[JSONResponse | None, Any]:
    """(problem, None) for a body that is not strict JSON, else (None, the parsed value)."""
    media = content_type.split(";", maxsplit=1)[0].strip().lower()
    if media not in _JSON_TYPES and not media.endswith("+json"):
        return _problem(415, "Unsupported media type",
                        "Send the body as application/json."), None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _problem(400, "Malformed JSON",
                        f"The body is not UTF-8 (byte {exc.start})."), None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except _NotJSONError as exc:
        return _problem(400, "Malformed JSON", f"{exc}: use null or a finite number."), None
    except (ValueError, RecursionError):
        return _problem(400, "Malformed JSON", "The request body is not valid JSON."), None
    if _lone_surrogate(value):
        return _problem(400, "Malformed JSON",
                        "A string holds a lone UTF-16 surrogate (not a Unicode character)."), None
    return None, value


class StrictJSONRoute(APIRoute):
    """An API route whose JSON body is checked by :func:`strict_json_problem` first."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def strict(request: Request) -> Response:
            body = await request.body()  # cached on the request for the handler
            if body:
                problem, value = _parse_strict(request.headers.get("content-type", ""), body)
                if problem is not None:
                    return problem
                # the handler reads request.json(): hand it this parse (parsed once, not twice)
                request._json = value  # starlette caches request.json() here
            return await handler(request)

        return strict
