"""The spine diagram: every level from the occiput to S5, each involved level marked.

Drawn here as SVG markup (no image assets). Each involved level is filled by its SINS band and
carries a letter (S stable, I indeterminate, U unstable, ? not known) so colour is never the
only cue; the first level of each lesion is labelled in words, and the ``<title>``/``<desc>``
plus :func:`spine_facts` give the same facts as text.
"""

from __future__ import annotations

from html import escape

from spinemets.report._model import Report, SpineLevel

__all__ = ["BAND_STYLE", "spine_facts", "spine_svg"]

#: SINS band id -> (fill colour, letter, words). Fills are light so black text keeps contrast.
BAND_STYLE: dict[str | None, tuple[str, str, str]] = {
    "stable": ("#a8d5b5", "S", "stable"),
    "indeterminate": ("#ffd466", "I", "indeterminate"),
    "unstable": ("#f4a39b", "U", "unstable"),
    None: ("#d8dde0", "?", "SINS band not known"),
}
_ROW = 15
_TOP = 8
_WIDTH = 440


def spine_facts(report: Report) -> tuple[str, ...]:
    """One sentence per involved level (the diagram's text alternative)."""
    return tuple(level.text for level in report.spine if level.lesion)


def _row(index: int, level: SpineLevel, first: bool) -> str:
    y = _TOP + index * _ROW
    name = escape(level.label if level.name != "O" else "O")
    parts = [f'<text x="52" y="{y + 11}" text-anchor="end" class="sm-spine__name">{name}</text>']
    if level.lesion is None:
        parts.append(f'<rect x="60" y="{y + 1}" width="44" height="{_ROW - 3}" rx="3" '
                     'fill="#ffffff" stroke="#768692"/>')
        return "".join(parts)
    fill, letter, band = BAND_STYLE.get(level.sins_band_id, BAND_STYLE[None])
    parts.append(f'<rect x="60" y="{y + 1}" width="44" height="{_ROW - 3}" rx="3" '
                 f'fill="{fill}" stroke="#212b32" stroke-width="2"/>')
    parts.append(f'<text x="82" y="{y + 11}" text-anchor="middle" '
                 f'class="sm-spine__mark">{letter}</text>')
    if first:
        words = escape(f"{level.lesion}: SINS {band}, " + level.text.rsplit("; ", 1)[-1])
        parts.append(f'<line x1="106" y1="{y + 7}" x2="116" y2="{y + 7}" stroke="#212b32"/>')
        parts.append(f'<text x="120" y="{y + 11}" class="sm-spine__label">{words}</text>')
    return "".join(parts)


def spine_svg(report: Report, *, id_prefix: str = "spine") -> str:
    """SVG markup of the spine with the report's lesions (safe to embed: all text escaped)."""
    facts = spine_facts(report)
    desc = " ".join(facts) if facts else "No lesion levels recorded."
    height = _TOP * 2 + len(report.spine) * _ROW
    seen: set[str] = set()
    rows = []
    for index, level in enumerate(report.spine):
        first = level.lesion is not None and level.lesion not in seen
        if level.lesion is not None:
            seen.add(level.lesion)
        rows.append(_row(index, level, first))
    legend = (" Letters: S stable, I indeterminate, U unstable, ? SINS band not known "
              "(SINS bands; colour repeats the letter).")
    return (
        f'<svg class="sm-spine__svg" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {_WIDTH} {height}" width="{_WIDTH}" height="{height}" role="img" '
        f'aria-labelledby="{id_prefix}-title {id_prefix}-desc">'
        f'<title id="{id_prefix}-title">Spine diagram, occiput (O) to S5</title>'
        f'<desc id="{id_prefix}-desc">{escape(desc + legend)}</desc>'
        + "".join(rows) + "</svg>")
