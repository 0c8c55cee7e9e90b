"""Tri-state inputs: a value may be present, explicitly absent (``False``/``"none"``) or unknown.

Unknown is ``None``, a missing key, or the string ``"unknown"``. It is never read as absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["UNKNOWN_STRINGS", "get_known", "is_unknown"]

UNKNOWN_STRINGS: Final[frozenset[str]] = frozenset({"unknown"})


def is_unknown(value: object) -> bool:
    """True for ``None`` and ``"unknown"``."""
    return value is None or (isinstance(value, str) and value.strip().lower() in UNKNOWN_STRINGS)


def get_known(data: Mapping[str, Any], key: str) -> Any:
    """The value under ``key`` or ``None`` when it is missing or unknown."""
    value = data.get(key)
    return None if is_unknown(value) else value
