"""Sealed cookie values: encrypted and authenticated (the browser can neither read nor alter them).

A signed cookie (itsdangerous) proves the server wrote it but leaves its content readable as
base64: the symptom checker's answers ("Yes" to new weakness), the names of the accounts that
signed in from a browser and an OpenID Connect flow's PKCE verifier would all be visible to
anyone with access to the browser's cookie store or a proxy log. Every such cookie is sealed
instead with Fernet (AES-128-CBC and HMAC-SHA256, from ``cryptography``): the value is JSON,
encrypted and authenticated with a key derived from the application's secret key and the
cookie's purpose, so a value sealed for one purpose never opens for another.

Fernet tokens carry their creation time, so :meth:`Sealer.loads` can refuse a value older than
``max_age`` seconds (the device and sign-in-flow cookies use this).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["MAX_SEALED", "Sealer", "UnsealableError", "sealer"]

#: Longest sealed value opened (a cookie is at most 4 KB); longer ones are refused unread.
MAX_SEALED = 4096


class UnsealableError(ValueError):
    """A sealed value that is missing, too long, altered, sealed for another purpose or too old."""


class Sealer:
    """Seal and open JSON values for one purpose."""

    __slots__ = ("_fernet",)

    def __init__(self, secret: bytes, purpose: str) -> None:
        key = hmac.new(secret, f"spinemets-sealed-cookie/{purpose}".encode(), hashlib.sha256)
        self._fernet = Fernet(base64.urlsafe_b64encode(key.digest()))

    def dumps(self, value: Any) -> str:
        """``value`` (JSON-serialisable) sealed as URL-safe ASCII."""
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
        return self._fernet.encrypt(text.encode("ascii")).decode("ascii")

    def loads(self, token: str | None, max_age: int | None = None) -> Any:
        """The value sealed in ``token``; :class:`UnsealableError` if it cannot be trusted."""
        if not token or len(token) > MAX_SEALED:
            raise UnsealableError("no sealed value")
        try:
            data = self._fernet.decrypt(token.encode("ascii"), ttl=max_age)
            return json.loads(data)
        except (InvalidToken, UnicodeError, ValueError) as exc:
            raise UnsealableError("sealed value refused") from exc


@lru_cache(maxsize=32)
def sealer(secret: bytes, purpose: str) -> Sealer:
    """The :class:`Sealer` of ``purpose`` under ``secret`` (cached: key derivation once)."""
    return Sealer(secret, purpose)
