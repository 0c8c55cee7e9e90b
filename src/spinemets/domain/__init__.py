"""Pure domain types: vertebral levels, histology catalogue, tri-state inputs, lab units."""

from spinemets.domain._histology import (
    ATTRIBUTES,
    Cell,
    CellResolution,
    Histology,
    catalogue,
    histology_ids,
    parse_histology,
)
from spinemets.domain._levels import (
    LEVELS,
    SinsLocation,
    level_index,
    parse_level,
    sins_location,
    spine_region,
)
from spinemets.domain._tristate import get_known, is_unknown
from spinemets.domain._units import ANALYTES, LabValue, parse_lab

__all__ = [
    "ANALYTES",
    "ATTRIBUTES",
    "LEVELS",
    "Cell",
    "CellResolution",
    "Histology",
    "LabValue",
    "SinsLocation",
    "catalogue",
    "get_known",
    "histology_ids",
    "is_unknown",
    "level_index",
    "parse_histology",
    "parse_lab",
    "parse_level",
    "sins_location",
    "spine_region",
]
