"""Verification of the JWT an EHR sends to a CDS Hooks service (CDS Hooks 2.0 security).

Only ES384 and RS384 are accepted (``none`` and HMAC are refused before any key is looked at);
``iss`` must be allow-listed and its keys come from configuration (a JWKS per issuer, never
fetched); ``aud`` must equal the exact service URL; ``exp``, ``iat`` and ``jti`` are required;
a token may live at most 5 minutes (``exp - iat``, the CDS Hooks limit) and may not be issued
in the future; a ``jti`` already seen (until its ``exp``) is refused as a replay. The replay
store is pluggable: the web service keeps it in the database so every worker shares it and a
restart keeps it. A ``jku`` header must be allow-listed too (its keys are still the configured
ones).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

__all__ = ["ALGORITHMS", "MAX_LIFETIME_S", "JwtError", "JwtVerifier", "ReplayStore"]

ALGORITHMS = ("ES384", "RS384")
#: The longest a token may live (``exp - iat``): CDS Hooks 2.0 says 5 minutes at most.
MAX_LIFETIME_S = 300
#: ``(issuer, jti, exp)`` -> True if the ``jti`` is new (and is now remembered), False if used.
ReplayStore = Callable[[str, str, float], bool]


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
                 allowed_jku: tuple[str, ...] = (), leeway_s: int = 30,
                 replay_store: ReplayStore | None = None,
                 max_lifetime_s: int = MAX_LIFETIME_S) -> None:
        self._keys = {iss: KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
                      for iss, jwks in issuers.items()}
        self._allowed_jku = allowed_jku
        self._leeway = leeway_s
        self._max_lifetime = max_lifetime_s
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._replay_store = replay_store

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
        self._check_lifetime(claims)
        self._check_replay(issuer, str(claims["jti"])[:200], float(claims["exp"]))
        return claims

    def _check_lifetime(self, claims: Mapping[str, Any]) -> None:
        try:
            issued, expires = float(claims["iat"]), float(claims["exp"])
        except (TypeError, ValueError) as exc:
            raise JwtError("the token's iat and exp must be numbers") from exc
        if issued > time.time() + self._leeway:
            raise JwtError("the token is issued in the future (iat)")
        if expires - issued > self._max_lifetime:
            raise JwtError(f"the token lives {int(expires - issued)} s: at most "
                           f"{self._max_lifetime} s (exp - iat) is accepted")

    def _check_replay(self, issuer: str, jti: str, exp: float) -> None:
        if self._replay_store is not None:
            if not self._replay_store(issuer, jti, exp + self._leeway):
                raise JwtError("the token's jti was already used (replay)")
            return
        jti = f"{issuer}\0{jti}"
        now = time.time()
        with self._lock:
            for old in [k for k, until in self._seen.items() if until + self._leeway < now]:
                del self._seen[old]
            if jti in self._seen:
                raise JwtError("the token's jti was already used (replay)")
            self._seen[jti] = exp
