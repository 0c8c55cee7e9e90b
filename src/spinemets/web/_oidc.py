"""Single sign-on with OpenID Connect: authorization code flow with PKCE (Authlib, joserfc).

One issuer is configured (``SPINEMETS_OIDC_ISSUER``, ``..._CLIENT_ID``, ``..._CLIENT_SECRET``).
Its discovery document must name exactly that issuer; the ID token is verified against the
issuer's JWKS (asymmetric algorithms only) and its ``iss``, ``aud``, ``azp``, ``exp``, ``iat``,
``nonce`` and ``at_hash`` are checked. Roles come from one claim (``SPINEMETS_OIDC_ROLE_CLAIM``)
mapped by ``SPINEMETS_OIDC_ROLE_MAP``; a user with no mapped role is refused. The account is
found by ``"<issuer> <sub>"`` in ``users.oidc_subject`` and created at first sign-in under its
``preferred_username`` (normalised; refused if that name is taken or confusable, so a single
sign-on user can never take over a local account). A disabled account stays refused.

Nothing here is a web route: :mod:`spinemets.web.pages._oidc` drives the flow.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx  # what Authlib's client uses (the successor of httpx)
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from spinemets.web._settings import Settings

__all__ = ["Flow", "OidcError", "authorization_url", "finish", "mapped_roles", "metadata"]

#: Signature algorithms accepted on ID tokens (never ``none`` or a shared-secret HMAC).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
              "ES512", "EdDSA")
TIMEOUT = 10.0
METADATA_SECONDS = 3600
MAX_DOCUMENT = 1_000_000


class OidcError(Exception):
    """A single sign-on that cannot go on; ``str()`` is one line to show the user."""

    def __init__(self, message: str, *, status: int = 400, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail[:200]


@dataclass(frozen=True)
class Flow:
    """What the browser's flow cookie holds between the redirect and the callback."""

    state: str
    nonce: str
    verifier: str
    next: str


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=TIMEOUT, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise OidcError("The hospital sign-in service cannot be reached; try again later or "
                        "sign in with a password.", status=502, detail=type(exc).__name__) from exc
    if response.status_code != 200 or len(response.content) > MAX_DOCUMENT:
        raise OidcError("The hospital sign-in service answered wrongly.", status=502,
                        detail=f"{url[:80]} HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError as exc:
        raise OidcError("The hospital sign-in service answered wrongly.", status=502,
                        detail="not JSON") from exc
    if not isinstance(data, dict):
        raise OidcError("The hospital sign-in service answered wrongly.", status=502)
    return data


def metadata(settings: Settings, cache: dict[str, Any], *, refresh: bool = False
             ) -> dict[str, Any]:
    """The issuer's discovery document and JWKS (cached an hour); refuses a wrong issuer."""
    cached = cache.get("oidc_metadata")
    if cached and not refresh and time.monotonic() - cached[0] < METADATA_SECONDS:
        meta: dict[str, Any] = cached[1]
        return meta
    issuer = str(settings.oidc_issuer)
    meta = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if meta.get("issuer") != issuer:
        raise OidcError("Single sign-on is misconfigured (the provider names another issuer).",
                        status=502, detail=f"issuer {str(meta.get('issuer'))[:80]}")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(meta.get(key), str):
            raise OidcError("The hospital sign-in service answered wrongly.", status=502,
                            detail=f"no {key}")
    meta = {**meta, "jwks": _get_json(meta["jwks_uri"])}
    cache["oidc_metadata"] = (time.monotonic(), meta)
    return meta


def _client(settings: Settings, redirect_uri: str) -> OAuth2Client:
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else ""
    return OAuth2Client(client_id=settings.oidc_client_id, client_secret=secret,
                        scope=settings.oidc_scope, redirect_uri=redirect_uri,
                        code_challenge_method="S256", timeout=TIMEOUT)


def authorization_url(settings: Settings, meta: dict[str, Any], *, redirect_uri: str,
                      state: str, next_path: str) -> tuple[str, Flow]:
    """Where to send the browser, and the flow to keep (PKCE verifier, nonce, state)."""
    flow = Flow(state=state, nonce=generate_token(32), verifier=generate_token(64),
                next=next_path)
    with _client(settings, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            meta["authorization_endpoint"], state=flow.state, nonce=flow.nonce,
            code_verifier=flow.verifier)
    return str(url), flow


def _id_token_claims(settings: Settings, meta: dict[str, Any], token: dict[str, Any],
                     nonce: str) -> dict[str, Any]:
    raw = token.get("id_token")
    if not isinstance(raw, str):
        raise OidcError("The hospital sign-in service sent no identity.", detail="no id_token")
    algorithms = [a for a in meta.get("id_token_signing_alg_values_supported", ALGORITHMS)
                  if a in ALGORITHMS] or list(ALGORITHMS)
    try:
        try:
            decoded = jwt.decode(raw, KeySet.import_key_set(meta["jwks"]), algorithms=algorithms)
        except InvalidKeyIdError:  # the provider rotated its keys: fetch them once more
            meta["jwks"] = _get_json(meta["jwks_uri"])
            decoded = jwt.decode(raw, KeySet.import_key_set(meta["jwks"]), algorithms=algorithms)
        claims = CodeIDToken(
            decoded.claims, decoded.header,
            {"iss": {"essential": True, "value": settings.oidc_issuer},
             "aud": {"essential": True, "value": settings.oidc_client_id}},
            {"nonce": nonce, "client_id": settings.oidc_client_id,
             "access_token": token.get("access_token")})
        claims.validate(leeway=60)
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise OidcError("The identity sent by the hospital sign-in service is not valid.",
                        detail=f"id_token: {type(exc).__name__}: {exc}"[:200]) from exc
    return dict(claims)


def finish(settings: Settings, meta: dict[str, Any], *, redirect_uri: str, code: str,
           flow: Flow) -> dict[str, Any]:
    """Exchange ``code`` (with the PKCE verifier) and return the verified claims."""
    try:
        with _client(settings, redirect_uri) as client:
            token = dict(client.fetch_token(meta["token_endpoint"], code=code,
                                            code_verifier=flow.verifier,
                                            grant_type="authorization_code"))
            claims = _id_token_claims(settings, meta, token, flow.nonce)
            if settings.oidc_role_claim not in claims and meta.get("userinfo_endpoint"):
                response = client.get(meta["userinfo_endpoint"])
                info = response.json() if response.status_code == 200 else {}
                if isinstance(info, dict) and info.get("sub") == claims["sub"]:
                    claims = {**info, **claims}
    except OAuthError as exc:
        raise OidcError("The hospital sign-in service refused this sign-in (the link was "
                        "used already or has expired): please sign in again.",
                        detail=f"token: {exc.error}"[:200]) from exc
    except httpx.HTTPError as exc:
        raise OidcError("The hospital sign-in service cannot be reached; try again later.",
                        status=502, detail=type(exc).__name__) from exc
    return claims


def mapped_roles(settings: Settings, claims: dict[str, Any]) -> list[str]:
    """The spinemets roles the claims give (by ``oidc_role_map``), sorted, maybe empty."""
    values = claims.get(settings.oidc_role_claim)
    if isinstance(values, str):
        values = values.split()
    if not isinstance(values, list):
        return []
    return sorted({settings.oidc_role_map[v] for v in values
                   if isinstance(v, str) and v in settings.oidc_role_map})
