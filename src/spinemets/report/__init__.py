"""Tumour-board report: one presentation model of a plan, rendered as web page, PDF and text.

:func:`build_report` turns a ``spinemets-plan/1`` document and its case into a
:class:`Report` (summary, lesion rows, prognosis rows, items with details, numbered references,
metadata); :func:`render_text`, :func:`render_html`, :func:`render_pdf` and :func:`spine_svg`
render that model and never read the plan.

>>> from spinemets.rules import plan
>>> case = {"id": "x", "lesions": [{"levels": ["T12"], "escc": "3"}]}
>>> report = build_report(plan(case).to_dict(), case)
>>> report.lesions[0].escc
'3'
"""

from spinemets.report._build import build_report, default_meta
from spinemets.report._html import PdfUnavailableError, fonts_dir, render_html, render_pdf
from spinemets.report._labels import field_label
from spinemets.report._model import (
    Component,
    Flag,
    InputSection,
    Item,
    LesionRow,
    LocalModel,
    Meta,
    Reference,
    Report,
    ScoreRow,
    SpineLevel,
    Triage,
    Unknown,
)
from spinemets.report._svg import spine_facts, spine_svg
from spinemets.report._text import render_text

__all__ = [
    "Component",
    "Flag",
    "InputSection",
    "Item",
    "LesionRow",
    "LocalModel",
    "Meta",
    "PdfUnavailableError",
    "Reference",
    "Report",
    "ScoreRow",
    "SpineLevel",
    "Triage",
    "Unknown",
    "build_report",
    "default_meta",
    "field_label",
    "fonts_dir",
    "render_html",
    "render_pdf",
    "render_text",
    "spine_facts",
    "spine_svg",
]
