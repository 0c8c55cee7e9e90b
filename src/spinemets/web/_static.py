"""Fingerprinted static URLs and their caching headers.

At start-up every file under ``static/`` is hashed once (SHA-256 of its content, 12 hex digits;
about 3 MB, a few milliseconds). Pages link to ``/static/<path>?v=<hash>`` through the
``static_url`` template global, so a changed file gets a new URL. A request whose ``v`` is the
current hash of the file may be cached for a year without revalidation
(``public, max-age=31536000, immutable``); anything else under ``/static/`` or ``/assets/``
(no ``v``, a stale one, files that other files name by a plain path, such as the fonts named in
the CSS and the module ``app.js`` imports) gets a short lifetime and is revalidated with its
ETag afterwards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs

__all__ = ["IMMUTABLE", "SHORT", "StaticManifest"]

#: Cache-Control of a fingerprinted URL whose hash matches the file.
IMMUTABLE: Final = b"public, max-age=31536000, immutable"
#: Cache-Control of every other static response (then revalidated with If-None-Match).
SHORT: Final = b"public, max-age=300"
_HASH_LENGTH: Final = 12


class StaticManifest:
    """The content hash of every static file, computed once."""

    def __init__(self, hashes: Mapping[str, str], *, prefix: str = "/static/") -> None:
        self._hashes = dict(hashes)
        self._prefix = prefix

    @classmethod
    def build(cls, directory: Path, *, prefix: str = "/static/") -> StaticManifest:
        hashes = {}
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()[:_HASH_LENGTH]
                hashes[path.relative_to(directory).as_posix()] = digest
        return cls(hashes, prefix=prefix)

    def __len__(self) -> int:
        return len(self._hashes)

    def url(self, path: str) -> str:
        """``/static/<path>?v=<hash>``; a path that is not a static file is a programming error."""
        path = path.lstrip("/")
        if path not in self._hashes:
            raise KeyError(f"no static file {path!r}")
        return f"{self._prefix}{path}?v={self._hashes[path]}"

    def cache_control(self, path: str, query_string: bytes) -> bytes:
        """The Cache-Control value for a request to ``path`` (under the prefix) with a query."""
        relative = path.removeprefix(self._prefix)
        expected = self._hashes.get(relative) if path.startswith(self._prefix) else None
        if expected is not None and query_string:
            versions = parse_qs(query_string.decode("latin-1")).get("v", [])
            if versions == [expected]:
                return IMMUTABLE
        return SHORT
