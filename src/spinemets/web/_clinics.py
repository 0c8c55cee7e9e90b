"""Clinic locations and contact details, read from a YAML settings file."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from spinemets._yaml import safe_load

__all__ = ["Clinic", "ClinicDirectory", "load_clinics"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LocalText(_Frozen):
    """Text in English with an optional Spanish version."""

    en: str
    es: str | None = None

    def get(self, language: str) -> str:
        return self.es if language == "es" and self.es else self.en


class Clinic(_Frozen):
    """One clinic site."""

    id: str = Field(pattern=r"^[a-z0-9-]+$")
    name: str
    address: tuple[str, ...]
    phone: str
    email: str | None = None
    hours: LocalText
    notes: LocalText | None = None
    example: bool = False


class ClinicDirectory(_Frozen):
    """The clinics file: sites, the local emergency number, and whether it is an example."""

    example: bool = False
    emergency_number: str = Field(pattern=r"^[0-9]{2,4}$")
    organisation: str
    sites: tuple[Clinic, ...]


@cache
def _load(path: str | None) -> ClinicDirectory:
    if path is None:
        text = resources.files("spinemets.web").joinpath("clinics_demo.yaml").read_text("utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return ClinicDirectory.model_validate(safe_load(text))


def load_clinics(path: Path | None) -> ClinicDirectory:
    """The clinic directory at ``path`` (the packaged demo file when ``None``)."""
    return _load(str(path) if path is not None else None)
