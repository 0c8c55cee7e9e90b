"""Vertebral levels and their SINS location category.

References
----------
Fisher CG et al. Spine 2010;35(22):E1221-E1229 (SINS location item); level lookup as given in
``scores.md`` §1: O/C1/C2 junctional, C3-C6 mobile, C7-T2 junctional, T3-T10 semi-rigid,
T11-L1 junctional, L2-L4 mobile, L5-S1 junctional, S2-S5 rigid. No category is given for the
coccyx, so it is not a level here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from spinemets.errors import InputError

__all__ = [
    "LEVELS",
    "SinsLocation",
    "level_index",
    "parse_level",
    "sins_location",
    "spine_region",
]

LEVELS: Final[tuple[str, ...]] = (
    "O",
    *(f"C{i}" for i in range(1, 8)),
    *(f"T{i}" for i in range(1, 13)),
    *(f"L{i}" for i in range(1, 6)),
    *(f"S{i}" for i in range(1, 6)),
)
_INDEX: Final[dict[str, int]] = {name: i for i, name in enumerate(LEVELS)}


class SinsLocation(StrEnum):
    """SINS location categories (Fisher 2010)."""

    JUNCTIONAL = "junctional"
    MOBILE = "mobile"
    SEMI_RIGID = "semi_rigid"
    RIGID = "rigid"


def _location_of(name: str) -> SinsLocation:
    region, number = name[0], int(name[1:] or 0)
    if name in {"O", "C1", "C2", "C7", "T1", "T2", "T11", "T12", "L1", "L5", "S1"}:
        return SinsLocation.JUNCTIONAL
    if (region == "C" and 3 <= number <= 6) or (region == "L" and 2 <= number <= 4):
        return SinsLocation.MOBILE
    if region == "T":
        return SinsLocation.SEMI_RIGID
    return SinsLocation.RIGID


_LOCATION: Final[dict[str, SinsLocation]] = {name: _location_of(name) for name in LEVELS}


def parse_level(value: object, *, field: str = "level") -> str:
    """Return the canonical level name (``"t12"`` -> ``"T12"``) or raise :class:`InputError`."""
    if isinstance(value, str):
        name = value.strip().upper()
        if name in _INDEX:
            return name
    raise InputError.single(
        field,
        f"{value!r} is not a vertebral level",
        value=value,
        allowed=("O", "C1-C7", "T1-T12", "L1-L5", "S1-S5"),
    )


def sins_location(level: str) -> SinsLocation:
    """SINS location category of a canonical level name."""
    return _LOCATION[parse_level(level)]


def level_index(level: str) -> int:
    """Position from the occiput (0) down to S5, for ordering and contiguity."""
    return _INDEX[parse_level(level)]


def spine_region(level: str) -> str:
    """``cervical`` (O, C), ``thoracic``, ``lumbar`` or ``sacral``."""
    first = parse_level(level)[0]
    return {"O": "cervical", "C": "cervical", "T": "thoracic", "L": "lumbar", "S": "sacral"}[first]
