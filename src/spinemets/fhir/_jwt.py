"""Verification of the JWT an EHR sends to a CDS Hooks service (CDS Hooks 2.0 security).

Only ES384 and RS384 are accepted (``none`` and HMAC are refused before any key is looked at);
``iss`` must be allow-listed and its keys come from configuration (a JWKS per issuer, never
fetched); ``aud`` must equal the exact service URL; ``exp``, ``iat`` and ``jti`` are required
and a ``jti`` already seen (until its ``exp``) is refused as a replay. A ``jku`` header must be
allow-listed too (its keys are still the configured ones).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

__all__ = ["ALGORITHMS", "JwtError", "JwtVerifier"]

ALGORITHMS = ("ES384", "RS384")


class JwtError(Exception):
    """The bearer token is missing or not acceptable; the message says why (no secrets)."""


def _segment(token: str, index: int) -> dict[str, Any]:
    try:
        part = token.split(".")[index]
        data = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError) as exc:
        raise JwtError("the bearer token is not a JWS compact token") from exc
    if not isinstance(data, dict):
        raise JwtError("the bearer token is not a JWS compact token")
    return data


class JwtVerifier:
    """Verifies CDS Hooks JWTs against configured issuers; remembers ``jti`` until ``exp``."""

    def __init__(self, issuers: Mapping[str, Mapping[str, Any]], *,
                 allowed_jku: tuple[str, ...] = (), leeway_s: int = 30) -> None:
        self._keys = {iss: KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
                      for iss, jwks in issuers.items()}
        self._allowed_jku = allowed_jku
        self._leeway = leeway_s
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, authorization: str | None, *, audience: str) -> dict[str, Any]:
        """The verified claims of ``Authorization: Bearer <JWT>``; :class:`JwtError` if not."""
        if not authorization or not authorization.startswith("Bearer "):
            raise JwtError("an Authorization: Bearer <JWT> header is required")
        token = authorization.removeprefix("Bearer ").strip()
        header = _segment(token, 0)
        if header.get("alg") not in ALGORITHMS:
            raise JwtError(f"algorithm {header.get('alg')!r} is refused (ES384 or RS384 only)")
        if "jku" in header and header["jku"] not in self._allowed_jku:
            raise JwtError("the jku header is not allow-listed")
        issuer = _segment(token, 1).get("iss")
        keys = self._keys.get(issuer) if isinstance(issuer, str) else None
        if keys is None or not isinstance(issuer, str):
            raise JwtError("the issuer (iss) is not allow-listed")
        try:
            claims = jwt.decode(token, keys, algorithms=list(ALGORITHMS)).claims
            jwt.JWTClaimsRegistry(
                leeway=self._leeway, iss={"essential": True, "value": issuer},
                aud={"essential": True, "value": audience}, exp={"essential": True},
                iat={"essential": True}, jti={"essential": True}).validate(claims)
        except (JoseError, ValueError) as exc:
            raise JwtError(f"the token is not valid: {type(exc).__name__}") from exc
        self._check_replay(str(claims["jti"]), float(claims["exp"]))
        return claims

    def _check_replay(self, jti: str, exp: float) -> None:
        now = time.time()
        with self._lock:
            for old in [k for k, until in self._seen.items() if until + self._leeway < now]:
                del self._seen[old]
            if jti in self._seen:
                raise JwtError("the token's jti was already used (replay)")
            self._seen[jti] = exp
