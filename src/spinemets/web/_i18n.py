"""English and Spanish: gettext catalogues compiled from the packaged ``.po`` files.

The ``.po`` file is the source of truth and is compiled in memory on first use, so a fresh
``pip install -e .`` (or a wheel) serves translations without a separate build step.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from importlib import resources
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = ["LANGUAGES", "LANGUAGE_NAMES", "negotiate", "translations"]

LANGUAGES: Final = ("en", "es")
LANGUAGE_NAMES: Final = {"en": "English", "es": "Español"}
DOMAIN: Final = "messages"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """Translations for ``language``; English (the source language) is the identity."""
    if language == "en" or language not in LANGUAGES:
        return gettext.NullTranslations()
    po = resources.files("spinemets.web").joinpath(
        "locale", language, "LC_MESSAGES", f"{DOMAIN}.po"
    )
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def negotiate(*, cookie: str | None, query: str | None, accept: str | None, default: str) -> str:
    """The language for a request: ``?lang=``, then the cookie, then Accept-Language."""
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    if accept:
        for part in accept.split(","):
            tag = part.split(";")[0].strip().lower()[:2]
            if tag in LANGUAGES:
                return tag
    return default
