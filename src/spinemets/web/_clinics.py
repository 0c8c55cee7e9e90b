"""Clinic locations and contact details, read from a YAML settings file."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path

from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field

from spinemets._yaml import safe_load

__all__ = ["CancerTeam", "Clinic", "ClinicDirectory", "load_clinics", "tel_href", "tel_link"]


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


class CancerTeam(_Frozen):
    """How people reach the cancer team the same day (urgent results and the clinics page)."""

    name: str
    phone: str = Field(pattern=r"^\+?[0-9 ()./-]{3,30}$")
    hours: LocalText
    example: bool = False


class ClinicDirectory(_Frozen):
    """The clinics file: sites, the local emergency number, and whether it is an example."""

    example: bool = False
    emergency_number: str = Field(pattern=r"^[0-9]{2,4}$")
    organisation: str
    #: The site's cancer team contact; without it urgent results say to use the number the
    #: team gave the person.
    cancer_team: CancerTeam | None = None
    sites: tuple[Clinic, ...]


def tel_href(number: str) -> str:
    """The ``tel:`` URI of a phone number as written ("(214) 555-0100" -> "tel:2145550100")."""
    return "tel:" + re.sub(r"[^0-9+]", "", number)


def tel_link(number: str) -> Markup:
    """A phone number as a tap-to-call link (a Jinja filter: ``{{ number|tel }}``)."""
    return Markup('<a class="sm-tel" href="{}">{}</a>').format(tel_href(number), number)


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
