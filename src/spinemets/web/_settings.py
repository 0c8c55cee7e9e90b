"""Application settings (pydantic-settings; environment variables prefixed ``SPINEMETS_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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

    @property
    def cookies_secure(self) -> bool:
        """``Secure`` on every cookie (and HSTS) whenever the environment is not development."""
        return self.secure_cookies or self.environment != "development"

    @property
    def hsts(self) -> bool:
        """Send ``Strict-Transport-Security`` (outside development)."""
        return self.environment != "development"

    @model_validator(mode="after")
    def _refuse_insecure(self) -> Settings:
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
