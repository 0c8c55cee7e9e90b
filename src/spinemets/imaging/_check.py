"""Check a ``spinemets-imaging/1`` document received from outside (an upload): every value the
web pages show or act on is checked and copied; anything else is dropped. Pure Python: it does
not need the imaging extra."""

from __future__ import annotations

import json
import math
from typing import Any

from spinemets.errors import InputError
from spinemets.imaging._labels import VERTEBRA_ORDER

__all__ = ["COMPONENT_VALUES", "check_document"]

FORMAT = "spinemets-imaging/1"
#: Suggested SINS components and the case values each may take (the SINS table's option ids).
COMPONENT_VALUES: dict[str, tuple[str, ...]] = {
    "collapse": ("over_50", "under_50", "no_collapse_over_50_involved", "none"),
    "bone_lesion": ("lytic", "mixed", "blastic"),
    "posterolateral": ("bilateral", "unilateral", "none"),
}
_STATUS = ("measured", "clipped", "flagged")
_CONFIDENCE = ("high", "moderate", "low")
_MAX_TEXT = 300
_MAX_BASIS = 4000


def _bad(field: str, message: str) -> InputError:
    return InputError.single(field, message)


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _bad(field, "must be text")
    return value[:_MAX_TEXT]


def _number(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or abs(value) > 1e6:
        raise _bad(field, "must be a finite number")
    return float(value)


def _suggestion(name: str, raw: Any, field: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _bad(field, "must be an object")
    value = raw.get("value")
    if value is not None and value not in COMPONENT_VALUES[name]:
        raise InputError.single(f"{field}.value", "is not a SINS option",
                                allowed=COMPONENT_VALUES[name])
    confidence = raw.get("confidence")
    if confidence is not None and confidence not in _CONFIDENCE:
        raise InputError.single(f"{field}.confidence", "unknown", allowed=_CONFIDENCE)
    basis = raw.get("basis")
    basis_text = json.dumps(basis, ensure_ascii=False)[:_MAX_BASIS] if basis else ""
    out: dict[str, Any] = {"value": value, "confidence": confidence, "basis": basis_text}
    for key in ("not_suggested", "why_open", "near_boundary"):
        if raw.get(key) is not None:
            out[key] = _text(raw[key], f"{field}.{key}")
    return out


def _level(raw: Any, index: int) -> dict[str, Any]:
    field = f"levels[{index}]"
    if not isinstance(raw, dict):
        raise _bad(field, "must be an object")
    level = raw.get("level")
    if level not in VERTEBRA_ORDER:
        raise InputError.single(f"{field}.level", "is not a vertebra", allowed=("C1-S1",))
    if raw.get("status") not in _STATUS:
        raise InputError.single(f"{field}.status", "unknown", allowed=_STATUS)
    heights = raw.get("heights_mm")
    if heights is not None:
        if not isinstance(heights, dict):
            raise _bad(f"{field}.heights_mm", "must be an object")
        heights = {p: _number(heights.get(p), f"{field}.heights_mm.{p}")
                   for p in ("posterior", "middle", "anterior")}
    grade = raw.get("genant_grade")
    if grade is not None and grade not in (0, 1, 2, 3):
        raise InputError.single(f"{field}.genant_grade", "unknown", allowed=("0", "1", "2", "3"))
    flags = raw.get("flags") or []
    if not isinstance(flags, list):
        raise _bad(f"{field}.flags", "must be a list")
    suggestions = raw.get("suggestions") or {}
    if not isinstance(suggestions, dict):
        raise _bad(f"{field}.suggestions", "must be an object")
    return {
        "level": level, "status": raw["status"],
        "flags": [_text(f, f"{field}.flags") for f in flags[:10]],
        "heights_mm": heights,
        "height_loss_percent": _number(raw.get("height_loss_percent"),
                                       f"{field}.height_loss_percent"),
        "genant_grade": grade,
        "suggestions": {name: _suggestion(name, suggestions[name], f"{field}.suggestions.{name}")
                        for name in COMPONENT_VALUES if name in suggestions},
    }


def check_document(data: Any) -> dict[str, Any]:
    """The checked copy of an uploaded measurement document, or :class:`InputError`."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError.single("format", f"must be {FORMAT!r} (the output of spinemets "
                                          "imaging measure)")
    levels = data.get("levels")
    if not isinstance(levels, list) or not 0 < len(levels) <= len(VERTEBRA_ORDER):
        raise _bad("levels", f"must list 1 to {len(VERTEBRA_ORDER)} levels")
    checked = [_level(raw, i) for i, raw in enumerate(levels)]
    if len({c["level"] for c in checked}) != len(checked):
        raise _bad("levels", "names a level twice")
    source = data.get("source")
    warnings = data.get("warnings") or []
    return {
        "format": FORMAT,
        "software": _text(data.get("software", ""), "software"),
        "source": json.dumps(source, ensure_ascii=False)[:_MAX_BASIS] if source else "",
        "genant": _text(data.get("genant", ""), "genant"),
        "warnings": [_text(w, "warnings") for w in warnings[:20]] if isinstance(
            warnings, list) else [],
        "levels": checked,
    }
