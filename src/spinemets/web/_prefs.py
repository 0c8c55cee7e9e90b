"""Accessibility preferences: kept in a cookie so pages render them without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

__all__ = ["CHOICES", "COOKIE", "Preferences"]

COOKIE: Final = "sm_prefs"
CHOICES: Final[dict[str, tuple[str, ...]]] = {
    "size": ("standard", "large", "larger"),
    "contrast": ("standard", "high"),
    "font": ("standard", "dyslexic"),
    "motion": ("standard", "reduce"),
}


@dataclass(frozen=True, slots=True)
class Preferences:
    """Text size, contrast, font and motion; ``standard`` means the site default."""

    size: str = "standard"
    contrast: str = "standard"
    font: str = "standard"
    motion: str = "standard"

    @classmethod
    def parse(cls, raw: str | None) -> Preferences:
        """Read the cookie value (``size.large-contrast.high``); unknown parts are ignored."""
        prefs = cls()
        for part in (raw or "").split("-"):
            name, _, value = part.partition(".")
            if value in CHOICES.get(name, ()):
                prefs = replace(prefs, **{name: value})
        return prefs

    def serialise(self) -> str:
        return "-".join(f"{name}.{getattr(self, name)}" for name in CHOICES)

    def with_choice(self, name: str, value: str) -> Preferences:
        """A copy with one preference changed (invalid names or values are ignored)."""
        if value in CHOICES.get(name, ()):
            return replace(self, **{name: value})
        return self

    def toggled(self, name: str) -> Preferences:
        """Flip a two-way preference (contrast, font, motion)."""
        options = CHOICES.get(name, ())
        if len(options) != 2:
            return self
        current = getattr(self, name)
        return replace(self, **{name: options[1] if current == options[0] else options[0]})

    @property
    def html_class(self) -> str:
        return " ".join(
            f"sm-{name}-{getattr(self, name)}"
            for name in CHOICES
            if getattr(self, name) != "standard"
        )
