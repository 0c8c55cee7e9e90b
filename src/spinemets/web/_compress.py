"""Compression of the public calculators' answers (request-to-response amplification).

A case of a few kilobytes can ask for a plan of several hundred kilobytes: every lesion's
scores come with their basis (inputs, points per component, rule, citation), which is the
point of the output and is not cut. Those answers are highly repetitive JSON, so they are sent
gzip-compressed to clients that accept it (about a tenth of the size on the wire).

Only the stateless public calculators are compressed: they hold no secrets, so compression
cannot leak one (BREACH); pages and case routes, which carry CSRF tokens or case data, are
never compressed.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["COMPRESSED_PATHS", "CalculatorGZipMiddleware"]

#: Path prefixes whose answers are compressed (public, stateless, secret-free JSON).
COMPRESSED_PATHS = ("/api/v1/assess", "/api/v1/plan", "/api/v1/triage", "/api/v1/scores")


class CalculatorGZipMiddleware:
    """gzip for :data:`COMPRESSED_PATHS` only (responses of 1 KB or more)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=1024, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(COMPRESSED_PATHS):
            await self.gzip(scope, receive, send)
            return
        await self.app(scope, receive, send)
