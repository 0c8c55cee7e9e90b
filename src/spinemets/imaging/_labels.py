"""Vertebra names, their anatomical order, and label tables (pure: bytes and dicts in, no I/O).

Segmentation tools number their labels differently from one version or task to the next, so a
vertebra is found by its NAME (``vertebrae_C1`` ... ``vertebrae_S1``), never by its index.
Names come from the label-table XML that those tools write into a NIfTI header extension, or
from a label-map JSON ``{"index": "name"}`` given by the user.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from spinemets.errors import InputError

__all__ = [
    "BODY_LABEL",
    "VERTEBRA_ORDER",
    "label_map_from_json",
    "label_map_from_xml",
    "level_of",
    "vertebra_labels",
]

#: Cranio-caudal order of the vertebrae a mask may name (TotalSegmentator adds C1-S1).
VERTEBRA_ORDER: tuple[str, ...] = (
    *(f"C{i}" for i in range(1, 8)),
    *(f"T{i}" for i in range(1, 13)),
    *(f"L{i}" for i in range(1, 6)),
    "S1",
)
_RANK = {level: i for i, level in enumerate(VERTEBRA_ORDER)}
_NAME = re.compile(r"vertebrae?_(C[1-7]|T(?:[1-9]|1[0-2])|L[1-5]|S1)", re.IGNORECASE)

#: Name of the all-bodies label of a ``vertebrae_body`` mask.
BODY_LABEL = "vertebrae_body"

#: Largest label table read from a header or a JSON file (a hostile file is refused, not parsed).
MAX_TABLE_BYTES = 1_000_000
_MAX_INDEX = 2**31 - 1


def level_of(name: str) -> str | None:
    """The level (``"L1"``) a label name denotes, or None when it names no vertebra."""
    match = _NAME.fullmatch(name.strip())
    return match.group(1).upper() if match else None


def rank_of(level: str) -> int:
    """Position of ``level`` in :data:`VERTEBRA_ORDER` (0 = C1)."""
    return _RANK[level]


def _problem(field: str, message: str) -> InputError:
    return InputError.single(field, message)


def label_map_from_json(text: str, *, field: str = "label_map") -> dict[int, str]:
    """Parse a label map ``{"index": "name", ...}`` (JSON object; indexes are whole numbers)."""
    if len(text) > MAX_TABLE_BYTES:
        raise _problem(field, f"the label map is larger than {MAX_TABLE_BYTES:,} characters")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _problem(field, f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or not data:
        raise _problem(field, 'must be a JSON object {"index": "name", ...}, e.g. '
                              '{"27": "vertebrae_L1"}')
    out: dict[int, str] = {}
    for key, value in data.items():
        index = _index(key, field=field)
        if not isinstance(value, str) or not value.strip():
            raise _problem(f"{field}[{key}]", "the name must be a non-empty text, e.g. "
                                              '"vertebrae_L1"')
        out[index] = value.strip()
    return out


def _index(key: object, *, field: str) -> int:
    text = str(key).strip()
    if not re.fullmatch(r"\d{1,10}", text) or not 0 < int(text) <= _MAX_INDEX:
        raise _problem(f"{field}[{str(key)[:20]}]",
                       "each key must be a label index, a whole number from 1 (0 is background)")
    return int(text)


def label_map_from_xml(payload: bytes, *, field: str = "mask") -> dict[int, str]:
    """Parse the label-table XML of a NIfTI header extension (``<Label Key="1">name</Label>``).

    Returns an empty dict when the payload holds no label table. Document type declarations
    (and so entity expansion) are refused.
    """
    if len(payload) > MAX_TABLE_BYTES:
        raise _problem(field, "the label table in the header is too large to read")
    text = payload.decode("utf-8", errors="replace").strip("\x00 \r\n\t")
    if "<Label" not in text:
        return {}
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise _problem(field, "the label table in the header declares a DOCTYPE; refused")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise _problem(field, f"the label table in the header is not valid XML ({exc})") from None
    out: dict[int, str] = {}
    for element in root.iter("Label"):
        name = (element.text or "").strip()
        if name:
            out[_index(element.get("Key", ""), field=f"{field} label table")] = name
    return out


def vertebra_labels(label_map: Mapping[int, str]) -> dict[str, int]:
    """``{"L1": index, ...}`` for the vertebrae named in ``label_map``.

    Two indexes naming the same level are refused (the map is ambiguous).
    """
    out: dict[str, int] = {}
    for index, name in label_map.items():
        level = level_of(name)
        if level is None:
            continue
        if level in out:
            raise _problem("label_map", f"two labels ({out[level]} and {index}) are both named "
                                        f"vertebrae_{level}; each level must be named once")
        out[level] = index
    return out
