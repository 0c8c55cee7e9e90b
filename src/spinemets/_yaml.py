"""YAML loading for the packaged tables and user files, one place for the loader choice.

Uses PyYAML's libyaml-backed ``CSafeLoader`` when PyYAML was built with it (same safe
constructor, about ten times faster on the score and rule tables) and ``SafeLoader`` otherwise.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["safe_load"]

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """Parse one YAML document with the safe loader (no arbitrary Python objects)."""
    return yaml.load(text, Loader=_LOADER)
