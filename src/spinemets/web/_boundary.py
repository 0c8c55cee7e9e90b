"""Control characters are refused at the boundary, before any route or database sees them.

NUL and the other C0 control characters (except tab, line feed and carriage return) and DEL
have no place in any field spinemets accepts; PostgreSQL cannot even store NUL in text. Every
request's path, query, form fields (and upload file names) and JSON body (keys and string
values, at any depth) is checked by :func:`refuse_control_characters`, an application-wide
dependency; a hit is a 422 (pages: the error page; API: a problem naming each field; CDS
Hooks: an OperationOutcome) on SQLite and PostgreSQL alike, signed in or not.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

__all__ = ["CONTROL_CHARACTERS", "ControlCharacterError", "control_character_fields",
           "install_boundary_handler", "refuse_control_characters"]

#: Refused characters: C0 controls except TAB, LF and CR; and DEL.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MESSAGE = "contains a control character (such as NUL), which is not allowed"
_MAX_REPORTED = 20


class ControlCharacterError(Exception):
    """Fields of a request that hold control characters (``fields``: their paths)."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__(", ".join(fields))
        self.fields = fields

    def problems(self) -> list[dict[str, str]]:
        return [{"field": field, "message": _MESSAGE} for field in self.fields]


def _bad(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


def _safe_key(key: str) -> str:
    return CONTROL_CHARACTERS.sub("?", key)[:80]


def _json_fields(document: Any) -> list[str]:
    """Paths of the keys and string values holding control characters (iterative: any depth)."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [("", document)]
    while stack and len(found) < _MAX_REPORTED:
        path, value = stack.pop()
        if isinstance(value, str):
            if _bad(value):
                found.append(path or "body")
        elif isinstance(value, dict):
            for key, child in value.items():
                child_path = f"{path}.{_safe_key(key)}" if path else _safe_key(key)
                if _bad(key):
                    found.append(child_path)
                stack.append((child_path, child))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", child) for index, child in enumerate(value))
    return sorted(found)


async def control_character_fields(request: Request) -> list[str]:
    """Every field of ``request`` that holds a control character (empty: none)."""
    found: list[str] = []
    if _bad(request.url.path):
        found.append("path")
    for key, value in request.query_params.multi_items():
        if _bad(key) or _bad(value):
            found.append(f"query.{_safe_key(key)}")
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return found
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        from spinemets.web._app import body_limit  # noqa: PLC0415 - _app imports this module

        # a form part may be as large as the route's whole body (a pasted FHIR Bundle is up
        # to 16 MB); Starlette's 1 MB default would refuse it here with a bare 400
        form = await request.form(max_part_size=body_limit(request.url.path))
        for key, item in form.multi_items():
            text = item if isinstance(item, str) else (getattr(item, "filename", "") or "")
            if _bad(key) or _bad(text):
                found.append(_safe_key(key))
    elif "json" in content_type:
        body = await request.body()
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return found  # not JSON: the route's own parser answers with a clear 400
        found.extend(_json_fields(document))
    return found


async def refuse_control_characters(request: Request) -> None:
    """Application dependency: raise :class:`ControlCharacterError` naming every bad field."""
    found = await control_character_fields(request)
    if found:
        raise ControlCharacterError(found[:_MAX_REPORTED])


def install_boundary_handler(app: FastAPI) -> None:
    """Answer :class:`ControlCharacterError` with a 422 in the caller's format."""
    from spinemets.web._state import render  # noqa: PLC0415 - _state imports much of web

    @app.exception_handler(ControlCharacterError)
    async def _refused(request: Request, exc: ControlCharacterError) -> Response:
        path = request.url.path
        if path.startswith("/cds-services"):
            issues = [{"severity": "error", "code": "invalid", "diagnostics": f"{f}: {_MESSAGE}",
                       "expression": [f]} for f in exc.fields]
            return JSONResponse({"resourceType": "OperationOutcome", "issue": issues},
                                status_code=422, media_type="application/fhir+json")
        if path.startswith("/api/") or "json" in request.headers.get("accept", ""):
            return JSONResponse({"title": "Invalid input", "status": 422,
                                 "problems": exc.problems()}, status_code=422,
                                media_type="application/problem+json")
        return render(request, "error.html", {"status": 422, "problems": exc.problems()},
                      status_code=422)
