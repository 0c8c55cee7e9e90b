"""Application settings (pydantic-settings; environment variables prefixed ``SPINEMETS_``)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["DEV_SECRET", "InsecureSettingsError", "Settings"]

#: The development secret: accepted only when ``environment == "development"``.
DEV_SECRET = "development-only-insecure-secret-key"


class InsecureSettingsError(ValueError):
    """Settings that are unsafe outside development (default secret key, short key)."""


class Settings(BaseSettings):
    """Everything the web application needs; injected, never read at import time."""

    model_config = SettingsConfigDict(env_prefix="SPINEMETS_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    secret_key: SecretStr = SecretStr(DEV_SECRET)
    database_url: str = "sqlite:///spinemets.sqlite3"
    demo: bool = True
    clinics_file: Path | None = None
    session_hours: int = Field(default=8, ge=1, le=24 * 7)
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    #: Force ``Secure`` cookies in development too (always on in other environments).
    secure_cookies: bool = False
    default_language: Literal["en", "es"] = "en"
    auto_migrate: bool = True
    #: Reverse proxies whose ``X-Forwarded-For`` is believed (IP addresses or networks, comma
    #: separated: ``10.0.0.5,10.1.0.0/16``). Empty (the default): forwarded headers are ignored
    #: and the client is the TCP peer. ``spinemets serve --forwarded-allow-ips`` sets it.
    forwarded_allow_ips: Annotated[tuple[str, ...], NoDecode] = ()
    #: Single sign-on (OpenID Connect, authorization code with PKCE): the issuer exactly as its
    #: discovery document names it, this application's client id and secret at the provider.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    #: Scopes asked for (``openid`` first; add the one that releases the role claim).
    oidc_scope: str = "openid profile email"
    #: The ID-token (or userinfo) claim that lists the user's groups or roles ...
    oidc_role_claim: str = "roles"
    #: ... and which of its values give which spinemets role (JSON object, e.g.
    #: ``{"spine-surgeons": "clinician", "mdt-office": "coordinator"}``). A user none of
    #: whose values is mapped is refused.
    oidc_role_map: dict[str, str] = Field(default_factory=dict)
    #: The callback URL registered at the provider (default: this site's
    #: ``/clinician/sign-in/oidc/callback`` as the request reached it).
    oidc_redirect_uri: str | None = None
    #: The button's words on the sign-in page.
    oidc_label: str = "Sign in with your hospital account"
    #: The site's local survival model (JSON written by ``spinemets cohort model fit``). When
    #: set, plans, results and reports show its prediction beside the prognostic scores,
    #: labelled "local model <name>, fitted <date> on N patients, internally validated only".
    #: Checked at start-up (schema, version, predictors); not set: no local model appears.
    local_model: Path | None = None

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _split_ips(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _check_ips(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                msg = (f"forwarded_allow_ips: {entry[:60]!r} is not an IP address or network "
                       "(e.g. 10.0.0.5 or 10.1.0.0/16; '*' is not accepted: name the proxies)")
                raise ValueError(msg) from None
        return value

    @field_validator("oidc_role_map", mode="before")
    @classmethod
    def _parse_role_map(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except ValueError:
                raise ValueError("oidc_role_map: must be a JSON object such as "
                                 '{"spine-surgeons": "clinician"}') from None
        return value

    @field_validator("oidc_role_map")
    @classmethod
    def _check_role_map(cls, value: dict[str, str]) -> dict[str, str]:
        roles = ("clinician", "coordinator", "researcher", "admin")  # storage.ROLES
        wrong = sorted({role for role in value.values() if role not in roles})
        if wrong:
            msg = (f"oidc_role_map: unknown role(s) {', '.join(wrong)[:80]}; "
                   f"allowed: {', '.join(roles)}")
            raise ValueError(msg)
        return value

    @field_validator("local_model")
    @classmethod
    def _check_local_model(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        from spinemets.errors import InputError  # noqa: PLC0415
        from spinemets.local_model import load_local_model  # noqa: PLC0415

        try:
            load_local_model(value)
        except InputError as exc:
            problem = exc.problems[0]
            raise ValueError(f"SPINEMETS_LOCAL_MODEL: {problem.message}") from None
        return value

    @property
    def oidc_enabled(self) -> bool:
        """Single sign-on is configured (issuer, client id and secret all set)."""
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret)

    @property
    def cookies_secure(self) -> bool:
        """``Secure`` on every cookie (and HSTS) whenever the environment is not development."""
        return self.secure_cookies or self.environment != "development"

    @property
    def hsts(self) -> bool:
        """Send ``Strict-Transport-Security`` (outside development)."""
        return self.environment != "development"

    def _check_oidc(self) -> None:
        given = [self.oidc_issuer, self.oidc_client_id, self.oidc_client_secret]
        if any(given) and not all(given):
            msg = ("single sign-on needs SPINEMETS_OIDC_ISSUER, SPINEMETS_OIDC_CLIENT_ID and "
                   "SPINEMETS_OIDC_CLIENT_SECRET together")
            raise InsecureSettingsError(msg)
        if self.oidc_issuer and self.environment == "production" and (
                not self.oidc_issuer.startswith("https://")
                or not (self.oidc_redirect_uri or "").startswith("https://")):
            raise InsecureSettingsError(
                "single sign-on in production needs https:// URLs in SPINEMETS_OIDC_ISSUER "
                "and SPINEMETS_OIDC_REDIRECT_URI")

    @model_validator(mode="after")
    def _refuse_insecure(self) -> Settings:
        self._check_oidc()
        if self.environment == "development":
            if (not self.demo and self.secret_key.get_secret_value() == DEV_SECRET
                    and "environment" not in self.model_fields_set):
                msg = ("real data (demo off) with the public development secret is refused: set "
                       "SPINEMETS_SECRET_KEY to a random value of at least 32 characters, or "
                       "ask for development explicitly (SPINEMETS_ENVIRONMENT=development)")
                raise InsecureSettingsError(msg)
            return self
        if self.demo and self.environment == "production":
            msg = "the demo account and demo data are refused in production (SPINEMETS_DEMO=false)"
            raise InsecureSettingsError(msg)
        secret = self.secret_key.get_secret_value()
        if secret == DEV_SECRET or len(secret) < 32:
            msg = (
                "SPINEMETS_SECRET_KEY must be set to a random value of at least 32 characters "
                f"outside development (environment={self.environment!r})"
            )
            raise InsecureSettingsError(msg)
        return self
