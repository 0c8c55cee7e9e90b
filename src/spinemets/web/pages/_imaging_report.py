"""The CT overlay of a case for the results page and the tumour-board report (print and PDF).

:func:`imaging_figure` reads the newest stored CT measurement of the case that has an overlay
PNG and returns what ``clinician/_imaging_overlay.html`` shows: the image (a page URL for the
web pages, a ``data:`` URI for the self-contained PDF), its caption (CT series, when it was
stored and by whom) and every suggestion with its state: "suggestion, to be confirmed",
"from CT measurement, confirmed by <user>" or "rejected by <user>". Read-only; ``None`` when the
case has no measurement with an overlay.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

from fastapi import Request

from spinemets import storage
from spinemets.storage._imaging import ImagingMeasurement, list_measurements
from spinemets.web._state import get_state
from spinemets.web.pages._imaging import _LABELS, _NAMES

__all__ = ["imaging_figure"]

_MAX_SHOWN = 120  # characters of a series UID or file name shown in a caption
_PENDING = "suggestion, to be confirmed"


def _series(source_text: str) -> str:
    """"CT series <UID>" or "CT file <name>" from the stored (checked, JSON-text) source."""
    try:
        source = json.loads(source_text) if source_text else {}
    except ValueError:  # truncated when stored: shown without a series
        return "CT series not recorded"
    ct = source.get("ct") if isinstance(source, dict) else None
    if not isinstance(ct, dict):
        return "CT series not recorded"
    if isinstance(ct.get("series_uid"), str) and ct["series_uid"]:
        return f"CT series {ct['series_uid'][:_MAX_SHOWN]}"
    if isinstance(ct.get("file"), str) and ct["file"]:
        return f"CT file {ct['file'][:_MAX_SHOWN]}"
    return "CT series not recorded"


def _items(row: ImagingMeasurement) -> list[dict[str, str]]:
    """Each suggestion with a value, and what the clinicians decided on it."""
    out = []
    decisions = row.decisions or {}
    for level in row.document.get("levels") or []:
        for component, suggestion in (level.get("suggestions") or {}).items():
            value = suggestion.get("value")
            if component not in _NAMES or not value:
                continue
            decision = decisions.get(f"{level['level']}.{component}") or {}
            if decision.get("decision") == "accepted":
                state = f"from CT measurement, confirmed by {decision.get('by', '(unknown)')}"
                kind = "accepted"
            elif decision.get("decision") == "rejected":
                state, kind = f"rejected by {decision.get('by', '(unknown)')}", "rejected"
            else:
                state, kind = _PENDING, "pending"
            out.append({"level": level["level"], "name": _NAMES[component],
                        "value": _LABELS[component].get(value, value),
                        "confidence": str(suggestion.get("confidence") or ""),
                        "state": state, "kind": kind})
    return out


def _open_levels(row: ImagingMeasurement) -> list[str]:
    """Levels for which the measurement suggests no SINS value (the clinician reads them)."""
    return [str(level["level"]) for level in row.document.get("levels") or []
            if not any(s.get("value") for c, s in (level.get("suggestions") or {}).items()
                       if c in _NAMES)]


def imaging_figure(request: Request, ref: str, *, inline: bool) -> dict[str, Any] | None:
    """The newest overlay of case ``ref`` with its caption, or ``None``.

    ``inline`` embeds the PNG as a ``data:`` URI (the PDF has no web server to ask).
    """
    with get_state(request).sessions.begin() as session:
        record = storage.get_case(session, case_ref=ref)
        if record is None:
            return None
        row = next((r for r in list_measurements(session, case=record)
                    if r.overlay is not None), None)
        if row is None:
            return None
        png = bytes(row.overlay or b"") if inline else b""
        figure = {
            "id": row.id, "author": row.author, "at": row.created_at,
            "series": _series(str(row.document.get("source") or "")),
            "software": str(row.document.get("software") or "")[:_MAX_SHOWN],
            "suggestions": _items(row),
            "open_levels": _open_levels(row),
            "page": f"/clinician/cases/{quote(ref)}/imaging?m={row.id}",
        }
    figure["src"] = ("data:image/png;base64," + base64.b64encode(png).decode("ascii")
                     if inline else
                     f"/clinician/cases/{quote(ref)}/imaging/{figure['id']}/overlay.png")
    return figure
