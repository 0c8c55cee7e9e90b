"""gzip for the responses that cannot leak a secret through their compressed size (BREACH).

BREACH needs three things in one compressed response: a secret (a CSRF token, a session, case or
health data), bytes an attacker controls (a reflected query string, say), and an attacker who
sees the size. A response is compressed here only when it lacks the first two:

* The stateless public calculators (:data:`COMPRESSED_PATHS`). A case of a few kilobytes can
  ask for a plan of several hundred kilobytes (every lesion's scores come with their basis);
  that JSON is highly repetitive and goes out at about a tenth of its size. No secrets.
* Static text files (:data:`STATIC_SUFFIXES` under ``/static/`` and ``/assets/``): the same
  bytes for everyone. Fonts and images are already compressed and are left alone.
* The patient information pages (:data:`PUBLIC_PAGES`), only when the request has no query
  string other than ``lang=``. These pages carry no CSRF token, session or answers; what varies
  per visitor is the language and the display preferences (a few fixed class names), and with
  no query string nothing in them is chosen by an attacker, so there is nothing to guess
  against. The symptom checker (``/check``, its questions and results: the person's answers),
  the clinician pages and the case routes (CSRF tokens, case data) are never compressed.

A compressed response keeps its ETag as a weak one (``W/``): the bytes differ from the file's.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["COMPRESSED_PATHS", "PUBLIC_PAGES", "STATIC_SUFFIXES", "CalculatorGZipMiddleware",
           "compressible"]

#: Path prefixes whose answers are compressed (public, stateless, secret-free JSON).
COMPRESSED_PATHS = ("/api/v1/assess", "/api/v1/plan", "/api/v1/triage", "/api/v1/scores")
#: Static files compressed (text); the rest (woff2, png, ico) is sent as it is.
STATIC_SUFFIXES = (".css", ".js", ".mjs", ".svg", ".json", ".map", ".txt", ".html")
#: Patient pages without per-visitor secrets (exact paths).
PUBLIC_PAGES = frozenset({"/", "/guide", "/clinics", "/accessibility"})
_LANG_QUERIES = frozenset({b"", b"lang=en", b"lang=es"})


def compressible(scope: Scope) -> bool:
    """Whether the response to this request may be gzip-compressed (see the module docstring)."""
    path: str = scope["path"]
    if path.startswith(COMPRESSED_PATHS):
        return True
    if path.startswith(("/static/", "/assets/")):
        return path.endswith(STATIC_SUFFIXES)
    return (path in PUBLIC_PAGES and scope.get("method") in {"GET", "HEAD"}
            and scope.get("query_string", b"") in _LANG_QUERIES)


class CalculatorGZipMiddleware:
    """gzip (level 6, responses of 1 KB or more) for :func:`compressible` requests only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=1024, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not compressible(scope):
            await self.app(scope, receive, send)
            return

        async def weak_etag(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if (b"content-encoding", b"gzip") in headers:
                    message["headers"] = [
                        (name, b"W/" + value if name == b"etag" and not value.startswith(b"W/")
                         else value) for name, value in headers]
            await send(message)

        await self.gzip(scope, receive, weak_etag)
